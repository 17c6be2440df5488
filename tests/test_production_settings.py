"""The documented production environment passes Django's deployment checklist and sends the security headers."""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from clinic import roles
from tests.factories import PatientFactory, staff_user

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "a-long-random-production-secret-0123456789-XYZ",
    "ALLOWED_HOSTS": "clinic.example",
    "SITE_URL": "https://clinic.example",
    "DATABASE_URL": "sqlite:///:memory:",
}


def run_manage(*args, env_overrides):
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; production never has it.
    inherited_out = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "SITE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "LOG_FORMAT")
    env = {k: v for k, v in os.environ.items() if k not in inherited_out}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_nothing_for_the_documented_production_environment():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_a_site_url():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SITE_URL"}
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "Set SITE_URL" in result.stderr


@pytest.mark.parametrize(
    "site_url", ["clinic.example", "https://", "https://clinic.example/book", "ftp://clinic.example"]
)
def test_production_refuses_a_site_url_that_cannot_start_a_link(site_url):
    result = run_manage("check", env_overrides={**PRODUCTION_ENV, "SITE_URL": site_url})
    assert result.returncode != 0
    assert "SITE_URL must be a scheme and a host" in result.stderr


def test_every_email_comes_from_the_clinics_name_whatever_name_the_address_setting_carries():
    env = {**PRODUCTION_ENV, "CLINIC_NAME": "Glow Rooms", "DEFAULT_FROM_EMAIL": "Someone Else <desk@glow.example>"}
    shown = "from django.conf import settings; print(settings.DEFAULT_FROM_EMAIL, settings.SERVER_EMAIL, sep='|')"
    result = run_manage("shell", "-c", shown, env_overrides=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "Glow Rooms <desk@glow.example>|Glow Rooms <desk@glow.example>"


def test_make_run_builds_links_from_its_own_host_and_port():
    """`make run HOST=... PORT=...` exports SITE_URL for the server and both Celery processes it starts."""
    database = subprocess.run(
        ["make", "--no-print-directory", "-p", "-n", "run", "HOST=0.0.0.0", "PORT=8765"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "run: SITE_URL = http://$(HOST):$(PORT)" in database.stdout
    assert "run: export SITE_URL" in (ROOT / "Makefile").read_text()


@pytest.mark.django_db
def test_pages_send_csp_frame_denial_and_referrer_policy(client):
    response = client.get(reverse("home"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_pages_carry_no_inline_script(client):
    body = client.get(reverse("home")).content.decode()
    for tag in body.split("<script")[1:]:
        assert tag.split(">", 1)[0].strip().startswith("src="), f"inline script: <script{tag[:80]}"


@pytest.mark.django_db
def test_staff_sessions_expire_after_idle_time_and_patients_keep_theirs(client, settings):
    settings.STAFF_IDLE_TIMEOUT_SECONDS = 900
    client.force_login(staff_user(roles.FRONT_DESK))
    client.get(reverse("home"))
    assert client.session.get_expiry_age() == 900
    client.logout()
    client.force_login(PatientFactory().user)
    client.get(reverse("home"))
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


LOG_A_LINE = "import logging; logging.getLogger('clinic').warning('booked %s', 'A-17', extra={'appointment': 17})"


def test_production_logs_are_one_json_object_per_line():
    result = run_manage("shell", "-c", LOG_A_LINE, env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stderr.splitlines() if "booked" in line]
    record = json.loads(line)
    assert record["message"] == "booked A-17" and record["appointment"] == 17
    assert record["level"] == "WARNING" and record["logger"] == "clinic"
    assert datetime.datetime.fromisoformat(record["time"]).utcoffset() == datetime.timedelta(0)


def test_development_logs_are_plain_lines_unless_json_is_asked_for():
    development = {"DEBUG": "1", "DATABASE_URL": "sqlite:///:memory:"}
    result = run_manage("shell", "-c", LOG_A_LINE, env_overrides=development)
    [line] = [line for line in result.stderr.splitlines() if "booked" in line]
    assert line.endswith("WARNING clinic: booked A-17")
    result = run_manage("shell", "-c", LOG_A_LINE, env_overrides=development | {"LOG_FORMAT": "json"})
    [line] = [line for line in result.stderr.splitlines() if "booked" in line]
    assert json.loads(line)["message"] == "booked A-17"
