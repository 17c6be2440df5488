"""The load-independent cost of one page: Python function calls and CPU time a request, bytes, queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_perf .venv/bin/python bench/profile_page.py desk
    ... bench/profile_page.py desk-rooms --runs 20 --top 30

Throughput under gunicorn (bench/throughput.py) moves with whatever else runs on the machine; these figures
much less: the count of Python function calls a request (cProfile, deterministic for the same data and
code), the process's CPU time a request (`time.process_time`, the median of `--runs`, without the
profiler), the CPU time of the PostgreSQL backend a request when the server runs on this machine (from
/proc: under gunicorn it shares the same cores, so a page's queries cost throughput twice, in the worker and
in PostgreSQL), the bytes of HTML and the queries. Requests go through Django's test client in one process
with the production settings bench/throughput.py gives gunicorn (DEBUG off: the cached template loader),
after two warm-up requests. The pages are those of bench/throughput.py: the desk's day view of the busiest
coming day (by practitioner and by room), the booking page and its times list, the availability API
(cached, and with the cache off) and the bare view.

The bench database is only read: the sign-in's session row and anything a page writes are made inside one
transaction that is rolled back at the end.
"""

import argparse
import cProfile
import datetime
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throughput import production_environment  # noqa: E402

PAGES = ["bare", "desk", "desk-rooms", "desk-poll", "booking", "booking-times", "api", "api-cache-off"]


def pages(day) -> dict:
    """page: (path, who is signed in: None, "desk" or "patient")."""
    from django.utils import timezone

    first = timezone.localdate() + datetime.timedelta(days=1)
    month = f"/api/v1/availability/?treatment=microneedling&from={first}&to={first + datetime.timedelta(days=30)}"
    week = f"/api/v1/availability/?treatment=microneedling&from={first}&to={first + datetime.timedelta(days=6)}"
    return {
        "bare": ("/bench/bare/", None),
        "desk": (f"/desk/?date={day}", "desk"),
        "desk-rooms": (f"/desk/?date={day}&view=rooms", "desk"),
        "desk-poll": (f"/desk/?date={day}", "desk"),  # the grid alone, as htmx reloads it every minute
        # A signed-in patient's booking page (first available) and its times list for a day, as htmx asks.
        "booking": ("/book/consultation/", "patient"),
        "booking-times": (f"/book/consultation/times/?practitioner=&day={first + datetime.timedelta(14)}", "patient"),
        # The availability API, anonymous: one practitioner for 31 days cached, and 7 days with the cache off
        # (AVAILABILITY_CACHE=0, as bench/throughput.py's second gunicorn).
        "api": (f"{month}&practitioner=practitioner-0", None),
        "api-cache-off": (f"{week}&practitioner=practitioner-0", None),
    }


def backend_cpu(connection) -> float | None:
    """CPU seconds this connection's PostgreSQL backend has used, when the server runs on this machine (read
    from /proc: clock ticks, so meaningful over many requests); None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("page", choices=PAGES)
    parser.add_argument("--runs", type=int, default=15, help="timed requests (median CPU time)")
    parser.add_argument("--top", type=int, default=0, help="print the profile's N most expensive functions")
    parser.add_argument("--save", help="write the page's HTML to this file (to compare before and after)")
    parser.add_argument("--sql", action="store_true", help="print the queries of one request, each with its wall time")
    parser.add_argument("--sort", default="tottime", help="the profile's sort order (tottime, cumulative)")
    options = parser.parse_args()

    os.environ.update(production_environment(tempfile.mkdtemp(prefix="clinic-profile-static-")))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import override_settings

    from bench.large import busiest_coming_day
    from clinic.models import Patient, User

    call_command("collectstatic", "--noinput", verbosity=0)  # the manifest production's static tags read
    day, count = busiest_coming_day()
    path, signed_in = pages(day)[options.page]
    headers = {"HTTP_HX_REQUEST": "true"} if options.page in ("desk-poll", "booking-times") else {}
    cache = override_settings(AVAILABILITY_CACHE=options.page != "api-cache-off")
    with transaction.atomic(), cache:
        # No setup_test_environment: its instrumented template rendering would be profiled too.
        client = Client(SERVER_NAME="127.0.0.1")
        if signed_in == "desk":
            client.force_login(User.objects.get(email="desk@bench.example"))
        elif signed_in == "patient":  # bench/throughput.py's patient: nothing booked ahead
            client.force_login(Patient.objects.select_related("user").order_by("pk").first().user)

        def get():
            response = client.get(path, **headers)
            assert response.status_code == 200, response.status_code
            return response

        get(), get()  # warm: templates compiled, caches filled
        queries = []  # (sql, wall ms): the database's share of the request, as --sql prints it

        def timed(execute, sql, *args):
            started = time.perf_counter()
            try:
                return execute(sql, *args)
            finally:
                queries.append((sql, (time.perf_counter() - started) * 1000))

        with connection.execute_wrapper(timed):
            body = get().content
        cpu = []
        backend = backend_cpu(connection)
        for _ in range(options.runs):
            started = time.process_time()
            get()
            cpu.append(time.process_time() - started)
        backend = backend_cpu(connection) - backend if backend is not None else None
        profile = cProfile.Profile()
        profile.runcall(get)
        transaction.set_rollback(True)
    stats = pstats.Stats(profile)
    print(f"page: {options.page} {path} ({count} live appointments that day)")
    print(f"python function calls a request: {stats.total_calls:,}")
    median, fastest = statistics.median(cpu) * 1000, min(cpu) * 1000
    print(f"CPU a request: {median:.2f} ms (median of {options.runs}; min {fastest:.2f})")
    if backend is not None:  # the database's share of the machine, which a page that queries also uses
        print(f"PostgreSQL backend CPU a request: {backend / options.runs * 1000:.2f} ms (mean of {options.runs})")
    # Under gunicorn CONN_HEALTH_CHECKS adds a SELECT 1 before a request's first query (the test client does
    # not send the signal that asks for it): round trips.
    checks = int(bool(connection.settings_dict.get("CONN_HEALTH_CHECKS")) and bool(queries))
    print(f"HTML: {len(body):,} bytes; queries: {len(queries)}; round trips under gunicorn: {len(queries) + checks}")
    if options.save:
        Path(options.save).write_bytes(body)
    if options.sql:
        print(f"  {sum(ms for _, ms in queries):.1f} ms waiting on the database in all")
        for sql, ms in queries:
            print(f"  {ms:6.1f} ms  {sql[:300]}")
    if options.top:
        stats.sort_stats(options.sort).print_stats(options.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
