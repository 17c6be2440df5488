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
- "desk:<UTC date>" of those dates: what a card shows beyond availability's columns, bumped on the start
  date of every appointment of the patient it concerns (0028): any other write to an appointment (a
  confirmation, a cancellation's reason, another treatment or patient), the patient's name, their health
  forms, flags, reviews, pinned alerts, consents and health-form confirmations.
So a day reads a few dozen rows whatever it holds (one a room and date, two a date and "clinic", each
found by its primary key), and never the appointments. The name holds a digest of every (scope, value) read. Values only
grow, so a write to anything shown gives a name never seen before; the state is read before the rows, so a
kept grid is never older than its name. Rows shown that no scope covers would be shown stale: a new kind of
thing on a card needs its trigger first (tests/test_desk_day_cache.py has a test per kind of change, each
failing without its trigger).

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
from dataclasses import dataclass, field

from django.core.signals import setting_changed
from django.db import connection
from django.utils.safestring import mark_safe

from bookings import availability
from bookings.availability import CLINIC_SCOPE
from bookings.models import AvailabilityScope
from clinic import clock
from clinic.kept_pages import HoledPage
from clinic.models import LONGEST_APPOINTMENT, Room
from clinic.prepared import execute_prepared

from . import grid

KEEP = 16  # grids kept per process: ~0.5 MB each on the busiest bench day
_kept: OrderedDict = OrderedDict()
_lock = threading.Lock()

_TICK = datetime.timedelta(microseconds=1)  # the instants' resolution
_HOLE = re.compile(re.escape(grid.DEFERRED) + r"(cells|now):(\d+)\x00")


def _state_sql() -> str:
    scopes, rooms = AvailabilityScope._meta.db_table, Room._meta.db_table
    # The names as one array (`= ANY`): each row found through the primary key. Joined to the names instead,
    # PostgreSQL hashed them and read the whole table. $1: "clinic", $2: the dates.
    return f"""
SELECT max(CASE WHEN s.scope = $1 THEN s.value END), md5(string_agg(s.scope || '=' || s.value, ',' ORDER BY s.scope))
FROM {scopes} AS s
WHERE s.scope = ANY(ARRAY(
    SELECT $1
    UNION ALL SELECT kind || d FROM unnest($2::text[]) AS d CROSS JOIN unnest(ARRAY['time-off:', 'desk:']) AS kind
    UNION ALL SELECT 'room:' || r.id || ':' || d FROM {rooms} AS r CROSS JOIN unnest($2::text[]) AS d
))
"""


@dataclass(frozen=True)
class State:
    """What one state read found: the "clinic" value (None if its row is lost), a digest of every (scope,
    value) read."""

    clinic: int | None
    digest: str | None


def state(start_at: datetime.datetime, end_at: datetime.datetime) -> State:
    """The state of what a day view reads that touches [start_at, end_at) (the appointments as
    `selectors.appointments_between` reads them, from `start_at - LONGEST_APPOINTMENT` on, the time off,
    working hours and set-up of that range). One query, of one scope row a room and date and two a date
    whatever the day holds: each row the view reads bumps one of those on its start's date when written."""
    dates = [day.isoformat() for day in availability.utc_dates(start_at - LONGEST_APPOINTMENT, end_at)]
    with connection.cursor() as cursor:
        # Prepared once a connection: planning it cost about as much of the server's time as running it.
        execute_prepared(cursor, "desk_day_state", _state_sql(), ("text", "text[]"), [CLINIC_SCOPE, dates])
        return State(*cursor.fetchone())


@dataclass(frozen=True)
class Kept:
    """A rendered grid with holes for what depends on the moment: `texts` around `holes`, each hole
    ("cells", instants in order, markup, offsets of each cell in it) or ("now", window start, window end).
    Kept encoded (UTF-8 bytes, the offsets in bytes): a reload hands out slices of the kept bytes
    (`pieces`), joined once into the response, instead of joining 400 KB of text and encoding it again
    (about half a millisecond a reload of the busiest bench day: the page holds non-ASCII characters, so
    Python's text is two bytes a character and its encoding is no copy)."""

    closed: str
    texts: tuple
    holes: tuple
    # The grid last written and the instants it holds for, [from, until): (from, until, bytes, ETag). The cells
    # shown and the "now" line change only at a cell's start and a row's (every 5 minutes), so the reloads
    # between two such instants hand out the same bytes, written once (50 columns' holes a reload before).
    moment: list = field(default_factory=lambda: [None], compare=False, repr=False)

    def pieces(self, now: datetime.datetime) -> list:
        """The grid as it reads at `now`, as a list of bytes (for `HoledPage.body`)."""
        return [self.written(now)[0]]

    def written(self, now: datetime.datetime) -> tuple:
        """(the grid's bytes as it reads at `now`, their `ETag`): the tag is a digest of the bytes themselves
        (worked out once a moment), so two reloads get the same tag only for the same bytes."""
        held = self.moment[0]
        if held is not None and held[0] <= now < held[1]:
            return held[2], held[3]
        parts = [self.texts[0]]
        since, until = (
            datetime.datetime.min.replace(tzinfo=datetime.UTC),
            datetime.datetime.max.replace(tzinfo=datetime.UTC),
        )
        for hole, text in zip(self.holes, self.texts[1:], strict=True):
            if hole[0] == "cells":
                _, instants, markup, offsets = hole
                first = bisect.bisect_left(instants, now)  # the first cell at or after now
                parts.append(markup[offsets[first] :])
                # The same cells while instants[first - 1] < now <= instants[first].
                if first:
                    since = max(since, instants[first - 1] + _TICK)
                if first < len(instants):
                    until = min(until, instants[first] + _TICK)
            else:
                _, start_at, end_at = hole
                parts.append(grid.now_markup(start_at, end_at, now).encode())
                # The same line (or none) within the row now falls in, before the window, or after it.
                if now < start_at:
                    until = min(until, start_at)
                elif now < end_at:
                    row_start = start_at + (now - start_at) // grid.STEP * grid.STEP
                    since, until = max(since, row_start), min(until, row_start + grid.STEP, end_at)
                else:
                    since = max(since, end_at)
            parts.append(text)
        written = b"".join(parts)
        etag = f'"{hashlib.md5(written, usedforsecurity=False).hexdigest()}"'
        self.moment[0] = (since, until, written, etag)  # one assignment: a thread reads the old or the new
        return written, etag

    def html(self, now: datetime.datetime) -> str:
        """The grid as text, for a page rendered for one request alone (a message, an opened panel)."""
        return mark_safe(b"".join(self.pieces(now)).decode())  # noqa: S308 - the template's own output, and the cells' (escaped)


def keep_holes(columns) -> None:
    """Mark the columns so that the grid's template writes a hole where their cells and "now" line go."""
    for index, column in enumerate(columns):
        column.deferred = index


def kept_from(rendered: str, columns, closed: str) -> Kept:
    """The `Kept` of a grid rendered from columns marked by `keep_holes`."""
    pieces = _HOLE.split(rendered)
    texts, holes = [pieces[0].encode()], []
    for kind, index, text in zip(pieces[1::3], pieces[2::3], pieces[3::3], strict=True):
        column = columns[int(index)]
        if kind == "cells":
            cells = sorted(column.cells, key=operator.itemgetter(0))  # spans come in order: already sorted
            encoded = [markup.encode() for _, markup in cells]
            offsets, at = [], 0
            for markup in encoded:
                offsets.append(at)
                at += len(markup)
            offsets.append(at)
            markup = memoryview(b"".join(encoded))  # sliced without a copy
            holes.append(("cells", [instant for instant, _ in cells], markup, offsets))
        else:
            holes.append(("now", column.start_at, column.end_at))
        texts.append(text.encode())
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
    read = state(start_at, end_at)
    if found is not None and read == found.state:
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


def page_for(day: Day, key: tuple, render) -> HoledPage | None:
    """The page around `day`'s grid for `key` (everything the page depends on besides the grid and the
    token: who asks, what they asked for), rendered by `render()` with `kept_pages.CONTENT_HOLE` for the grid
    and `CSRF_HOLE` for the token the first time (clinic/kept_pages.py), then kept with the day (a new state
    renders it again). None when nothing may be kept (`day.pages` is None)."""
    if day.pages is None:
        return None
    with _lock:
        found = day.pages.get(key)
        if found is not None:
            day.pages.move_to_end(key)
            return found
    page = HoledPage.cut(render())
    with _lock:
        day.pages[key] = page
        while len(day.pages) > PAGES_A_DAY:
            day.pages.popitem(last=False)
    return page


def today_parts() -> tuple:
    """What a grid depends on of the date: clearances and washouts end with a day (the clinic's)."""
    from django.utils import timezone

    return (clock.today(), timezone.localdate(), timezone.get_current_timezone_name())
