"""The front desk runs a day in a real browser: books a phone patient (whose check-in is not offered before
their day), marks a no-show on another appointment and moves a third; every page passes axe. At desktop and
phone size."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Appointment
from clinic import roles
from tests.e2e.helpers import assert_accessible, open_menu_if_collapsed, sign_in
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db(transaction=True)

LONDON = ZoneInfo("Europe/London")


def at(day, hour):
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=LONDON).astimezone(datetime.UTC)


def test_front_desk_books_checks_in_marks_a_no_show_and_moves(page):
    consultation = TreatmentFactory(
        name="Consultation", slug="consultation", kind="consultation", duration_minutes=30, buffer_after_minutes=0,
        min_days_between_sessions=0, needs_cleared_intake=False,
    )  # fmt: skip
    RoomFactory(name="Room A")
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart", treatments=[consultation])
    for weekday in range(7):
        WorkingHoursFactory(practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(17))
    today = timezone.localdate()
    missed = AppointmentFactory(
        practitioner=practitioner,
        treatment=consultation,
        patient=PatientFactory(user__first_name="Max", user__last_name="Missed"),
        # Earlier today, whatever the time of day the test runs (never yesterday just after midnight).
        start_at=max(timezone.now() - datetime.timedelta(hours=3), at(today, 0)),
    )
    to_move = AppointmentFactory(
        practitioner=practitioner,
        treatment=consultation,
        patient=PatientFactory(user__first_name="Mo", user__last_name="Mover"),
        start_at=at(today + datetime.timedelta(days=4), 11),
    )
    desk = staff_user(roles.FRONT_DESK, email="desk@clinic.example")

    sign_in(page, desk.email)
    open_menu_if_collapsed(page)
    page.get_by_role("link", name="Front desk").click()
    expect(page.get_by_role("heading", name="Amelia Hart")).to_be_visible()
    assert_accessible(page)

    # A new patient on the phone.
    page.get_by_role("link", name="New phone patient").first.click()
    assert_accessible(page)
    page.get_by_label("First name").fill("Pat")
    page.get_by_label("Last name").fill("Caller")
    page.get_by_label("Phone").fill("07700 900777")
    page.get_by_label("Date of birth").fill("1985-06-01")
    page.get_by_role("button", name="Create patient and book").click()
    expect(page.get_by_text("Created Pat Caller's record")).to_be_visible()
    page.get_by_label("Treatment").select_option(label="Consultation")
    page.locator("#id_date").fill((today + datetime.timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Find times").click()
    page.get_by_label(re.compile(r"^10:00 with Amelia Hart")).check()
    assert_accessible(page)
    page.get_by_role("button", name="Book by phone").click()
    expect(page.get_by_text("Booked Consultation for Pat Caller")).to_be_visible()
    assert_accessible(page)
    booked = Appointment.objects.get(patient__user__last_name="Caller")
    assert booked.source == "phone"

    # Not their day yet: no check-in or completion is offered (tests/e2e/test_desk_undo_journey.py checks in).
    expect(page.get_by_role("button", name="Check in")).to_have_count(0)
    expect(page.get_by_role("button", name="Complete")).to_have_count(0)

    # Someone else did not come.
    page.goto(f"{page.base_url}/desk/")
    page.locator(f'[data-appointment="{missed.pk}"]').click()
    expect(page.get_by_role("button", name="Mark no-show")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Mark no-show").click()
    expect(page.get_by_text("marked as a no-show")).to_be_visible()
    missed.refresh_from_db()
    assert missed.status == "no_show"

    # And a third calls to move.
    page.goto(f"{page.base_url}/desk/appointments/{to_move.pk}/")
    page.get_by_role("link", name="Move", exact=True).click()
    assert_accessible(page)
    new_day = today + datetime.timedelta(days=5)
    page.locator("#id_date").fill(new_day.isoformat())
    page.locator("#id_time").fill("14:00")
    page.get_by_role("button", name="Move appointment").click()
    expect(page.get_by_text("Moved Mo Mover's appointment")).to_be_visible()
    assert_accessible(page)
    to_move.refresh_from_db()
    assert to_move.start_at == at(new_day, 14)
