"""Money in a real browser: a patient books, pays the deposit on the (stand-in) Stripe page, comes back
confirmed, cancels late and sees the fee kept; the desk sells a package and its balance falls as sessions
complete. The stand-in delivers the signed webhook to the live server, as Stripe would."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Appointment
from clinic import roles
from payments.models import DepositPolicy, Package, Payment
from tests.e2e.helpers import assert_accessible, sign_in
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    staff_user,
)
from tests.stripe_standin import stripe_at_standin

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def standin(settings, live_server):
    with stripe_at_standin(settings, webhook_url=live_server.url + "/payments/stripe/webhook/") as server:
        yield server


@pytest.fixture
def clinic():
    treatment = TreatmentFactory(name="Microneedling: thighs", slug="microneedling-thighs", price=Decimal("250"))
    DepositPolicy.objects.create(treatment=treatment, kind=DepositPolicy.Kind.FIXED, amount=Decimal("50"))
    room = RoomFactory(name="Room 1")
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart", treatments=[treatment])
    for weekday in range(7):
        WorkingHoursFactory(practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(12))
    return treatment, practitioner, room


def test_patient_pays_the_deposit_then_cancels_late_and_the_fee_is_kept(page, standin, clinic):
    patient = ClearedPatientFactory()
    day = timezone.localdate() + datetime.timedelta(days=10)

    sign_in(page, patient.user.email)
    page.goto(f"{page.base_url}/book/microneedling-thighs/?day={day.isoformat()}")
    page.locator("#times").get_by_role("link", name="10:00").click()
    page.get_by_role("button", name="Book this time").click()

    expect(page.get_by_role("heading", name="Pay your deposit to confirm")).to_be_visible()
    expect(page.get_by_text("the deposit is kept as a fee")).to_be_visible()  # told before paying
    assert_accessible(page)
    page.get_by_role("button", name="Pay £50.00 by card").click()

    expect(page.get_by_role("heading", name="Stand-in checkout")).to_be_visible()  # Stripe's page, not ours
    assert page.url.startswith(standin.base)
    page.get_by_role("button", name="Pay").click()

    expect(page.get_by_text("Your deposit is paid and your appointment is confirmed.")).to_be_visible()
    expect(page.get_by_text("Deposit paid: £50.00")).to_be_visible()
    assert_accessible(page)
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.status == Appointment.Status.BOOKED

    # Days pass (set-up): the appointment is now 5 hours away, inside the 24-hour window.
    start = timezone.now().replace(second=0, microsecond=0) + datetime.timedelta(hours=5)
    Appointment.objects.filter(pk=appointment.pk).update(
        start_at=start, end_at=start + datetime.timedelta(hours=1), busy_until=start + datetime.timedelta(hours=1)
    )
    page.goto(f"{page.base_url}/appointments/{appointment.pk}/")
    page.get_by_role("link", name="cancel it").click()
    expect(page.get_by_text("kept as a late-cancellation fee")).to_be_visible()
    page.get_by_role("button", name="Cancel this appointment").click()
    expect(page.get_by_text("is cancelled")).to_be_visible()

    page.goto(f"{page.base_url}/payments/")
    expect(page.get_by_text("kept as a late-cancellation or no-show fee")).to_be_visible()
    assert_accessible(page)
    assert Payment.objects.get(appointment=appointment).deposit_outcome == Payment.DepositOutcome.KEPT
    assert not standin.refunds


def test_desk_sells_a_package_and_the_balance_falls_as_sessions_complete(page, clinic):
    treatment, practitioner, room = clinic
    Package.objects.create(name="Course of 6", treatment=treatment, sessions=6, price=Decimal("1200"))
    patient = ClearedPatientFactory(user__first_name="Pat", user__last_name="Package")
    sessions = [
        AppointmentFactory(
            patient=patient,
            practitioner=practitioner,
            treatment=treatment,
            room=room,
            status=Appointment.Status.CHECKED_IN,
            start_at=timezone.now().replace(microsecond=0) - datetime.timedelta(hours=2 + 40 * 24 * n),
        )
        for n in range(2)
    ]
    desk = staff_user(roles.FRONT_DESK, email="desk@clinic.example")

    sign_in(page, desk.email)
    page.goto(f"{page.base_url}/desk/patients/{patient.pk}/")
    page.get_by_label("Sell a package").select_option(label="Course of 6 (6 sessions, £1200.00)")
    page.get_by_label("Paid by").select_option("card_terminal")
    page.get_by_role("button", name="Sell and take payment").click()
    expect(page.get_by_text("Sold Course of 6")).to_be_visible()
    expect(page.get_by_text("6 of 6 sessions left")).to_be_visible()
    assert_accessible(page)

    for number, session in enumerate(sessions, start=1):
        page.goto(f"{page.base_url}/desk/appointments/{session.pk}/")
        page.get_by_role("button", name="Complete").click()
        expect(page.get_by_role("alert").filter(has_text="completed")).to_be_visible()
        page.goto(f"{page.base_url}/desk/patients/{patient.pk}/")
        expect(page.get_by_text(f"{6 - number} of 6 sessions left")).to_be_visible()
    assert_accessible(page)
