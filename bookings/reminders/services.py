"""Writes to the reminder outbox: keeping rows in step with their appointment, claiming due rows, sending one.

The delivery guarantee (docs/reminders.md, 'Guarantees'): the attempt is recorded and committed before the
message is handed to the email or SMS backend, and the row is marked sent after. A crash in between leaves
the attempt on record; once its lease runs out the row is claimed again and resolved from evidence (the
SMS provider's record; for email the same Message-ID), or shown to the desk as 'delivery uncertain'.
Duplicated or retried tasks find the row no longer `queued` and send nothing.
"""

import datetime
import logging

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from bookings.models import AftercareCheckIn, Appointment, Reminder, ReminderChannel
from bookings.reminders import messages, timing
from bookings.reminders.messages import PermanentDeliveryError
from clinic import notices, sms
from clinic.models import Notice
from clinic.notices import retry_delay
from clinic.sms import NoEvidence, get_sms_backend

logger = logging.getLogger(__name__)
Status = Reminder.Status


def lease() -> datetime.timedelta:
    """How long a claimed row waits for its send task before the dispatcher may claim it again."""
    return datetime.timedelta(seconds=settings.REMINDER_LEASE_SECONDS)


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
        if reminder.kind == timing.Kind.CANCELLED:  # not on the timeline: queued by announce_cancellation
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


def announce_cancellation(appointment: Appointment) -> None:
    """Queue 'your appointment is cancelled' (email with the cancelled calendar event, and a text if the
    patient takes texts), due now. Called by the booking service in the cancelling transaction."""
    now = timezone.now()
    for channel in timing.channels_for(appointment.patient, timing.CANCELLED):
        Reminder.objects.get_or_create(
            appointment=appointment,
            kind=timing.Kind.CANCELLED,
            channel=channel,
            defaults={"due_at": now, "next_attempt_at": now},
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


def dispatch_due_reminders(enqueue, batch_size: int | None = None, max_batches: int = 20, now=None) -> int:
    """Claim due reminders batch by batch and hand each id to `enqueue` (the send task's publisher) once
    the claim has committed. Returns how many were claimed.

    If the broker refuses a message, the rest stay claimed and the lease brings them back to a run after
    the broker has recovered. Bookings never wait for the broker: they only write rows.
    """
    batch_size = batch_size or settings.REMINDER_DISPATCH_BATCH
    claimed = 0
    for _ in range(max_batches):
        broker_ok = []
        with transaction.atomic():
            ids = claim_due_reminders(batch_size, now)
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


def send_reminder(reminder_id: int, now: datetime.datetime | None = None) -> str:
    """Send one claimed reminder, at most once per claim, and say what happened.

    1. Under the row's lock (SKIP LOCKED: a second copy of the task leaves at once) the row must still be
       `queued` and due; the message is rendered and the attempt recorded (`sending`, when, a digest of
       what goes) and COMMITTED before anything leaves.
    2. The message is handed to the backend, outside any transaction.
    3. The row becomes `sent` (with the provider's id), or records the backend's refusal for a retry.
    A crash between 1 and 3 leaves a `sending` row whose lease runs out; when it is claimed again,
    `_resolve_interrupted` decides from evidence instead of resending blindly.
    """
    now = now or timezone.now()
    with transaction.atomic():
        reminder = _lock_queued(reminder_id, now)
        if isinstance(reminder, str):
            return reminder
        appointment = reminder.appointment
        if not timing.wanted(appointment, reminder.kind):
            _cancel(reminder, f"not sent: the appointment is {appointment.get_status_display().lower()}")
            return "cancelled"
        if not timing.patient_accepts(appointment.patient, reminder.kind, reminder.channel):
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
        held_until = reminder.channel == ReminderChannel.SMS and timing.quiet_until(now)
        if held_until and not timing.triggered_by_patient(appointment, reminder.kind):
            reminder.status, reminder.next_attempt_at = Status.PENDING, held_until  # held, never dropped
            reminder.save(update_fields=["status", "next_attempt_at", "updated_at"])
            return "held: quiet hours"
        note = ""
        if reminder.attempt_started_at is not None:
            outcome = _resolve_interrupted(reminder, now)
            if outcome is not None:
                return outcome
            note = reminder.last_error  # sent again: say so on the row
        try:
            outgoing = messages.prepare(reminder)
        except Exception as error:  # no address, a template error: recorded, retried or failed, never lost
            return _record_failure(reminder, error, now)
        reminder.status = Status.SENDING
        reminder.attempt_started_at = now
        reminder.attempt_digest = outgoing.digest
        reminder.next_attempt_at = now + lease()
        reminder.save(
            update_fields=[
                "status",
                "attempt_started_at",
                "attempt_digest",
                "next_attempt_at",
                "last_error",
                "updated_at",
            ]
        )
    try:
        provider_ref = messages.hand_over(outgoing)
    except Exception as error:  # the backend refused it: nothing went out
        with transaction.atomic():
            reminder = Reminder.objects.select_for_update().get(pk=reminder_id)
            if reminder.status != Status.SENDING:
                return "not sent; the row changed meanwhile"
            reminder.attempt_started_at, reminder.attempt_digest = None, ""
            reminder.save(update_fields=["attempt_started_at", "attempt_digest", "updated_at"])
            return _record_failure(reminder, error, now)
    marked = Reminder.objects.filter(pk=reminder_id, status=Status.SENDING).update(
        status=Status.SENT,
        sent_at=timezone.now(),
        attempts=F("attempts") + 1,
        last_error=note,
        attempt_started_at=None,
        provider_ref=provider_ref,
        updated_at=timezone.now(),
    )
    return "sent" if marked else "sent; the row was moved or cancelled meanwhile and resolves from evidence"


def _lock_queued(reminder_id: int, now) -> Reminder | str:
    locked = (
        Reminder.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("appointment__patient__user", "appointment__treatment", "appointment__practitioner__user")
        .select_related("appointment__room__site")
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
    return reminder


INTERRUPTED = "The worker stopped while handing this message over"


def _resolve_interrupted(reminder: Reminder, now) -> str | None:
    """A hand-over was interrupted (the worker died after recording the attempt). Decide from evidence:

    - text: ask the provider for the message (by number, time and body digest). Found: it went, so the
      row is `sent`. Not found: it never left, so send it now. A backend that keeps no record the app can
      ask (file, console): `uncertain`, shown on the desk's patient page with "send again".
    - email: SMTP gives no evidence. The message is sent again with the same Message-ID, so a mail client
      that got the first copy shows one; the row says so.
    Returns the outcome, or None to send (again) now.
    """
    if reminder.channel == ReminderChannel.SMS:
        try:
            evidence = get_sms_backend().look_up(
                to=reminder.appointment.patient.phone, digest=reminder.attempt_digest, since=reminder.attempt_started_at
            )
        except NoEvidence:
            reminder.status = Status.UNCERTAIN
            reminder.last_error = f"{INTERRUPTED}; this text service keeps no record to check. It may have gone."
            reminder.save(update_fields=["status", "last_error", "updated_at"])
            logger.warning("Reminder %s: delivery uncertain after an interrupted hand-over", reminder.pk)
            return "uncertain"
        except Exception as error:  # the provider cannot be asked right now: ask again later
            return _record_failure(reminder, error, now)
        if evidence is not None:
            reminder.status, reminder.sent_at = Status.SENT, reminder.attempt_started_at
            reminder.attempts += 1
            reminder.provider_ref = evidence.provider_ref
            if evidence.status:
                reminder.provider_status, reminder.provider_status_at = evidence.status, now
            reminder.attempt_started_at, reminder.last_error = None, ""
            reminder.save()
            return "sent (found at the provider after an interrupted hand-over)"
        reminder.last_error = f"{INTERRUPTED}; the provider has no such message, so it was sent again."
        return None
    reminder.last_error = f"{INTERRUPTED}; sent again with the same Message-ID (the patient may see it twice)."
    return None


def send_again(reminder: Reminder) -> bool:
    """For the desk: a reminder whose delivery is uncertain goes again (email keeps its Message-ID)."""
    now = timezone.now()
    return bool(
        Reminder.objects.filter(pk=reminder.pk, status=Status.UNCERTAIN).update(
            status=Status.PENDING, attempt_started_at=None, attempt_digest="", next_attempt_at=now, updated_at=now
        )
    )


def _record_failure(reminder: Reminder, error: Exception, now: datetime.datetime) -> str:
    reminder.attempts += 1
    reminder.last_error = f"{type(error).__name__}: {error}"[:2000]
    max_attempts = settings.REMINDER_MAX_ATTEMPTS
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


def send_health_form_link(*, patient, channel: str, by) -> Notice:
    """Send the patient a signed link to fill in the health form and sign the consent, by text or email.

    A one-off the desk sends while the patient is on the phone (their own request, so quiet hours do not
    apply). Nowhere to send it (no number, a placeholder address) raises PermanentDeliveryError and makes
    nothing. Otherwise the link and its message (a `Notice`, linked from the link) are written in one
    transaction and the message is handed over right after the commit; a text service or mail server that
    refuses leaves it to the outbox's retries. Returns the notice as it stands after that first try, for the
    desk to see. Who sent it is recorded on the link (`sent_by`, `channel`)."""
    from bookings.links import Action, new_link

    to = messages.form_link_address(patient, channel)
    with transaction.atomic():
        link, url = new_link(patient=patient, action=Action.HEALTH_FORM, sent_by=by, channel=channel)
        notice = messages.queue_form_link(patient, channel, url, to=to)
        link.notice = notice
        link.save(update_fields=["notice"])
    notices.send_notice(notice.pk)
    return Notice.objects.get(pk=notice.pk)


# --- What the SMS provider tells us afterwards ---------------------------------------------------------


def record_provider_status(*, reference: str, provider_ref: str, status: str, error_code: str = "") -> bool:
    """A status callback: recorded on the outbox row found by the provider's id, or by our reference (the
    row's id, in the callback URL) when the worker died before saving the provider's id; a notice's text
    (reference `notice-<id>`) is the notices' outbox's to record. It is also the evidence that settles an
    interrupted hand-over: the provider has the message, so the row is sent. Returns whether a row was found."""
    status = (status or "").lower()[:20]
    if reference.startswith("notice-") and reference.removeprefix("notice-").isdigit():
        return notices.record_provider_status(
            notice_id=int(reference.removeprefix("notice-")),
            provider_ref=provider_ref,
            status=status,
            error_code=error_code,
        )
    now = timezone.now()
    with transaction.atomic():
        rows = Reminder.objects.select_for_update().filter(channel=ReminderChannel.SMS)
        reminder = rows.filter(provider_ref=provider_ref).first() if provider_ref else None
        if reminder is None and reference.isdigit():
            reminder = rows.filter(pk=int(reference)).first()
        if reminder is None:
            return False
        changed = ["provider_ref", "provider_status", "provider_status_at", "updated_at"]
        reminder.provider_ref = reminder.provider_ref or provider_ref[:64]
        if sms.status_moves_on(reminder.provider_status, status):
            reminder.provider_status, reminder.provider_status_at = status, now
            if status in sms.PROVIDER_FAILURES:
                reminder.last_error = sms.failure_text(status, error_code)
                changed.append("last_error")
        if reminder.attempt_started_at is not None and reminder.status != Status.SENT:
            reminder.status, reminder.sent_at = Status.SENT, reminder.attempt_started_at
            reminder.attempt_started_at = None
            reminder.attempts += 1
            changed += ["status", "sent_at", "attempt_started_at", "attempts"]
        reminder.save(update_fields=changed)
    return True
