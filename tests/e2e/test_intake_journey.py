"""A patient saves a draft of the health form, sends it; a practitioner finds it flagged and clears it."""

import pytest
from django import forms as django_forms
from playwright.sync_api import expect

from consultations.forms import IntakeFormForm
from consultations.models import Review
from tests.e2e.helpers import assert_accessible, open_menu_if_collapsed, sign_in
from tests.factories import PatientFactory, PractitionerFactory, ensure_screening_rules

pytestmark = pytest.mark.django_db(transaction=True)

YES_NO_FIELDS = [
    name for name, field in IntakeFormForm().fields.items() if isinstance(field, django_forms.NullBooleanField)
]


def test_patient_sends_the_form_and_a_practitioner_clears_it(page):
    ensure_screening_rules()
    patient = PatientFactory()
    practitioner = PractitionerFactory()

    sign_in(page, patient.user.email)
    open_menu_if_collapsed(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My health form").click()
    page.get_by_role("link", name="Fill in my health form").click()
    assert_accessible(page)
    page.get_by_label("Emergency contact name").fill("Sam Example")
    page.get_by_role("button", name="Save and finish later").click()
    expect(page.get_by_text("Your answers are saved")).to_be_visible()

    page.get_by_label("Emergency contact phone").fill("07700 900456")
    page.get_by_label("GP practice and address").fill("Marylebone Health Centre")
    for name in YES_NO_FIELDS:
        page.locator(f"#id_{name}_{0 if name == 'keloid_scarring' else 1}").check()
    page.get_by_label("Thighs").check()
    page.locator("#id_declaration").check()
    page.get_by_role("button", name="Send my health form").click()
    expect(page.get_by_text("your health form is sent")).to_be_visible()
    expect(page.get_by_text("Flagged: waiting for review")).to_be_visible()
    assert_accessible(page)

    page.context.clear_cookies()
    sign_in(page, practitioner.user.email)
    page.goto(page.base_url + "/intake/review/")
    expect(page.get_by_text("Review: History of keloid or hypertrophic scars")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name=f"Review the form of {patient.full_name}").click()
    assert_accessible(page)
    page.get_by_label("Cleared", exact=True).check()
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Decision recorded")).to_be_visible()
    assert Review.objects.get().decision == "cleared"
