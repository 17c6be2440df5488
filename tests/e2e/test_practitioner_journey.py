"""Journey b, in a real browser at desktop and phone size: a practitioner reviews a health form flagged for an
anticoagulant (warfarin), sees the flag highlighted and the advice to involve the prescriber, and clears the
patient with conditions; the patient then sees the decision and its conditions, never the private notes."""

import pytest
from playwright.sync_api import expect

from consultations.models import Review
from tests.e2e.conftest import new_page
from tests.e2e.helpers import assert_accessible, open_menu_if_collapsed, sign_in
from tests.factories import PatientFactory, PractitionerFactory, submitted_intake

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("screening_rules")]

PRIVATE_NOTE = "INR 2.4 last week per GP letter; shallow depth only"
CONDITIONS = "Bring your latest INR result; we will treat at a shallow depth."


def test_practitioner_clears_a_warfarin_patient_with_conditions(page, browser):
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart")
    patient = PatientFactory(user__first_name="Rosa", user__last_name="Flores")
    submitted_intake(patient, anticoagulants=["warfarin"])
    submitted_intake(PatientFactory(user__first_name="Ned", user__last_name="Plain"))  # nothing flagged

    sign_in(page, practitioner.user.email)
    open_menu_if_collapsed(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review queue").click()
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    assert_accessible(page)
    flagged_row = page.get_by_role("row", name="Rosa Flores")
    expect(flagged_row).to_have_class("table-warning")
    expect(flagged_row).to_contain_text("Review: Anticoagulant or antiplatelet medicine")
    expect(page.locator("tbody tr").first).to_contain_text("Rosa Flores")  # most serious first

    flagged_row.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name="Health form: Rosa Flores")).to_be_visible()
    flag = page.locator(".list-group-item-warning")
    expect(flag).to_contain_text("Anticoagulant or antiplatelet medicine")
    expect(flag).to_contain_text("Answer: Warfarin")
    expect(flag).to_contain_text("liaise with the prescriber")
    expect(flag).to_contain_text("Speak to your prescriber")
    assert_accessible(page)

    page.get_by_role("radio", name="Cleared with conditions").check()
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Write the conditions: the patient sees them.")).to_be_visible()  # nothing recorded
    assert_accessible(page)
    assert not Review.objects.exists()

    page.get_by_label("Message to patient").fill(CONDITIONS)
    page.get_by_label("Notes").fill(PRIVATE_NOTE)
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Decision recorded for Rosa Flores")).to_be_visible()
    expect(page.get_by_role("row", name="Rosa Flores")).to_have_count(0)
    assert_accessible(page)
    review = Review.objects.get()
    assert (review.decision, review.notes) == (Review.Decision.CLEARED_WITH_CONDITIONS, PRIVATE_NOTE)

    patient_page = new_page(browser, page.viewport_size)
    patient_page.base_url = page.base_url
    try:
        sign_in(patient_page, patient.user.email)
        open_menu_if_collapsed(patient_page)
        patient_page.get_by_role("navigation", name="Main").get_by_role("link", name="My health form").click()
        expect(patient_page.get_by_text("Practitioner's decision: Cleared with conditions")).to_be_visible()
        expect(patient_page.get_by_text(CONDITIONS)).to_be_visible()
        expect(patient_page.get_by_text("Speak to your prescriber")).to_be_visible()
        expect(patient_page.get_by_text("INR 2.4")).to_have_count(0)
        assert PRIVATE_NOTE not in patient_page.content()
        assert_accessible(patient_page)
        assert not patient_page.csp_violations, patient_page.csp_violations
    finally:
        patient_page.context.close()
