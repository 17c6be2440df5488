"""Issue 14 part 4: appointment states that match a clinic's day (bookings/states.py, bookings/services.py),
through the desk's pages, with the clinic's clock set by the test (never the machine's hour)."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.utils import timezone

from bookings import services, states
from bookings.models import Appointment, Reminder
from bookings.reminders import services as reminder_services
from bookings.reminders.services import sync_reminders
from bookings.reminders.timing import Kind
from clinic import roles
from tests.factories import AppointmentFactory, record_session_for, staff_user
from tests.helpers import at

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 6, 10)  # a Wednesday in British Summer Time


class Clock:
    """The clinic's 'now' for one test: every `timezone.now()` the app calls answers it."""

    def __init__(self, monkeypatch, now):
        self.now = now
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def set(self, now):
        self.now = now


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, at(DAY, 8))


@pytest.fixture
def desk(client):
    user = staff_user(roles.FRONT_DESK)
    client.staff = user
    return user


def signed_in(client):
    """Signed in afresh at the test's clock: moving the clock by hours would end an idle session."""
    client.force_login(client.staff)
    return client


def booked_at(start, clock, **kwargs):
    """A booking made a week before, with its reminders, as the booking service makes them."""
    real_now = clock.now
    clock.set(start - datetime.timedelta(days=8))
    appointment = AppointmentFactory(start_at=start, **kwargs)
    sync_reminders(appointment)
    clock.set(real_now)
    return appointment


def aftercare_sent() -> int:
    return sum(m.subject.startswith("Looking after your skin") for m in mail.outbox)


def post(client, appointment, action, **data):
    response = signed_in(client).post(f"/desk/appointments/{appointment.pk}/{action}/", data, follow=True)
    appointment.refresh_from_db()
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def buttons(client, appointment) -> str:
    response = signed_in(client).get(f"/desk/appointments/{appointment.pk}/")
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- The rules, at chosen instants ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "now", "allowed"),
    [
        (at(DAY, 10), at(DAY, 7), True),  # early on the day
        (at(DAY, 10), at(DAY, 16), True),  # late, the same day
        (at(DAY, 10), at(DAY - datetime.timedelta(days=1), 23, 30), False),  # the evening before
        (at(DAY, 10), at(DAY + datetime.timedelta(days=1), 9), False),  # the day after
        # 25 October 2026, clocks go back: 00:30 BST is 23:30 UTC on the 24th. 23:00 BST on the 24th has the
        # same UTC date as the appointment but is the day before in the clinic.
        (at(datetime.date(2026, 10, 25), 0, 30), at(datetime.date(2026, 10, 24), 23), False),
        (at(datetime.date(2026, 10, 25), 0, 30), at(datetime.date(2026, 10, 25), 0, 10), True),
        # 29 March 2026, clocks go forward: 23:30 GMT on the 28th is not the 29th.
        (at(datetime.date(2026, 3, 29), 9), at(datetime.date(2026, 3, 28), 23, 30), False),
        (at(datetime.date(2026, 3, 29), 9), at(datetime.date(2026, 3, 29), 3), True),
    ],
)
def test_check_in_only_on_the_appointments_day_in_clinic_time(start, now, allowed):
    appointment = Appointment(start_at=start, end_at=start + datetime.timedelta(hours=1), status="booked")
    assert (states.refusal(states.CHECK_IN, appointment, now) is None) is allowed


@pytest.mark.parametrize("action", [states.COMPLETE, states.NO_SHOW])
def test_complete_and_no_show_only_after_the_start(action):
    start = at(DAY, 10)
    appointment = Appointment(start_at=start, end_at=start + datetime.timedelta(hours=1), status="booked")
    assert states.refusal(action, appointment, start - datetime.timedelta(minutes=1))
    assert states.refusal(action, appointment, start) is None


# --- Through the desk's pages ---------------------------------------------------------------------------


def test_buttons_not_allowed_yet_are_not_shown_and_posting_them_changes_nothing(client, desk, clock):
    tomorrow = booked_at(at(DAY + datetime.timedelta(days=1), 10), clock)
    page = buttons(client, tomorrow)
    assert "Check in</button>" not in page and "Complete</button>" not in page and "Mark no-show" not in page
    assert "only on the day of the appointment (Thursday 11 June)" in post(client, tomorrow, "check-in")
    assert "only once it has started" in post(client, tomorrow, "complete")
    assert tomorrow.status == "booked" and list(tomorrow.events.values_list("action", flat=True)) == []

    today = booked_at(at(DAY, 10), clock)
    page = buttons(client, today)
    assert "Check in</button>" in page and "Complete</button>" not in page and "Mark no-show" not in page
    clock.set(at(DAY, 10, 5))
    page = buttons(client, today)
    assert "Check in</button>" in page and "Complete</button>" in page and "Mark no-show" in page


def test_the_desk_undoes_a_check_in_with_a_reason_and_the_history_shows_both(client, desk, clock):
    appointment = booked_at(at(DAY, 10), clock)
    post(client, appointment, "check-in")
    assert appointment.status == "checked_in" and appointment.checked_in_at == at(DAY, 8)
    assert "Undo the check-in" in buttons(client, appointment)
    assert "Give a reason for undoing it" in post(client, appointment, "undo-check-in", reason="  ")
    assert appointment.status == "checked_in"
    post(client, appointment, "undo-check-in", reason="Checked in the wrong Ms Flores")
    assert appointment.status == "booked" and appointment.checked_in_at is None
    history = buttons(client, appointment)
    assert "Checked in by" in history and "Check-in undone by" in history
    assert "(Checked in the wrong Ms Flores)" in history


def test_completing_cancels_pending_pre_appointment_reminders_and_times_aftercare_from_the_real_end(
    client, desk, clock, django_capture_on_commit_callbacks
):
    appointment = booked_at(at(DAY, 10), clock)  # ends at 11:00
    by_kind = {r.kind: r for r in appointment.reminders.filter(channel="email")}
    assert by_kind[Kind.REMINDER_24H].status == Reminder.Status.PENDING  # e.g. a worker that was down
    clock.set(at(DAY, 10, 40))  # finished early
    post(client, appointment, "check-in")
    post(client, appointment, "complete")
    assert appointment.completed_at == at(DAY, 10, 40)
    by_kind = {r.kind: r for r in appointment.reminders.filter(channel="email")}
    for kind in (Kind.PRE_CARE, Kind.PRE_CARE_48H, Kind.REMINDER_24H):
        assert by_kind[kind].status == Reminder.Status.CANCELLED, kind
    assert by_kind[Kind.AFTERCARE].due_at == at(DAY, 10, 40)
    assert by_kind[Kind.CHECK_IN].due_at == at(DAY, 10, 40) + datetime.timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        reminder_services.dispatch_due_reminders(enqueue=reminder_services.send_reminder)
    assert aftercare_sent() == 1


def test_no_aftercare_for_a_session_that_has_not_started_or_nobody_attended(clock, django_capture_on_commit_callbacks):
    appointment = booked_at(at(DAY, 10), clock)
    aftercare = appointment.reminders.get(kind=Kind.AFTERCARE, channel="email")
    clock.set(at(DAY, 11, 1))  # the booked end has passed; nobody checked the patient in
    with django_capture_on_commit_callbacks(execute=True):
        reminder_services.dispatch_due_reminders(enqueue=reminder_services.send_reminder)
    aftercare.refresh_from_db()
    assert aftercare_sent() == 0 and aftercare.status == Reminder.Status.PENDING and aftercare.attempts == 0
    clock.set(at(DAY + datetime.timedelta(days=1), 11, 30))  # a day later: a missed appointment nobody marked
    with django_capture_on_commit_callbacks(execute=True):
        reminder_services.dispatch_due_reminders(enqueue=reminder_services.send_reminder)
    aftercare.refresh_from_db()
    assert aftercare_sent() == 0 and aftercare.status == Reminder.Status.CANCELLED
    assert "never checked in or completed" in aftercare.cancel_reason


def test_a_checked_in_session_nobody_checked_out_gets_its_aftercare_two_hours_after_the_end(
    client, desk, clock, django_capture_on_commit_callbacks
):
    appointment = booked_at(at(DAY, 10), clock)
    post(client, appointment, "check-in")
    clock.set(at(DAY, 11, 30))
    with django_capture_on_commit_callbacks(execute=True):
        reminder_services.dispatch_due_reminders(enqueue=reminder_services.send_reminder)
    assert aftercare_sent() == 0
    clock.set(at(DAY, 13, 1))
    with django_capture_on_commit_callbacks(execute=True):
        reminder_services.dispatch_due_reminders(enqueue=reminder_services.send_reminder)
    assert aftercare_sent() == 1


def test_a_completion_made_by_mistake_is_undone_on_the_day_only(client, desk, clock):
    appointment = booked_at(at(DAY, 10), clock)
    clock.set(at(DAY, 10, 5))
    post(client, appointment, "check-in")
    post(client, appointment, "complete")
    assert "Undo the completion" in buttons(client, appointment)
    post(client, appointment, "undo-completion", reason="Pressed Complete on the wrong row")
    assert appointment.status == "checked_in" and appointment.completed_at is None
    actions = list(appointment.events.values_list("action", flat=True))
    assert actions == ["checked_in", "completed", "completion_undone"]
    aftercare = appointment.reminders.get(kind=Kind.AFTERCARE, channel="email")
    assert aftercare.due_at == at(DAY, 11)  # waits again for the session's end

    post(client, appointment, "complete")
    clock.set(at(DAY + datetime.timedelta(days=1), 9))
    assert "Undo the completion" not in buttons(client, appointment)
    assert "only on the day it was made" in post(client, appointment, "undo-completion", reason="Late")
    assert appointment.status == "completed"


def test_a_completion_with_a_session_record_is_not_undone_by_the_desk(client, desk, clock):
    appointment = booked_at(at(DAY, 10), clock)
    clock.set(at(DAY, 11))
    record_session_for(appointment)
    appointment.refresh_from_db()
    assert appointment.status == "completed"
    assert "A session was recorded" in post(client, appointment, "undo-completion", reason="Oops")
    assert appointment.status == "completed"


def test_only_the_desk_undoes(clock):
    from tests.factories import PractitionerFactory

    appointment = booked_at(at(DAY, 10), clock)
    services.check_in(appointment, by=staff_user(roles.FRONT_DESK))
    with pytest.raises(services.NotAllowed):
        services.undo_check_in(appointment, by=PractitionerFactory().user, reason="Not mine to undo")
