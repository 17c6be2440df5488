"""The reminder outbox against a real Redis broker and real Celery workers: a worker sends what the beat's
dispatcher queues, duplicates send once, a worker killed with SIGKILL mid-send gives exactly one delivery
after restart, and a Redis outage loses nothing."""

import contextlib
import datetime
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import kombu.pools
import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from bookings.models import Reminder
from bookings.reminders import services
from bookings.reminders.services import sync_reminders
from bookings.tasks import dispatch_due_reminders, send_reminder
from clinic.celery import app
from clinic.tasks import health_check
from tests import twilio_standin
from tests.factories import AppointmentFactory

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BASE_DIR = Path(django_settings.BASE_DIR)


@pytest.fixture(autouse=True)
def _empty_queue():
    app.control.purge()
    yield
    app.control.purge()


def wait_until(predicate, timeout=20.0, every=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def wait_for_the_queued_tasks():
    """Wait until the worker has run every task queued so far: a solo worker takes them one at a time, in
    order (prefetch 1), so the answer to a health check queued now means all those before it are done. A
    fixed sleep instead would let a test pass on a machine too slow to have run them yet."""
    token = uuid.uuid4().hex
    assert health_check.delay(token).get(timeout=60) == {"ok": True, "token": token}


def book_due_now(count=1) -> list[int]:
    """Appointments booked a few days ahead: each has a confirmation due at once. Returns their ids."""
    ids = []
    for i in range(count):
        with transaction.atomic():
            start = (timezone.now() + datetime.timedelta(days=3, hours=i)).replace(second=0, microsecond=0)
            appointment = AppointmentFactory(start_at=start)
            sync_reminders(appointment)
        ids.append(Reminder.objects.get(appointment=appointment, kind="confirmation").pk)
    return ids


def publish(reminder_id):
    send_reminder.delay(reminder_id)


def all_sent(ids):
    return lambda: Reminder.objects.filter(pk__in=ids, status=Reminder.Status.SENT).count() == len(ids)


def delivered_ids():
    return Counter(int(m.extra_headers["X-Clinic-Reminder"]) for m in mail.outbox)


def test_the_beat_dispatcher_and_a_real_worker_send_each_due_reminder_through_redis():
    ids = book_due_now(3)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        dispatch_due_reminders.delay()  # what beat sends every minute
        wait_until(all_sent(ids), message="the worker to send the reminders")
    assert delivered_ids() == Counter(ids)
    assert app.conf.beat_schedule["dispatch-due-reminders"]["schedule"] == 60.0


def test_two_beats_and_duplicated_tasks_still_send_each_reminder_once():
    ids = book_due_now(6)
    barrier = threading.Barrier(2)

    def a_beat():
        barrier.wait()
        # each send task published twice, as a redelivered or retried message would be
        services.dispatch_due_reminders(enqueue=lambda pk: (publish(pk), publish(pk)), batch_size=2)
        connection.close()

    beats = [threading.Thread(target=a_beat) for _ in range(2)]
    for beat in beats:
        beat.start()
    for beat in beats:
        beat.join()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        wait_until(all_sent(ids), message="the reminders to be sent")
        for pk in ids:  # and once more, after they went
            publish(pk)
        dispatch_due_reminders.delay()
        wait_for_the_queued_tasks()
    assert delivered_ids() == Counter(ids)
    assert set(Reminder.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}


# --- A worker killed with SIGKILL while sending ------------------------------------------------------


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker_process(
    mail_dir: Path, name: str, clock: datetime.datetime | None = None, **extra_env
) -> subprocess.Popen:
    """A real `celery worker` process (solo pool); with `clock`, its clock starts there, ticking
    (tests/clock_worker.py), as the test's own does under `daytime`."""
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "EMAIL_BACKEND": "tests.email_backends.GatedFileBackend",
        "REMINDER_TEST_MAIL_DIR": str(mail_dir),
        "REMINDER_LEASE_SECONDS": "2",
        **extra_env,
    }
    command = [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool=solo", "--loglevel=WARNING"]
    if clock is not None:
        clock_file = mail_dir / f"clock-{name}"
        clock_file.write_text(clock.isoformat())
        env["CLINIC_WORKER_CLOCK_FILE"] = str(clock_file)
        command[1:3] = ["-m", "tests.clock_worker"]
    command += ["-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_worker_killed_mid_send_gives_exactly_one_delivery_after_restart(tmp_path, settings):
    settings.REMINDER_LEASE_SECONDS = 2
    (tmp_path / "hold").touch()  # the email backend blocks mid-send while this file exists
    [reminder_id] = book_due_now(1)
    first = start_worker_process(tmp_path, "doomed")
    second = None
    try:
        assert services.dispatch_due_reminders(enqueue=publish) == 1
        wait_until(
            (tmp_path / f"sending-{reminder_id}").exists, timeout=30, message="the first worker to start sending"
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        # The attempt was recorded (committed) before the hand-over began; nothing says it was sent.
        assert Reminder.objects.get(pk=reminder_id).status == Reminder.Status.SENDING

        (tmp_path / "hold").unlink()
        second = start_worker_process(tmp_path, "survivor")

        def dispatch_and_check():
            services.dispatch_due_reminders(enqueue=publish)  # beat keeps ticking; the lease runs out
            return all_sent([reminder_id])()

        wait_until(dispatch_and_check, timeout=30, every=0.5, message="the restarted worker to send it")
        wait_for_the_queued_tasks()  # anything else in flight would show up now
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=15)
    deliveries = (tmp_path / "deliveries.log").read_text().split()
    assert deliveries == [str(reminder_id)]
    reminder = Reminder.objects.get(pk=reminder_id)
    assert reminder.attempts == 1 and reminder.claims >= 2  # re-claimed after the lease, maybe more than once


def run_until_killed_after_hand_over(tmp_path, reminder_id, clock=None, **worker_env):
    """A real worker sends the reminder; the backend holds right after the hand-over; the worker is
    SIGKILLed there. Then a second worker and the beat's dispatcher carry on. Returns the row."""
    (tmp_path / "hold-after").touch()
    first = start_worker_process(tmp_path, "doomed", clock, **worker_env)
    second = None
    try:
        assert services.dispatch_due_reminders(enqueue=publish) >= 1
        wait_until(
            (tmp_path / f"handed-over-{reminder_id}").exists, timeout=30, message="the hand-over in the first worker"
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        interrupted = Reminder.objects.get(pk=reminder_id)
        assert interrupted.status == Reminder.Status.SENDING and interrupted.attempt_started_at is not None
        (tmp_path / "hold-after").unlink()
        second = start_worker_process(tmp_path, "survivor", clock, **worker_env)

        def dispatch_and_check():
            services.dispatch_due_reminders(enqueue=publish)  # beat keeps ticking; the lease runs out
            return Reminder.objects.get(pk=reminder_id).status not in Reminder.UNSENT_STATUSES

        wait_until(dispatch_and_check, timeout=40, every=0.5, message="the interrupted reminder to be resolved")
        wait_for_the_queued_tasks()
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=15)
    return Reminder.objects.get(pk=reminder_id)


def test_a_text_whose_worker_was_killed_after_twilio_accepted_it_is_not_sent_again(tmp_path, settings, daytime):
    """Exactly once for texts: the restarted side asks Twilio (the stand-in) and finds the message. At noon,
    in this process and the workers' (texts wait through the quiet hours)."""
    settings.REMINDER_LEASE_SECONDS = 2
    with transaction.atomic():
        appointment = AppointmentFactory(
            start_at=(timezone.now() + datetime.timedelta(days=3)).replace(second=0, microsecond=0),
            patient__phone="+447700900123",
            patient__sms_opt_in=True,
        )
        sync_reminders(appointment)
    Reminder.objects.filter(appointment=appointment, channel="email").update(status=Reminder.Status.CANCELLED)
    reminder_id = Reminder.objects.get(appointment=appointment, kind="confirmation", channel="sms").pk
    with twilio_standin.TwilioStandIn() as twilio:
        row = run_until_killed_after_hand_over(
            tmp_path,
            reminder_id,
            daytime,
            SMS_BACKEND="tests.sms_backends.HoldAfterTwilioBackend",
            TWILIO_ACCOUNT_SID=twilio_standin.ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=twilio_standin.AUTH_TOKEN,
            TWILIO_FROM_NUMBER=twilio_standin.FROM_NUMBER,
            TWILIO_API_BASE_URL=twilio.base_url,
        )
        assert len(twilio.messages) == 1
        assert (row.status, row.provider_ref) == (Reminder.Status.SENT, twilio.messages[0]["sid"])


def test_an_email_whose_worker_was_killed_after_the_hand_over_goes_again_with_the_same_message_id(tmp_path, settings):
    """The guarantee for email, as documented: SMTP leaves no evidence to ask, so the message goes again
    with the same Message-ID (mail clients show one) and the row says so for the desk."""
    settings.REMINDER_LEASE_SECONDS = 2
    [reminder_id] = book_due_now(1)
    row = run_until_killed_after_hand_over(
        tmp_path, reminder_id, EMAIL_BACKEND="tests.email_backends.HoldAfterFileBackend"
    )
    deliveries = (tmp_path / "deliveries.log").read_text().splitlines()
    assert len(deliveries) == 2 and deliveries[0] == deliveries[1]  # same reminder, same Message-ID
    assert row.status == Reminder.Status.SENT
    assert "sent again with the same Message-ID" in row.last_error


# --- Redis stopped and started again -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers():
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
        return False

    wait_until(answers, timeout=10, every=0.05, message="our own redis-server")
    return process


def stop_redis(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


@contextlib.contextmanager
def broker_at(url: str):
    """Point the app's producers at another broker (our own Redis), and back afterwards."""
    previous = app.conf.broker_url

    def reset_pools():
        kombu.pools.reset()  # closes and forgets every cached connection pool
        app._pool = None
        app.amqp._producer_pool = None

    reset_pools()
    app.conf.broker_url = url
    try:
        yield
    finally:
        reset_pools()
        app.conf.broker_url = previous


def test_redis_stopped_and_started_again_sends_every_due_reminder_once(settings):
    settings.REMINDER_LEASE_SECONDS = 1
    port = free_port()
    redis = start_redis(port)
    try:
        with broker_at(f"redis://127.0.0.1:{port}/0"):
            queued_then_lost = book_due_now(3)
            assert services.dispatch_due_reminders(enqueue=publish) == 3  # in Redis, no worker yet
            stop_redis(redis)  # no persistence: those 3 messages are gone

            booked_while_down = book_due_now(2)  # bookings do not need the broker
            services.dispatch_due_reminders(enqueue=publish)  # the broker refuses: rows stay leased
            assert Reminder.objects.filter(pk__in=booked_while_down, status=Reminder.Status.QUEUED).count() == 2

            redis = start_redis(port)
            ids = queued_then_lost + booked_while_down
            with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):

                def dispatch_and_check():
                    services.dispatch_due_reminders(enqueue=publish)
                    return all_sent(ids)()

                wait_until(dispatch_and_check, timeout=30, every=0.5, message="every reminder after the outage")
                wait_for_the_queued_tasks()
    finally:
        stop_redis(redis)
    assert delivered_ids() == Counter(ids)
