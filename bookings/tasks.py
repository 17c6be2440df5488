"""Celery tasks of the reminder outbox. Short tasks only: nothing waits on the broker with an ETA."""

from celery import shared_task

from bookings.reminders import services


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
    import datetime

    from bookings import waitlist

    return len(waitlist.offer_freed_slot(treatment_id, practitioner_id, datetime.datetime.fromisoformat(start_at)))


@shared_task(ignore_result=True)
def sweep_waitlist_offers() -> int:
    """Run by beat every 5 minutes: lapsed waitlist offers go to the next waiters, and freed times whose
    offer task was lost with the broker are offered."""
    from bookings import waitlist

    return waitlist.pass_on_lapsed_offers() + waitlist.offer_missed_freed_times()
