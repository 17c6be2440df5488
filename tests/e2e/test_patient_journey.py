"""Journey a, in a real browser at desktop and phone size: a new patient signs up, sends their health form,
sees it awaits review and books a consultation; a practitioner clears them in their own browser; the
patient then books a microneedling session and moves it. Every page on the way passes the axe check."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Appointment
from consultations.forms import SECTIONS
from consultations.models import IntakeForm
from tests.e2e.conftest import new_page
from tests.e2e.helpers import assert_accessible, complete_sign_up, open_menu_if_collapsed, sign_in
from tests.factories import (
    INTAKE_ANSWERS_NO_FLAGS,
    ConsultationFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("screening_rules")]

YES_NO_QUESTIONS = [name for _, names in SECTIONS for name in names if INTAKE_ANSWERS_NO_FLAGS[name] is False]


def clinic_with_one_practitioner():
    consultation = ConsultationFactory()
    session = TreatmentFactory(name="Microneedling: thighs", slug="microneedling-thighs")
    RoomFactory(name="Room 1")
    practitioner = PractitionerFactory(
        user__first_name="Amelia", user__last_name="Hart", treatments=[consultation, session]
    )
    for weekday in range(7):
        WorkingHoursFactory(practitioner=practitioner, weekday=weekday, start=datetime.time(9), end=datetime.time(12))
    return practitioner


def go_to(page, link_name):
    """Follow a link of the main navigation (opening the menu first on a phone)."""
    open_menu_if_collapsed(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name=link_name).click()


def sign_up(page):
    page.goto(page.base_url + "/accounts/signup/")
    complete_sign_up(page)  # as Jo Bloggs, jo@example.com


def fill_in_health_form(page):
    go_to(page, "My health form")
    expect(page.get_by_role("heading", name="My health form")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Fill in my health form").click()
    assert_accessible(page)
    page.get_by_label("Emergency contact name").fill("Sam Bloggs")
    page.get_by_label("Emergency contact phone").fill("07700 900789")
    page.get_by_label("GP practice and address").fill("Marylebone Health Centre")
    for name in YES_NO_QUESTIONS:
        page.locator(f"input[name={name}][value=False]").check()
    page.get_by_role("checkbox", name="Thighs").check()
    page.get_by_role("checkbox", name="I confirm that my answers are true").check()
    page.get_by_role("button", name="Send my health form").click()
    expect(page.get_by_text("your health form is sent")).to_be_visible()
    expect(page.get_by_text("Status: Waiting for review")).to_be_visible()
    assert_accessible(page)


def choose_day_and_time(page, day, time):
    """Pick a day in the chooser; the times are swapped in place (htmx), then choose one."""
    page.get_by_label("Day", exact=True).fill(day.isoformat())
    page.get_by_label("Day", exact=True).dispatch_event("change")
    expect(page.get_by_role("heading", name=f"{day:%A} {day.day} {day:%B %Y}")).to_be_visible()
    assert_accessible(page)
    page.locator("#times").get_by_role("link", name=time).click()


def book(page, treatment_name, day, time, *, check_lists=True):
    go_to(page, "My appointments")
    if check_lists:
        assert_accessible(page)
    # My appointments' own Book button (the menu has a Book link too since patients got one there).
    page.get_by_role("main").get_by_role("link", name="Book", exact=True).click()
    if check_lists:
        assert_accessible(page)
    page.get_by_role("link", name=treatment_name).click()
    choose_day_and_time(page, day, time)
    expect(page.get_by_role("heading", name="Confirm your booking")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_text("You are booked")).to_be_visible()
    assert_accessible(page)


def practitioner_clears(browser, page, practitioner):
    """The practitioner, in their own browser, finds the new form in the review queue and clears it."""
    staff = new_page(browser, page.viewport_size)
    staff.base_url = page.base_url
    try:
        sign_in(staff, practitioner.user.email)
        go_to(staff, "Review queue")
        expect(staff.get_by_role("heading", name="Review queue")).to_be_visible()
        assert_accessible(staff)
        staff.get_by_role("row", name="Jo Bloggs").get_by_role("link", name="Review").click()
        expect(staff.get_by_role("heading", name="Health form: Jo Bloggs")).to_be_visible()
        assert_accessible(staff)
        staff.get_by_role("radio", name="Cleared", exact=True).check()
        staff.get_by_role("button", name="Record decision").click()
        expect(staff.get_by_text("Decision recorded for Jo Bloggs")).to_be_visible()
        assert not staff.csp_violations, staff.csp_violations
    finally:
        staff.context.close()


def test_new_patient_is_screened_cleared_then_books_and_moves_a_session(page, browser):
    practitioner = clinic_with_one_practitioner()
    today = timezone.localdate()
    consultation_day = today + datetime.timedelta(days=3)
    session_day = today + datetime.timedelta(days=10)
    moved_day = today + datetime.timedelta(days=12)

    sign_up(page)
    fill_in_health_form(page)
    assert IntakeForm.objects.get().status == IntakeForm.Status.AWAITING_REVIEW

    # Not cleared yet: sessions wait, a consultation does not.
    page.goto(page.base_url + "/book/microneedling-thighs/")
    expect(page.locator("#times .alert-warning")).to_contain_text("What to do next")
    expect(page.locator("#times .times")).to_have_count(0)
    book(page, "Free consultation", consultation_day, "09:30")

    practitioner_clears(browser, page, practitioner)

    go_to(page, "My health form")
    expect(page.get_by_text("Practitioner's decision: Cleared")).to_be_visible()
    book(page, "Microneedling: thighs", session_day, "10:00", check_lists=False)  # pages checked above
    session = Appointment.objects.get(treatment__slug="microneedling-thighs")

    go_to(page, "My appointments")
    page.get_by_role("row", name="Microneedling: thighs").get_by_role("link", name="Move").click()
    expect(page.get_by_role("heading", name="Move your appointment")).to_be_visible()
    choose_day_and_time(page, moved_day, "11:00")
    assert_accessible(page)
    page.get_by_role("button", name="Move my appointment").click()
    expect(page.get_by_text("Your appointment is moved to")).to_be_visible()
    assert_accessible(page)

    session.refresh_from_db()
    assert timezone.localtime(session.start_at).date() == moved_day
    assert timezone.localtime(session.start_at).time() == datetime.time(11)
    assert Appointment.objects.filter(status=Appointment.Status.BOOKED).count() == 2
