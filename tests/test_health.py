"""/health/ (clinic/health.py) and the image's health check (deploy/healthcheck.py) against the real services:
all well, then a broker that is not there (a loopback port nobody listens on)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from clinic import roles
from tests.factories import PatientFactory, staff_user

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.django_db, pytest.mark.redis]


def unused_loopback_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(client):
    response = client.get("/health/", headers={"accept": "application/json"})
    return response.status_code, json.loads(response.content)


def test_all_well_for_anyone_signed_in_or_not(client):
    status, checks = health(client)
    assert status == 200
    assert set(checks.values()) == {"OK"}
    assert [name.split("(")[0] for name in checks] == ["Database", "Cache", "Redis"]
    client.force_login(PatientFactory().user)
    assert health(client)[0] == 200
    client.force_login(staff_user(roles.FRONT_DESK))
    assert health(client)[0] == 200


def test_an_unreachable_broker_answers_503_and_names_it(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{unused_loopback_port()}/0"
    status, checks = health(client)
    assert status == 503
    [broker] = [name for name in checks if name.startswith("Redis")]
    assert "Unable to connect to Redis" in checks[broker]
    assert checks["Database(alias='default')"] == "OK" and checks["Cache(alias='default')"] == "OK"


def test_plain_http_is_answered_not_redirected_to_https(client, settings):
    """The container's check asks gunicorn over HTTP from inside; production redirects everything else."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/").status_code == 200
    assert client.get("/").status_code == 301


def run_healthcheck_script(url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ALLOWED_HOSTS"} | {
        "HEALTHCHECK_URL": url,
        "ALLOWED_HOSTS": ".clinic.example,localhost",
    }
    script = ROOT / "deploy" / "healthcheck.py"
    return subprocess.run([sys.executable, script], env=env, capture_output=True, text=True, timeout=30)


def test_the_image_health_check_passes_and_fails_with_the_services(live_server, settings):
    settings.ALLOWED_HOSTS = ["clinic.example"]  # the script sends the first usable name: ".clinic.example"
    result = run_healthcheck_script(f"{live_server.url}/health/")
    assert result.returncode == 0, result.stdout + result.stderr
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{unused_loopback_port()}/0"
    result = run_healthcheck_script(f"{live_server.url}/health/")
    assert result.returncode == 1 and result.stdout.startswith("503")
    result = run_healthcheck_script(f"http://127.0.0.1:{unused_loopback_port()}/health/")
    assert result.returncode == 1 and "refused" in result.stdout.lower()
