"""In a real browser (desktop and phone): on the appointment's day the desk checks a patient in, undoes it
with a reason, checks in again, completes, and undoes a completion made by mistake; the history shows each
step and its reason. The clinic's clock is set by the test (the app's `timezone.now`), never the machine's hour."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Appointment
from clinic import roles
from tests.e2e.helpers import assert_accessible, sign_in
from tests.factories import AppointmentFactory, PatientFactory, staff_user
from tests.helpers import at, set_clock

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_desk_undoes_a_check_in_and_a_mistaken_completion(page, monkeypatch):
    day = timezone.localdate() + datetime.timedelta(days=2)  # ahead of the real date: cookies stay valid
    appointment = AppointmentFactory(
        patient=PatientFactory(user__first_name="Rosa", user__last_name="Flores"), start_at=at(day, 10)
    )
    desk = staff_user(roles.FRONT_DESK, email="desk@clinic.example")
    set_clock(monkeypatch, at(day, 9, 58))

    sign_in(page, desk.email)
    page.goto(f"{page.base_url}/desk/appointments/{appointment.pk}/")
    expect(page.get_by_role("button", name="Complete")).to_have_count(0)  # not started yet
    page.get_by_role("button", name="Check in").click()
    expect(page.get_by_text("checked in.")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Why it is undone (kept in the history)").fill("Checked in the wrong Ms Flores")
    page.get_by_role("button", name="Undo the check-in").click()
    expect(page.get_by_text("no longer checked in")).to_be_visible()
    expect(page.get_by_text("Check-in undone by")).to_contain_text("(Checked in the wrong Ms Flores)")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED

    set_clock(monkeypatch, at(day, 10, 1))  # the appointment has started
    page.goto(f"{page.base_url}/desk/appointments/{appointment.pk}/")
    page.get_by_role("button", name="Check in").click()
    page.get_by_role("button", name="Complete").click()
    expect(page.get_by_text("completed.")).to_be_visible()
    page.get_by_label("Why it is undone (kept in the history)").fill("Pressed Complete on the wrong row")
    page.get_by_role("button", name="Undo the completion").click()
    expect(page.get_by_text("no longer completed")).to_be_visible()
    expect(page.get_by_text("Completion undone by")).to_contain_text("(Pressed Complete on the wrong row)")
    assert_accessible(page)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN and appointment.completed_at is None
