"""Lockout after repeated failures, two-factor sign-in for staff (required for admins)."""

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import roles
from tests.factories import PASSWORD, PatientFactory, PractitionerFactory, staff_user

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


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


def test_a_device_confirmed_while_signed_in_holds_the_next_request(client):
    """Whether the user has a confirmed device is read with the signed-in user (clinic.backends), afresh for
    every request: one confirmed elsewhere counts from the next request, an unconfirmed one does not."""
    desk = staff_user(roles.FRONT_DESK)
    client.force_login(desk)
    assert client.get(reverse("home")).status_code == 200
    device = TOTPDevice.objects.create(user=desk, confirmed=False, name="phone")
    assert client.get(reverse("home")).status_code == 200
    device.confirmed = True
    device.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor_verify"))


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


def test_the_set_up_page_shows_the_key_as_authenticator_apps_take_it_typed_in(client):
    """Apps take the key in base32 (the otpauth:// URL's `secret`); the page once showed django-otp's hex,
    which an app reads as other bytes, so every code typed in from it was wrong."""
    admin = staff_user(roles.CLINIC_ADMIN)
    client.force_login(admin)
    page = client.get(reverse("two_factor_setup")).content.decode()
    device = TOTPDevice.objects.get(user=admin, confirmed=False)
    shown = re.search(r"Key: <code>([^<]+)</code>", page).group(1)
    assert device.key not in page
    typed = shown.replace(" ", "").upper()
    key_as_the_app_reads_it = base64.b32decode(typed + "=" * (-len(typed) % 8))
    app = TOTP(key_as_the_app_reads_it, device.step, device.t0, device.digits)
    assert device.verify_token(f"{app.token():0{device.digits}d}")
    assert f"secret={typed}" in device.config_url


def settings_with(env: dict, *names: str) -> dict:
    """Settings as clinic/settings.py derives them from this environment, read in a fresh process."""
    code = "\n".join(
        [
            "import json",
            "from django.conf import settings",
            f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))",
        ]
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("BEHIND_PROXY", "AXES_PROXY_COUNT")}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=environment | {"DEBUG": "1"} | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


CLIENT_ADDRESS_SETTINGS = ("AXES_IPWARE_PROXY_COUNT", "AXES_IPWARE_PROXY_ORDER", "AXES_IPWARE_META_PRECEDENCE_ORDER")


@pytest.fixture(scope="module")
def behind_the_proxy_settings():
    return settings_with({"BEHIND_PROXY": "1"}, *CLIENT_ADDRESS_SETTINGS)


def test_behind_the_proxy_the_lockout_counts_the_client_address_not_the_proxys(
    client, settings, behind_the_proxy_settings
):
    """Behind the TLS proxy (BEHIND_PROXY=1) every connection comes from the proxy. Counting its address
    let five wrong passwords from anywhere lock the patient out everywhere: the client's address is the one
    the proxy writes in X-Forwarded-For (docs/operations.md)."""
    for name, value in behind_the_proxy_settings.items():
        setattr(settings, name, value)
    patient = PatientFactory(user__email="pat@example.com")

    def through_the_proxy(forwarded_for, password):
        return client.post(
            reverse("login"),
            {"username": "pat@example.com", "password": password},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )

    for _ in range(5):
        through_the_proxy("203.0.113.5", "wrong-password")
    assert through_the_proxy("203.0.113.5", PASSWORD).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    response = through_the_proxy("198.51.100.7", PASSWORD)
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(patient.user.pk)


def test_behind_the_proxy_a_forged_forwarded_for_buys_no_fresh_address(client, settings, behind_the_proxy_settings):
    """A client that sends its own X-Forwarded-For reaches us as "forged, real" through the proxy: that
    chain is longer than the proxy count, so it is not believed, and each guess does not get a new address."""
    for name, value in behind_the_proxy_settings.items():
        setattr(settings, name, value)
    PatientFactory(user__email="pat@example.com")
    for guess in range(6):
        response = client.post(
            reverse("login"),
            {"username": "pat@example.com", "password": "wrong-password"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{guess}, 203.0.113.5",
        )
    assert response.status_code == 429
    assert not AccessAttempt.objects.filter(ip_address__startswith="192.0.2.").exists()


def test_served_directly_a_forwarded_for_header_is_ignored(client):
    PatientFactory(user__email="pat@example.com")
    for guess in range(6):
        response = client.post(
            reverse("login"),
            {"username": "pat@example.com", "password": "wrong-password"},
            REMOTE_ADDR="203.0.113.5",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{guess}",
        )
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}


def test_the_demo_admin_signs_in_with_the_printed_key_or_the_code_command(client, settings):
    """make run prints the demo admin's key (base32, as apps take it) and `make code` the current code."""
    settings.DEBUG = True
    seeded = io.StringIO()
    call_command("seed_demo", stdout=seeded)
    key = re.search(r"add the key ([A-Z2-7 ]+) to an", seeded.getvalue()).group(1).replace(" ", "")
    call_command("seed_demo", stdout=io.StringIO())  # a second run keeps the key an app was set up with
    device = TOTPDevice.objects.get(user__email="admin@clinic.example", confirmed=True)
    assert base64.b32encode(device.bin_key).decode().rstrip("=") == key

    code, hint = io.StringIO(), io.StringIO()
    call_command("two_factor_code", "admin@clinic.example", stdout=code, stderr=hint)
    assert "valid for" in hint.getvalue()
    assert post_login(client, "admin@clinic.example", "demo-clinic-2026").status_code == 302
    response = client.post(reverse("two_factor_verify"), {"token": code.getvalue().strip()})
    assert response.status_code == 302 and client.get(reverse("admin:index")).status_code == 200


def test_the_code_command_is_refused_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("two_factor_code", "admin@clinic.example")
