"""Two sites booking at once against one site alone (issue 17): bookings a second through the booking service,
on PostgreSQL, one process per site, each with real threads on their own database connections.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic .venv/bin/python bench/sites.py \
        [--seconds 8] [--threads 8] [--round-trip-ms 0 10]

A database of its own (`bench_sites` on the server of DATABASE_URL, made afresh each run): two sites, each
with `--threads` practitioners and as many rooms; one thread per practitioner books its own practitioner's
next free half hour in its own room, one booking after another, as the front desk would (so no two threads
ever want the same time: what is measured is how bookings wait on each other, not lost races). Each site
books from a process of its own (forked after set-up), as two sites' web servers would: threads of one
Python process share one interpreter lock, so one process for both sites would measure that lock.

For each `--round-trip-ms` (the time each statement spends on the network between the application and the
database: 0 on loopback; a few milliseconds when the database is another machine), four runs of
`--seconds` each: one site alone, then both sites at once; each with this code's availability scopes (a
booking bumps its practitioner's row and its room's row of the day: bookings migration 0020), and again
with the one row per day every booking bumped before (0015's "rooms:<date>", put back for the run by an
extra trigger). Prints bookings a second, the ratio two sites / one site, and how many bookings were on
average waiting on a row lock (sampled from pg_stat_activity every 20 ms).

On loopback the bookings are bound by CPU (the booking service is Python, and the two processes and
PostgreSQL share the machine's cores), so the ratio is bounded by cores, not by locks. With a round trip per
statement, a booking spends most of its time waiting on the network while the cores are free: then one
site's rate is set by its own bookings' latency, and a second site adds its own rate unless the two queue on
a shared row.
"""

import argparse
import datetime
import multiprocessing
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scale import progress, use_bench_database  # noqa: E402

DATABASE = "bench_sites"
SLOT = datetime.timedelta(minutes=30)
ONE_ROW_PER_DAY = r"""
CREATE OR REPLACE FUNCTION bench_sites_one_row_per_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bookings_bump_availability(ARRAY['rooms:' || to_char(NEW.start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')]);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_sites_one_row_per_day AFTER INSERT ON bookings_appointment
FOR EACH ROW EXECUTE FUNCTION bench_sites_one_row_per_day();
"""
NO_ROW_PER_DAY = """
DROP TRIGGER IF EXISTS bench_sites_one_row_per_day ON bookings_appointment;
DROP FUNCTION IF EXISTS bench_sites_one_row_per_day();
"""


def seed(threads: int):
    """Two sites, `threads` practitioners and rooms at each, working every day around the clock."""
    from django.contrib.auth.models import Group

    from clinic import roles
    from clinic.models import Patient, Practitioner, Room, Site, Treatment, User, WorkingHours, default_site

    # Open every day, bank holidays included: a run's days fall wherever the calendar puts them (December's
    # would otherwise be refused as closed days).
    london = default_site()
    london.bank_holidays = ""
    london.save(update_fields=["bank_holidays"])
    manchester = Site.objects.create(
        name="Manchester", slug="manchester", address="1 King Street, Manchester", bank_holidays=""
    )
    treatment = Treatment.objects.create(
        name="Bench session",
        slug="bench-session",
        duration_minutes=30,
        price=100,
        needs_cleared_intake=False,
        kind=Treatment.Kind.CONSULTATION,
    )
    desk = User.objects.create_user("desk@bench.example", "bench-password-1", first_name="Desk", last_name="Bench")
    desk.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    teams = {}
    for site in (london, manchester):
        team = []
        for n in range(threads):
            user = User.objects.create_user(f"p{n}@{site.slug}.example", first_name=f"P{n}", last_name=site.name)
            practitioner = Practitioner.objects.create(user=user, slug=f"{site.slug}-{n}", title="Nurse")
            practitioner.treatments.add(treatment)
            WorkingHours.objects.bulk_create(
                WorkingHours(
                    practitioner=practitioner, site=site, weekday=d, start=datetime.time(0), end=datetime.time(23, 30)
                )
                for d in range(7)
            )
            room = Room.objects.create(name=f"Room {n + 1}", site=site)
            patient_user = User.objects.create_user(
                f"patient{n}@{site.slug}.example", first_name="Pat", last_name=f"{n}"
            )
            patient = Patient.objects.create(
                user=patient_user, phone="+447700900123", date_of_birth=datetime.date(1980, 1, 1)
            )
            team.append((practitioner, room, patient))
        teams[site.pk] = (site, team)
    return treatment, desk, teams


def book_for(seconds, round_trip, treatment, desk, site, practitioner, room, patient, first_day, barrier, out):
    """Book this practitioner's next half hours for `seconds`; put (site id, bookings, statements) on `out`."""
    from django.db import connection

    from bookings import services
    from bookings.models import Appointment
    from clinic import clock

    statements = 0

    def over_the_network(execute, sql, params, many, context):
        nonlocal statements
        statements += 1
        if round_trip:
            time.sleep(round_trip)
        return execute(sql, params, many, context)

    start = clock.local_to_utc(first_day, datetime.time(0), site=site)
    done = 0
    try:
        with connection.execute_wrapper(over_the_network):
            barrier.wait()
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                if start.astimezone(clock.zone(site)).time() >= datetime.time(23):
                    day = start.astimezone(clock.zone(site)).date() + datetime.timedelta(days=1)
                    start = clock.local_to_utc(day, datetime.time(0), site=site)
                services.book_appointment(
                    patient=patient,
                    treatment=treatment,
                    practitioner=practitioner,
                    start_at=start,
                    booked_by=desk,
                    source=Appointment.Source.FRONT_DESK,
                    site=site,
                    room=room,
                )
                done += 1
                start += SLOT
    finally:
        out.put((site.pk, done, statements))
        connection.close()


def book_at_site(seconds, round_trip, treatment, desk, site, team, first_day, barrier, out):
    """One site's web server: a process with one thread per practitioner of the site."""
    threads = [
        threading.Thread(
            target=book_for,
            args=(seconds, round_trip, treatment, desk, site, *member, first_day, barrier, out),
        )
        for member in team
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def cpu_ticks():
    """(busy, all) jiffies of the whole machine since boot (Linux /proc/stat; (0, 0) elsewhere)."""
    try:
        fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def sample_lock_waits(stop, samples):
    from django.db import connections

    with connections["default"].cursor() as cursor:
        while not stop.is_set():
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            samples.append(cursor.fetchone()[0])
            time.sleep(0.02)
    connections["default"].close()


def run(label, seconds, round_trip, treatment, desk, teams, sites, first_day):
    """Book for `seconds` at these sites (a process per site, a thread per practitioner); bookings a second."""
    from django.db import connections

    connections.close_all()  # a forked child must open its own connections, never share the parent's
    fork = multiprocessing.get_context("fork")
    out = fork.Queue()
    workers = sum(len(teams[site_id][1]) for site_id in sites)
    barrier = fork.Barrier(workers + 1)
    processes = [
        fork.Process(
            target=book_at_site,
            args=(seconds, round_trip, treatment, desk, *teams[site_id], first_day, barrier, out),
        )
        for site_id in sites
    ]
    for process in processes:
        process.start()
    samples, stop = [], threading.Event()
    sampler = threading.Thread(target=sample_lock_waits, args=(stop, samples))
    barrier.wait()
    began, ticks_before = time.monotonic(), cpu_ticks()
    sampler.start()
    results = [out.get(timeout=seconds + 120) for _ in range(workers)]
    elapsed, ticks_after = time.monotonic() - began, cpu_ticks()
    busy, ticks = (after - before for after, before in zip(ticks_after, ticks_before, strict=True))
    cores_busy = busy / ticks * multiprocessing.cpu_count() if ticks else 0.0
    for process in processes:
        process.join()
    stop.set()
    sampler.join()
    if any(process.exitcode for process in processes):
        raise SystemExit(f"a site's process failed: exit codes {[p.exitcode for p in processes]}")
    by_site = {site_id: sum(n for s, n, _ in results if s == site_id) / elapsed for site_id in sites}
    bookings = sum(n for _, n, _ in results)
    per_booking = sum(q for _, _, q in results) / bookings if bookings else 0.0
    waiting = sum(samples) / len(samples) if samples else 0.0
    total = sum(by_site.values())
    detail = ", ".join(f"{teams[s][0].name} {rate:.1f}" for s, rate in by_site.items())
    print(
        f"  {label:<34} {total:7.1f} bookings/s  ({detail}); waiting on a row lock: {waiting:.2f} on average;"
        f" {per_booking:.0f} statements a booking; cores busy {cores_busy:.1f} of {multiprocessing.cpu_count()}"
    )
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=8, help="threads (practitioners, rooms) per site")
    parser.add_argument(
        "--round-trip-ms",
        type=float,
        nargs="+",
        default=[0.0, 10.0],
        help="network time added to each statement (one pass per value; 0: loopback as it is)",
    )
    args = parser.parse_args()

    use_bench_database(DATABASE, reseed=True)
    from django.core.management import call_command
    from django.db import connection

    progress("migrating the bench database")
    call_command("migrate", verbosity=0)
    treatment, desk, teams = seed(args.threads)
    london_id, manchester_id = list(teams)
    from clinic import clock

    first_day = clock.today() + datetime.timedelta(days=2)
    ratios = {}
    print(
        f"Booking for {args.seconds:g} s a run, {args.threads} threads a site, a process a site"
        " (PostgreSQL, the booking service):"
    )
    for round_trip_ms in args.round_trip_ms:
        print(f"Round trip per statement: {round_trip_ms:g} ms")
        for scheme, install in (
            ("per practitioner and room (0020)", None),
            ("one row per day (0015, emulated)", ONE_ROW_PER_DAY),
        ):
            if install:
                with connection.cursor() as cursor:
                    cursor.execute(install)
            print(f" availability scopes: {scheme}")
            # Each run books days of its own, so no run finds another's bookings in its way.
            one = run("one site", args.seconds, round_trip_ms / 1000, treatment, desk, teams, [london_id], first_day)
            first_day += datetime.timedelta(days=5)
            two = run(
                "two sites at once",
                args.seconds,
                round_trip_ms / 1000,
                treatment,
                desk,
                teams,
                [london_id, manchester_id],
                first_day,
            )
            first_day += datetime.timedelta(days=5)
            ratios[(round_trip_ms, scheme)] = two / one if one else 0.0
            print(f"  {'ratio two sites / one site':<34} {ratios[(round_trip_ms, scheme)]:7.2f}")
            if install:
                with connection.cursor() as cursor:
                    cursor.execute(NO_ROW_PER_DAY)
    connection.close()
    print("Ratios (two sites / one site):")
    for (round_trip_ms, scheme), ratio in ratios.items():
        print(f"  round trip {round_trip_ms:g} ms, {scheme}: {ratio:.2f}")


if __name__ == "__main__":
    main()
