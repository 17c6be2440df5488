"""The desk's day view, kept per process for each state of everything it shows (issue 16).

A busy day's grid (50 columns, ~1,600 cells, ~300 appointments, 400 KB) costs tens of milliseconds to read
and write; the desk reloads it every minute on every screen, and it changes far less often. So the grid is
kept, filed under a name of the state of every row it shows, read in ONE query before anything else
(`state`): the values of the availability scopes (bookings.models.AvailabilityScope) that database triggers
bump whenever such a row is written, in the writing transaction:
- "clinic": the set-up (practitioners, their names and titles, working hours, rooms, sites, treatments,
  closures; migrations 0015, 0018, 0022);
- "room:<id>:<UTC date>" of every room for the dates the day's rows can touch: any appointment written in
  its times, room, practitioner, site or status, at its old and new dates (0020), so one that comes into
  the day or leaves it, is cancelled, checked in, completed, marked a no-show or has its deposit paid;
- "time-off:<UTC date>" of those dates: time off (0026);
- "patient:<id>" of every patient with an appointment in the day's range: any other write to their
  appointments (a confirmation, a cancellation's reason, another treatment), their name, their health
  forms, flags, reviews, pinned alerts, consents and health-form confirmations (0026).
The name holds a digest of every (scope, value) read, not a sum: the set of patients read changes with the
rows. Values only grow, so a write to anything shown gives a name never seen before; the state is read
before the rows, so a kept grid is never older than its name. Rows shown that no scope covers would be
shown stale: a new kind of thing on a card needs its trigger first (tests/test_desk_day_cache.py has a test
per kind of change, each failing without its trigger).

What depends on the moment (the cells from now on, the "now" line) is left out of what is kept and put in
at each request (`Kept.html`); what depends on who asks (the CSRF token, the site switcher, the user's
name) is outside the grid, in the page around it. On SQLite (no triggers) nothing is kept.
"""

import bisect
import datetime
import hashlib
import operator
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.db import connection
from django.utils.safestring import mark_safe

from bookings import availability
from bookings.availability import CLINIC_SCOPE, LONGEST_APPOINTMENT
from bookings.models import Appointment, AvailabilityScope
from clinic import clock
from clinic.models import Room

from . import grid

KEEP = 16  # grids kept per process: ~0.5 MB each on the busiest bench day
_kept: OrderedDict = OrderedDict()
_lock = threading.Lock()

_HOLE = re.compile(re.escape(grid.DEFERRED) + r"(cells|now):(\d+)\x00")


def _state_sql() -> str:
    scopes, rooms, appointments = (
        AvailabilityScope._meta.db_table,
        Room._meta.db_table,
        Appointment._meta.db_table,
    )
    # The names as one array (`= ANY`): each row found through the primary key. Joined to the names instead,
    # PostgreSQL hashed them and read the whole table (9 ms instead of 3.5 on the bench clinic).
    return f"""
SELECT max(CASE WHEN s.scope = %s THEN s.value END), md5(string_agg(s.scope || '=' || s.value, ',' ORDER BY s.scope))
FROM {scopes} AS s
WHERE s.scope = ANY(ARRAY(
    SELECT %s::text
    UNION SELECT 'time-off:' || d FROM unnest(%s::text[]) AS d
    UNION SELECT 'room:' || r.id || ':' || d FROM {rooms} AS r CROSS JOIN unnest(%s::text[]) AS d
    UNION SELECT 'patient:' || a.patient_id FROM {appointments} AS a
        WHERE a.start_at < %s AND a.end_at > %s AND a.start_at >= %s
))
"""


def state(start_at: datetime.datetime, end_at: datetime.datetime) -> tuple[int | None, str | None]:
    """(the "clinic" value, None if its row is lost; a digest of every scope value read) for a day view that
    reads the appointments touching [start_at, end_at) (as `selectors.appointments_between`) and the time
    off, working hours and set-up of that range. One query."""
    lower = start_at - LONGEST_APPOINTMENT
    dates = [day.isoformat() for day in availability.utc_dates(lower, end_at)]
    with connection.cursor() as cursor:
        cursor.execute(_state_sql(), [CLINIC_SCOPE, CLINIC_SCOPE, dates, dates, end_at, start_at, lower])
        return cursor.fetchone()


@dataclass(frozen=True)
class Kept:
    """A rendered grid with holes for what depends on the moment: `texts` around `holes`, each hole
    ("cells", instants in order, markup, offsets of each cell in it) or ("now", window start, window end)."""

    closed: str
    texts: tuple
    holes: tuple

    def html(self, now: datetime.datetime) -> str:
        parts = [self.texts[0]]
        for hole, text in zip(self.holes, self.texts[1:], strict=True):
            if hole[0] == "cells":
                _, instants, markup, offsets = hole
                parts.append(markup[offsets[bisect.bisect_left(instants, now)] :])
            else:
                _, start_at, end_at = hole
                parts.append(grid.now_markup(start_at, end_at, now))
            parts.append(text)
        return mark_safe("".join(parts))  # noqa: S308 - the template's own output, and the cells' (escaped)


def keep_holes(columns) -> None:
    """Mark the columns so that the grid's template writes a hole where their cells and "now" line go."""
    for index, column in enumerate(columns):
        column.deferred = index


def kept_from(rendered: str, columns, closed: str) -> Kept:
    """The `Kept` of a grid rendered from columns marked by `keep_holes`."""
    pieces = _HOLE.split(rendered)
    texts, holes = [pieces[0]], []
    for kind, index, text in zip(pieces[1::3], pieces[2::3], pieces[3::3], strict=True):
        column = columns[int(index)]
        if kind == "cells":
            cells = sorted(column.cells, key=operator.itemgetter(0))  # spans come in order: already sorted
            offsets, at = [], 0
            for _, markup in cells:
                offsets.append(at)
                at += len(markup)
            offsets.append(at)
            holes.append(("cells", [instant for instant, _ in cells], "".join(m for _, m in cells), offsets))
        else:
            holes.append(("now", column.start_at, column.end_at))
        texts.append(text)
    return Kept(closed, tuple(texts), tuple(holes))


def grid_for(key_parts: tuple, start_at, end_at, build) -> Kept:
    """The day view's `Kept` grid: kept if this process has it for the state read now, else
    `build(catalogue)` (the availability catalogue of that state when this process holds it, else None),
    kept for the next request. `key_parts`: everything else the grid depends on (the day, the view, the
    sites and their clocks, the poll URL, today's date)."""
    if connection.vendor != "postgresql":  # no triggers: nothing kept
        return build(None)
    clinic, digest = state(start_at, end_at)
    if clinic is None:  # a lost "clinic" row: answered, not kept (availability puts it back)
        return build(None)
    key = hashlib.sha256(repr((clinic, digest, key_parts)).encode()).hexdigest()
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
            return found
    kept = build(availability.held_catalogue(clinic))
    with _lock:
        _kept[key] = kept
        while len(_kept) > KEEP:
            _kept.popitem(last=False)
    return kept


def forget() -> None:
    """Empty this process's kept grids (tests start each from nothing: a rolled-back test rolls the scope
    values back too)."""
    with _lock:
        _kept.clear()


def today_parts() -> tuple:
    """What a grid depends on of the date: clearances and washouts end with a day (the clinic's)."""
    from django.utils import timezone

    return (clock.today(), timezone.localdate(), timezone.get_current_timezone_name())
