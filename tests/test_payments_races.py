"""Money races on PostgreSQL, with real concurrent transactions (threads on a barrier, one connection each):

- two patients paying for the last slot: the hold is the booking, so one holds it and the other is told;
- a webhook arriving while the hold lapses: either confirmed, or released and refunded, never both;
- two deliveries of one event at once: handled once;
- 20 payments at once: receipt numbers 1..20, no gap, no repeat;
- a package's last session and two online bookings at once (the page and the API): one is covered, the
  other waits for its deposit.
"""

import datetime
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Appointment
from clinic import roles
from payments import services
from payments.models import DepositPolicy, Document, Package, Payment, ProviderEvent, Refund
from tests.factories import (
    ClearedPatientFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    staff_user,
)
from tests.helpers import at, open_every_day
from tests.stripe_standin import sign, stripe_at_standin
from tests.test_booking_races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def standin(settings):
    with stripe_at_standin(settings) as server:
        yield server


@pytest.fixture
def world():
    treatment = TreatmentFactory(price=Decimal("250"))
    DepositPolicy.objects.create(treatment=treatment, kind=DepositPolicy.Kind.FIXED, amount=Decimal("50"))
    RoomFactory()
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    return treatment, practitioner


def start(days=9, hour=10):
    return at(timezone.localdate() + datetime.timedelta(days=days), hour)


def held(patient, treatment, practitioner, when):
    return booking_services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=when,
        booked_by=patient.user,
        source=Appointment.Source.ONLINE,
    )


def checkout(standin, appointment):
    return services.checkout_url_for(appointment, success_url="http://x/ok", cancel_url="http://x/no")


def deliver(event):
    payload = json.dumps(event)
    response = Client().post(
        "/payments/stripe/webhook/", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )
    return response.status_code, response.json().get("outcome")


def test_two_patients_paying_for_the_last_slot_one_holds_it(world, standin):
    treatment, practitioner = world
    first, second = ClearedPatientFactory(), ClearedPatientFactory()
    when = start()
    results = race([lambda p=p: held(p, treatment, practitioner, when) for p in (first, second)])
    holds = [r for r in results if isinstance(r, Appointment)]
    taken = [r for r in results if isinstance(r, booking_services.SlotTaken)]
    assert len(holds) == 1 and len(taken) == 1, results
    assert Payment.objects.filter(purpose="deposit", status="pending").count() == 1
    assert holds[0].status == Appointment.Status.AWAITING_DEPOSIT


def test_a_webhook_arriving_while_the_hold_lapses_is_confirmed_or_refunded_never_both(world, standin):
    treatment, practitioner = world
    for round_ in range(4):
        patient = ClearedPatientFactory()
        appointment = held(patient, treatment, practitioner, start(days=9 + round_))
        checkout(standin, appointment)
        payment = Payment.objects.get(appointment=appointment)
        event = standin.complete(payment.provider_session_id)
        lapse_at = payment.hold_expires_at + datetime.timedelta(seconds=1)
        race([lambda e=event: deliver(e), lambda p=payment.pk, t=lapse_at: services.lapse_hold(p, now=t)])
        appointment.refresh_from_db()
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PAID  # the money arrived either way
        refunds = Refund.objects.filter(payment=payment)
        if appointment.status == Appointment.Status.BOOKED:
            assert payment.deposit_outcome == Payment.DepositOutcome.HELD and not refunds.exists()
        else:
            assert appointment.status == Appointment.Status.CANCELLED
            assert payment.deposit_outcome == Payment.DepositOutcome.REFUNDED and refunds.count() == 1
    assert ProviderEvent.objects.count() == 4


def test_two_deliveries_of_one_event_at_once_are_handled_once(world, standin):
    treatment, practitioner = world
    appointment = held(ClearedPatientFactory(), treatment, practitioner, start())
    checkout(standin, appointment)
    payment = Payment.objects.get(appointment=appointment)
    event = standin.complete(payment.provider_session_id)
    results = race([lambda: deliver(event) for _ in range(2)])
    assert sorted(outcome for _, outcome in results) == ["already handled", "paid: appointment confirmed"], results
    assert ProviderEvent.objects.count() == 1 and Document.objects.filter(payment=payment).count() == 1
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.BOOKED


def test_receipt_numbers_stay_gapless_and_unique_under_20_concurrent_payments():
    desk = staff_user(roles.FRONT_DESK)
    patients = [PatientFactory() for _ in range(20)]

    def pay(patient):
        return services.take_desk_payment(patient=patient, amount=Decimal("25.00"), method="card_terminal", by=desk)

    results = race([lambda p=p: pay(p) for p in patients])
    assert all(isinstance(r, Payment) for r in results), results
    numbers = sorted(Document.objects.filter(kind="receipt").values_list("sequence", flat=True))
    assert numbers == list(range(1, 21))


def test_a_packages_last_session_covers_one_of_two_concurrent_online_bookings(world, standin):
    """The patient's two tabs (the booking page and the API) book two times at once with one package session
    left: the booking service locks the patient, then payments locks the package and counts the sessions
    live bookings already reserve, so exactly one is covered and the other is held for its deposit."""
    from django.urls import reverse
    from rest_framework.test import APIClient

    treatment, practitioner = world
    patient = ClearedPatientFactory()
    package = Package.objects.create(name="Course of 6", treatment=treatment, sessions=6, price=Decimal("1200"))
    bought = services.sell_package(patient=patient, package=package, method="cash", by=staff_user(roles.FRONT_DESK))
    type(bought).objects.filter(pk=bought.pk).update(sessions_used=5)
    page, api = Client(), APIClient()
    page.force_login(patient.user)
    api.force_login(patient.user)
    by_page, by_api = start(days=9), start(days=40)
    results = race(
        [
            lambda: page.post(
                reverse("book_confirm", args=[treatment.slug]),
                {
                    "practitioner": practitioner.pk,
                    "start": by_page.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ"),
                },
            ),
            lambda: api.post(
                "/api/v1/appointments/",
                {"treatment": treatment.slug, "practitioner": practitioner.slug, "start": by_api.isoformat()},
                format="json",
            ),
        ]
    )
    assert [r.status_code for r in results] == [302, 201], results
    statuses = sorted(Appointment.objects.filter(patient=patient).values_list("status", flat=True))
    assert statuses == [Appointment.Status.AWAITING_DEPOSIT, Appointment.Status.BOOKED]
    assert Payment.objects.filter(purpose="deposit", status="pending").count() == 1


def test_two_senders_of_one_receipt_email_at_once_send_it_once(settings):
    """Beat's retry and the first send after commit (or two workers) racing on one owed email: the row is
    locked SKIP LOCKED, so one sends and the other skips."""
    from django.core import mail

    from payments import documents

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    payment = services.take_desk_payment(
        patient=PatientFactory(), amount=Decimal("25.00"), method="cash", by=staff_user(roles.FRONT_DESK)
    )  # committed: its first send already ran after commit; owe it again to race two senders
    receipt = payment.documents.get()
    Document.objects.filter(pk=receipt.pk).update(email_status="pending", emailed_at=None)
    mail.outbox.clear()
    results = race([lambda: documents.send_document_email(receipt.pk) for _ in range(2)])
    assert sorted(results) == ["sent", "skipped"], results
    assert len(mail.outbox) == 1


def test_two_patients_booking_the_last_slot_through_the_page_one_is_sent_to_pay_one_is_told(world, standin):
    """As patients do it: two booking pages posted at once for the one free time of a deposit treatment.
    One is held and sent to the deposit step (then Stripe); the other gets 'just taken' with other times,
    and no second deposit is asked."""
    from django.urls import reverse

    treatment, practitioner = world
    when = start()
    clients = []
    for _ in range(2):
        client = Client()
        client.force_login(ClearedPatientFactory().user)
        clients.append(client)
    url = reverse("book_confirm", args=[treatment.slug])
    data = {"practitioner": practitioner.pk, "start": when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")}
    responses = race([lambda c=c: c.post(url, data) for c in clients])
    assert sorted(r.status_code for r in responses) == [302, 409], responses
    (held_appointment,) = Appointment.objects.all()
    winner = next(r for r in responses if r.status_code == 302)
    assert winner.url == reverse("payments:deposit", args=[held_appointment.pk])
    loser = next(r for r in responses if r.status_code == 409)
    assert "This time was just taken" in loser.content.decode()
    assert Payment.objects.get().status == Payment.Status.PENDING
