"""The desk's operations in a real browser (issue #15): signing in lands on the calendar; a bank holiday is
closed on the calendar and under Closures; closing the clinic lists the appointment to move; a patient is
found by "+44 7700 900123"; hours and time off and the waitlist pages. And the phone layouts: nothing wider
than the screen, Move and Cancel on screen. Every page passes axe, at desktop and phone size."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinic import closures, roles
from tests.e2e.helpers import assert_accessible, sign_in
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    staff_user,
)
from tests.helpers import at, book_online, open_every_day

pytestmark = pytest.mark.django_db(transaction=True)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.fixture
def clinic():
    treatment = TreatmentFactory(name="Thighs session", needs_cleared_intake=False, min_days_between_sessions=0)
    RoomFactory(name="Room A")
    practitioner = open_every_day(
        PractitionerFactory(user__first_name="Amelia", user__last_name="Hart", treatments=[treatment])
    )
    return treatment, practitioner


def test_the_desk_sees_a_bank_holiday_closed_closes_a_day_and_finds_a_patient_by_phone(page, clinic, bank_holidays):
    treatment, practitioner = clinic
    today = timezone.localdate()
    holiday, holiday_name = min(closures.bank_holidays(today, today + datetime.timedelta(days=366)).items())
    jo = PatientFactory(user__first_name="Jo", user__last_name="Bloggs", phone="07700 900123")
    PatientFactory(user__first_name="Sam", user__last_name="Smith", phone="07700 900456")
    training_day = today + datetime.timedelta(days=15)
    if training_day in closures.bank_holidays(training_day, training_day):
        training_day += datetime.timedelta(days=1)
    AppointmentFactory(patient=jo, practitioner=practitioner, treatment=treatment, start_at=at(training_day, 11))
    desk = staff_user(roles.FRONT_DESK, email="desk@clinic.example")

    sign_in(page, desk.email)
    expect(page).to_have_url(page.base_url + "/desk/")  # the desk lands on the calendar
    assert_accessible(page)

    # A bank holiday is closed on the calendar, and listed under Closures.
    page.goto(f"{page.base_url}/desk/?date={holiday.isoformat()}")
    expect(page.get_by_text(f"Closed: {holiday_name}.")).to_be_visible()
    page.get_by_role("link", name="Closures", exact=True).first.click()
    expect(page.get_by_text(holiday_name).first).to_be_visible()
    assert_accessible(page)
    assert fits_the_screen(page)

    # The clinic closes for a training day: Jo's appointment that day is listed to move.
    page.get_by_label("First day").fill(training_day.isoformat())
    page.get_by_label("Reason").fill("Staff training")
    page.get_by_role("button", name="Close the clinic").click()
    expect(page.get_by_text("1 appointment booked on closed days")).to_be_visible()
    expect(page.get_by_role("link", name="Move Jo Bloggs's appointment")).to_be_visible()
    assert_accessible(page)

    # Patients: before a search, today's and recent ones; then found by the number as a caller says it.
    page.get_by_role("link", name="Patients", exact=True).first.click()
    expect(page.get_by_role("heading", name="Recent patients")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Name, email, phone or date of birth").fill("+44 7700 900123")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("1 patient found.")).to_be_visible()
    expect(page.get_by_role("link", name="Jo Bloggs", exact=True)).to_be_visible()
    expect(page.locator("td", has_text="07700 900123")).to_be_visible()  # the national format
    assert_accessible(page)
    assert fits_the_screen(page)

    # Hours and time off, and the waitlist.
    page.get_by_role("link", name="Hours and time off", exact=True).first.click()
    page.get_by_role("link", name="Amelia Hart", exact=True).click()
    expect(page.get_by_role("heading", name="Hours and time off: Amelia Hart")).to_be_visible()
    assert_accessible(page)
    page.goto(page.base_url + "/waitlist/desk/")
    assert_accessible(page)
    assert fits_the_screen(page)


def test_on_a_phone_my_appointments_and_my_day_fit_the_screen(page, clinic):
    treatment, practitioner = clinic
    patient = ClearedPatientFactory(user__email="pat@example.com")
    book_online(patient, treatment, practitioner, at(timezone.localdate() + datetime.timedelta(days=6), 10))

    sign_in(page, patient.user.email)
    expect(page).to_have_url(page.base_url + "/appointments/")  # patients land on My appointments
    move = page.get_by_role("link", name="Move", exact=True)
    expect(move).to_be_visible()
    box = move.bounding_box()
    assert box["x"] + box["width"] <= page.viewport_size["width"]
    assert fits_the_screen(page)
    assert_accessible(page)

    page.context.clear_cookies()
    AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(timezone.localdate(), 15))
    sign_in(page, practitioner.user.email)
    expect(page).to_have_url(page.base_url + "/practice/")  # practitioners land on My day
    assert fits_the_screen(page)
    assert_accessible(page)
