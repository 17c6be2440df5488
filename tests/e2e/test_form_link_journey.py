"""A phone patient with no email gets the health form link by text (read from the file SMS backend), fills in
the health form and signs the consent in a fresh browser with no password, and the desk sees both done. At
desktop and phone size; every page passes axe."""

import re

import pytest
from django import forms as django_forms
from playwright.sync_api import expect

from clinic import roles
from clinic.services import register_phone_patient
from consultations.forms import IntakeFormForm
from consultations.models import Consent, IntakeForm
from tests.e2e.conftest import DESKTOP, PHONE, new_page
from tests.e2e.helpers import assert_accessible, sign_in
from tests.factories import ensure_screening_rules, staff_user

pytestmark = pytest.mark.django_db(transaction=True)

YES_NO_FIELDS = [
    name for name, field in IntakeFormForm().fields.items() if isinstance(field, django_forms.NullBooleanField)
]


def test_a_phone_patient_fills_in_the_form_and_consent_from_a_text(page, browser, settings, tmp_path):
    ensure_screening_rules()
    settings.SMS_BACKEND = "clinic.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = tmp_path
    settings.SITE_URL = page.base_url  # the link in the text points at this server
    patient = register_phone_patient(
        first_name="Pat", last_name="Phone", phone="+447700900321", date_of_birth="1985-06-01"
    )
    assert not patient.user.has_real_email and not patient.user.has_usable_password()
    desk = staff_user(roles.FRONT_DESK, email="desk@clinic.example")

    sign_in(page, desk.email)
    page.goto(f"{page.base_url}/desk/patients/{patient.pk}/")
    page.get_by_label("Send the health form and consent link").select_option("sms")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("The health form and consent link went to Pat Phone by text message")).to_be_visible()
    assert_accessible(page)

    [log] = list(tmp_path.iterdir())
    text = log.read_text()
    assert "to +447700900321" in text
    link = re.search(r"(http://\S+/l/\S+/)", text).group(1)

    phone = new_page(browser, PHONE if page.is_phone else DESKTOP)  # the patient's own browser: no session
    try:
        phone.goto(link)
        expect(phone.get_by_text("This link is for")).to_be_visible()
        assert_accessible(phone)
        phone.get_by_role("button", name="Continue as Pat P. to the health form").click()
        phone.get_by_label("Emergency contact name").fill("Sam Example")
        phone.get_by_label("Emergency contact phone").fill("07700 900456")
        phone.get_by_label("GP practice and address").fill("Marylebone Health Centre")
        for name in YES_NO_FIELDS:
            phone.locator(f"#id_{name}_1").check()
        phone.get_by_label("Thighs").check()
        phone.locator("#id_declaration").check()
        phone.get_by_role("button", name="Send my health form").click()
        expect(phone.get_by_text("your health form is sent")).to_be_visible()
        phone.get_by_role("link", name="read and sign the consent form").click()
        phone.get_by_label("Type your full name").fill("Pat Phone")
        phone.locator("#id_agreed").check()
        phone.get_by_role("button", name="Sign consent").click()
        expect(phone.get_by_text("your consent is signed")).to_be_visible()
        assert_accessible(phone)
        # The same link again, in another browser: used, nothing changes.
        other = new_page(browser, DESKTOP)
        other.goto(link)
        expect(other.get_by_text("This link has already been used")).to_be_visible()
        other.context.close()
    finally:
        phone.context.close()
    assert IntakeForm.objects.get(patient=patient).is_submitted
    assert Consent.objects.filter(patient=patient).exists()

    page.reload()
    expect(page.get_by_text(re.compile(r"Consent\s*signed"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"by text message \(opened"))).to_be_visible()
    assert_accessible(page)
