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
per kind of change, each failing without its trigger). A day kept already is checked by the values of the
names it read alone (no appointment read to learn the patients again: `state` says why that is enough).

What depends on the moment (the cells from now on, the "now" line) is left out of what is kept and put in
at each request (`Kept.html`). The page around the grid is kept with it (`page_for`), once for each thing it
depends on besides the grid (who asks: the navigation for their roles, their sites; the address asked for;
today), with a hole for the request's CSRF token: a reload that finds nothing changed renders no template.
A page written for one request alone (a message to show once, a panel opened by the address) is not kept.
On SQLite (no triggers) nothing is kept.
"""

import bisect
import datetime
import hashlib
import operator
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from django.core.signals import setting_changed
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
    # First the values of the names read last time (`kept`): equal to what they were, nothing shown changed
    # and the rest is never run (a one-time filter: no appointment read). Otherwise the names anew, each
    # found through the primary key (`= ANY`: joined to them instead, PostgreSQL hashed them and read the
    # whole table, 9 ms instead of 3.5 on the bench clinic).
    return f"""
WITH kept AS MATERIALIZED (
    SELECT md5(string_agg(k.scope || '=' || k.value, ',' ORDER BY k.scope)) AS digest
    FROM {scopes} AS k WHERE k.scope = ANY(%s::text[])
), names AS MATERIALIZED (
    SELECT ARRAY(
        SELECT %s::text
        UNION SELECT 'time-off:' || d FROM unnest(%s::text[]) AS d
        UNION SELECT 'room:' || r.id || ':' || d FROM {rooms} AS r CROSS JOIN unnest(%s::text[]) AS d
        UNION SELECT 'patient:' || a.patient_id FROM {appointments} AS a
            WHERE a.start_at < %s AND a.busy_until > %s AND a.start_at >= %s
    ) AS names
    WHERE (SELECT digest FROM kept) IS DISTINCT FROM %s
)
SELECT max(CASE WHEN s.scope = %s THEN s.value END),
    md5(string_agg(s.scope || '=' || s.value, ',' ORDER BY s.scope)), (SELECT names FROM names)
FROM {scopes} AS s
WHERE s.scope = ANY(CAST((SELECT names FROM names) AS text[]))
"""


@dataclass(frozen=True)
class State:
    """What one state read found: the "clinic" value (None if its row is lost), a digest of every (scope,
    value) of `names`, the scopes the day view depends on (absent rows included: a first bump is a change)."""

    clinic: int | None
    digest: str | None
    names: list


def state(start_at: datetime.datetime, end_at: datetime.datetime, known: State | None = None) -> State:
    """The state of what a day view reads that touches [start_at, end_at) (the appointments as
    `selectors.appointments_between` reads them, the time off, working hours and set-up of that range): `known`
    itself if none of its scopes changed since, else read anew. One query.

    Unchanged values of `known.names` mean unchanged names too, so the appointments need not be read again to
    learn the patients: the patients named are those of every appointment starting in the range's dates whose
    `busy_until` is past its start (the rows the view reads, and the few whose buffer alone reaches into it:
    `busy_until >= end_at`, a check in the database), and such a row comes into that set only by an insert or
    a new start or `busy_until`, which bumps its room's scope on its new start's date (named: every room's on
    every date of the range; a new room bumps "clinic"); it leaves it, or changes patient, only by a write
    that bumps its old patient's (named)."""
    lower = start_at - LONGEST_APPOINTMENT
    dates = [day.isoformat() for day in availability.utc_dates(lower, end_at)]
    kept_names, kept_digest = (known.names, known.digest) if known is not None else ([], "")
    with connection.cursor() as cursor:
        cursor.execute(
            _state_sql(),
            [kept_names, CLINIC_SCOPE, dates, dates, end_at, start_at, lower, kept_digest, CLINIC_SCOPE],
        )
        clinic, digest, names = cursor.fetchone()
    if known is not None and names is None:  # the one-time filter held: nothing read anew
        return known
    return State(clinic, digest, names)


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


@dataclass
class Day:
    """A day view kept for one `state`: its `grid`, and the pages around it (`pages`, None when nothing may be
    kept: SQLite, a lost "clinic" row), each filed under what the page depends on besides the grid."""

    state: State | None
    grid: Kept
    pages: OrderedDict | None = None


def day_for(key_parts: tuple, start_at, end_at, build) -> Day:
    """The day view: kept if this process has it for the state read now, else `build(catalogue)` (the
    availability catalogue of that state when this process holds it, else None), kept for the next request.
    `key_parts`: everything else the grid depends on (the day, the view, the sites and their clocks, the poll
    URL, today's date). One query, whether kept or not."""
    if connection.vendor != "postgresql":  # no triggers: nothing kept
        return Day(None, build(None))
    key = hashlib.sha256(repr(key_parts).encode()).hexdigest()
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
    read = state(start_at, end_at, found.state if found is not None else None)
    if found is not None and read is found.state:
        return found
    if read.clinic is None:  # a lost "clinic" row: answered, not kept (availability puts it back)
        return Day(None, build(None))
    day = Day(read, build(availability.held_catalogue(read.clinic)), OrderedDict())
    with _lock:
        _kept[key] = day
        _kept.move_to_end(key)
        while len(_kept) > KEEP:
            _kept.popitem(last=False)
    return day


def forget(**kwargs) -> None:
    """Empty this process's kept days (tests start each from nothing: a rolled-back test rolls the scope
    values back too; a change of settings may change any page)."""
    with _lock:
        _kept.clear()


setting_changed.connect(forget, dispatch_uid="bookings.frontdesk.day_cache.forget")


PAGES_A_DAY = 8  # pages kept around one kept grid: one a desk user, view and site choice (~10 KB each)
GRID_HOLE = f"{grid.DEFERRED}page:grid\x00"  # where the page around a kept grid holds it
CSRF_HOLE = f"{grid.DEFERRED}page:csrf\x00"  # and the request's CSRF token (safe in HTML: nothing escaped)
_PAGE_HOLE = re.compile(f"({re.escape(GRID_HOLE)}|{re.escape(CSRF_HOLE)})")


@dataclass(frozen=True)
class Page:
    """A page rendered around a kept grid with holes for the grid and the request's CSRF token: `texts`
    around `holes` (GRID_HOLE or CSRF_HOLE)."""

    texts: tuple
    holes: tuple

    def html(self, grid_html: str, csrf_token: str) -> str:
        parts = [self.texts[0]]
        for hole, text in zip(self.holes, self.texts[1:], strict=True):
            parts.append(grid_html if hole == GRID_HOLE else csrf_token)
            parts.append(text)
        return "".join(parts)


def page_for(day: Day, key: tuple, render) -> Page | None:
    """The page around `day`'s grid for `key` (everything the page depends on besides the grid and the
    token: who asks, what they asked for), rendered by `render()` with GRID_HOLE for the grid and CSRF_HOLE
    for the token the first time, then kept with the day (a new state renders it again). None when nothing
    may be kept (`day.pages` is None)."""
    if day.pages is None:
        return None
    with _lock:
        found = day.pages.get(key)
        if found is not None:
            day.pages.move_to_end(key)
            return found
    pieces = _PAGE_HOLE.split(render())
    assert pieces.count(GRID_HOLE) == 1, "the page holds the grid once"
    page = Page(tuple(pieces[0::2]), tuple(pieces[1::2]))
    with _lock:
        day.pages[key] = page
        while len(day.pages) > PAGES_A_DAY:
            day.pages.popitem(last=False)
    return page


def today_parts() -> tuple:
    """What a grid depends on of the date: clearances and washouts end with a day (the clinic's)."""
    from django.utils import timezone

    return (clock.today(), timezone.localdate(), timezone.get_current_timezone_name())
