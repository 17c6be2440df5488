"""The clinic's outbox for notices (`clinic.models.Notice`): messages that are not about one appointment
(staff notices, review decisions, the welcome after sign-up, the desk's health form link by email or text).

`queue_notice` writes the row inside the caller's transaction and sends it once that transaction commits;
a send that fails (the mail server down, the text service refusing) leaves the row pending with a backoff,
and the beat task `clinic.tasks.send_due_notices` tries again every minute until it is sent or has failed
for good. The same retry policy as the reminders' outbox (`retry_delay`, `REMINDER_MAX_ATTEMPTS`), written
here once, and the same guarantee across a crash (docs/reminders.md, 'Guarantees'): the attempt is recorded
and committed (`sending`, with a lease) before the message is handed to the backend, and marked sent after.
A row found still `sending` once its lease is over was interrupted in the hand-over and is resolved from
evidence: a text is looked up at the provider (found: sent; not found: sent now; a backend with no record:
`uncertain`, shown to the desk); an email goes again with the same Message-ID. Nothing is lost silently: a
notice that failed for good stays in the admin with its last error.
"""

import datetime
import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from . import sms
from .models import Notice

logger = logging.getLogger(__name__)
Status = Notice.Status
INTERRUPTED = "The worker stopped while handing this message over"


def retry_delay(attempts: int) -> datetime.timedelta:
    """The wait before the next try after `attempts` failed ones: doubling from REMINDER_RETRY_BASE_SECONDS.
    Reminders and notices share it."""
    return datetime.timedelta(seconds=settings.REMINDER_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def lease() -> datetime.timedelta:
    """How long a hand-over may take before the row counts as interrupted (the reminders' lease)."""
    return datetime.timedelta(seconds=settings.REMINDER_LEASE_SECONDS)


def queue_notice(
    *,
    kind: str,
    to,
    subject: str,
    body: str,
    patient=None,
    channel=Notice.Channel.EMAIL,
    body_after_sending="",
    send_after_commit=True,
) -> Notice | None:
    """Owe `to` this message: written now (in the caller's transaction), sent after the commit. For a text,
    `to` is one phone number and `subject` is only for the admin. `body_after_sending`: what the row keeps
    once the message is out, when the body holds something that must not be kept (a signed link's token).
    `send_after_commit=False`: the caller calls `send_notice` itself once its transaction has committed
    (to tell someone at once how it went)."""
    recipients = sorted({address for address in to if address})
    if not recipients:
        return None
    notice = Notice.objects.create(
        kind=kind,
        channel=channel,
        to=recipients,
        patient=patient,
        subject=subject[:200],
        body=body,
        body_after_sending=body_after_sending,
    )
    if send_after_commit:
        transaction.on_commit(lambda: _send_after_commit(notice.pk))
    return notice


def _send_after_commit(notice_id: int) -> None:
    try:
        send_notice(notice_id)
    except Exception:  # the change it tells of has committed; the beat tries again
        logger.exception("Notice %s could not be sent after the commit; the beat tries again", notice_id)


def message_id(notice: Notice) -> str:
    """The same Message-ID on every try of one notice: mail clients fold a rare duplicate into one."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "clinic.example"
    return f"<notice-{notice.pk}@{domain}>"


def reference(notice: Notice) -> str:
    """The notice's reference at the text service (in the status callback's URL): never a reminder's id."""
    return f"notice-{notice.pk}"


def _email(notice: Notice) -> EmailMessage:
    return EmailMessage(
        subject=notice.subject,
        body=notice.body,
        to=list(notice.to),
        reply_to=[settings.CLINIC["EMAIL"]],
        headers={"Message-ID": message_id(notice), "X-Clinic-Notice": str(notice.pk)},
    )


def _digest(notice: Notice) -> str:
    if notice.channel == Notice.Channel.SMS:
        return sms.body_digest(notice.body)
    return sms.body_digest(f"{message_id(notice)}\n{notice.body}")


def _hand_over(notice: Notice) -> str:
    """Give the message to the backend; returns the provider's id ("" if none). Raises when not accepted."""
    if notice.channel == Notice.Channel.SMS:
        return sms.get_sms_backend().send(notice.to[0], notice.body, reference=reference(notice)) or ""
    _email(notice).send(fail_silently=False)
    return ""


# What the row keeps once the message is out: the body without a signed link's token, when one was given.
KEPT_BODY = Coalesce(NullIf(F("body_after_sending"), Value("")), F("body"))


def send_notice(notice_id: int, now: datetime.datetime | None = None) -> str:
    """Send one due notice, at most once per attempt, and say what happened (see the module's docstring)."""
    now = now or timezone.now()
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(skip_locked=True)
            .filter(pk=notice_id, status__in=(Status.PENDING, Status.SENDING), next_attempt_at__lte=now)
            .first()
        )
        if notice is None:
            return "skipped"
        note = ""
        if notice.attempt_started_at is not None:
            outcome = _resolve_interrupted(notice, now)
            if outcome is not None:
                return outcome
            note = notice.last_error
        notice.status, notice.attempt_started_at, notice.attempt_digest = Status.SENDING, now, _digest(notice)
        notice.next_attempt_at = now + lease()
        notice.save(update_fields=["status", "attempt_started_at", "attempt_digest", "next_attempt_at", "last_error"])
    try:
        provider_ref = _hand_over(notice)
    except Exception as error:  # the backend refused it: nothing went out
        with transaction.atomic():
            notice = Notice.objects.select_for_update().get(pk=notice_id)
            if notice.status != Status.SENDING:
                return "not sent; the row changed meanwhile"
            notice.attempt_started_at, notice.attempt_digest = None, ""
            return _record_failure(notice, error, now)
    Notice.objects.filter(pk=notice_id, status=Status.SENDING).update(
        status=Status.SENT,
        sent_at=timezone.now(),
        attempts=F("attempts") + 1,
        last_error=note,
        attempt_started_at=None,
        provider_ref=provider_ref[:64],
        body=KEPT_BODY,
    )
    return "sent"


def _resolve_interrupted(notice: Notice, now) -> str | None:
    """The last hand-over was interrupted. Returns the outcome, or None to send (again) now."""
    if notice.channel == Notice.Channel.SMS:
        try:
            evidence = sms.get_sms_backend().look_up(
                to=notice.to[0], digest=notice.attempt_digest, since=notice.attempt_started_at
            )
        except sms.NoEvidence:
            notice.status = Status.UNCERTAIN
            notice.last_error = f"{INTERRUPTED}; this text service keeps no record to check. It may have gone."
            notice.body = notice.body_after_sending or notice.body
            notice.save(update_fields=["status", "last_error", "body"])
            logger.warning("Notice %s: delivery uncertain after an interrupted hand-over", notice.pk)
            return "uncertain"
        except Exception as error:  # the provider cannot be asked right now: ask again later
            return _record_failure(notice, error, now)
        if evidence is not None:
            notice.status, notice.sent_at, notice.attempts = Status.SENT, notice.attempt_started_at, notice.attempts + 1
            notice.provider_ref, notice.provider_status = evidence.provider_ref, evidence.status
            notice.attempt_started_at, notice.last_error = None, ""
            notice.body = notice.body_after_sending or notice.body
            notice.save()
            return "sent (found at the provider after an interrupted hand-over)"
        notice.last_error = f"{INTERRUPTED}; the provider has no such message, so it was sent again."
        return None
    notice.last_error = f"{INTERRUPTED}; sent again with the same Message-ID (it may arrive twice)."
    return None


def _record_failure(notice: Notice, error: Exception, now: datetime.datetime) -> str:
    notice.attempts += 1
    notice.last_error = f"{type(error).__name__}: {error}"[:2000]
    if isinstance(error, sms.PermanentDeliveryError) or notice.attempts >= settings.REMINDER_MAX_ATTEMPTS:
        notice.status = Status.FAILED
        notice.body = notice.body_after_sending or notice.body
        logger.error("Notice %s failed for good: %s", notice.pk, notice.last_error)
    else:
        notice.status = Status.PENDING
        notice.next_attempt_at = now + retry_delay(notice.attempts)
        logger.warning("Notice %s failed (attempt %s), retried later: %s", notice.pk, notice.attempts, error)
    notice.save(
        update_fields=["status", "attempts", "last_error", "next_attempt_at", "body", "attempt_started_at"]
        + ["attempt_digest"]
    )
    return notice.status


def record_provider_status(*, notice_id: int, provider_ref: str, status: str, error_code: str = "") -> bool:
    """A status callback for a notice's text (its reference is in the callback URL). Like the reminders':
    a late 'sent' never overwrites 'delivered', and a callback is the evidence that settles an interrupted
    hand-over. Returns whether a row was found."""
    now = timezone.now()
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id, channel=Notice.Channel.SMS).first()
        if notice is None:
            return False
        notice.provider_ref = notice.provider_ref or provider_ref[:64]
        if sms.status_moves_on(notice.provider_status, status):
            notice.provider_status, notice.provider_status_at = status, now
            if status in sms.PROVIDER_FAILURES:
                notice.last_error = sms.failure_text(status, error_code)
        if notice.attempt_started_at is not None and notice.status != Status.SENT:
            notice.status, notice.sent_at = Status.SENT, notice.attempt_started_at
            notice.attempt_started_at, notice.attempts = None, notice.attempts + 1
            notice.body = notice.body_after_sending or notice.body
        notice.save()
    return True


def send_due_notices(now: datetime.datetime | None = None, limit: int = 100) -> int:
    """Run by beat every minute: every pending notice whose time has come, and every interrupted hand-over
    whose lease is over. Returns how many went out."""
    now = now or timezone.now()
    due = Notice.objects.filter(status__in=(Status.PENDING, Status.SENDING), next_attempt_at__lte=now)
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    return sum(1 for notice_id in ids if send_notice(notice_id, now) == "sent")
