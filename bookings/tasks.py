"""Celery tasks of the reminder outbox and the waitlist. Short tasks only: nothing waits on the broker with an
ETA."""

import datetime
import logging

from celery import shared_task

from bookings import waitlist
from bookings.reminders import services

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def dispatch_due_reminders() -> int:
    """Run by beat every minute: claim due reminders and queue one send task per reminder."""
    return services.dispatch_due_reminders(enqueue=lambda reminder_id: send_reminder.delay(reminder_id))


@shared_task(ignore_result=True, acks_late=True)
def send_reminder(reminder_id: int) -> str:
    """Safe to run twice or concurrently: only the task that finds the row queued sends it."""
    return services.send_reminder(reminder_id)


@shared_task(ignore_result=True, acks_late=True)
def offer_freed_slot(treatment_id: int, practitioner_id: int, start_at: str) -> int:
    """Queued after a cancellation or a move commits. Safe to run twice: each offer is sent once."""
    return len(waitlist.offer_freed_slot(treatment_id, practitioner_id, datetime.datetime.fromisoformat(start_at)))


@shared_task(ignore_result=True)
def sweep_waitlist_offers() -> int:
    """Run by beat every 5 minutes: lapsed waitlist offers go to the next waiters, and freed times whose
    offer task was lost with the broker are offered."""
    return waitlist.pass_on_lapsed_offers() + waitlist.offer_missed_freed_times()


def queue_waitlist_offers(sender, *, treatment_id: int, practitioner_id: int, start_at, **kwargs) -> None:
    """Receiver of `bookings.signals.appointment_freed` (sent after the freeing transaction committed): queue
    the offers. A broker that refuses is logged and the sweep offers the time later; the cancellation stands."""
    try:
        offer_freed_slot.delay(treatment_id, practitioner_id, start_at.astimezone(datetime.UTC).isoformat())
    except Exception:  # the broker is down (kombu raises several kinds)
        logger.warning("The broker refused the waitlist offer of %s with practitioner %s", start_at, practitioner_id)
