import datetime
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.urls import reverse

from clinic.models import Patient, User
from tests.factories import PASSWORD, PatientFactory

pytestmark = pytest.mark.django_db


def signup_data(**overrides):
    data = {
        "first_name": "Jo",
        "last_name": "Bloggs",
        "email": "Jo@Example.com",
        "phone": "07700 900456",
        "date_of_birth": "1990-04-01",
        "password1": "a-long-unusual-pass",
        "password2": "a-long-unusual-pass",
    }
    data.update(overrides)
    return data


def test_a_patient_signs_up_and_is_signed_in(client):
    response = client.post(reverse("signup"), signup_data(), follow=True)
    assert response.status_code == 200
    assert "Your account is ready" in response.content.decode()
    patient = Patient.objects.get(user__email="jo@example.com")
    assert patient.phone == "+447700900456"  # E.164 (clinic.phones)
    assert response.context["user"] == patient.user


@pytest.mark.clock
def test_sign_up_under_18_is_refused_and_saves_nothing(client):
    today = datetime.date.today()
    response = client.post(
        reverse("signup"), signup_data(date_of_birth=today.replace(year=today.year - 17).isoformat())
    )
    assert response.status_code == 200
    assert "patients must be 18 or over" in response.content.decode()
    assert not User.objects.exists()


def test_sign_up_with_an_email_already_registered_is_refused(client):
    PatientFactory(user__email="jo@example.com")
    response = client.post(reverse("signup"), signup_data(email="JO@example.com"))
    assert "An account with this email address already exists" in response.content.decode()
    assert User.objects.count() == 1


def test_sign_up_with_mismatched_passwords_or_a_bad_phone_shows_field_errors(client):
    response = client.post(reverse("signup"), signup_data(password2="something-else", phone="call me"))
    body = response.content.decode()
    assert "The two passwords differ." in body
    assert "Enter a phone number we can call" in body
    assert not User.objects.exists()


def test_login_and_logout(client):
    patient = PatientFactory()
    response = client.post(reverse("login"), {"username": patient.user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("profile")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("profile")).status_code == 302


def test_password_reset_sends_a_link_that_lets_the_patient_choose_a_new_password(client):
    patient = PatientFactory(user__email="reset@example.com")
    client.post(reverse("password_reset"), {"email": "reset@example.com"})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line).strip()
    path = link.split("testserver", 1)[1]
    form_url = client.get(path, follow=True).redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "brand-new-pass-42", "new_password2": "brand-new-pass-42"})
    assert response.status_code == 302
    patient.user.refresh_from_db()
    assert patient.user.check_password("brand-new-pass-42")


def test_profile_edit_saves_and_refuses_bad_input_without_saving(client):
    patient = PatientFactory(phone="07700 900001")
    client.force_login(patient.user)
    data = {
        "first_name": "New",
        "last_name": "Name",
        "phone": "07700 900999",
        "date_of_birth": "1985-02-03",
        "sms_opt_in": "on",
    }
    response = client.post(reverse("profile"), data, follow=True)
    assert "Your details are saved." in response.content.decode()
    patient.refresh_from_db()
    assert (patient.user.first_name, patient.phone, patient.sms_opt_in) == ("New", "+447700900999", True)

    response = client.post(reverse("profile"), {**data, "first_name": "Other", "date_of_birth": "2030-01-01"})
    assert "cannot be in the future" in response.content.decode()
    patient.refresh_from_db()
    assert patient.user.first_name == "New"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_signup_never_sends_the_new_patient_off_site(client, target):
    response = client.post(reverse("signup") + f"?next={target}", signup_data())
    assert response.status_code == 302 and response["Location"] == reverse("home")


def test_signup_returns_the_new_patient_to_the_page_they_came_from(client):
    response = client.post(reverse("signup") + "?next=/book/", signup_data())
    assert response["Location"] == "/book/"


@pytest.mark.parametrize("target", ["book", "a\x00b", "home"])
def test_a_next_that_is_not_a_path_sends_the_new_patient_home(client, target):
    """Found by tests/test_hostile_input.py: redirect() took a bare word for a URL name, and an unknown one
    was a 500 (the front desk's actions share the rule, clinic/redirects.py)."""
    response = client.post(reverse("signup") + "?" + urlencode({"next": target}), signup_data())
    assert response.status_code == 302 and response["Location"] == reverse("home")
