"""Requests a second under gunicorn, against a bare Django template view in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic .venv/bin/python bench/throughput.py [--seconds 10]

Needs `wrk` (Debian: apt-get install wrk) and the large clinic of bench/scale.py (seeded on first use).
Starts gunicorn (sync workers, one per core) with production settings (DEBUG off, collected static files)
on the bench database, then drives each page with wrk in turn:
- /bench/bare/: a plain template view through the same middleware, the reference (bench/urls.py);
- the availability endpoint, 31 days (the API's longest range) for one practitioner and for all 50;
- the booking page of a signed-in patient, and its times list for a day (what htmx fetches).
Prints requests a second, median and p99 latency, and each page's throughput as a share of the bare view's.
Any response that is not 2xx fails the run: a fast error page measures nothing.
"""

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale import Sizes, ensure_seeded  # noqa: E402

PORT = 8765
TARGET_RATIO = 0.5  # issue #9: the availability endpoint at half the bare view's throughput or better


def production_environment(static_root: str) -> dict:
    """What the README's production section sets, minus TLS (wrk speaks plain HTTP on loopback)."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789abcdef",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "STATIC_ROOT": static_root,
        "LOG_LEVEL": "WARNING",
    }


def patient_cookie() -> str:
    """A signed-in patient's session cookie (a patient with nothing booked ahead, so the page is typical)."""
    from django.conf import settings
    from django.test import Client

    from clinic.models import Patient

    patient = Patient.objects.select_related("user").order_by("pk").first()
    client = Client()
    client.force_login(patient.user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def targets(cookie: str) -> list[tuple[str, str, str | None]]:
    from django.utils import timezone

    first = timezone.localdate() + datetime.timedelta(days=1)
    last = first + datetime.timedelta(days=30)
    day = first + datetime.timedelta(days=14)
    api = f"/api/v1/availability/?treatment=microneedling&from={first}&to={last}"
    return [
        ("bare template view (reference)", "/bench/bare/", None),
        ("availability API, one practitioner", f"{api}&practitioner=practitioner-0", None),
        ("availability API, all practitioners", api, None),
        ("booking page (signed-in patient)", "/book/consultation/", cookie),
        ("booking times for a day (htmx)", f"/book/consultation/times/?practitioner=&day={day}", cookie),
    ]


def start_gunicorn(env: dict, workers: int) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    process = subprocess.Popen(
        [
            gunicorn,
            "clinic.wsgi:application",
            f"--bind=127.0.0.1:{PORT}",
            f"--workers={workers}",
            "--worker-class=sync",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/bench/bare/", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    sys.exit("gunicorn did not answer within 20 s")


def run_wrk(path: str, cookie: str | None, seconds: int, connections: int) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{PORT}{path}"], capture_output=True, text=True, check=True
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": _latency(output, "50%"),
        "p99": _latency(output, "99%"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def check_status(path: str, cookie: str | None) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 200 or response.url.split(str(PORT), 1)[1] != path:
            sys.exit(f"{path} answered {response.status} at {response.url}: not the page meant to be measured")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per page")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--database", help="bench database name (default: bench_scale)")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install -y wrk")

    static_root = tempfile.mkdtemp(prefix="clinic-bench-static-")
    env = production_environment(static_root)
    os.environ.update(env)
    ensure_seeded(Sizes(), name=options.database)
    from django.core.management import call_command
    from django.db import connection

    call_command("collectstatic", "--noinput", verbosity=0)
    env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    cookie = patient_cookie()
    pages = targets(cookie)
    connection.close()

    print(
        f"\ngunicorn: {options.workers} sync workers on {os.cpu_count()} cores; wrk: 1 thread, "
        f"{options.connections} connections, {options.seconds} s a page\n"
    )
    server = start_gunicorn(env, options.workers)
    results = []
    try:
        for label, path, page_cookie in pages:
            check_status(path, page_cookie)
            run_wrk(path, page_cookie, 2, options.connections)  # warm every worker up
            results.append((label, run_wrk(path, page_cookie, options.seconds, options.connections)))
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(static_root, ignore_errors=True)

    bare = results[0][1]["rps"]
    print(f"{'page':<38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8}")
    failed = False
    for label, figures in results:
        ratio = figures["rps"] / bare
        print(f"{label:<38} {figures['rps']:8.1f} {figures['p50']:8.1f} {figures['p99']:8.1f} {ratio:8.0%}")
        if figures["errors"]:
            print(f"  FAILED: {figures['errors']} responses were not 2xx")
            failed = True
    availability_ratio = results[1][1]["rps"] / bare
    verdict = "met" if availability_ratio >= TARGET_RATIO else "MISSED"
    print(f"\navailability API (one practitioner): {availability_ratio:.0%} of the bare view; target 50% {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
