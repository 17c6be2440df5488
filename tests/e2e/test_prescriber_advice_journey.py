"""In a real browser (desktop and phone): a practitioner writes "stop your apixaban" to a patient and is
refused with a suggested wording; they tick that they read the patient's own words, record the advice as the
prescriber's (name, role, date) and the patient reads it attributed to their prescriber."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from consultations.models import Review
from tests.e2e.conftest import new_page
from tests.e2e.helpers import assert_accessible, open_menu_if_collapsed, sign_in
from tests.factories import PatientFactory, PractitionerFactory, submitted_intake

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("screening_rules")]

STOP_ADVICE = "Please stop taking your apixaban 48 hours before each session and restart the day after."
CONDITIONS = "We will treat at a needle depth of 0.5 mm at most."


def test_stop_advice_is_refused_then_recorded_as_the_prescribers(page, browser):
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart")
    patient = PatientFactory(user__first_name="Rosa", user__last_name="Flores")
    intake = submitted_intake(patient, anticoagulants=["apixaban"], other_medicines="Apixaban 5 mg twice daily")
    advised_on = timezone.localdate() - datetime.timedelta(days=3)

    sign_in(page, practitioner.user.email)
    page.goto(f"{page.base_url}/intake/review/{intake.pk}/")
    expect(page.get_by_role("heading", name="Health form: Rosa Flores")).to_be_visible()
    expect(page.locator(".read-this")).to_contain_text("Apixaban 5 mg twice daily")

    page.get_by_role("radio", name="Cleared with conditions").check()
    page.get_by_label("Message to patient").fill(STOP_ADVICE)
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Suggested wording").first).to_be_visible()
    expect(page.get_by_text("tick that you have, before recording a decision").first).to_be_visible()
    assert_accessible(page)
    assert not Review.objects.exists()

    page.get_by_label("I have read every free-text answer marked 'Read this'").check()
    page.get_by_label("Message to patient").fill(CONDITIONS)
    page.get_by_label("Advice from the patient's prescriber").fill(STOP_ADVICE)
    page.get_by_label("Prescriber's name").fill("Dr Shah")
    page.get_by_label("Prescriber's role").fill("GP")
    page.get_by_label("Date the prescriber advised").fill(advised_on.isoformat())
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Decision recorded for Rosa Flores")).to_be_visible()
    review = Review.objects.get()
    assert (review.prescriber_name, review.prescriber_role, review.free_text_read) == ("Dr Shah", "GP", True)

    patient_page = new_page(browser, page.viewport_size)
    patient_page.base_url = page.base_url
    try:
        sign_in(patient_page, patient.user.email)
        open_menu_if_collapsed(patient_page)
        patient_page.get_by_role("navigation", name="Main").get_by_role("link", name="My health form").click()
        expect(patient_page.get_by_text(CONDITIONS)).to_be_visible()
        expect(patient_page.get_by_test_id("prescriber-advice")).to_have_text(
            f"Your prescriber, Dr Shah (GP), advised on {advised_on:%-d %B %Y}: {STOP_ADVICE}"
        )
        assert_accessible(patient_page)
        assert not patient_page.csp_violations, patient_page.csp_violations
    finally:
        patient_page.context.close()
