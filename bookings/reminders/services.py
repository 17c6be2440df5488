"""Writes to the reminder outbox: keeping rows in step with their appointment, claiming due rows, sending one.

The delivery guarantee (see README, 'Reminders'): a reminder is marked sent in the same database
transaction that holds its row lock while the message is handed to the email or SMS backend. A crash before
that commit rolls the row back to `queued`; the dispatcher claims it again once its lease runs out, so it is
sent after the crash. Duplicated or retried tasks find the row no longer `queued` and send nothing.
"""

import datetime
import logging

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from bookings.models import AftercareCheckIn, Appointment, Reminder
from bookings.reminders import timing
from bookings.reminders.messages import PermanentDeliveryError, deliver, deliver_form_link

logger = logging.getLogger(__name__)
Status = Reminder.Status


def _setting(name: str, default):
    return getattr(settings, name, default)


def lease() -> datetime.timedelta:
    """How long a claimed row waits for its send task before the dispatcher may claim it again."""
    return datetime.timedelta(seconds=_setting("REMINDER_LEASE_SECONDS", 300))


def retry_delay(attempts: int) -> datetime.timedelta:
    base = _setting("REMINDER_RETRY_BASE_SECONDS", 60)
    return datetime.timedelta(seconds=base * 2 ** max(attempts - 1, 0))


# --- Keeping the outbox in step with the appointment --------------------------------------------------


def sync_reminders(appointment: Appointment) -> None:
    """Make the appointment's unsent reminders match its current state. Idempotent.

    Called by every booking service inside its transaction, after saving the appointment. Creates what is
    missing (never a message whose time has already passed, except the confirmation), moves unsent rows
    when the time changed, cancels unsent rows the appointment no longer calls for. Sent rows stay as
    they are: they happened.
    """
    now = timezone.now()
    planned = {(p.kind, p.channel): p for p in timing.plan(appointment, now)}
    existing = {(r.kind, r.channel): r for r in Reminder.objects.select_for_update().filter(appointment=appointment)}

    for key, reminder in existing.items():
        if reminder.status in (Status.SENT, Status.FAILED):
            continue
        if reminder.kind == timing.Kind.MOVED:  # not on the timeline: it goes unless the appointment is off
            if not timing.wanted(appointment, reminder.kind):
                _cancel(reminder, "no longer called for: the appointment was cancelled")
            continue
        wanted = planned.get(key)
        if wanted is None:
            _cancel(reminder, "no longer called for: the appointment was cancelled or changed")
        elif reminder.due_at != wanted.due_at or reminder.status == Status.CANCELLED:
            _move(reminder, wanted.due_at, now)

    new_rows = [
        Reminder(appointment=appointment, kind=p.kind, channel=p.channel, due_at=p.due_at, next_attempt_at=p.due_at)
        for key, p in planned.items()
        if key not in existing and (p.due_at > now or p.kind == timing.Kind.CONFIRMATION)
    ]
    Reminder.objects.bulk_create(new_rows)


def announce_move(appointment: Appointment) -> None:
    """Queue 'your appointment has moved' (email, and a text if the patient asked for texts), due now.

    Called by the booking service in the rescheduling transaction. A notice still waiting (two moves in a
    row) is simply sent once with the latest time; one already sent is sent again for the new time: the
    row records the latest notice, the appointment's events record every move."""
    now = timezone.now()
    for channel in timing.channels_for(appointment.patient, timing.MOVED):
        Reminder.objects.update_or_create(
            appointment=appointment,
            kind=timing.Kind.MOVED,
            channel=channel,
            defaults={
                "status": Status.PENDING,
                "due_at": now,
                "next_attempt_at": now,
                "attempts": 0,
                "sent_at": None,
                "last_error": "",
                "cancel_reason": "",
            },
        )


def _cancel(reminder: Reminder, reason: str) -> None:
    if reminder.status == Status.CANCELLED:
        return
    reminder.status = Status.CANCELLED
    reminder.cancel_reason = reason
    reminder.save(update_fields=["status", "cancel_reason", "updated_at"])


def _move(reminder: Reminder, due_at: datetime.datetime, now: datetime.datetime) -> None:
    """A new time for an unsent reminder. A reminder before the start whose new time has passed is dropped."""
    if due_at <= now and timing.STEPS[reminder.kind].anchor == timing.BEFORE_START:
        _cancel(reminder, "its time had already passed when the appointment was moved")
        return
    if due_at <= now and reminder.status == Status.CANCELLED:
        return  # never bring back a message that is already late
    reminder.due_at = reminder.next_attempt_at = due_at
    reminder.status = Status.PENDING  # a task already queued for it finds it not queued and sends nothing
    reminder.cancel_reason = ""
    reminder.save(update_fields=["due_at", "next_attempt_at", "status", "cancel_reason", "updated_at"])


# --- Claiming due rows (the dispatcher beat runs every minute) -----------------------------------------


def claim_due_reminders(limit: int, now: datetime.datetime | None = None) -> list[int]:
    """Claim up to `limit` due rows for sending and return their ids.

    FOR UPDATE SKIP LOCKED: two dispatchers (two beats by mistake) claim disjoint rows, and a row whose
    send is in progress (locked by its sender) is left alone. On SQLite the whole transaction is the lock.
    A claim is a lease: if no task sends the row before it runs out, the row is claimable again.
    """
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status__in=Reminder.UNSENT_STATUSES, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Reminder.objects.filter(pk__in=ids).update(
                status=Status.QUEUED, next_attempt_at=now + lease(), claims=F("claims") + 1, updated_at=now
            )
    return ids


def dispatch_due_reminders(enqueue, batch_size: int | None = None, max_batches: int = 20) -> int:
    """Claim due reminders batch by batch and hand each id to `enqueue` (the send task's publisher) once
    the claim has committed. Returns how many were claimed.

    If the broker refuses a message, the rest stay claimed and the lease brings them back to a run after
    the broker has recovered. Bookings never wait for the broker: they only write rows.
    """
    batch_size = batch_size or _setting("REMINDER_DISPATCH_BATCH", 500)
    claimed = 0
    for _ in range(max_batches):
        broker_ok = []
        with transaction.atomic():
            ids = claim_due_reminders(batch_size)
            transaction.on_commit(lambda ids=ids, ok=broker_ok: ok.append(_enqueue_all(ids, enqueue)))
        claimed += len(ids)
        if len(ids) < batch_size or broker_ok != [True]:
            break
    return claimed


def _enqueue_all(ids: list[int], enqueue) -> bool:
    for reminder_id in ids:
        try:
            enqueue(reminder_id)
        except Exception:  # the broker is down (kombu raises several kinds): the lease covers every one
            logger.warning(
                "The broker refused reminder %s; it and the rest of its batch go after the lease", reminder_id
            )
            return False
    return True


# --- Sending one ------------------------------------------------------------------------------------


def send_reminder(reminder_id: int) -> str:
    """Send one claimed reminder, at most once per claim, and say what happened.

    The row is locked (SKIP LOCKED: a second copy of the task leaves at once) and must still be `queued`
    and due; the message goes out and the row becomes `sent` in the same transaction. An error is recorded
    in that transaction instead: back to pending with a backoff, or failed after the last attempt.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = (
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("appointment__patient__user", "appointment__treatment", "appointment__practitioner__user")
            .select_related("appointment__room")
            # By primary key alone: with status in the WHERE clause PostgreSQL may pick the partial
            # 'claimable' index and scan every queued row for each send (seen at 2,000 queued: 4 ms a send).
            .filter(pk=reminder_id)
            .order_by()
        )
        reminder = next(iter(locked), None)
        if reminder is None or reminder.status != Status.QUEUED or reminder.due_at > now:
            return "skipped: not queued (already sent, moved, cancelled, or being sent by another task)"
        # Without row locks (SQLite) this conditional update is the claim; SQLite's write lock then holds
        # any second copy of the task until this transaction ends, when the row is no longer queued.
        no_row_locks = not connection.features.has_select_for_update
        if no_row_locks and not Reminder.objects.filter(pk=reminder.pk, status=Status.QUEUED).update(updated_at=now):
            return "skipped: claimed by another task"
        appointment = reminder.appointment
        if not timing.wanted(appointment, reminder.kind):
            _cancel(reminder, f"not sent: the appointment is {appointment.get_status_display().lower()}")
            return "cancelled"
        if not timing.patient_accepts(appointment.patient, reminder.kind):
            _cancel(reminder, "not sent: the patient opted out of non-essential messages")
            return "cancelled"
        if timing.STEPS[reminder.kind].anchor == timing.AFTER_END:
            verdict, until = timing.after_session_verdict(appointment, now)
            if verdict == timing.DROP:
                _cancel(reminder, "not sent: the session was never checked in or completed")
                return "cancelled"
            if verdict == timing.HOLD:  # not a failed attempt: the session has not really ended yet
                reminder.status, reminder.next_attempt_at = Status.PENDING, until
                reminder.save(update_fields=["status", "next_attempt_at", "updated_at"])
                return "held: the session has not ended yet"
        try:
            deliver(reminder)
        except Exception as error:  # any backend error: recorded, retried, never lost
            return _record_failure(reminder, error, now)
        reminder.status = Status.SENT
        reminder.sent_at = timezone.now()
        reminder.attempts += 1
        reminder.last_error = ""
        reminder.save(update_fields=["status", "sent_at", "attempts", "last_error", "updated_at"])
        return "sent"


def _record_failure(reminder: Reminder, error: Exception, now: datetime.datetime) -> str:
    reminder.attempts += 1
    reminder.last_error = f"{type(error).__name__}: {error}"[:2000]
    max_attempts = _setting("REMINDER_MAX_ATTEMPTS", 5)
    if isinstance(error, PermanentDeliveryError) or reminder.attempts >= max_attempts:
        reminder.status = Status.FAILED
        logger.error("Reminder %s failed for good: %s", reminder.pk, reminder.last_error)
    else:
        reminder.status = Status.PENDING
        reminder.next_attempt_at = now + retry_delay(reminder.attempts)
        logger.warning("Reminder %s failed (attempt %s), retried later: %s", reminder.pk, reminder.attempts, error)
    reminder.save(update_fields=["status", "attempts", "last_error", "next_attempt_at", "updated_at"])
    return reminder.status


def retry_failed_reminder(reminder: Reminder) -> None:
    """For the front desk or admin: try a failed reminder again from now."""
    Reminder.objects.filter(pk=reminder.pk, status=Status.FAILED).update(
        status=Status.PENDING, attempts=0, next_attempt_at=timezone.now(), updated_at=timezone.now()
    )


# --- The patient's 3-day check-in -----------------------------------------------------------------


def record_check_in(appointment: Appointment, answer: str, details: str = ""):
    """Store the patient's answer; a concerning one is flagged for the practitioner and the front desk."""
    return AftercareCheckIn.objects.create(
        appointment=appointment,
        answer=answer,
        details=details.strip(),
        needs_attention=answer in AftercareCheckIn.CONCERNING_ANSWERS,
    )


# --- The desk's "send the health form and consent link" ---------------------------------------------


def send_health_form_link(*, patient, channel: str, by) -> None:
    """Send the patient a signed link to fill in the health form and sign the consent, now, by text or email.

    A one-off the desk sends while the patient is on the phone (their own request, so quiet hours do not
    apply). The link is made and the message handed over in one transaction: if the backend refuses, no
    link exists and the desk sees the error (PermanentDeliveryError, or the backend's). Who sent it is
    recorded on the link (`sent_by`, `channel`)."""
    from bookings.links import Action, make_link

    with transaction.atomic():
        url = make_link(patient=patient, action=Action.HEALTH_FORM, sent_by=by, channel=channel)
        deliver_form_link(patient, channel, url)
