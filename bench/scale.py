"""A clinic chain's worth of data in a database of its own, shared by bench/large.py and bench/throughput.py.

50 practitioners, 10 rooms, 20,000 patients and 200,000 appointments over two years (the last 21 months and
the 90 days patients can book ahead), with the reminder rows such a history leaves behind.

Rooms are the bottleneck, as in a real clinic: 10 rooms hold at most 10 live appointments at a time. Two
years of Monday-Saturday 08:00-20:00 at the occupancy seeded here hold about 70,000 live appointments; the
rest of the 200,000 are cancelled and no-show rows, which a clinic keeps and every query has to step over.
`--rooms 50` seeds a bigger clinic where most of the 200,000 are live.

The database is `bench_scale` on the server of DATABASE_URL (PostgreSQL only). It is kept between runs,
since seeding takes a minute or two; `--reseed` drops it and starts again. It never touches the database
DATABASE_URL names.
"""

import datetime
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEED = 2026
OPENING = (datetime.time(8), datetime.time(20))
STEP = datetime.timedelta(minutes=15)
# Three shift patterns, each a practitioner's two spans (clinic local time) on the days they work.
SHIFTS = (
    ((8, 0, 13, 0), (13, 30, 17, 0)),
    ((10, 0, 14, 0), (14, 30, 19, 0)),
    ((12, 0, 16, 0), (16, 15, 20, 0)),
)
PAST_DAYS, FUTURE_DAYS = 640, 90
PASSWORD = "bench-password-1"


def server_urls(name: str) -> tuple[str, str]:
    """(URL of the bench database, URL of the server's maintenance database) from DATABASE_URL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("The scale benchmarks need PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}")), urlunsplit(parts._replace(path="/postgres"))


def _admin(admin_url: str, sql: str) -> list:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []
    finally:
        conn.close()


def use_bench_database(name: str = "bench_scale", *, reseed: bool = False) -> str:
    """Point Django at the bench database (created if missing) and set Django up. Returns its URL."""
    db_url, admin_url = server_urls(name)
    if reseed:
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if not _admin(admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        _admin(admin_url, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    import django

    django.setup()
    return db_url


def progress(message: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {message}", flush=True)


class Sizes:
    def __init__(self, practitioners=50, rooms=10, patients=20_000, appointments=200_000):
        self.practitioners, self.rooms = practitioners, rooms
        self.patients, self.appointments = patients, appointments


def is_seeded(sizes: Sizes) -> bool:
    """Seeded with these sizes, and recently enough that 'the next 60 days' are still covered."""
    from django.db import connection
    from django.utils import timezone

    from bookings.models import Appointment
    from clinic.models import Practitioner, Room

    if "bookings_appointment" not in connection.introspection.table_names():
        return False
    latest = Appointment.objects.order_by("-start_at").values_list("start_at", flat=True).first()
    return (
        Appointment.objects.count() == sizes.appointments
        and Practitioner.objects.count() == sizes.practitioners
        and Room.objects.count() == sizes.rooms
        and latest is not None
        and latest > timezone.now() + datetime.timedelta(days=75)
    )


def seed(sizes: Sizes) -> None:
    from django.db import connection

    started = time.perf_counter()
    # A partial seed from an interrupted run is dropped wholesale.
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE bookings_reminder, bookings_appointmentevent, bookings_appointment, clinic_patient, "
            "clinic_workinghours, clinic_practitioner_treatments, clinic_practitioner, clinic_room, "
            "clinic_treatment, clinic_user CASCADE"
        )
    rng = random.Random(SEED)
    treatments = _treatments()
    practitioners = _practitioners(sizes, treatments)
    rooms = _rooms(sizes)
    patients = _patients(sizes)
    live, filler = _appointments(sizes, rng, treatments, practitioners, rooms, patients)
    _reminders(live)
    progress("analysing tables")
    with connection.cursor() as cursor:
        # The seed bumps the availability scopes of 200,000 appointments in a few transactions, so each row's
        # versions overflow its page; a clinic bumps them a booking at a time, and they stay on their page
        # (bookings 0023, fill factor 70). Rewritten in name order, as the migration leaves the table.
        cursor.execute("CLUSTER bookings_availabilityscope USING bookings_availabilityscope_pkey")
        cursor.execute("VACUUM ANALYZE")
    progress(
        f"seeded {len(live)} live and {filler} cancelled/no-show appointments in {time.perf_counter() - started:.0f} s"
    )


def _treatments():
    from bookings.reminders.timing import seed_treatment_reminders
    from clinic.models import Treatment

    consultation = Treatment.objects.create(
        name="Consultation",
        slug="consultation",
        kind=Treatment.Kind.CONSULTATION,
        duration_minutes=30,
        buffer_after_minutes=0,
        price=0,
        needs_cleared_intake=False,
    )
    session = Treatment.objects.create(
        name="Microneedling session",
        slug="microneedling",
        kind=Treatment.Kind.SESSION,
        duration_minutes=60,
        buffer_after_minutes=15,
        price=250,
        min_days_between_sessions=28,
    )
    for treatment in (consultation, session):
        seed_treatment_reminders(treatment)
    return consultation, session


def _practitioners(sizes, treatments):
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from clinic import roles
    from clinic.models import Practitioner, User, WorkingHours

    progress(f"{sizes.practitioners} practitioners and their hours")
    password = make_password(PASSWORD)
    users = User.objects.bulk_create(
        [
            User(email=f"practitioner{i}@bench.example", first_name="Prac", last_name=f"{i:03}", password=password)
            for i in range(sizes.practitioners)
        ]
    )
    desk = User.objects.create(email="desk@bench.example", first_name="Desk", last_name="Bench", password=password)
    desk.groups.add(Group.objects.get(name=roles.FRONT_DESK))
    practitioners = Practitioner.objects.bulk_create(
        [Practitioner(user=user, slug=f"practitioner-{i}", title="Aesthetic nurse") for i, user in enumerate(users)]
    )
    Practitioner.treatments.through.objects.bulk_create(
        [
            Practitioner.treatments.through(practitioner_id=p.pk, treatment_id=t.pk)
            for p in practitioners
            for t in treatments
        ]
    )
    from clinic.models import default_site

    site = default_site()  # bulk_create skips save(), which would name it
    hours = []
    for i, practitioner in enumerate(practitioners):
        day_off = i % 6  # works five of Monday-Saturday
        for weekday in (d for d in range(6) if d != day_off):
            for h1, m1, h2, m2 in SHIFTS[i % len(SHIFTS)]:
                hours.append(
                    WorkingHours(
                        practitioner=practitioner,
                        site=site,
                        weekday=weekday,
                        start=datetime.time(h1, m1),
                        end=datetime.time(h2, m2),
                    )
                )
    WorkingHours.objects.bulk_create(hours)
    return practitioners


def _rooms(sizes):
    from clinic.models import Room, default_site

    site = default_site()  # bulk_create skips save(), which would name it
    return Room.objects.bulk_create([Room(name=f"Room {i + 1:02}", site=site) for i in range(sizes.rooms)])


def _patients(sizes):
    from clinic.models import Patient, User

    progress(f"{sizes.patients} patients")
    users = User.objects.bulk_create(
        [
            User(email=f"patient{i}@bench.example", first_name="Pat", last_name=f"P{i:05}", password="!")
            for i in range(sizes.patients)
        ],
        batch_size=5000,
    )
    return Patient.objects.bulk_create(
        [
            Patient(user=user, phone=f"07700 9{i:05}", date_of_birth=datetime.date(1970 + i % 35, 1 + i % 12, 1))
            for i, user in enumerate(users)
        ],
        batch_size=5000,
    )


def _working_at(practitioners, weekday, wall_start, wall_end):
    """Practitioners whose span that weekday covers [wall_start, wall_end)."""
    found = []
    for i, practitioner in enumerate(practitioners):
        if i % 6 == weekday:
            continue
        for h1, m1, h2, m2 in SHIFTS[i % len(SHIFTS)]:
            if datetime.time(h1, m1) <= wall_start and wall_end <= datetime.time(h2, m2):
                found.append(practitioner)
                break
    return found


def _start_probability(offset_days: int) -> float:
    """How likely a free room is taken at a given step: busy in the past and the next weeks, thinning out
    towards the end of the booking horizon."""
    if offset_days <= 14:
        return 0.6
    return max(0.08, 0.6 * (1 - (offset_days - 14) / FUTURE_DAYS))


def _appointments(sizes, rng, treatments, practitioners, rooms, patients):
    """Live appointments day by day with no practitioner or room double-booked (the exclusion constraints
    would refuse them), then cancelled and no-show rows up to the total."""
    from django.utils import timezone

    from bookings.models import Appointment

    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    now = timezone.now()
    consultation, session = treatments
    live, who_can = [], {}
    days = [today + datetime.timedelta(days=n) for n in range(-PAST_DAYS, FUTURE_DAYS)]
    progress(f"placing live appointments over {len(days)} days ({days[0]} to {days[-1]})")
    for index, day in enumerate(days):
        if index % 100 == 0:
            progress(f"  day {index}/{len(days)}: {len(live)} live so far")
        if day.weekday() == 6:
            continue
        chance = _start_probability((day - today).days)
        room_free = {room.pk: None for room in rooms}
        practitioner_free = {}
        wall = datetime.datetime.combine(day, OPENING[0])
        close = datetime.datetime.combine(day, OPENING[1])
        while wall < close:
            start = wall.replace(tzinfo=zone)
            for room in rooms:
                if (room_free[room.pk] and room_free[room.pk] > start) or rng.random() > chance:
                    continue
                treatment = consultation if rng.random() < 0.3 else session
                end = start + treatment.duration
                if end.replace(tzinfo=None) > close:
                    continue
                key = (day.weekday(), wall.time(), treatment.pk)
                if key not in who_can:
                    ends = (wall + treatment.duration).time()
                    who_can[key] = _working_at(practitioners, day.weekday(), wall.time(), ends)
                free = [p for p in who_can[key] if practitioner_free.get(p.pk, start) <= start]
                if not free:
                    continue
                practitioner = rng.choice(free)
                busy_until = end + treatment.buffer_after
                room_free[room.pk] = practitioner_free[practitioner.pk] = busy_until
                live.append(
                    Appointment(
                        patient=rng.choice(patients),
                        practitioner=practitioner,
                        treatment=treatment,
                        room=room,
                        site_id=room.site_id,  # bulk_create skips the save() that sets it
                        start_at=start,
                        end_at=end,
                        busy_until=busy_until,
                        status=_live_status(start, now, rng),
                    )
                )
            wall += STEP
    live = live[: sizes.appointments]
    filler = sizes.appointments - len(live)
    progress(f"writing {len(live)} live appointments")
    _bulk(live)
    progress(f"writing {filler} cancelled and no-show appointments")
    _bulk(_not_live(filler, rng, days, zone, now, treatments, practitioners, rooms, patients))
    return live, filler


def _live_status(start, now, rng):
    from bookings.models import Appointment

    if start > now:
        return Appointment.Status.BOOKED
    return Appointment.Status.COMPLETED


def _not_live(count, rng, days, zone, now, treatments, practitioners, rooms, patients):
    from bookings.models import Appointment

    for _ in range(count):
        day = rng.choice(days)
        start = datetime.datetime.combine(day, datetime.time(8 + rng.randrange(11), rng.choice((0, 15, 30, 45))))
        start = start.replace(tzinfo=zone)
        treatment = rng.choice(treatments)
        end = start + treatment.duration
        no_show = start < now and rng.random() < 0.3
        appointment = Appointment(
            patient=rng.choice(patients),
            practitioner=rng.choice(practitioners),
            treatment=treatment,
            room=rng.choice(rooms),
            start_at=start,
            end_at=end,
            busy_until=end + treatment.buffer_after,
            status=Appointment.Status.NO_SHOW if no_show else Appointment.Status.CANCELLED,
            cancelled_at=None if no_show else min(now, start) - datetime.timedelta(days=rng.randrange(1, 10)),
        )
        appointment.site_id = appointment.room.site_id  # bulk_create skips the save() that sets it
        yield appointment


def _bulk(rows, batch=5000):
    from bookings.models import Appointment

    pending = []
    for row in rows:
        pending.append(row)
        if len(pending) == batch:
            Appointment.objects.bulk_create(pending)
            pending = []
    if pending:
        Appointment.objects.bulk_create(pending)


def _reminders(live):
    """What the outbox holds for such a history: sent messages for the past, pending ones for the future."""
    from django.utils import timezone

    from bookings.models import Reminder

    now = timezone.now()
    Status = Reminder.Status
    rows = []
    for appointment in live:
        timeline = (
            ("confirmation", appointment.start_at - datetime.timedelta(days=14)),
            ("pre_care", appointment.start_at - datetime.timedelta(days=7)),
            ("reminder_24h", appointment.start_at - datetime.timedelta(hours=24)),
            ("aftercare", appointment.end_at + datetime.timedelta(hours=1)),
        )
        for kind, due in timeline:
            sent = due <= now
            rows.append(
                Reminder(
                    appointment_id=appointment.pk,
                    kind=kind,
                    due_at=due,
                    next_attempt_at=due,
                    status=Status.SENT if sent else Status.PENDING,
                    attempts=1 if sent else 0,
                    sent_at=due if sent else None,
                )
            )
    progress(f"writing {len(rows)} reminder rows")
    for first in range(0, len(rows), 10_000):
        Reminder.objects.bulk_create(rows[first : first + 10_000])


def main():
    import argparse

    parser = argparse.ArgumentParser(description="Seed (or re-seed) the large bench clinic.")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--rooms", type=int, default=10)
    parser.add_argument("--database", help="bench database name (default: bench_scale, per room count)")
    options = parser.parse_args()
    ensure_seeded(Sizes(rooms=options.rooms), reseed=options.reseed, name=options.database)


def ensure_seeded(sizes: Sizes, *, reseed=False, name=None):
    name = name or ("bench_scale" if sizes.rooms == 10 else f"bench_scale_{sizes.rooms}_rooms")
    use_bench_database(name, reseed=reseed)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # new indexes reach a kept database too
    if is_seeded(sizes):
        print(f"{name}: already seeded with these sizes (--reseed to start again)")
        return
    print(
        f"{name}: seeding {sizes.practitioners} practitioners, {sizes.rooms} rooms, {sizes.patients} patients, "
        f"{sizes.appointments} appointments"
    )
    seed(sizes)


if __name__ == "__main__":
    main()
