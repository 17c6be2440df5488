"""Row locks: one order, a short wait, and a clear answer when the wait runs out.

- One order: every write about a patient locks the patient's row first (`lock_patient`), then whatever
  else it needs (an offer, an intake, an erasure request). Two writes about one patient then queue on that
  row and can never hold each other's second lock, so they cannot deadlock: the waitlist's confirmation and
  an erasure used to take offer -> entry -> patient and patient -> waitlist rows (tests/test_locks.py races
  the two).
- Several rows of one kind are locked in primary-key order (`lock_objects`, after pretix's helper of the
  same name), so two transactions locking overlapping sets never wait on each other crosswise.
- A short wait: on PostgreSQL the transaction's `lock_timeout` is set to `BOOKING_LOCK_TIMEOUT_MS` before
  its first lock. A request stuck behind a long transaction gives up with `Busy` ("try again in a moment")
  instead of holding a web worker, and PostgreSQL's `deadlock_timeout` never has to step in.
"""

from django.conf import settings
from django.db import OperationalError, connection

from .models import Patient

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout ran out


class Busy(Exception):
    """A lock was not granted within BOOKING_LOCK_TIMEOUT_MS; nothing was changed. The message is for people."""

    message = "Someone else is changing these details right now. Nothing was changed: please try again in a moment."

    def __init__(self, message: str = ""):
        super().__init__(message or self.message)
        self.message = message or self.message


def timed_out(error: BaseException) -> bool:
    """Did this database error come from `lock_timeout`?"""
    return getattr(getattr(error, "__cause__", None), "pgcode", None) == LOCK_NOT_AVAILABLE


def set_lock_timeout() -> None:
    """For the rest of the current transaction (PostgreSQL's SET LOCAL; a no-op elsewhere)."""
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [f"{int(settings.BOOKING_LOCK_TIMEOUT_MS)}ms"]
            )


def lock_objects(queryset) -> list:
    """Lock the rows of `queryset` (one model) in primary-key order, under the lock timeout. Raises `Busy`."""
    set_lock_timeout()
    try:
        return list(queryset.select_for_update().order_by("pk"))
    except OperationalError as error:
        if timed_out(error):
            raise Busy() from error
        raise


def lock_patient(patient) -> Patient:
    """The first lock of every write about a patient (bookings, the waitlist, intake and review, session
    records, erasure): the one lock order. Returns the row as it is now."""
    (locked,) = lock_objects(Patient.objects.filter(pk=patient.pk))
    return locked
