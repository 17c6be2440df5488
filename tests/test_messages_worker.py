"""Two-way texts through the outbox with real Celery worker processes on Redis and Twilio's official library
against the local stand-in: the 48-hour text a worker sends asks "Reply C to confirm", and the reply C
confirms once even when Twilio delivers the webhook twice, one after the other or racing; a text due in the
quiet hours is held by the worker to 08:00 clinic time across both clock changes and sent once then.

The workers are separate processes (`tests/clock_worker.py`) whose clock the test sets, so
nothing here depends on the hour or the date the suite runs at; the dispatcher runs in the worker, as beat's
task does."""

import datetime
import os
import signal
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from bookings.models import Appointment, AppointmentEvent, InboundMessage, Reminder
from bookings.reminders.services import sync_reminders
from bookings.reminders.timing import Kind
from bookings.tasks import dispatch_due_reminders
from clinic.celery import app
from clinic.models import Notice
from clinic.tasks import health_check, send_due_notices
from tests import twilio_standin
from tests.factories import AppointmentFactory, PatientFactory
from tests.helpers import LONDON, at
from tests.test_reminders_worker import database_url, start_worker_process, wait_for_the_queued_tasks, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
BASE_DIR = Path(django_settings.BASE_DIR)
PHONE = "+447700900123"


@pytest.fixture(autouse=True)
def _empty_queue():
    app.control.purge()
    yield
    app.control.purge()


@pytest.fixture
def twilio(settings):
    with twilio_standin.TwilioStandIn() as standin:
        settings.SMS_BACKEND = "clinic.sms.TwilioSmsBackend"
        settings.TWILIO_ACCOUNT_SID = twilio_standin.ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = twilio_standin.AUTH_TOKEN
        settings.TWILIO_FROM_NUMBER = twilio_standin.FROM_NUMBER
        settings.TWILIO_API_BASE_URL = standin.base_url
        yield standin


class Worker:
    """A real `celery worker` process (solo pool) consuming from the test's Redis queues, its clock started
    at `clock` and ticking (`set_clock` moves it), texting through Twilio's library to the stand-in."""

    def __init__(self, twilio, folder: Path, clock: datetime.datetime, site_url: str = "https://book.clinic.example"):
        self.clock_file = folder / "clock"
        self.clock_file.write_text(clock.isoformat())
        env = {
            **os.environ,
            "DEBUG": "1",
            "DATABASE_URL": database_url(),
            "REDIS_URL": django_settings.REDIS_URL,
            "SITE_URL": site_url,
            "SMS_BACKEND": "clinic.sms.TwilioSmsBackend",
            "TWILIO_ACCOUNT_SID": twilio_standin.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": twilio_standin.AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": twilio_standin.FROM_NUMBER,
            "TWILIO_API_BASE_URL": twilio.base_url,
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "CLINIC_WORKER_CLOCK_FILE": str(self.clock_file),
        }
        command = [sys.executable, "-m", "tests.clock_worker", "-A", "clinic", "worker", "--pool=solo"]
        command += ["--loglevel=WARNING", "-n", f"clock-{uuid.uuid4().hex[:8]}@%h"]
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.process = subprocess.Popen(
            command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def set_clock(self, instant: datetime.datetime) -> None:
        """Move the worker's clock to `instant` (ticking on from there) and wait until it has moved."""
        self.clock_file.write_text(instant.isoformat())
        ack = Path(f"{self.clock_file}.ack")
        wait_until(lambda: ack.exists() and ack.read_text() == instant.isoformat(), message="the worker's clock")

    def tick(self) -> None:
        """What beat sends every minute, then wait until this worker has done it and the sends it queued: a
        solo worker takes tasks one at a time, in order, so the answer to a health check queued after the
        dispatch means the dispatch is done, and the answer to a second one that the sends it queued are."""
        dispatch_due_reminders.delay()
        for _ in range(2):
            token = uuid.uuid4().hex
            assert health_check.delay(token).get(timeout=60) == {"ok": True, "token": token}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def texting_patient():
    return PatientFactory(phone=PHONE, sms_opt_in=True)


def only_this_text(appointment: Appointment, kind: str, due_at: datetime.datetime) -> Reminder:
    """The appointment's text of this kind due at `due_at`, every other message of it cancelled."""
    row = appointment.reminders.get(kind=kind, channel="sms")
    Reminder.objects.filter(pk=row.pk).update(due_at=due_at, next_attempt_at=due_at)
    appointment.reminders.exclude(pk=row.pk).update(status=Reminder.Status.CANCELLED)
    return Reminder.objects.get(pk=row.pk)


def book_texting(start_at: datetime.datetime) -> Appointment:
    with transaction.atomic():
        appointment = AppointmentFactory(start_at=start_at, patient=texting_patient())
        sync_reminders(appointment)
    return appointment


def tomorrow_at(hour: int) -> datetime.datetime:
    local_tomorrow = (timezone.now().astimezone(LONDON) + datetime.timedelta(days=1)).date()
    return at(local_tomorrow, hour)


def next_clock_change(forward: bool) -> datetime.date:
    """The next local day in London on which the clocks go forward (or back), from a week after today."""
    day = timezone.now().astimezone(LONDON).date() + datetime.timedelta(days=7)
    while True:
        before = datetime.datetime.combine(day, datetime.time(0), tzinfo=LONDON).utcoffset()
        after = datetime.datetime.combine(day, datetime.time(12), tzinfo=LONDON).utcoffset()
        if before != after and (after > before) == forward:
            return day
        day += datetime.timedelta(days=1)


# --- Reply C, delivered twice -----------------------------------------------------------------------------


def post_inbound(url: str, params: dict) -> tuple[int, str]:
    """A webhook request as Twilio makes it, over HTTP to the live server: form-encoded, signed over the
    public URL and the fields."""
    signature = RequestValidator(twilio_standin.AUTH_TOKEN).compute_signature(url, params)
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(params).encode(), headers={"X-Twilio-Signature": signature}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def test_reply_c_to_the_text_a_worker_sent_confirms_once_when_twilio_delivers_it_twice_and_racing(
    twilio, live_server, settings, tmp_path
):
    settings.SITE_URL = live_server.url
    day = tomorrow_at(10)
    appointment = book_texting(day + datetime.timedelta(hours=49))
    row = only_this_text(appointment, Kind.PRE_CARE_48H, day + datetime.timedelta(hours=1))
    worker_clock = day + datetime.timedelta(hours=1, minutes=1)
    with Worker(twilio, tmp_path, clock=worker_clock, site_url=live_server.url) as worker:
        worker.tick()
        wait_until(lambda: Reminder.objects.get(pk=row.pk).status == Reminder.Status.SENT, message="the 48-hour text")
    [question] = twilio.messages
    assert question["to"] == PHONE and "Reply C to confirm or R to rearrange" in question["body"]

    url = live_server.url + reverse("sms_inbound")
    reply = {"From": PHONE, "To": twilio_standin.FROM_NUMBER, "Body": "C"}
    # Delivered twice, one after the other (Twilio retries a webhook it thinks failed).
    first = post_inbound(url, {**reply, "MessageSid": "SM" + "c" * 32})
    again = post_inbound(url, {**reply, "MessageSid": "SM" + "c" * 32})
    assert first[0] == again[0] == 200
    assert "you are confirmed for" in first[1] and "<Message>" not in again[1]

    # Another reply delivered twice at the same moment: two requests racing on real connections.
    barrier, answers = threading.Barrier(2), []

    def deliver():
        barrier.wait()
        answers.append(post_inbound(url, {**reply, "MessageSid": "SM" + "d" * 32}))

    racing = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in racing:
        thread.start()
    for thread in racing:
        thread.join(timeout=60)
    assert sorted(status for status, _ in answers) == [200, 200]
    assert sum("<Message>" in body for _, body in answers) == 1  # answered once

    appointment.refresh_from_db()
    assert appointment.confirmed_at is not None
    assert appointment.events.filter(action=AppointmentEvent.Action.CONFIRMED).count() == 1
    assert InboundMessage.objects.filter(provider_ref="SM" + "c" * 32).count() == 1
    assert InboundMessage.objects.filter(provider_ref="SM" + "d" * 32).count() == 1
    assert len(twilio.messages) == 1  # the answers went back in the webhooks' responses, nothing else was sent
    connection.close()


# --- Quiet hours across a clock change, in a real worker -------------------------------------------------------


@pytest.mark.parametrize("forward", [True, False], ids=["clocks-go-forward", "clocks-go-back"])
def test_a_worker_holds_a_text_due_in_the_quiet_hours_to_8am_clinic_time_across_a_clock_change(
    twilio, tmp_path, forward
):
    change = next_clock_change(forward)
    evening = at(change - datetime.timedelta(days=1), 22, 30)
    morning = at(change, 8)  # 07:00 UTC after the spring change, 08:00 UTC after the autumn one
    assert morning.hour == (7 if forward else 8)
    appointment = book_texting(morning + datetime.timedelta(days=1, hours=3))
    row = only_this_text(appointment, Kind.REMINDER_24H, evening)

    with Worker(twilio, tmp_path, clock=evening) as worker:
        worker.tick()
        row.refresh_from_db()
        assert (row.status, row.next_attempt_at, row.claims) == (Reminder.Status.PENDING, morning, 1)  # held
        assert twilio.messages == []

        worker.set_clock(morning - datetime.timedelta(minutes=30))
        worker.tick()  # 07:30 clinic time: still held
        row.refresh_from_db()
        assert (row.status, row.claims) == (Reminder.Status.PENDING, 1) and twilio.messages == []

        worker.set_clock(morning)
        worker.tick()
        worker.tick()  # a second tick sends nothing more
    row.refresh_from_db()
    assert row.status == Reminder.Status.SENT and row.sent_at >= morning
    [text] = twilio.messages
    assert text["to"] == PHONE and row.provider_ref == text["sid"]


# --- Notices (the welcome, the desk's form link): a worker killed after the hand-over ---------------------------


def run_notice_until_killed_after_hand_over(tmp_path, notice: Notice, **worker_env) -> Notice:
    """A real worker sends the notice (beat's `send_due_notices`); the backend holds right after the hand-over
    and the worker is SIGKILLed there; a second worker and beat carry on. Returns the row."""
    (tmp_path / "hold-after").touch()
    first = start_worker_process(tmp_path, "doomed", **worker_env)
    second = None
    try:
        send_due_notices.delay()
        wait_until(
            (tmp_path / f"handed-over-notice-{notice.pk}").exists,
            timeout=30,
            message="the hand-over in the first worker",
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        interrupted = Notice.objects.get(pk=notice.pk)
        assert interrupted.status == Notice.Status.SENDING and interrupted.attempt_started_at is not None
        (tmp_path / "hold-after").unlink()
        second = start_worker_process(tmp_path, "survivor", **worker_env)

        def beat_and_check():
            send_due_notices.delay()  # beat keeps ticking; the lease (2 s here) runs out
            return Notice.objects.get(pk=notice.pk).status not in (Notice.Status.PENDING, Notice.Status.SENDING)

        wait_until(beat_and_check, timeout=40, every=0.5, message="the interrupted notice to be resolved")
        wait_for_the_queued_tasks()
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=15)
    return Notice.objects.get(pk=notice.pk)


def test_a_form_link_text_whose_worker_was_killed_after_twilio_accepted_it_is_not_sent_again(tmp_path, twilio):
    patient = texting_patient()
    notice = Notice.objects.create(
        kind="health_form_link", channel="sms", to=[PHONE], patient=patient, subject="Form link", body="Your form"
    )
    row = run_notice_until_killed_after_hand_over(
        tmp_path,
        notice,
        SMS_BACKEND="tests.sms_backends.HoldAfterTwilioBackend",
        TWILIO_ACCOUNT_SID=twilio_standin.ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=twilio_standin.AUTH_TOKEN,
        TWILIO_FROM_NUMBER=twilio_standin.FROM_NUMBER,
        TWILIO_API_BASE_URL=twilio.base_url,
    )
    [text] = twilio.messages
    assert (row.status, row.provider_ref, row.attempts) == (Notice.Status.SENT, text["sid"], 1)


def test_a_welcome_email_whose_worker_was_killed_after_the_hand_over_goes_again_with_the_same_message_id(tmp_path):
    notice = Notice.objects.create(
        kind="welcome", to=["ada@example.com"], patient=PatientFactory(), subject="Welcome", body="Dear Ada"
    )
    row = run_notice_until_killed_after_hand_over(
        tmp_path, notice, EMAIL_BACKEND="tests.email_backends.HoldAfterFileBackend"
    )
    deliveries = (tmp_path / "deliveries.log").read_text().splitlines()
    assert deliveries == [f"notice-{notice.pk} <notice-{notice.pk}@clinic.example>"] * 2  # same Message-ID
    assert row.status == Notice.Status.SENT and "sent again with the same Message-ID" in row.last_error
