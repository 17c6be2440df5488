"""The clinic's outbox for notices (`clinic.models.Notice`): emails that are not about one appointment.

`queue_notice` writes the row inside the caller's transaction and sends it once that transaction commits;
a send that fails (the mail server down, a timeout) leaves the row pending with a backoff, and the beat
task `clinic.tasks.send_due_notices` tries again every minute until it is sent or has failed for good. The
same retry policy as the reminders' outbox (`retry_delay`, `REMINDER_MAX_ATTEMPTS`), written here once.
Nothing is lost silently: a notice that failed for good stays in the admin with its last error.
"""

import datetime
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import Notice

logger = logging.getLogger(__name__)


def retry_delay(attempts: int) -> datetime.timedelta:
    """The wait before the next try after `attempts` failed ones: doubling from REMINDER_RETRY_BASE_SECONDS.
    Reminders and notices share it."""
    return datetime.timedelta(seconds=settings.REMINDER_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0))


def queue_notice(*, kind: str, to, subject: str, body: str) -> Notice | None:
    """Owe `to` this email: written now (in the caller's transaction), sent after the commit."""
    recipients = sorted({address for address in to if address})
    if not recipients:
        return None
    notice = Notice.objects.create(kind=kind, to=recipients, subject=subject[:200], body=body)
    transaction.on_commit(lambda: send_notice(notice.pk))
    return notice


def send_notice(notice_id: int, now: datetime.datetime | None = None) -> str:
    """Send one pending notice that is due, at most once: its row is locked (a concurrent sender skips it)
    and marked sent in the transaction that hands the email over. A failure is recorded instead."""
    now = now or timezone.now()
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(skip_locked=True)
            .filter(pk=notice_id, status=Notice.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if notice is None:
            return "skipped"
        try:
            send_mail(notice.subject, notice.body, None, notice.to, fail_silently=False)
        except Exception as error:  # any backend error: recorded and retried, never dropped
            return _record_failure(notice, error, now)
        notice.status, notice.sent_at, notice.last_error = Notice.Status.SENT, timezone.now(), ""
        notice.attempts += 1
        notice.save(update_fields=["status", "sent_at", "attempts", "last_error"])
        return "sent"


def _record_failure(notice: Notice, error: Exception, now: datetime.datetime) -> str:
    notice.attempts += 1
    notice.last_error = f"{type(error).__name__}: {error}"[:2000]
    if notice.attempts >= settings.REMINDER_MAX_ATTEMPTS:
        notice.status = Notice.Status.FAILED
        logger.error("Notice %s failed for good: %s", notice.pk, notice.last_error)
    else:
        notice.next_attempt_at = now + retry_delay(notice.attempts)
        logger.warning("Notice %s failed (attempt %s), retried later: %s", notice.pk, notice.attempts, error)
    notice.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
    return notice.status


def send_due_notices(now: datetime.datetime | None = None, limit: int = 100) -> int:
    """Run by beat every minute: every pending notice whose time has come. Returns how many went out."""
    now = now or timezone.now()
    due = Notice.objects.filter(status=Notice.Status.PENDING, next_attempt_at__lte=now)
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
    return sum(1 for notice_id in ids if send_notice(notice_id, now) == "sent")
