"""The reminder outbox (confirmation, pre-care, reminders, aftercare, follow-up).

Contract (the booking service depends on it; keep the signature):
    bookings.reminders.services.sync_reminders(appointment) -> None

Called by every booking service write (book, reschedule, cancel, check in, complete, no-show) inside the
same transaction, after the appointment row is saved. It makes the appointment's reminder rows match its
current state: creates the missing ones, moves unsent ones when the time changed, cancels unsent ones
when the appointment is cancelled. Idempotent. It only writes rows: a booking never waits for the broker.

Where things live: `timing` (the timeline, the one module with the rules), `services` (outbox writes,
dispatcher, sending), `messages` (email and SMS content), `sms` (SMS backends), `selectors` (reads for
pages), `views` (the patient's 3-day check-in form); the Celery tasks are in `bookings/tasks.py`.
This package module imports nothing: import from its modules (an import here would close a cycle
with every module that imports `bookings.reminders.timing`).
"""
