"""Small helpers the feature tests share: clinic-time instants, a practitioner who works every day, a booking
made the way a patient makes one online."""

import datetime
from zoneinfo import ZoneInfo

from bookings import services
from bookings.models import Appointment
from tests.factories import WorkingHoursFactory

LONDON = ZoneInfo("Europe/London")


def at(day, hour, minute=0) -> datetime.datetime:
    """A clinic (London) wall-clock time on a day, as the UTC instant the app stores."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON).astimezone(datetime.UTC)


def soon(minutes=60, *, last_start=datetime.time(22, 45)) -> datetime.datetime:
    """A start on the 15-minute grid at least `minutes` from now, for a practitioner who works 00:00-23:45
    every day (`open_around_the_clock`), on a wall time that exists once and no later than `last_start`:
    what a walk-in or a same-day call asks for, whatever the hour the test runs."""
    from django.utils import timezone

    from bookings.availability import local_to_utc

    earliest = timezone.now() + datetime.timedelta(minutes=minutes)
    wall = earliest.astimezone(LONDON).replace(second=0, microsecond=0, tzinfo=None)
    wall += datetime.timedelta(minutes=(-wall.minute) % 15)
    while True:
        if wall.time() > last_start:
            wall = datetime.datetime.combine(wall.date() + datetime.timedelta(days=1), datetime.time(0))
        start = local_to_utc(wall.date(), wall.time(), LONDON)
        if start is not None and start >= earliest:
            return start
        wall += datetime.timedelta(minutes=15)


def open_around_the_clock(practitioner):
    """Working hours 00:00-23:45 every day, so a test can book 'soon' at any hour."""
    for weekday in range(7):
        WorkingHoursFactory(
            practitioner=practitioner, weekday=weekday, start=datetime.time(0), end=datetime.time(23, 45)
        )
    return practitioner


def open_every_day(practitioner, start=9, end=17):
    for weekday in range(7):
        WorkingHoursFactory(
            practitioner=practitioner, weekday=weekday, start=datetime.time(start), end=datetime.time(end)
        )
    return practitioner


def book_online(patient, treatment, practitioner, start_at, **kwargs):
    """Through the booking service, as the patient, online (override `booked_by` or `source` for the desk)."""
    kwargs.setdefault("booked_by", patient.user)
    kwargs.setdefault("source", Appointment.Source.ONLINE)
    return services.book_appointment(
        patient=patient, treatment=treatment, practitioner=practitioner, start_at=start_at, **kwargs
    )


def set_clock(monkeypatch, now: datetime.datetime) -> None:
    """The app's 'now' (every `timezone.now()`) for the rest of a test: the clinic's day at a chosen instant."""
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: now)


def rows_written(tables) -> int | None:
    """How many rows of these tables this transaction has inserted, updated or deleted so far, by PostgreSQL's
    own counts for the transaction (rows written and taken back again included); None where the database
    keeps no such count (SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_stat_get_xact_tuples_inserted(t) + pg_stat_get_xact_tuples_updated(t)"
            " + pg_stat_get_xact_tuples_deleted(t)), 0) FROM unnest(%s::regclass[]) AS t",
            [list(tables)],
        )
        return cursor.fetchone()[0]


class WriteWatch:
    """Whether a request wrote to `tables`, for the "nothing written" checks (tests/test_hostile_input.py,
    tests/test_permission_matrix.py). Made just before the request, inside a transaction: the count of rows
    written (`rows_written`) and a savepoint. When the count has not moved, the request wrote none of them
    and nothing is read; when it has (or there is no count), the data is read as it is, then as it was before
    the request, its savepoint rolled back. Reading it for every request was a third of a hostile-input
    example's time and a fifth of the permission matrix's."""

    def __init__(self, tables):
        from django.db import transaction

        self.tables = list(tables)
        self.written = rows_written(self.tables)
        self.savepoint = transaction.savepoint()

    def before_and_after(self, read) -> tuple | None:
        """None if the request wrote no row of the tables, else (read() before the request, read() now): the
        request's writes are rolled back."""
        from django.db import transaction

        if self.written is not None and rows_written(self.tables) == self.written:
            return None
        after = read()
        transaction.savepoint_rollback(self.savepoint)
        return read(), after
