"""Where a request's time goes, measured so that the load of a shared machine does not change the figures:
queries, Python function calls (cProfile) and the process's CPU time per request, for the pages
bench/throughput.py drives, in one process through Django's test client with production settings.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic .venv/bin/python bench/request_path.py \
        --database bench_perf [--requests 40]

Function calls are the same on any machine and under any load; CPU time (`time.process_time`, this process
only: PostgreSQL's work is not in it) moves much less with load than wall time. Throughput under gunicorn
(bench/throughput.py) also pays what the test client skips: the WSGI server, and the `SELECT 1` that
`CONN_HEALTH_CHECKS` runs before a request's first query (the client turns off the request-start signal
that asks for it); "round trips" adds that one where it is on.

Read-only: the bench database must be seeded already (bench/scale.py; nothing is migrated or seeded here),
and the signed-in patient's session, like everything else the requests write, is written inside one
transaction rolled back at the end (sessions kept in Redis are left there to expire).
"""

import argparse
import cProfile
import datetime
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throughput import production_environment  # noqa: E402


def pages() -> list[tuple[str, str, bool, bool]]:
    """(label, path, signed in as a patient, availability cache on), as bench/throughput.py drives them."""
    from django.utils import timezone

    first = timezone.localdate() + datetime.timedelta(days=1)
    last = first + datetime.timedelta(days=30)
    day = first + datetime.timedelta(days=14)
    api = f"/api/v1/availability/?treatment=microneedling&from={first}&to={last}"
    week = f"/api/v1/availability/?treatment=microneedling&from={first}&to={first + datetime.timedelta(days=6)}"
    return [
        ("bare template view (reference)", "/bench/bare/", False, True),
        ("availability API, one practitioner, 31 days", f"{api}&practitioner=practitioner-0", False, True),
        ("availability API, cache off, 7 days", f"{week}&practitioner=practitioner-0", False, False),
        ("booking page (signed-in patient)", "/book/consultation/", True, True),
        ("booking times for a day (htmx)", f"/book/consultation/times/?practitioner=&day={day}", True, True),
    ]


def measure(client, path: str, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm up: templates compiled, the catalogue and the answer cached
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
    with CaptureQueriesContext(connection) as captured:
        client.get(path)
    sql = [query["sql"] for query in captured.captured_queries]  # now: the next request clears the log
    profile = cProfile.Profile()
    profile.enable()
    client.get(path)
    profile.disable()
    calls = pstats.Stats(profile).total_calls
    cpu, wall = [], []
    for _ in range(requests):
        started_cpu, started = time.process_time(), time.perf_counter()
        client.get(path)
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    return {
        "queries": len(sql),
        "sql": sql,
        "calls": calls,
        "cpu_ms": sum(cpu) / requests * 1000,
        "wall_ms": statistics.median(wall) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="bench_scale", help="the seeded bench database (bench/scale.py)")
    parser.add_argument("--requests", type=int, default=40, help="timed requests a page")
    parser.add_argument("--sql", action="store_true", help="print each page's queries")
    options = parser.parse_args()

    os.environ.update(production_environment(static_root=str(ROOT / "staticfiles")))
    os.environ["STATIC_ROOT"] = os.environ.get("STATIC_ROOT", "")  # no static file is served or read here
    from bench.scale import Sizes, use_bench_database

    use_bench_database(options.database)
    from django.conf import settings
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import override_settings

    from clinic.models import Patient, Practitioner

    # Not is_seeded(): another run's load generator may hold a few bookings of its own for the moment.
    if Practitioner.objects.count() != Sizes().practitioners:
        sys.exit(f"{options.database} is not seeded: run bench/scale.py --database {options.database} first")
    health_check = bool(connection.settings_dict.get("CONN_HEALTH_CHECKS"))
    print(
        f"{options.database}: {options.requests} requests a page; sessions: {settings.SESSION_ENGINE}; "
        f"CONN_HEALTH_CHECKS {'on' if health_check else 'off'}; load average {os.getloadavg()[0]:.1f}\n"
    )
    print(f"{'page':<46} {'queries':>7} {'trips':>5} {'calls':>8} {'CPU ms':>7} {'wall ms':>8}")
    with transaction.atomic():
        anonymous, patient = Client(HTTP_HOST="127.0.0.1"), Client(HTTP_HOST="127.0.0.1")
        patient.force_login(Patient.objects.select_related("user").order_by("pk").first().user)
        for label, path, signed_in, cache_on in pages():
            with override_settings(AVAILABILITY_CACHE=cache_on, STORAGES=_plain_static()):
                figures = measure(patient if signed_in else anonymous, path, options.requests)
            trips = figures["queries"] + (health_check and figures["queries"] > 0)
            print(
                f"{label:<46} {figures['queries']:>7} {trips:>5} {figures['calls']:>8,} "
                f"{figures['cpu_ms']:>7.2f} {figures['wall_ms']:>8.2f}",
                flush=True,
            )
            if options.sql:
                for sql in figures["sql"]:
                    print(f"    {sql[:160]}")
        transaction.set_rollback(True)
    return 0


def _plain_static() -> dict:
    """Static URLs without the manifest collectstatic writes: this script serves no static file."""
    from django.conf import settings

    return {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


if __name__ == "__main__":
    sys.exit(main())
