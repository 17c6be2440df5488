"""How long one Celery worker takes to send 10,000 due reminders, and proof that none went twice.

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/anything REDIS_URL=redis://127.0.0.1:6379/3 \
        .venv/bin/python bench/reminders.py [--count 10000] [--duplicate]

It makes its OWN throwaway database (`clinic_bench_reminders_<pid>` on the PostgreSQL server of DATABASE_URL,
or a temporary SQLite file without it) and drops it afterwards; it never touches the database named in
DATABASE_URL. The broker is REDIS_URL (its default queue is purged first: give it a Redis database of your
own) or, without it, Celery's in-memory transport. Mail goes to the locmem backend. `--duplicate` publishes
every send task twice, as a redelivery would.
"""

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
KINDS = ("confirmation", "pre_care", "pre_care_48h", "reminder_24h", "aftercare")


def throwaway_database_url() -> tuple[str, str | None]:
    """A fresh database on the same server, and the admin URL to drop it with (None for SQLite)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tempfile.mkdtemp(prefix='clinic-bench-')}/bench.sqlite3", None
    import psycopg2

    parts = urlsplit(url)
    name = f"clinic_bench_reminders_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return urlunsplit(parts._replace(path=f"/{name}")), admin_url


def drop_database(admin_url: str, name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def create_due_reminders(count: int) -> None:
    import datetime

    from django.utils import timezone

    from bookings.models import Appointment, Reminder
    from clinic.models import Patient, Practitioner, Room, Treatment, User

    treatment = Treatment.objects.create(
        name="Bench session", slug="bench", duration_minutes=60, price=100, min_days_between_sessions=28
    )
    room = Room.objects.create(name="Bench room")
    practitioner = Practitioner.objects.create(
        user=User.objects.create_user("bench-practitioner@example.com", first_name="Bea", last_name="Bench"),
        title="Nurse",
    )
    patient = Patient.objects.create(
        user=User.objects.create_user("bench-patient@example.com", first_name="Pat", last_name="Bench"),
        phone="07700 900000",
        date_of_birth=datetime.date(1990, 1, 1),
    )
    appointments_needed = -(-count // len(KINDS))
    first = (timezone.now() + datetime.timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    appointments = Appointment.objects.bulk_create(
        Appointment(
            patient=patient,
            practitioner=practitioner,
            treatment=treatment,
            room=room,
            site_id=room.site_id,  # bulk_create skips the save() that sets it
            start_at=first + datetime.timedelta(hours=2 * i),
            end_at=first + datetime.timedelta(hours=2 * i + 1),
            busy_until=first + datetime.timedelta(hours=2 * i + 1),
        )
        for i in range(appointments_needed)
    )
    due = timezone.now() - datetime.timedelta(minutes=1)
    rows = [
        Reminder(appointment=appointment, kind=kind, due_at=due, next_attempt_at=due)
        for appointment in appointments
        for kind in KINDS
    ][:count]
    Reminder.objects.bulk_create(rows, batch_size=2000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--duplicate", action="store_true", help="publish every send task twice")
    parser.add_argument("--profile", action="store_true", help="profile 200 sends in-process, no broker")
    options = parser.parse_args()

    db_url, admin_url = throwaway_database_url()
    os.environ.update(DATABASE_URL=db_url, DEBUG=os.environ.get("DEBUG", "1"), LOG_LEVEL="ERROR")
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    import django

    django.setup()
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings
    from django.core import mail
    from django.core.management import call_command
    from django.db import connections

    from bookings.models import Reminder
    from bookings.reminders import services
    from bookings.tasks import send_reminder
    from clinic.celery import app

    if not settings.REDIS_URL:
        app.conf.broker_url = "memory://"
    broker = app.conf.broker_url.split("@")[-1]
    mail.outbox = []
    try:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        create_due_reminders(options.count)
        print(f"database: {connections['default'].vendor} (throwaway), broker: {broker}")
        print(f"created {Reminder.objects.count()} due reminders in {time.perf_counter() - started:.1f}s")
        if options.profile:
            import cProfile
            import pstats

            ids = services.claim_due_reminders(200)
            profile = cProfile.Profile()
            profile.runcall(lambda: [services.send_reminder(pk) for pk in ids])
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
            return 0
        app.control.purge()

        def publish(reminder_id):
            send_reminder.delay(reminder_id)
            if options.duplicate:
                send_reminder.delay(reminder_id)

        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            started, cpu_started = time.perf_counter(), time.process_time()
            claimed = services.dispatch_due_reminders(enqueue=publish, batch_size=1000, max_batches=1000)
            dispatched = time.perf_counter() - started
            while Reminder.objects.filter(status=Reminder.Status.SENT).count() < options.count:
                if time.perf_counter() - started > 3600:
                    print("gave up after an hour")
                    return 1
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            time.sleep(1 if options.duplicate else 0)  # let duplicates drain: they must send nothing

        deliveries = Counter(int(m.extra_headers["X-Clinic-Reminder"]) for m in mail.outbox)
        twice = sum(1 for n in deliveries.values() if n > 1)
        tasks = claimed * (2 if options.duplicate else 1)
        rate = len(deliveries) / elapsed
        print(f"dispatcher claimed {claimed} and queued {tasks} tasks in {dispatched:.1f}s")
        print(f"one worker (solo pool) sent {len(deliveries)} reminders in {elapsed:.1f}s: {rate:.0f}/s")
        print(f"CPU of the process (dispatcher + worker): {cpu:.1f}s, {1000 * cpu / options.count:.1f} ms per reminder")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"messages delivered: {len(mail.outbox)}; reminders delivered more than once: {twice}")
        ok = twice == 0 and len(deliveries) == options.count == len(mail.outbox)
        print("OK: every reminder went exactly once" if ok else "FAILED: duplicates or missing reminders")
        return 0 if ok else 1
    finally:
        connections.close_all()
        if admin_url:
            drop_database(admin_url, urlsplit(db_url).path.lstrip("/"))


if __name__ == "__main__":
    sys.exit(main())
