"""Lockout after repeated failures, two-factor sign-in for staff (required for admins)."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import roles
from tests.factories import PASSWORD, PatientFactory, PractitionerFactory, staff_user

pytestmark = pytest.mark.django_db


def current_code(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def post_login(client, email, password, ip="203.0.113.5"):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_five_wrong_passwords_lock_the_account_from_that_address_even_for_the_right_one(client):
    patient = PatientFactory(user__email="pat@example.com")
    for _ in range(5):
        response = post_login(client, "pat@example.com", "wrong-password")
    assert response.status_code in (200, 429)
    response = post_login(client, "pat@example.com", PASSWORD)
    assert response.status_code == 429
    assert "Sign-in paused" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address is not locked out: one attacker cannot lock a patient out of the clinic everywhere.
    assert post_login(client, "pat@example.com", PASSWORD, ip="198.51.100.7").status_code == 302
    assert client.session["_auth_user_id"] == str(patient.user.pk)


def test_an_admin_unlock_lets_the_patient_sign_in_again(client):
    PatientFactory(user__email="pat@example.com")
    for _ in range(6):
        post_login(client, "pat@example.com", "wrong-password")
    assert post_login(client, "pat@example.com", PASSWORD).status_code == 429
    AccessAttempt.objects.filter(username="pat@example.com").delete()  # what Axes' admin action does
    assert post_login(client, "pat@example.com", PASSWORD).status_code == 302


def test_a_success_resets_the_failure_count(client):
    PatientFactory(user__email="pat@example.com")
    for _ in range(4):
        post_login(client, "pat@example.com", "wrong-password")
    assert post_login(client, "pat@example.com", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for _ in range(4):
        post_login(client, "pat@example.com", "wrong-password")
    assert post_login(client, "pat@example.com", PASSWORD).status_code == 302


def test_a_clinic_admin_must_set_up_two_factor_before_reaching_anything(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # a wrong code locks the next try for a minute, however slow the machine
    admin = staff_user(roles.CLINIC_ADMIN, email="boss@example.com")
    assert post_login(client, "boss@example.com", PASSWORD).status_code == 302
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor_setup"))

    page = client.get(reverse("two_factor_setup"))
    assert "<svg" in page.content.decode() and "Set up two-factor sign-in" in page.content.decode()
    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    response = client.post(reverse("two_factor_setup"), {"token": "000000"})
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    response = client.post(reverse("two_factor_setup"), {"token": current_code(device)})
    assert "Too many wrong codes in a row" in response.content.decode()  # throttled straight after a miss
    device.refresh_from_db()
    device.throttle_reset()  # as the wait running out would

    response = client.post(reverse("two_factor_setup") + "?next=/admin/", {"token": current_code(device)})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200


def test_staff_with_two_factor_on_give_a_code_after_their_password(client):
    practitioner = PractitionerFactory(user__email="nurse@example.com")
    device = TOTPDevice.objects.create(user=practitioner.user, confirmed=True, name="phone")
    post_login(client, "nurse@example.com", PASSWORD)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor_verify"))
    assert client.post(reverse("two_factor_verify"), {"token": "12345x"}).status_code == 200
    assert client.get(reverse("home")).status_code == 302
    device.refresh_from_db()
    device.throttle_reset()
    client.post(reverse("two_factor_verify"), {"token": current_code(device)})
    assert client.get(reverse("home")).status_code == 200


def test_staff_without_a_device_and_patients_are_not_held(client):
    desk = staff_user(roles.FRONT_DESK)
    client.force_login(desk)
    assert client.get(reverse("home")).status_code == 200
    client.force_login(PatientFactory().user)
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("two_factor_setup")).status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_next_cannot_send_a_verified_user_off_site(client, target):
    admin = staff_user(roles.CLINIC_ADMIN)
    client.force_login(admin)
    client.get(reverse("two_factor_setup"))
    device = TOTPDevice.objects.get(user=admin)
    response = client.post(reverse("two_factor_setup") + f"?next={target}", {"token": current_code(device)})
    assert response["Location"] == reverse("start")  # the role's working page, never the other site


def test_an_overlong_address_is_refused_with_a_message_and_no_attempt_recorded(client):
    """Found by tests/test_hostile_input.py: 10,000 characters reached django-axes, which could not store
    them (a 500)."""
    response = post_login(client, "a" * 10_000 + "@example.com", "wrong-password")
    assert response.status_code == 200
    assert "at most 254 characters" in response.content.decode()
    assert not AccessAttempt.objects.exists()
