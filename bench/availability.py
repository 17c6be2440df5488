"""Availability benchmark: 60 days of slots for one practitioner and for all, over 50,000 appointments.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic .venv/bin/python bench/availability.py

Works in its own throwaway database (`bench_<name>`, created, migrated and dropped here; without
DATABASE_URL, an in-memory SQLite one): no other database is touched. Prints the median and p95 time over
several runs and the number of queries per call.
"""

import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

PRACTITIONERS = 20
APPOINTMENTS = 50_000
PATIENTS = 200
DAYS = 60
RUNS = 7
STARTS = ((9, 0), (10, 30), (14, 0), (15, 30))  # four 60-minute sessions (+15 buffer) a working day


def seed():
    from bookings.models import Appointment
    from clinic.models import Patient, Practitioner, Room, Treatment, User, WorkingHours

    treatment = Treatment.objects.create(
        name="Microneedling", slug="bench-microneedling", duration_minutes=60, buffer_after_minutes=15, price=250
    )
    users = User.objects.bulk_create(
        [
            User(email=f"bench{i}@example.com", first_name="P", last_name=f"{i:03}")
            for i in range(PRACTITIONERS + PATIENTS)
        ]
    )
    practitioners = Practitioner.objects.bulk_create(
        [Practitioner(user=user, slug=f"bench-{user.pk}", title="Nurse") for user in users[:PRACTITIONERS]]
    )
    patients = Patient.objects.bulk_create(
        [Patient(user=user, phone="0", date_of_birth=datetime.date(1990, 1, 1)) for user in users[PRACTITIONERS:]]
    )
    rooms = Room.objects.bulk_create([Room(name=f"Room {i:02}") for i in range(PRACTITIONERS)])
    for practitioner in practitioners:
        practitioner.treatments.add(treatment)
    WorkingHours.objects.bulk_create(
        [
            WorkingHours(practitioner=p, weekday=weekday, start=datetime.time(start), end=datetime.time(end))
            for p in practitioners
            for weekday in range(5)
            for start, end in ((9, 13), (14, 18))
        ]
    )
    zone = timezone.get_current_timezone()
    per_practitioner = APPOINTMENTS // PRACTITIONERS
    working_days_needed = -(-per_practitioner // len(STARTS))
    day = timezone.localdate() - datetime.timedelta(days=int(working_days_needed * 7 / 5 / 2))
    days = []
    while len(days) < working_days_needed:
        if day.weekday() < 5:
            days.append(day)
        day += datetime.timedelta(days=1)
    batch = []
    for index, practitioner in enumerate(practitioners):
        for n in range(per_practitioner):
            hour, minute = STARTS[n % len(STARTS)]
            start = datetime.datetime.combine(days[n // len(STARTS)], datetime.time(hour, minute), tzinfo=zone)
            batch.append(
                Appointment(
                    patient=patients[(index + n) % PATIENTS],
                    practitioner=practitioner,
                    treatment=treatment,
                    room=rooms[index],
                    start_at=start,
                    end_at=start + datetime.timedelta(minutes=60),
                    busy_until=start + datetime.timedelta(minutes=75),
                )
            )
    Appointment.objects.bulk_create(batch, batch_size=5000)
    return treatment, practitioners[0], (days[0], days[-1])


def measure(label, call):
    call()  # warm up
    timings, queries = [], 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = call()
            timings.append(time.perf_counter() - started)
        queries = len(captured)
    slots = sum(len(day_slots) for day_slots in result.values())
    p95 = sorted(timings)[max(0, round(0.95 * len(timings)) - 1)]
    print(
        f"{label:<32} median {statistics.median(timings) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
        f"{queries} queries   {slots} slots over {len(result)} days"
    )


def main():
    from bookings.availability import available_slots
    from bookings.models import Appointment

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = (
        f"bench_{settings.DATABASES['default']['NAME']}" if connection.vendor == "postgresql" else None
    )
    database = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        started = time.perf_counter()
        treatment, practitioner, (first, last) = seed()
        print(
            f"{connection.vendor} database {database}: seeded {Appointment.objects.count()} appointments, "
            f"{PRACTITIONERS} practitioners, {first} to {last}, in {time.perf_counter() - started:.1f} s"
        )
        date_from = timezone.localdate() + datetime.timedelta(days=1)
        date_to = date_from + datetime.timedelta(days=DAYS - 1)
        in_range = Appointment.objects.filter(start_at__date__gte=date_from, start_at__date__lte=date_to).count()
        print(f"{in_range} appointments in the {DAYS} days measured ({date_from} to {date_to}); {RUNS} runs each")
        measure("one practitioner, 60 days", lambda: available_slots(treatment, practitioner, date_from, date_to))
        measure("first available (20), 60 days", lambda: available_slots(treatment, None, date_from, date_to))
    finally:
        connection.creation.destroy_test_db(database, verbosity=0)


if __name__ == "__main__":
    main()
