"""The reminder outbox (confirmation, pre-care, reminders, aftercare, follow-up).

Contract (the booking service depends on it; keep the signature):
    sync_reminders(appointment) -> None

Called by every booking service write (book, reschedule, cancel, check in, complete, no-show) inside the
same transaction, after the appointment row is saved. It makes the appointment's reminder rows match its
current state: creates the missing ones, moves unsent ones when the time changed, cancels unsent ones
when the appointment is cancelled. Idempotent. A no-op until the reminders issue lands.
"""


def sync_reminders(appointment) -> None:
    return None
