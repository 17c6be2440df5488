"""Two sites booking at once against one site alone (issue 17): bookings a second through the booking service,
on PostgreSQL, with real threads, each on its own database connection.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic .venv/bin/python bench/sites.py [--seconds 6] [--threads 8]

A database of its own (`bench_sites` on the server of DATABASE_URL, made afresh each run): two sites, each
with `--threads` practitioners and as many rooms; one thread per practitioner books its own practitioner's
next free half hour in its own room, one booking after another, as the front desk would (so no two threads
ever want the same time: what is measured is how bookings wait on each other, not lost races).

Four runs of `--seconds` each: one site alone, then both sites at once; each with this code's availability
scopes (a booking bumps its practitioner's row and its room's row of the day: bookings migration 0020), and
again with the one row per day every booking bumped before (0015's "rooms:<date>", put back for the run by
an extra trigger). Prints bookings a second, the ratio two sites / one site, and how many bookings were on
average waiting on a row lock (sampled from pg_stat_activity every 20 ms). On a machine with few cores the
ratio is bounded by the CPU the threads share; the lock waits show the queue the shared row made.
"""

import argparse
import datetime
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

    london = default_site()
    manchester = Site.objects.create(name="Manchester", slug="manchester", address="1 King Street, Manchester")
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


def book_for(seconds, treatment, desk, site, practitioner, room, patient, first_day, counts, key, barrier):
    from django.db import connection

    from bookings import services
    from bookings.models import Appointment
    from clinic import clock

    start = clock.local_to_utc(first_day, datetime.time(0), site=site)
    done = 0
    try:
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
        counts[key] = done
        connection.close()


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


def run(label, seconds, treatment, desk, teams, sites, first_day):
    """Book for `seconds` at these sites (one thread per practitioner); bookings a second, by site."""
    counts, samples, stop = {}, [], threading.Event()
    workers = [(site, member) for site_id in sites for site, team in (teams[site_id],) for member in team]
    barrier = threading.Barrier(len(workers) + 1)
    threads = [
        threading.Thread(
            target=book_for,
            args=(seconds, treatment, desk, site, *member, first_day, counts, (site.pk, n), barrier),
        )
        for n, (site, member) in enumerate(workers)
    ]
    for thread in threads:
        thread.start()
    sampler = threading.Thread(target=sample_lock_waits, args=(stop, samples))
    barrier.wait()
    began = time.monotonic()
    sampler.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    stop.set()
    sampler.join()
    by_site = {site_id: sum(v for (s, _), v in counts.items() if s == site_id) / elapsed for site_id in sites}
    waiting = sum(samples) / len(samples) if samples else 0.0
    total = sum(by_site.values())
    detail = ", ".join(f"{teams[s][0].name} {rate:.1f}" for s, rate in by_site.items())
    print(f"  {label:<34} {total:7.1f} bookings/s  ({detail}); waiting on a row lock: {waiting:.2f} on average")
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=8, help="threads (practitioners, rooms) per site")
    args = parser.parse_args()

    use_bench_database(DATABASE, reseed=True)
    from django.core.management import call_command
    from django.db import connection

    progress("migrating the bench database")
    call_command("migrate", verbosity=0)
    treatment, desk, teams = seed(args.threads)
    london_id, manchester_id = list(teams)
    from clinic import clock

    today = clock.today()
    ratios = {}
    print(f"Booking for {args.seconds:g} s a run, {args.threads} threads a site (PostgreSQL, the booking service):")
    for n, (scheme, install) in enumerate(
        (("per practitioner and room (0020)", None), ("one row per day (0015, emulated)", ONE_ROW_PER_DAY))
    ):
        if install:
            with connection.cursor() as cursor:
                cursor.execute(install)
        print(f" availability scopes: {scheme}")
        one = run(
            "one site", args.seconds, treatment, desk, teams, [london_id], today + datetime.timedelta(days=2 + 20 * n)
        )
        two = run(
            "two sites at once",
            args.seconds,
            treatment,
            desk,
            teams,
            [london_id, manchester_id],
            today + datetime.timedelta(days=10 + 20 * n),
        )
        ratios[scheme] = two / one if one else 0.0
        print(f"  {'ratio two sites / one site':<34} {ratios[scheme]:7.2f}")
        if install:
            with connection.cursor() as cursor:
                cursor.execute(NO_ROW_PER_DAY)
    connection.close()
    print("Ratios (two sites / one site): " + "; ".join(f"{k}: {v:.2f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
