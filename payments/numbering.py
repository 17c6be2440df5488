"""Gapless receipt and invoice numbers, per series and year.

The next number is taken from a counter row locked FOR UPDATE inside the transaction that issues the
document. Concurrent payments queue on that row (with a lock timeout, so a stuck transaction makes the
others fail with a clear error instead of hanging); a transaction that rolls back gives its number back
with it, so numbers have no gaps and never repeat. The row is created with INSERT ... ON CONFLICT DO
NOTHING, so two first payments of a new year do not race on creating it.
"""

from django.db import OperationalError, connection, transaction

from clinic import locks

from .models import NumberCounter


class NumberingBusy(Exception):
    """The counter stayed locked longer than the lock timeout."""


def next_number(series: str, year: int) -> int:
    if not connection.in_atomic_block:
        raise RuntimeError("A document number is taken inside the transaction that issues the document.")
    NumberCounter.objects.bulk_create([NumberCounter(series=series, year=year)], ignore_conflicts=True)
    locks.set_lock_timeout()
    try:
        with transaction.atomic():
            counter = NumberCounter.objects.select_for_update().get(series=series, year=year)
    except OperationalError as error:
        if locks.timed_out(error):
            raise NumberingBusy("Receipt numbering is busy: please try again.") from error
        raise
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number
