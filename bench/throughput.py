"""Requests a second under gunicorn, each page as a share of a bare Django view's, measured in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic .venv/bin/python bench/throughput.py [--seconds 10]

Needs `wrk` (Debian: apt-get install wrk) and the large clinic of bench/scale.py (seeded on first use).
Starts two gunicorns (sync workers, one per core) with production settings on the bench database, one with
the availability cache on and one with it off (AVAILABILITY_CACHE=0), then drives each page with wrk in
turn (loopback only, bounded in time):
- /bench/bare/: a plain template view through the same middleware, the reference (bench/urls.py);
- the availability endpoint, 31 days (the API's longest range), one practitioner and all 50, warm; and one
  practitioner for 7 days with the cache off (every request computed: issue #16's "cold endpoint");
- a busy clinic: the endpoint asked for 51 choices (each practitioner, first available) x 4 coming weeks in
  turn while a load generator books one appointment a second across the 50 practitioners through the
  booking service; the cache's hit rate is counted inside the server (bench/counting.py);
- the booking page of a signed-in patient, its times list for a day (what htmx fetches), and the front
  desk's day view of the busiest coming day.
Each page is measured side by side with the bare view: in alternating slices (bare, page, bare, page, ...),
and its share is its requests a second over the bare view's in the slices around it, so a machine that
speeds up or slows down during the run (another process, the CPU's clock) moves both figures alike; run
one after the other, the same code's shares moved by up to 13 points between runs. The busy clinic runs
without a break (its bookings and hit rate are counted over the whole period), between two bare slices.
Prints requests a second, median and p99 latency, each page's throughput as a share of its bare slices', and
issue #16's targets. Any response that is not 2xx fails the run: a fast error page measures nothing.
Bookings the load generator makes are removed again, so runs can be compared.
"""

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale import Sizes, ensure_seeded  # noqa: E402

PORT = 8765  # the cache on; PORT + 1: the cache off
BARE = "/bench/bare/"
# issue #16: shares of the bare view's throughput (and the busy clinic's cache hit rate)
TARGETS = {
    "availability API, one practitioner, 31 days": 0.70,
    "availability API, cache off, 7 days": 0.35,
    "busy clinic: availability API while booking 1/s": 0.50,
    "booking page (signed-in patient)": 0.30,
    "desk day view (front desk)": 0.30,
}
HIT_RATE_TARGET = 0.90
WEEKS_ASKED = 4


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
        "SITE_URL": f"http://127.0.0.1:{PORT}",  # production settings require it (links in messages)
        "LOG_LEVEL": "WARNING",
    }


def session_cookie(user) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def patient_cookie() -> str:
    """A signed-in patient's session cookie (a patient with nothing booked ahead, so the page is typical)."""
    from clinic.models import Patient

    return session_cookie(Patient.objects.select_related("user").order_by("pk").first().user)


def desk_cookie() -> str:
    from clinic.models import User

    return session_cookie(User.objects.get(email="desk@bench.example"))


def targets(cookie: str, desk: str) -> list[tuple[str, str, str | None, int]]:
    """(label, path, cookie, port) for each page measured beside the bare view."""
    from django.utils import timezone

    from bench.large import busiest_coming_day

    first = timezone.localdate() + datetime.timedelta(days=1)
    last = first + datetime.timedelta(days=30)
    day = first + datetime.timedelta(days=14)
    api = f"/api/v1/availability/?treatment=microneedling&from={first}&to={last}"
    week = f"/api/v1/availability/?treatment=microneedling&from={first}&to={first + datetime.timedelta(days=6)}"
    busiest, _ = busiest_coming_day()
    return [
        ("availability API, one practitioner, 31 days", f"{api}&practitioner=practitioner-0", None, PORT),
        ("availability API, all 50, 31 days", api, None, PORT),
        ("availability API, cache off, 7 days", f"{week}&practitioner=practitioner-0", None, PORT + 1),
        ("booking page (signed-in patient)", "/book/consultation/", cookie, PORT),
        ("booking times for a day (htmx)", f"/book/consultation/times/?practitioner=&day={day}", cookie, PORT),
        ("desk day view (front desk)", f"/desk/?date={busiest}", desk, PORT),
    ]


def busy_clinic_paths() -> list[str]:
    """What patients ask for in a busy week: each practitioner and first available, each of the coming weeks."""
    from django.utils import timezone

    from clinic.models import Practitioner

    first = timezone.localdate() + datetime.timedelta(days=1)
    slugs = [*Practitioner.objects.filter(active=True).order_by("pk").values_list("slug", flat=True), ""]
    paths = []
    for week in range(WEEKS_ASKED):
        start = first + datetime.timedelta(days=7 * week)
        for slug in slugs:
            paths.append(
                f"/api/v1/availability/?treatment=microneedling&practitioner={slug}"
                f"&from={start}&to={start + datetime.timedelta(days=6)}"
            )
    return paths


def rotating_script(paths: list[str]) -> str:
    """A wrk Lua script that asks for each path in turn."""
    quoted = ",\n".join(f'  "{path}"' for path in paths)
    return (
        f"local paths = {{\n{quoted}\n}}\nlocal n = 0\n"
        'request = function()\n  n = n % #paths + 1\n  return wrk.format("GET", paths[n])\nend\n'
    )


def booking_choices(count: int):
    """The load generator's bookings, seeded so that every run (and bench/stale_answers.py) makes the same
    ones: for each of `count` turns, across the practitioners offering a consultation in turn, a day in the
    coming weeks and, if it has a free time, (that day, the booking service's arguments for one of them);
    None when the day is full. The slots are read when the turn comes, so earlier bookings count."""
    import random

    from django.utils import timezone

    from bookings.availability import available_slots
    from bookings.models import Appointment
    from clinic.models import Patient, Practitioner, Treatment

    rng = random.Random(16)
    consultation = Treatment.objects.get(slug="consultation")
    practitioners = list(Practitioner.objects.filter(active=True, treatments=consultation).order_by("pk"))
    patients = iter(
        Patient.objects.select_related("user").exclude(appointments__start_at__gte=timezone.now())[: count + 10]
    )
    first = timezone.localdate() + datetime.timedelta(days=2)
    for n in range(count):
        practitioner = practitioners[n % len(practitioners)]
        day = first + datetime.timedelta(days=rng.randrange(7 * WEEKS_ASKED))
        slots = available_slots(consultation, practitioner, day, day)[day]
        if not slots:
            yield None
            continue
        patient = next(patients)
        yield (
            day,
            {
                "patient": patient,
                "treatment": consultation,
                "practitioner": practitioner,
                "start_at": rng.choice(slots).start_at,
                "booked_by": patient.user,
                "source": Appointment.Source.ONLINE,
            },
        )


class BookingLoad:
    """Books one appointment a second, across the 50 practitioners in turn, at a free time in the coming
    weeks, through the booking service (its lock, re-check and insert): what fires the availability triggers
    in a busy clinic. Stops by itself after `seconds`; `undo()` removes what it booked."""

    def __init__(self, seconds: int):
        self.seconds, self.made, self.refused = seconds, [], 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        from django.db import connection

        from bookings.services import BookingError, book_appointment

        deadline = time.monotonic() + self.seconds
        try:
            for choice in booking_choices(self.seconds):  # one a second, bounded
                tick = time.monotonic()
                if tick >= deadline:
                    break
                if choice is not None:
                    try:
                        self.made.append(book_appointment(**choice[1]).pk)
                    except BookingError:
                        self.refused += 1
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        finally:
            connection.close()

    def undo(self):
        from bookings.models import Appointment

        Appointment.objects.filter(pk__in=self.made).delete()


def cache_counts(port: int, workers: int) -> dict[int, tuple[int, int, int]]:
    """{worker pid: (hits, misses, of those misses the answers found pooled in Redis)} from every worker (each
    answers on a new connection; asked until all have answered, 200 tries at most)."""
    import json

    seen = {}
    for _ in range(200):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/cache-stats/", timeout=10) as response:
            figures = json.load(response)
        seen[figures["pid"]] = (figures["hits"], figures["misses"], figures["pooled"])
        if len(seen) >= workers:
            break
    return seen


def start_gunicorn(env: dict, workers: int, port: int) -> subprocess.Popen:
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    process = subprocess.Popen(
        [
            gunicorn,
            "clinic.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={workers}",
            "--worker-class=sync",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/bare/", timeout=1)
            return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    sys.exit("gunicorn did not answer within 20 s")


def run_wrk(path: str, cookie: str | None, seconds: int, connections: int, port: int = PORT, script=None) -> dict:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    if script:
        command += ["-s", script]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "bytes": _bytes_a_response(output),
        "p50": _latency(output, "50%"),
        "p99": _latency(output, "99%"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def measure_beside_bare(path, cookie, port, seconds, connections, slices) -> tuple[dict, dict]:
    """(the page's figures, the bare view's in the slices around it): `slices` of the page, each after a
    slice of the bare view, and one bare slice more at the end, each seconds / slices long. Requests a
    second are the mean of the slices (all the same length); the median latency is the median slice's and
    the p99 the worst slice's (wrk reports percentiles per run, not the requests behind them)."""
    length = max(1, round(seconds / slices))
    bare_runs, page_runs = [], []
    for _ in range(slices):
        bare_runs.append(run_wrk(BARE, None, length, connections, PORT))
        page_runs.append(run_wrk(path, cookie, length, connections, port))
    bare_runs.append(run_wrk(BARE, None, length, connections, PORT))
    return combined(page_runs), combined(bare_runs)


def combined(runs: list[dict]) -> dict:
    p50s = sorted(run["p50"] for run in runs)
    return {
        "rps": sum(run["rps"] for run in runs) / len(runs),
        "p50": p50s[len(p50s) // 2],
        "p99": max(run["p99"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "bytes": min(run["bytes"] for run in runs),
    }


def _bytes_a_response(output: str) -> float:
    """wrk's bytes read (headers and bodies) over its requests: wrk counts only 4xx and 5xx as errors, so a
    page that began redirecting (a session timed out, say) would be measured as a tiny page; this shows it."""
    count, size, unit = re.search(r"(\d+) requests in [\d.]+\w+, ([\d.]+)([KMGT]?B) read", output).groups()
    return float(size) * 1024 ** "BKMGT".index(unit[0]) / max(1, int(count))


def _latency(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def check_status(path: str, cookie: str | None, port: int = PORT) -> int:
    """The page's body length, having checked it answers 200 itself (not by way of a redirect)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        if response.status != 200 or response.url.split(str(port), 1)[1] != path:
            sys.exit(f"{path} answered {response.status} at {response.url}: not the page meant to be measured")
        return len(response.read())


def endpoint_queries() -> tuple[int, int]:
    """Queries of one availability request with the answer not cached (the clinic's set-up known), and
    with it cached, in this process (issue #16: at most 3 cold)."""
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bookings import availability

    path = next(path for label, path, _, port in targets("", "") if port == PORT + 1)  # the cache off
    client = Client(HTTP_HOST="127.0.0.1")
    assert client.get(path).status_code == 200
    caches["availability"].clear()
    availability.catalogue()
    with CaptureQueriesContext(connection) as cold:
        client.get(path)
    with CaptureQueriesContext(connection) as warm:
        client.get(path)
    return len(cold), len(warm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per page (and as long for the bare view)")
    parser.add_argument("--slices", type=int, default=5, help="alternating slices of each page and the bare view")
    parser.add_argument("--busy-seconds", type=int, default=30, help="the busy clinic's duration (bookings: 1/s)")
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
    cold_queries, warm_queries = endpoint_queries()
    pages = targets(patient_cookie(), desk_cookie())
    paths = busy_clinic_paths()
    script = Path(static_root) / "rotate.lua"
    script.write_text(rotating_script(paths))
    connection.close()

    print(
        f"\ngunicorn: {options.workers} sync workers on {os.cpu_count()} cores, twice (cache on, cache off); "
        f"wrk: 1 thread, {options.connections} connections, {options.seconds} s a page\n"
    )
    cached_server = start_gunicorn(env, options.workers, PORT)
    uncached_server = start_gunicorn({**env, "AVAILABILITY_CACHE": "0"}, options.workers, PORT + 1)
    results = []
    load = BookingLoad(options.busy_seconds)
    try:
        check_status(BARE, None, PORT)
        run_wrk(BARE, None, 2, options.connections, PORT)  # warm every worker up
        for label, path, page_cookie, port in pages:
            body = check_status(path, page_cookie, port)
            run_wrk(path, page_cookie, 2, options.connections, port)
            figures, bare = measure_beside_bare(
                path, page_cookie, port, options.seconds, options.connections, options.slices
            )
            results.append((label, {**figures, "body": body}, bare))
        # The busy clinic: every answer asked once to warm up, then the same while bookings come in, without
        # a break, between two bare slices.
        run_wrk("/", None, 3, options.connections, PORT, script=str(script))
        bare_before = run_wrk(BARE, None, max(1, options.seconds // options.slices), options.connections, PORT)
        before = cache_counts(PORT, options.workers)
        load.thread.start()
        busy = run_wrk("/", None, options.busy_seconds, options.connections, PORT, script=str(script))
        load.thread.join(options.busy_seconds + 30)
        after = cache_counts(PORT, options.workers)
        bare_after = run_wrk(BARE, None, max(1, options.seconds // options.slices), options.connections, PORT)
        results.append(("busy clinic: availability API while booking 1/s", busy, combined([bare_before, bare_after])))
    finally:
        for server in (cached_server, uncached_server):
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(static_root, ignore_errors=True)
        load.undo()

    local, misses, pooled = (sum(after[pid][n] - before.get(pid, (0, 0, 0))[n] for pid in after) for n in range(3))
    computed = misses - pooled
    hits = local + pooled  # served from the cache: the process's own, or pooled by another process in Redis
    hit_rate = hits / max(1, local + misses)
    print(f"{'page':<50} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'bare r/s':>8} {'vs bare':>8} {'KB':>6}")
    failed = False
    for label, figures, bare in results:
        ratio = figures["rps"] / bare["rps"]
        print(
            f"{label:<50} {figures['rps']:8.1f} {figures['p50']:8.1f} {figures['p99']:8.1f} "
            f"{bare['rps']:8.1f} {ratio:8.0%} {figures['bytes'] / 1024:6.1f}"
        )
        if figures["errors"] or bare["errors"]:
            print(f"  FAILED: {figures['errors'] + bare['errors']} responses were not 2xx")
            failed = True
        if figures["bytes"] < figures.get("body", 0):  # headers and all, smaller than the page's body alone
            print(f"  FAILED: answers of {figures['bytes']:.0f} bytes a response, the page is {figures['body']}")
            failed = True
    print("\nIssue #16 targets (shares of the bare view's requests a second in the slices beside each page):")
    for label, figures, bare in results:
        if label in TARGETS:
            ratio, target = figures["rps"] / bare["rps"], TARGETS[label]
            print(f"  {label:<50} {ratio:5.0%} (target {target:.0%}): {'met' if ratio >= target else 'MISSED'}")
    print(
        f"  {'busy clinic: cache hit rate':<50} {hit_rate:5.1%} (target {HIT_RATE_TARGET:.0%}): "
        f"{'met' if hit_rate >= HIT_RATE_TARGET else 'MISSED'}; {local} hits in the process, {pooled} pooled "
        f"in Redis, {computed} computed over "
        f"{len(paths)} answers; {len(load.made)} bookings made ({load.refused} refused as just taken)"
    )
    print(
        f"  {'availability API: queries, cold / cached':<50} {cold_queries} / {warm_queries} (target: at most 3 cold)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
