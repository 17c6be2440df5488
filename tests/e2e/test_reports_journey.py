"""The owner's reports in a real browser, at desktop and phone size: each of the six opens with its chart and
tables and no serious axe violation; a range chosen in the form is kept; a last day before the first is a
message on the page. The clinic admin's session (with its second factor) is made by the test client and
handed to the browser as its cookie."""

import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from bookings.models import Appointment, Reminder
from clinic import clock, roles
from payments.models import Payment
from tests.e2e.helpers import assert_accessible, open_menu_if_collapsed
from tests.factories import (
    AppointmentFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db(transaction=True)
REPORTS = {
    "utilisation": "Utilisation",
    "attendance": "Attendance",
    "revenue": "Revenue",
    "courses": "Courses and patients",
    "screening": "Screening and safety",
    "messages": "Messages",
}


@pytest.fixture
def owner(page, sign_in):
    """March 2026 at a small clinic: visits, a no-show with its deposit kept, a late cancellation, reminders."""
    treatment = TreatmentFactory(name="Microneedling: thighs", slug="microneedling-thighs", price=Decimal("250"))
    for first, last, room in (("Amelia", "Hart", "Room 1"), ("Ben", "Cole", "Room 2")):
        room = RoomFactory(name=room)
        practitioner = PractitionerFactory(user__first_name=first, user__last_name=last, treatments=[treatment])
        for weekday in range(6):
            WorkingHoursFactory(
                practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(17)
            )
        for day in range(2, 28, 3):
            start = clock.local_to_utc(datetime.date(2026, 3, day), datetime.time(10))
            status = Appointment.Status.NO_SHOW if day % 4 == 0 else Appointment.Status.COMPLETED
            visit = AppointmentFactory(
                practitioner=practitioner, treatment=treatment, room=room, start_at=start, status=status
            )
            Reminder.objects.create(
                appointment=visit,
                kind="reminder_24h",
                due_at=start - datetime.timedelta(days=1),
                next_attempt_at=start,
                status="sent",
                sent_at=start - datetime.timedelta(days=1),
                attempts=1,
            )
            Payment.objects.create(
                patient=visit.patient,
                appointment=visit,
                purpose="session",
                method="card_terminal",
                status="paid",
                amount=Decimal("250"),
                paid_at=start,
            )
    admin = staff_user(roles.CLINIC_ADMIN, first_name="Olivia", last_name="Owner")
    client = Client()
    sign_in(client, admin)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": page.base_url,
            }
        ]
    )
    return admin


def test_the_owner_opens_each_report(page, owner):
    page.goto(page.base_url + "/")
    open_menu_if_collapsed(page)
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    assert_accessible(page)
    for slug, title in REPORTS.items():
        page.goto(f"{page.base_url}/reports/{slug}/?start=2026-03-01&end=2026-03-31")
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        expect(page.locator("figure svg[role=img]")).to_be_visible()
        expect(page.get_by_label("From")).to_have_value("2026-03-01")
        assert_accessible(page)
    page.goto(f"{page.base_url}/reports/attendance/?start=2026-03-01&end=2026-03-31")
    expect(page.get_by_role("region", name="By practitioner").get_by_role("row", name="Amelia Hart")).to_be_visible()
    link = page.get_by_role("link", name="Download “By practitioner” as CSV")
    assert "csv=practitioners" in link.get_attribute("href")


def test_a_last_day_before_the_first_is_a_message(page, owner):
    page.goto(f"{page.base_url}/reports/revenue/")
    page.get_by_label("From").fill("2026-03-31")
    page.get_by_label("To (inclusive)").fill("2026-03-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_contain_text("The last day is before the first")
    assert_accessible(page)
