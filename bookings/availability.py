"""The one availability module: which start times can be booked, and why a time or day cannot.

Everything that offers or re-checks a time (booking pages, the booking service, the API, the front desk)
asks this module; nobody re-implements the rule.

The rule. A start time is offered for (treatment, practitioner) at a site (docs/sites.md) when:
- the treatment is offered at the site (`Treatment.sites`, none: everywhere) and the site is active and
  open that day (its closures and bank holidays, `clinic.closures`);
- it lies on the slot grid of one of the practitioner's working-hours spans AT THAT SITE for that weekday
  (the site's local time, `SLOT_STEP_MINUTES` apart from the span's start) and the treatment itself ends
  within that span (the buffer after it may run past closing: it is cleaning time, not patient time);
- its occupied interval [start, start + duration + buffer) overlaps none of the practitioner's time off and
  none of their live appointments' [start_at, busy_until) at any site (the same intervals the database's
  exclusion constraints compare), and comes no closer than the travel time between the two sites (the
  pair's `clinic.models.SiteTravel`, else `CLINIC_TRAVEL_MINUTES`) to their appointments or working spans
  at another site (a trigger holds it for appointments, migration 0021);
- at least one active room OF THAT SITE is free over that interval (the first free one by name is
  proposed);
- it is at least the minimum notice from now (`minimum_notice`: `MIN_NOTICE_HOURS` online, none for the
  front desk, who book walk-ins and same-day calls), and its local day is at most `HORIZON_DAYS` after today.

Any site (site=None): each site where the treatment has a room is looked at on its own clock, and the
answers are merged in time order.

Daylight saving. Candidates are wall-clock times in the site's zone, converted to UTC with zoneinfo:
- a wall time that does not exist (spring forward, e.g. 01:30 on 2027-03-28 in London) is skipped;
- a wall time that happens twice (fall back, e.g. 01:30 on 2026-10-25) is offered once, at its FIRST
  occurrence (fold=0, still summer time): a patient reading '01:30' on a list cannot tell two of them
  apart, so the repeated hour is not offered a second time;
- durations are real elapsed time: the end of a session is start + duration in UTC.

Cost. A date range is computed from three queries whatever its length: the practitioners who offer the
treatment with their hours, the rooms that can host it, and one query for the rows that change all day (the
practitioners' time off and the live appointments of those practitioners and rooms in the range). The
cached reads (below) take the first two from a `Catalogue` kept per state of the clinic's set-up, so a cold
answer costs that one data query; the rest is done in memory with sorted intervals.
"""

import datetime
import hashlib
import io
import pickle
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict, defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models import BooleanField, Exists, F, IntegerField, Q, Value
from django.utils import timezone

from clinic import clock
from clinic.clock import UTC, day_bounds_utc, local_to_utc
from clinic.closures import closed_days
from clinic.models import (
    LONGEST_APPOINTMENT,
    Closure,
    Practitioner,
    Room,
    Site,
    SiteTravel,
    TimeOff,
    TravelTimes,
    Treatment,
    WorkingHours,
    default_travel_time,
)
from clinic.prepared import arguments_sql, execute_prepared

from .answer_cache import pooled_get, pooled_set
from .models import Appointment, AvailabilityScope

LONGEST_TRAVEL = datetime.timedelta(days=1)  # SiteTravel.minutes is at most a day
ONE_DAY = datetime.timedelta(days=1)


def policy(name: str) -> int:
    return settings.CLINIC[name]


@dataclass(frozen=True)
class Slot:
    """A bookable start: when (UTC), with whom, in which room."""

    start_at: datetime.datetime
    end_at: datetime.datetime
    busy_until: datetime.datetime
    practitioner: Practitioner
    room: Room

    @property
    def key(self) -> str:
        """The start as it travels in links and forms: UTC, to the minute."""
        return self.start_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")

    @property
    def site(self):
        """Where: the room's site (rooms are selected with their site)."""
        return self.room.site

    @property
    def local_start(self) -> datetime.datetime:
        """The start on the site's clock."""
        return self.start_at.astimezone(clock.zone(self.room.site))

    @property
    def local_end(self) -> datetime.datetime:
        return self.end_at.astimezone(clock.zone(self.room.site))


class Verdict(Enum):
    FREE = "free"
    NOT_OFFERED = "not_offered"  # outside hours, off the grid, time off, too soon, too far ahead
    TAKEN = "taken"  # an appointment (of the practitioner, or in every room) is in the way


# --- time helpers ------------------------------------------------------------------------------------


def span_end_utc(day: datetime.date, wall: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """The end of a working span as an instant; for a wall time in a DST gap or overlap, the earlier one
    (never lets a session run past the span)."""
    naive = datetime.datetime.combine(day, wall)
    return min(naive.replace(tzinfo=zone, fold=0).astimezone(UTC), naive.replace(tzinfo=zone, fold=1).astimezone(UTC))


def days_between(first: datetime.date, last: datetime.date):
    day = first
    while day <= last:
        yield day
        day += datetime.timedelta(days=1)


class Intervals:
    """Half-open busy intervals, sorted, answering 'does [a, b) touch any?' in O(log n). The computation gives
    them as integer microseconds (`Calendar`): comparing two ints costs a fraction of comparing two aware
    datetimes, and an answer makes thousands of comparisons.

    They are not merged: each end is the latest of those so far (`ends` grows), so the last interval that
    starts before b says whether any reaches past a, the answer merging gave, and the union of the pairs is
    that of the intervals given. Sorting and the running latest end run in C: merging in a Python loop was a
    tenth of first available's answer over 60 days (docs/benchmarks.md, issue #16's sixth pass)."""

    __slots__ = ("starts", "ends")

    def __init__(self, pairs):
        pairs = sorted(pairs)
        self.starts = [start for start, _ in pairs]
        self.ends = list(accumulate([end for _, end in pairs], max))

    @classmethod
    def of_rows(cls, rows, start=0, end=1) -> "Intervals":
        """The intervals of rows holding their start and end at these positions (busy rows, unsorted)."""
        rows = sorted(rows, key=itemgetter(start))
        made = cls.__new__(cls)
        made.starts = [row[start] for row in rows]
        made.ends = list(accumulate([row[end] for row in rows], max))
        return made

    def overlaps(self, start, end) -> bool:
        index = bisect_left(self.starts, end) - 1
        return index >= 0 and self.ends[index] > start

    @classmethod
    def outside(cls, pieces) -> "Intervals":
        """Every instant outside these pieces (disjoint, each non-empty): the busy time of a room given as its
        free pieces (`Busy.of_rows`)."""
        pieces = sorted(pieces)
        made = cls.__new__(cls)
        made.starts = [-FOREVER, *(end for _, end in pieces)]
        made.ends = [*(start for start, _ in pieces), FOREVER]
        return made


FOREVER = 1 << 62  # microseconds: further than any instant an answer counts (`LONGEST_RANGE`)
EMPTY = Intervals([])
ALWAYS = Intervals([(-FOREVER, FOREVER)])  # a room with no free piece (`Busy.of_rows`): never offered


# --- what one computation needs: the set-up (rarely changes) and the busy rows (change all day) ---------------


@dataclass(frozen=True)
class Setup:
    """The practitioners to look at (in the order 'first available' prefers them), their working spans
    by (site id, practitioner id, weekday), and the rooms that can host the treatment (in the order they are
    offered, each with its site selected)."""

    practitioners: list
    hours: dict
    rooms: list
    zones: dict = field(default_factory=dict)  # site id -> ZoneInfo, of every site a span names
    travel: TravelTimes | None = None  # between sites; None: not read (the set-up is at one site)
    # What calendars work out from the set-up alone, kept with it (`Calendar._teams`): a catalogue's set-ups
    # are kept with the catalogue (`Catalogue.setup`), so this is worked out once a catalogue, not an answer.
    kept: dict = field(default_factory=dict, compare=False, repr=False)

    def sites(self) -> list:
        """The sites where the treatment can be had (they have a room for it), in the sites' order."""
        found = {room.site_id: room.site for room in self.rooms}
        return sorted(found.values(), key=lambda site: (site.display_order, site.name, site.pk))

    def at(self, site) -> "Setup":
        """The part of the set-up at one site: its rooms; the spans stay (those elsewhere keep the travel
        time free)."""
        rooms_here = [room for room in self.rooms if room.site_id == site.pk]
        return Setup(self.practitioners, self.hours, rooms_here, self.zones, self.travel)


def rooms_for(treatment, rooms, treatment_sites=None):
    """The rooms that can host a treatment: the active rooms of active sites where it is offered
    (`Treatment.sites`, empty: every site). `treatment_sites`: the site ids it is limited to, when known."""
    limited = set(treatment_sites or ())
    return [room for room in rooms if room.active and room.site.active and (not limited or room.site_id in limited)]


def load_setup(treatment, practitioner, site=None) -> Setup:
    """The set-up straight from the database, in two queries (what the booking service re-checks with):
    the spans of those who offer the treatment and the rooms that can host it (at `site`, or anywhere); a
    third for the travel times between sites when they are at several."""
    if not treatment.active:
        return Setup([], {}, [])
    spans = (
        WorkingHours.objects.filter(practitioner__active=True, practitioner__treatments=treatment)
        .select_related("practitioner__user", "site")
        .order_by("practitioner__user__last_name", "practitioner__user__first_name", "practitioner_id", "start")
    )
    if practitioner is not None:
        spans = spans.filter(practitioner_id=practitioner.pk)
    practitioners, hours, zones = {}, defaultdict(list), {}
    for span in spans:
        practitioners.setdefault(span.practitioner_id, span.practitioner)
        hours[(span.site_id, span.practitioner_id, span.weekday)].append((span.start, span.end))
        zones[span.site_id] = span.site.zone
    rooms = rooms_hosting(treatment).select_related("site").order_by("name", "pk")
    if site is not None:
        rooms = rooms.filter(site_id=site.pk)
    rooms = list(rooms)
    # The travel times between sites, when the spans or the rooms are at two sites (else read only if an
    # appointment at another site turns up in the busy rows: `Calendar.travel`).
    travel = SiteTravel.times() if len({*zones, *(room.site_id for room in rooms)}) > 1 else None
    return Setup(list(practitioners.values()), dict(hours), rooms, zones, travel)


# Instants inside an answer are integer microseconds after the start of the busy range it read (its "origin"):
# the busy rows arrive as such from PostgreSQL, and only the slots given back are made datetimes again.
MICROSECOND = datetime.timedelta(microseconds=1)
# The longest busy range `busy_rows` reads: its microseconds are computed through a float (exact below ~70
# years), and no answer asks for more than a horizon of days.
LONGEST_RANGE = datetime.timedelta(days=3660)


def busy_rows(
    practitioner_ids,
    room_ids,
    range_start,
    range_end,
    ignore_appointment_id=None,
    *,
    clinic=False,
    rooms_within=None,
    occupied=None,
    rendered: dict | None = None,
):
    """The one query of a computation: (practitioner id, room id, site id, start, end, is time off) for the
    practitioners' time off and the live appointments of those practitioners (at any site: a practitioner is
    in one place at a time) or in those rooms that overlap [range_start, range_end). bench/large.py times it
    alone, as the floor of an answer's cost.

    Start and end are integer microseconds after `range_start`, each held inside the range (an interval
    that begins before it begins at 0, one that ends after it ends at its end: every question asked of them
    lies inside). Parsing 1,200 timestamps with their time zone took more of the client's time than the rest
    of the query (7 days of one practitioner on the bench clinic: 592 rows, 0.75 -> 0.3 ms), and the slot
    loop compares ints faster than datetimes.

    On PostgreSQL its SQL is written once (`BUSY_SQL`, the same rows as `busy_rows_orm`: tests/test_availability.py):
    building and compiling the ORM union cost more than running it (2.3 ms of CPU against 1.3 ms to run it and
    fetch the rows, for 7 days of one practitioner on the bench clinic). It is prepared once a connection
    (`clinic.prepared`): planning it took as much of PostgreSQL's time as running it (0.9 -> 0.55 ms of
    PostgreSQL CPU for that week); its one plan (each index read for its range) serves every answer.

    clinic=True: (the "clinic" scope's value, None if its row is lost; the rows), read in the same statement
    (`BUSY_CLINIC_SQL`): an answer with the cache off confirms its catalogue without a round trip of its own
    (`_uncached`).

    rooms_within: for ONE practitioner (`practitioner_ids`), the instants outside which the rooms' rows cannot
    be in the way of their slots (`room_windows`, a `tstzmultirange`'s text), or None: all are read; with
    `occupied`, the time a slot occupies (duration and buffer). On PostgreSQL the rooms' rows are then not
    sent at all (`FREE_ROOMS_SQL`): instead, for each room, the pieces of those instants outside that
    practitioner's own busy time (their appointments and time off: a start whose session meets those is
    blocked whatever the rooms hold) and outside the room's appointments, at least `occupied` long, as rows
    (None, room id, None, start, end, False): the only times a slot of theirs can have that room. A room with
    no such piece gives no row. One practitioner's week on the bench clinic: 338 rows -> 18 (592 before the
    sixth pass; docs/benchmarks.md, issue #16's seventh pass). `Busy.load` turns the pieces back into the
    room's busy time (their complement). Through the ORM every row is read (more rows, the same answer).

    rendered: a dict (the catalogue's) in which the parameters' SQL text is kept under the parameters, for
    callers that ask the same question again and again (the API with the cache off): the driver's adapting
    them (dates, two arrays, the windows' text) was about half of the client's CPU for the statement (89 ->
    43 us executing and fetching a week of one practitioner's rows; docs/benchmarks.md, issue #16's seventh
    pass)."""
    if range_end - range_start > LONGEST_RANGE:
        raise ValueError(f"busy_rows reads at most {LONGEST_RANGE.days} days at a time")
    if connection.vendor != "postgresql":
        rows = busy_rows_orm(practitioner_ids, room_ids, range_start, range_end, ignore_appointment_id)
        if not clinic:
            return rows
        value = AvailabilityScope.objects.filter(scope=CLINIC_SCOPE).values_list("value", flat=True).first()
        return value, rows
    params = [
        range_end,
        range_start,
        range_start - LONGEST_APPOINTMENT,
        list(practitioner_ids),
        list(room_ids),
        ignore_appointment_id,
    ]
    if rooms_within is None:
        name, sql, types = "availability_busy_rows", (BUSY_CLINIC_SQL if clinic else BUSY_SQL), BUSY_TYPES
    else:
        name, sql, types = (
            "availability_free_rooms",
            (FREE_ROOMS_CLINIC_SQL if clinic else FREE_ROOMS_SQL),
            FREE_ROOMS_TYPES,
        )
        params += [rooms_within, occupied or datetime.timedelta(0)]  # no length: every piece, the same answer
    if clinic:
        name = f"{name}_clinic"
    with connection.cursor() as cursor:
        arguments = None
        if rendered is not None:  # the parameters' SQL text, kept (the caller's dict) under the parameters
            key = (name, *params[:3], tuple(params[3]), tuple(params[4]), *params[5:])
            arguments = per_question(rendered, key, lambda: arguments_sql(cursor, params))
        execute_prepared(cursor, name, sql, types, None if arguments else params, arguments=arguments)
        rows = cursor.fetchall()
    if not clinic:
        return rows
    # The clinic's row is the first (no time off flag): the first part of a UNION ALL comes first. Looked for
    # anywhere all the same, should a plan ever give it elsewhere.
    if rows and rows[0][5] is None:
        return rows[0][3], rows[1:]
    values = [row[3] for row in rows if row[5] is None]
    return (values[0] if values else None), [row for row in rows if row[5] is not None]


# A timestamp column as microseconds after the range's start ($2), held inside the range (to $1): through
# `date_part` (a float, exact to the microsecond for offsets below ~70 years: `LONGEST_RANGE`) rather than
# `extract` (a numeric, exact at any size, and a third more of PostgreSQL's time for the query).
_FROM = "(date_part('epoch', greatest({}, $2) - $2) * 1000000)::int8"
_UNTIL = "(date_part('epoch', least({}, $1) - $2) * 1000000)::int8"
# Written out, not a parameter: a plan made once for every answer must know it matches the partial indexes'
# condition.
_LIVE = ", ".join(f"'{status}'" for status in Appointment.LIVE_STATUSES)

# $1 range end, $2 range start, $3 the earliest start that can reach the range, $4 practitioner ids, $5 room
# ids, $6 an appointment to leave out (or NULL).
BUSY_TYPES = ("timestamptz", "timestamptz", "timestamptz", "bigint[]", "bigint[]", "bigint")
BUSY_SQL = f"""
SELECT practitioner_id, room_id, site_id, {_FROM.format("start_at")}, {_UNTIL.format("busy_until")}, false
  FROM {Appointment._meta.db_table}
 WHERE status IN ({_LIVE}) AND start_at < $1 AND busy_until > $2 AND start_at >= $3
   AND (practitioner_id = ANY($4) OR room_id = ANY($5))
   AND id IS DISTINCT FROM $6
UNION ALL
SELECT practitioner_id, NULL, NULL, {_FROM.format("start_at")}, {_UNTIL.format("end_at")}, true
  FROM {TimeOff._meta.db_table}
 WHERE practitioner_id = ANY($4) AND start_at < $1 AND end_at > $2
"""

# `BUSY_SQL` for ONE practitioner ($4), with the rooms ($5) given as their free time instead of their rows
# (`busy_rows(rooms_within=...)`): $7 where the rooms can matter to that practitioner's slots, $8 the time a
# slot occupies (duration and buffer, an interval). `_THEIR_FREE_TIME` is $7 less their appointments and time
# off (one row); each room's pieces are that less the room's live appointments overlapping it (read in one
# scan of the (room, start) index and grouped by room: a scan a room read the same heap pages ten times, twice
# PostgreSQL's time), kept when a slot fits in them. The overlap is written `tstzrange(start_at, busy_until)`,
# not as the exclusion constraints' GiST indexes spell it: with it matching them, PostgreSQL planned each
# execution afresh (its custom plans priced lower) with a GiST index scan, 3 to 5 ms of its CPU instead of ~1
# (issue #16's sixth pass).
_THEIR_FREE_TIME = f"""(
    SELECT $7 - coalesce(range_agg(taken), '{{}}') FROM (
        SELECT tstzrange(start_at, busy_until, '[)') FROM {Appointment._meta.db_table}
         WHERE status IN ({_LIVE}) AND start_at < $1 AND busy_until > $2 AND start_at >= $3
           AND practitioner_id = ANY($4) AND id IS DISTINCT FROM $6
        UNION ALL
        SELECT tstzrange(start_at, end_at, '[)') FROM {TimeOff._meta.db_table}
         WHERE practitioner_id = ANY($4) AND start_at < $1 AND end_at > $2
    ) AS theirs (taken))"""
FREE_ROOMS_TYPES = (*BUSY_TYPES, "tstzmultirange", "interval")
FREE_ROOMS_SQL = f"""
SELECT practitioner_id, room_id, site_id, {_FROM.format("start_at")}, {_UNTIL.format("busy_until")}, false
  FROM {Appointment._meta.db_table}
 WHERE status IN ({_LIVE}) AND start_at < $1 AND busy_until > $2 AND start_at >= $3
   AND practitioner_id = ANY($4) AND id IS DISTINCT FROM $6
UNION ALL
SELECT practitioner_id, NULL, NULL, {_FROM.format("start_at")}, {_UNTIL.format("end_at")}, true
  FROM {TimeOff._meta.db_table}
 WHERE practitioner_id = ANY($4) AND start_at < $1 AND end_at > $2
UNION ALL
SELECT NULL, rooms.id, NULL, {_FROM.format("lower(piece)")}, {_UNTIL.format("upper(piece)")}, false
  FROM {_THEIR_FREE_TIME} AS free (time)
 CROSS JOIN unnest($5) AS rooms (id)
  LEFT JOIN (
        SELECT room_id, range_agg(tstzrange(start_at, busy_until)) FROM {Appointment._meta.db_table}
         WHERE status IN ({_LIVE}) AND start_at < $1 AND busy_until > $2 AND start_at >= $3
           AND room_id = ANY($5) AND id IS DISTINCT FROM $6
           AND tstzrange(start_at, busy_until) && {_THEIR_FREE_TIME}
         GROUP BY room_id
       ) AS taken (room_id, time) ON taken.room_id = rooms.id
 CROSS JOIN LATERAL unnest(free.time - coalesce(taken.time, '{{}}')) AS pieces (piece)
 WHERE upper(piece) - lower(piece) >= $8
"""


def busy_rows_orm(practitioner_ids, room_ids, range_start, range_end, ignore_appointment_id=None):
    """`busy_rows` through the ORM: what SQLite runs, and what `BUSY_SQL` is checked against."""
    time_off = (
        TimeOff.objects.filter(practitioner_id__in=practitioner_ids, start_at__lt=range_end, end_at__gt=range_start)
        .annotate(
            no_room=Value(None, output_field=IntegerField()),
            no_site=Value(None, output_field=IntegerField()),
            off=Value(True, output_field=BooleanField()),
        )
        .order_by()
        .values_list("practitioner_id", "no_room", "no_site", "start_at", "end_at", "off")
    )
    appointments = (
        Appointment.objects.live()
        .overlapping(range_start, range_end)
        # No appointment lasts a day: this bound lets the (practitioner|room, start_at) indexes do the work.
        .filter(start_at__gte=range_start - LONGEST_APPOINTMENT)
        .filter(Q(practitioner_id__in=practitioner_ids) | Q(room_id__in=room_ids))
        .exclude(pk=ignore_appointment_id)
        .annotate(until=F("busy_until"), off=Value(False, output_field=BooleanField()))
        .order_by()  # Intervals sorts; an ORDER BY here would only add a sort step to the plan
        .values_list("practitioner_id", "room_id", "site_id", "start_at", "until", "off")
    )

    def offset(moment):
        return (min(max(moment, range_start), range_end) - range_start) // MICROSECOND

    return [
        (p_id, room_id, site_id, offset(start), offset(end), off)
        for p_id, room_id, site_id, start, end, off in appointments.union(time_off, all=True)
    ]


@dataclass
class Busy:
    """The busy rows of a range, by practitioner (time off; appointments) and by room, in microseconds after
    `origin` (the range's start). Loaded once and shared by the calendars of every site an answer looks at."""

    origin: datetime.datetime
    time_off: dict  # practitioner id -> [(start, end)]
    appointments: dict  # practitioner id -> their busy rows (start and end at 3 and 4, the site at 2)
    rooms: dict  # room id -> Intervals
    rooms_free: bool = False  # the rooms' busy time is the complement of their free pieces (`of_rows`)

    @classmethod
    def load(
        cls,
        practitioner_ids,
        room_ids,
        range_start,
        range_end,
        ignore_appointment_id=None,
        *,
        confirm=None,
        rooms_within=None,
        occupied=None,
        rendered=None,
    ) -> "Busy":
        """`confirm`: a catalogue to confirm in the same statement (`CatalogueChanged` if the set-up changed).
        `rooms_within`, `occupied`, `rendered`: `busy_rows`' (with `rooms_within` the rooms come as their free
        pieces, on PostgreSQL)."""
        args = (practitioner_ids, room_ids, range_start, range_end, ignore_appointment_id)
        options = {"rooms_within": rooms_within, "occupied": occupied, "rendered": rendered}
        if confirm is None:
            rows = busy_rows(*args, **options)
        else:
            value, rows = busy_rows(*args, clinic=True, **options)
            if value != confirm.version:
                raise CatalogueChanged
            _unconfirmed.set(None)
        free_rooms = room_ids if rooms_within is not None and connection.vendor == "postgresql" else None
        return cls.of_rows(range_start, rows, free_rooms)

    @classmethod
    def of_rows(cls, origin, rows, free_rooms=None) -> "Busy":
        """The rows as `busy_rows` gives them, grouped without making a tuple a row (first available over 60
        days reads 4,630). `free_rooms`: the ids of the rooms whose rows are their free pieces (`busy_rows`
        with `rooms_within`, on PostgreSQL), whose busy time is then everything else."""
        time_off_by, by_practitioner, by_room = defaultdict(list), defaultdict(list), defaultdict(list)
        if free_rooms is None:
            for row in rows:
                if row[5]:
                    time_off_by[row[0]].append((row[3], row[4]))
                else:
                    by_practitioner[row[0]].append(row)
                    by_room[row[1]].append(row)
            rooms = {room_id: Intervals.of_rows(room_rows, 3, 4) for room_id, room_rows in by_room.items()}
            return cls(origin, dict(time_off_by), dict(by_practitioner), rooms)
        for row in rows:
            if row[5]:
                time_off_by[row[0]].append((row[3], row[4]))
            elif row[0] is None:
                by_room[row[1]].append((row[3], row[4]))
            else:
                by_practitioner[row[0]].append(row)
        rooms = {
            room_id: Intervals.outside(by_room[room_id]) if room_id in by_room else ALWAYS for room_id in free_rooms
        }
        return cls(origin, dict(time_off_by), dict(by_practitioner), rooms, rooms_free=True)


def room_windows(setup: Setup, sites, first_day, last_day, treatment) -> str:
    """Where a room's appointment can be in the way of a slot of the set-up's practitioners at these sites on
    these local days, as a `tstzmultirange`'s text (`busy_rows(rooms_within=...)`): each working span from
    its start to its end plus the buffer after (a slot starts in the span, ends in it, and keeps its room for
    the buffer). On a day the site's clock changes, the whole local day and the time a slot late in it
    occupies after: its wall times are not a fixed offset from midnight (`Calendar._span_grid`). Closures,
    notice and horizon are not looked at: a wider window reads more rows, never a different answer."""
    windows = []
    buffer, occupied = treatment.buffer_after, treatment.duration + treatment.buffer_after
    for site in sites:
        zone, site_id = clock.zone(site), getattr(site, "pk", None)
        spans_by_weekday = defaultdict(list)
        for (s_id, _, weekday), spans in setup.hours.items():
            if s_id == site_id:
                spans_by_weekday[weekday] += spans
        for day in days_between(first_day, last_day):
            spans = spans_by_weekday.get(day.weekday())
            if not spans:
                continue
            utc_midnight = steady_midnight(day, zone)
            if utc_midnight is not None:
                for span_start, span_end in spans:
                    opens = utc_midnight + datetime.timedelta(microseconds=_wall_us(span_start))
                    closes = utc_midnight + datetime.timedelta(microseconds=_wall_us(span_end)) + buffer
                    if opens < closes:
                        windows.append((opens, closes))
            else:
                opens, closes = day_bounds_utc(day, day, zone)
                windows.append((opens, closes + occupied))
    return "{" + ",".join(f'["{opens.isoformat()}","{closes.isoformat()}")' for opens, closes in windows) + "}"


def busy_range(sites, first_day, last_day, occupied, travel: TravelTimes | None = None):
    """The instants whose busy rows matter for these sites' local days: the range's days, a little after (a
    slot late on the last day occupies time after midnight), and the longest travel time either side (a
    practitioner's appointment at another site just before or after keeps it free)."""
    bounds = [day_bounds_utc(first_day, last_day, clock.zone(site)) for site in sites or (None,)]
    travel = travel.longest() if travel is not None else default_travel_time()
    return min(start for start, _ in bounds) - travel, max(end for _, end in bounds) + occupied + travel


@lru_cache(maxsize=4096)
def steady_midnight(day, zone) -> datetime.datetime | None:
    """The day's local midnight (in UTC) if the zone's UTC offset is the same all day (every day but two a
    year), else None: on such a day a wall time is that midnight plus its time. Kept per (day, zone): a week's
    answer asks it for every day twice (its rooms' windows and its grids), three datetimes made and three
    offsets looked up each time, and a zone's rules do not change while the process runs."""
    midnight = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    next_midnight = datetime.datetime.combine(day + ONE_DAY, datetime.time.min, tzinfo=zone)
    offset = midnight.utcoffset()
    if offset == next_midnight.utcoffset() == next_midnight.replace(fold=1).utcoffset():
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=UTC) - offset
    return None


def _wall_us(wall: datetime.time) -> int:
    """A wall time as microseconds after midnight."""
    return ((wall.hour * 60 + wall.minute) * 60 + wall.second) * 1_000_000 + wall.microsecond


def _open_ranges(grid, low, high, starts, ends, shift):
    """The indices from `low` to `high` (excluded) of `grid` (ascending starts) whose start lies in none of the
    half-open ranges [starts[j] - shift, ends[j]) (`starts` and `ends` each ascending), as `range`s: two
    bisects a range ruled out, none a start."""
    if low >= high:
        return
    at, count, position = bisect_right(ends, grid[low]), len(starts), low  # ranges before `at` end before the grid
    while position < high and at < count:
        stop = bisect_left(grid, starts[at] - shift, position, high)
        if stop > position:
            yield range(position, stop)
        position = bisect_left(grid, ends[at], stop, high)
        at += 1
    if position < high:
        yield range(position, high)


class Calendar:
    """The busy picture of a date range at one site for one treatment: the set-up plus one query for the busy
    rows (or the rows already loaded for several sites, `busy`). Days are the site's local days, its closures
    and bank holidays close it, and a practitioner's spans and appointments at other sites keep the travel
    time between the two sites free (`clinic.models.SiteTravel`, else `CLINIC_TRAVEL_MINUTES`).

    Inside, every instant is an integer: microseconds after `origin`, the start of the busy range (`Busy`).
    The slot grid, the notice and horizon, durations and travel times are converted once, and the busy rows
    arrive as integers, so the loop over a range's candidate starts compares ints; only the slots given back
    (and the instants callers ask about) are converted."""

    def __init__(
        self,
        treatment,
        setup: Setup,
        first_day,
        last_day,
        *,
        site=None,
        closed=None,
        now=None,
        ignore_appointment_id=None,
        load=True,
        notice=None,
        busy: Busy | None = None,
    ):
        self.treatment = treatment
        if site is None:  # one site (a one-site clinic): the site of the rooms
            sites = setup.sites()
            site = sites[0] if sites else None
        self.site = site
        self.site_id = getattr(site, "pk", None)
        self.zone = clock.zone(site)
        self.now = now or timezone.now()
        self.practitioners = setup.practitioners
        self._setup_kept = setup.kept
        self.zones = setup.zones
        self.all_hours = setup.hours
        self.hours, self._spans_elsewhere = {}, defaultdict(list)
        for (s_id, p_id, weekday), spans in setup.hours.items():
            if s_id == self.site_id:
                self.hours[(p_id, weekday)] = spans
            else:
                self._spans_elsewhere[p_id].append((s_id, weekday, spans))
        self.rooms = [room for room in setup.rooms if room.site_id == self.site_id]
        self.first_day, self.last_day = first_day, last_day
        # The site's closures and bank holidays (clinic.closures): a time off of the whole site, local days.
        self.closed = closed_days(first_day, last_day, site=site) if closed is None else closed
        today = self.now.astimezone(self.zone).date()
        self.earliest_start = self.now + (minimum_notice(desk=False) if notice is None else notice)
        self.last_bookable_day = today + datetime.timedelta(days=policy("HORIZON_DAYS"))
        self.latest_start_before = day_bounds_utc(self.last_bookable_day, self.last_bookable_day, self.zone)[1]
        self.step = datetime.timedelta(minutes=policy("SLOT_STEP_MINUTES"))
        self.duration, self.buffer_after = treatment.duration, treatment.buffer_after
        self.occupied = self.duration + self.buffer_after
        self._travel = setup.travel
        self._grid: dict = {}
        self._room_at: dict = {}
        self._rooms_busy = None
        self._rooms_open = None
        self._rooms_free = False
        self._steady_days: dict = {}
        self._away: dict = {}
        self._blocked: dict = {}
        self._teams_on: dict = {}
        self._no_room = None
        self.time_off, self.appointments, self.room_busy, self._appointment_rows = {}, {}, {}, {}
        self._time_off_rows: dict = {}
        if busy is None and load and self.practitioners and self.rooms:
            busy = self._load_busy(ignore_appointment_id)
        self.origin = busy.origin if busy is not None else self.busy_range()[0]
        # The rule's instants and lengths as microseconds after the origin.
        self._earliest = self.us(self.earliest_start)
        self._latest = self.us(self.latest_start_before)
        self._step = self.step // MICROSECOND
        self._duration = self.duration // MICROSECOND
        self._buffer = self.buffer_after // MICROSECOND
        self._occupied = self._duration + self._buffer
        if busy is not None:
            self._use(busy)

    def us(self, moment: datetime.datetime) -> int:
        """An instant as this calendar counts it: microseconds after its origin."""
        return (moment - self.origin) // MICROSECOND

    def instant(self, us: int) -> datetime.datetime:
        """The aware (UTC) instant of a count of microseconds after the origin."""
        return self.origin + datetime.timedelta(microseconds=us)

    def busy_range(self):
        return busy_range([self.site], self.first_day, self.last_day, self.occupied, self._travel)

    @property
    def travel(self) -> TravelTimes:
        """The travel times between sites: the set-up's, or read now (a set-up at one site met an appointment
        at another)."""
        if self._travel is None:
            self._travel = SiteTravel.times()
        return self._travel

    def _load_busy(self, ignore_appointment_id) -> Busy:
        """One query: the practitioners' time off, and the live appointments of those practitioners or in
        those rooms, in the range."""
        return Busy.load(
            [p.pk for p in self.practitioners],
            [room.pk for room in self.rooms],
            *self.busy_range(),
            ignore_appointment_id,
        )

    def _use(self, busy: Busy):
        self._time_off_rows = busy.time_off
        self.time_off = {}  # practitioner id -> Intervals, made when first asked (`off`)
        self._appointment_rows = busy.appointments
        self.appointments = {}  # practitioner id -> Intervals, made when first asked (`booked`)
        self.room_busy = busy.rooms
        self._rooms_free = busy.rooms_free

    def off(self, practitioner_id) -> Intervals:
        """The practitioner's time off."""
        found = self.time_off.get(practitioner_id)
        if found is None:
            found = self.time_off[practitioner_id] = Intervals(self._time_off_rows.get(practitioner_id, ()))
        return found

    def booked(self, practitioner_id) -> Intervals:
        """The practitioner's live appointments at any site. Made when first asked: the busy rows hold the
        appointments of every practitioner who used the rooms read (~50 on the bench clinic), and an answer
        for one practitioner asks about one."""
        found = self.appointments.get(practitioner_id)
        if found is None:
            rows = self._appointment_rows.get(practitioner_id, ())
            found = self.appointments[practitioner_id] = Intervals.of_rows(rows, 3, 4)
        return found

    def away(self, practitioner_id) -> tuple[Intervals, Intervals]:
        """When the practitioner is kept for another site: (their appointments there, their working spans
        there), each widened by the travel time between that site and this one either side; spans of the days
        around the range, on that site's clock. Empty for a practitioner who works at this site only."""
        found = self._away.get(practitioner_id)
        if found is None:
            booked, spans_there = [], []
            site_here = self.site_id
            elsewhere = [row for row in self._appointment_rows.get(practitioner_id, ()) if row[2] != site_here]
            for _, _, site_id, start, end, _ in elsewhere:
                travel = self.travel.between(site_here, site_id) // MICROSECOND
                booked.append((start - travel, end + travel))
            for site_id, weekday, spans in self._spans_elsewhere.get(practitioner_id, ()):
                zone = self.zones.get(site_id) or self.zone
                travel = self.travel.between(self.site_id, site_id)
                for day in days_between(self.first_day - ONE_DAY, self.last_day + ONE_DAY):
                    if day.weekday() != weekday:
                        continue
                    for span_start, span_end in spans:
                        opens = local_to_utc(day, span_start, zone) or span_end_utc(day, span_start, zone)
                        spans_there.append(
                            (self.us(opens - travel), self.us(span_end_utc(day, span_end, zone) + travel))
                        )
            found = self._away[practitioner_id] = (Intervals(booked), Intervals(spans_there))
        return found

    def blocked(self, practitioner_id) -> Intervals:
        """Every interval the practitioner cannot start a session in, for whatever reason (time off, an
        appointment, another site's appointments and spans with the travel time): the slot loop asks one
        question where `verdict` asks four, to say which reason."""
        found = self._blocked.get(practitioner_id)
        if found is None:
            booked_elsewhere, working_elsewhere = self.away(practitioner_id)
            time_off = self._time_off_rows.get(practitioner_id)
            if time_off or booked_elsewhere.starts or working_elsewhere.starts:
                pairs = [*(time_off or ())]
                pairs += [(row[3], row[4]) for row in self._appointment_rows.get(practitioner_id, ())]
                for intervals in (booked_elsewhere, working_elsewhere):
                    pairs += zip(intervals.starts, intervals.ends, strict=True)
                found = Intervals(pairs)
            else:  # their appointments alone (at this site, no time off): the usual case
                found = self.booked(practitioner_id)
            self._blocked[practitioner_id] = found
        return found

    # candidates ---------------------------------------------------------------------------------------

    def candidates(self, practitioner, day):
        """(start, end) on the slot grid of the practitioner's spans that day, in order (microseconds after
        the origin); none on a day the clinic is closed."""
        if day in self.closed:
            return
        duration = self._duration
        for span_start, span_end in self.hours.get((practitioner.pk, day.weekday()), ()):
            for start in self.span_candidates(day, span_start, span_end):
                yield start, start + duration

    def span_candidates(self, day, span_start, span_end):
        """The starts on the grid of one span on one day, ascending, each ending `duration` later (a `range`
        on a day without a clock change); practitioners with the same hours share it (computed once)."""
        key = (day, span_start, span_end)
        grid = self._grid.get(key)
        if grid is None:
            grid = self._grid[key] = self._span_grid(day, span_start, span_end)
        return grid

    def _span_grid(self, day, span_start, span_end):
        duration = self._duration
        midnight = self._steady_midnight(day)
        if midnight is not None:
            # No clock change that day: a wall time is the local midnight plus its time, wall steps are UTC steps.
            limit = midnight + _wall_us(span_end)
            return range(midnight + _wall_us(span_start), limit - duration + 1, self._step)
        limit = self.us(span_end_utc(day, span_end, self.zone))
        grid = []
        wall = datetime.datetime.combine(day, span_start)
        span_end_wall = datetime.datetime.combine(day, span_end)
        while wall < span_end_wall:
            start = local_to_utc(day, wall.time(), self.zone)
            if start is not None:
                start = self.us(start)
                if start + duration > limit:
                    break
                grid.append(start)
            wall += self.step
        grid.sort()  # ascending as instants whatever the clock does that day: the slot loop bisects it
        return grid

    def _steady_midnight(self, day) -> int | None:
        """The day's local midnight (microseconds after the origin) if the zone's UTC offset is the same all day
        (every day but two a year), else None."""
        found = self._steady_days.get(day, False)
        if found is False:
            midnight = steady_midnight(day, self.zone)
            found = self._steady_days[day] = None if midnight is None else self.us(midnight)
        return found

    # verdicts -----------------------------------------------------------------------------------------

    def within_policy(self, start: int) -> bool:
        return self._earliest <= start < self._latest

    def free_room(self, start: int, busy_until: int, wanted=None):
        """The first room (in the rooms' order) free over [start, busy_until), or None. Practitioners on the
        same grid ask the same question: it is answered once."""
        if wanted is not None:
            free = not self.room_busy.get(wanted.pk, EMPTY).overlaps(start, busy_until)
            return next((room for room in self.rooms if room.pk == wanted.pk), None) if free else None
        key = (start, busy_until)
        found = self._room_at.get(key, self)  # self: not looked for yet (None means no room)
        if found is not self:
            return found
        found = None
        for room, starts, ends in self._rooms_ever_free():
            index = bisect_left(starts, busy_until) - 1
            if index < 0 or ends[index] <= start:
                found = room
                break
        self._room_at[key] = found
        return found

    def _room_intervals(self):
        if self._rooms_busy is None:
            self._rooms_busy = [
                (room, busy.starts, busy.ends) for room in self.rooms for busy in (self.room_busy.get(room.pk, EMPTY),)
            ]
        return self._rooms_busy

    def _rooms_ever_free(self):
        """`_room_intervals` less the rooms taken all along (`ALWAYS`: no free piece for one practitioner,
        `Busy.of_rows`), which no start can have: on the bench clinic most of the ten for a week."""
        if self._rooms_open is None:
            self._rooms_open = [
                entry for entry in self._room_intervals() if self.room_busy.get(entry[0].pk) is not ALWAYS
            ]
        return self._rooms_open

    def _no_room_starts(self) -> tuple[list, list]:
        """(starts, ends), both ascending: the half-open ranges of starts at which every room is taken at some
        moment of [start, start + duration + buffer). A start outside them has a room; first available looks
        for one only there. Worked out once a calendar, in one sweep over the rooms' intervals (each a range
        of starts it rules out; merged per room, then counted: where the count is the number of rooms, none
        is free), instead of asking every room at every start of the grids (~3,900 starts for 60 days)."""
        found = self._no_room
        if found is None:
            shift = self._occupied - 1  # [a, b) rules out the starts from a - duration - buffer + 1 to b - 1
            events = []  # 2 * instant, + 1 where a range of one room begins (so that, at one instant, ends come first)
            for _, busy_starts, ends in self._room_intervals():
                if not busy_starts:
                    found = ([], [])  # a room free all along: there is always a room
                    break
                starts = [start - shift for start in busy_starts]
                events.append(starts[0] * 2 + 1)
                events += [start * 2 + 1 for start, before in zip(starts[1:], ends, strict=False) if start > before]
                events += [end * 2 for end, after in zip(ends, starts[1:], strict=False) if after > end]
                events.append(ends[-1] * 2)
            else:
                events.sort()
                full = len(self.rooms)
                counts = accumulate([(event & 1) * 2 - 1 for event in events])
                at = [index for index, count in enumerate(counts) if count == full]
                found = ([events[index] >> 1 for index in at], [events[index + 1] >> 1 for index in at])
            self._no_room = found
        return found

    def verdict(self, practitioner, start: int, end: int, wanted_room=None) -> tuple[Verdict, Room | None]:
        busy_until = end + self._buffer
        if not self.within_policy(start):
            return Verdict.NOT_OFFERED, None
        if self.off(practitioner.pk).overlaps(start, busy_until):
            return Verdict.NOT_OFFERED, None
        if self.booked(practitioner.pk).overlaps(start, busy_until):
            return Verdict.TAKEN, None
        booked_elsewhere, working_elsewhere = self.away(practitioner.pk)
        if working_elsewhere.overlaps(start, busy_until):
            return Verdict.NOT_OFFERED, None
        if booked_elsewhere.overlaps(start, busy_until):
            return Verdict.TAKEN, None
        room = self.free_room(start, busy_until, wanted_room)
        if room is None:
            return Verdict.TAKEN, None
        return Verdict.FREE, room

    def slot(self, practitioner, start: int, end: int, room) -> Slot:
        return Slot(self.instant(start), self.instant(end), self.instant(end + self._buffer), practitioner, room)

    def slots_by_day(self) -> dict[datetime.date, list[Slot]]:
        """Every local day of the range, with its free starts; with several practitioners, each start once,
        given to the first practitioner (in the practitioners' order) who is free then.

        Practitioners with the same hours that day share one grid (`_shared`): a room is looked for only at
        the starts where one is free (`_no_room_starts`), and the team asked in order only there. A
        practitioner alone on a grid (`_alone`) is asked first, and a room looked for only at the starts
        they are free: the usual case for one practitioner's times is that they are busy. Either way the
        starts ruled out are skipped a range at a time (`_open_ranges`), not one by one."""
        result = {}
        origin, duration, buffer = self.origin, self.duration, self.buffer_after
        for day in days_between(self.first_day, self.last_day):
            if day in self.closed:  # the whole clinic is closed: no time with anyone
                result[day] = []
                continue
            chosen: dict[int, tuple] = {}  # start -> (rank, practitioner, room)
            for spans, team, blocked in self._teams(day.weekday()):
                if len(team) == 1:
                    self._alone(day, spans, team[0], chosen)
                else:
                    self._shared(day, spans, team, blocked, chosen)
            slots = result[day] = []
            for start in sorted(chosen):
                _, practitioner, room = chosen[start]
                start_at = origin + datetime.timedelta(microseconds=start)
                end_at = start_at + duration
                slots.append(Slot(start_at, end_at, end_at + buffer, practitioner, room))
        return result

    def _teams(self, weekday) -> list:
        """[(spans, [(rank, practitioner id, practitioner), ...], their blocked time once asked)]: the
        practitioners with the same spans on that weekday, in the practitioners' order (of each team's first)."""
        found = self._teams_on.get(weekday)
        if found is None:
            # The teams follow from the set-up's practitioners and hours at this site alone: kept with the
            # set-up (for first available, 50 practitioners' hours looked up a weekday: a tenth of a cold
            # answer's computing). Their blocked time is this calendar's own.
            key = ("teams", self.site_id, weekday)
            teams = self._setup_kept.get(key)
            if teams is None:
                by_spans = defaultdict(list)
                for rank, practitioner in enumerate(self.practitioners):
                    spans = self.hours.get((practitioner.pk, weekday))
                    if spans:
                        by_spans[tuple(spans)].append((rank, practitioner.pk, practitioner))
                teams = self._setup_kept[key] = list(by_spans.items())
            found = self._teams_on[weekday] = [(spans, team, []) for spans, team in teams]
        return found

    def _shared(self, day, spans, team, blocked, chosen):
        """`slots_by_day` for practitioners sharing a grid that day (`blocked`: their blocked time, filled in
        when first needed and kept for the team's other days)."""
        occupied, everyone = self._occupied, len(self.practitioners)
        no_room = self._no_room_starts()
        for span_start, span_end in spans:
            grid = self.span_candidates(day, span_start, span_end)
            low, high = bisect_left(grid, self._earliest), bisect_left(grid, self._latest)
            for indices in _open_ranges(grid, low, high, *no_room, 0):
                if not blocked:
                    blocked += [(rank, practitioner, self.blocked(p_id)) for rank, p_id, practitioner in team]
                for index in indices:
                    start = grid[index]
                    busy_until = start + occupied
                    taken_by = chosen[start][0] if start in chosen else everyone
                    for rank, practitioner, intervals in blocked:
                        if rank >= taken_by:
                            break
                        at = bisect_left(intervals.starts, busy_until) - 1
                        if at < 0 or intervals.ends[at] <= start:
                            # A room is free here (outside `no_room`): which one, asked only now.
                            room = self.free_room(start, busy_until)
                            if room is not None:
                                chosen[start] = (rank, practitioner, room)
                            break

    def _alone(self, day, spans, member, chosen):
        """`slots_by_day` for a practitioner with nobody else on their grid that day."""
        rank, practitioner_id, practitioner = member
        occupied = self._occupied
        blocked = self.blocked(practitioner_id)
        # With others (first available) the rooms' sweep is shared by every grid: a start it rules out costs
        # a bisect. For one practitioner the few starts they are free are asked of each room instead, unless
        # the rooms came as their free pieces (a few intervals a room: the sweep is then cheaper than asking).
        sweep = len(self.practitioners) > 1 or self._rooms_free
        no_starts, no_ends = self._no_room_starts() if sweep else ((), ())
        for span_start, span_end in spans:
            grid = self.span_candidates(day, span_start, span_end)
            low, high = bisect_left(grid, self._earliest), bisect_left(grid, self._latest)
            for indices in _open_ranges(grid, low, high, blocked.starts, blocked.ends, occupied - 1):
                for index in indices:
                    start = grid[index]
                    if start in chosen and chosen[start][0] <= rank:
                        continue
                    if no_starts:
                        at = bisect_right(no_starts, start) - 1
                        if at >= 0 and no_ends[at] > start:
                            continue
                    room = self.free_room(start, start + occupied)
                    if room is not None:
                        chosen[start] = (rank, practitioner, room)

    def check(self, practitioner, start_at, wanted_room=None) -> tuple[Verdict, Slot | None]:
        """Is this exact start bookable with this practitioner (and room, if given)?"""
        day = start_at.astimezone(self.zone).date()
        wanted = self.us(start_at)
        for start, end in self.candidates(practitioner, day):
            if start == wanted:
                verdict, room = self.verdict(practitioner, start, end, wanted_room)
                return verdict, (self.slot(practitioner, start, end, room) if room else None)
        return Verdict.NOT_OFFERED, None

    def check_any(self, start_at, wanted_room=None) -> tuple[Verdict, Slot | None]:
        """The first practitioner free at this start; TAKEN if it is on someone's grid but nobody is free."""
        verdicts = []
        for practitioner in self.practitioners:
            verdict, slot = self.check(practitioner, start_at, wanted_room)
            if verdict is Verdict.FREE:
                return verdict, slot
            verdicts.append(verdict)
        return (Verdict.TAKEN if Verdict.TAKEN in verdicts else Verdict.NOT_OFFERED), None


def minimum_notice(*, desk: bool) -> datetime.timedelta:
    """How far ahead of now a start must be: the one home of the notice rule. Online (patients, the API,
    waitlist offers) `MIN_NOTICE_HOURS`; the front desk books from now on, for a walk-in or a same-day
    phone call, and the booking service re-checks with the same notice."""
    return datetime.timedelta(0) if desk else datetime.timedelta(hours=policy("MIN_NOTICE_HOURS"))


def practitioners_offering(treatment: Treatment):
    return Practitioner.objects.filter(active=True, treatments=treatment).select_related("user")


def rooms_hosting(treatment: Treatment):
    """`rooms_for` as one query: the active rooms of active sites where the treatment is offered (a site the
    treatment names, or anywhere when it names none)."""
    limited = Treatment.sites.through.objects.filter(treatment_id=treatment.pk)
    return Room.objects.filter(active=True, site__active=True).filter(
        Q(site_id__in=limited.values("site_id")) | ~Exists(limited)
    )


def sites_offering(treatment: Treatment):
    """The sites where the treatment can be had (a room hosts it there), for the booking page's choice."""
    return Site.objects.filter(pk__in=rooms_hosting(treatment).values("site_id")).order_by(
        "display_order", "name", "pk"
    )


# --- public API ------------------------------------------------------------------------------------------


def available_slots(
    treatment: Treatment,
    practitioner: Practitioner | None,
    date_from: datetime.date,
    date_to: datetime.date,
    *,
    site=None,
    now: datetime.datetime | None = None,
    ignore_appointment=None,
    catalogue: "Catalogue | None" = None,
    notice: datetime.timedelta | None = None,
) -> dict[datetime.date, list[Slot]]:
    """Bookable starts per local day from date_from to date_to (both included, every day present).

    site: one `Site` (its rooms, its clock, its closures), or None for any site: each site's starts on its
    own local days, merged in time order (the same instant at two sites is two offers; `slot.site` says
    where). practitioner=None means 'first available': each start once per site, with the first free
    practitioner who offers the treatment. `ignore_appointment` leaves one appointment out of the busy
    picture (moving an appointment may overlap its own old time). With a `catalogue` (the cached reads), the
    set-up and the closures come from it and the answer costs one query; without, from the database (three
    queries and one per site for closures). `notice`: `minimum_notice(...)`, online's by default.
    """
    if date_to < date_from:
        return {}
    setup = catalogue.setup(treatment, practitioner) if catalogue else load_setup(treatment, practitioner, site)
    sites = [site] if site is not None else setup.sites()
    if site is not None and not any(room.site_id == site.pk for room in setup.rooms):
        sites = []
    result = {day: [] for day in days_between(date_from, date_to)}
    if not sites or not setup.practitioners:
        return result
    occupied = treatment.duration + treatment.buffer_after
    # One practitioner: their rooms only where they can be in the way (first available reads all).
    windows = None
    if len(setup.practitioners) == 1:
        windows = (catalogue.room_windows if catalogue else room_windows)(setup, sites, date_from, date_to, treatment)
    busy = Busy.load(
        [p.pk for p in setup.practitioners],
        [room.pk for room in setup.rooms if room.site_id in {s.pk for s in sites}],
        *busy_range(sites, date_from, date_to, occupied, setup.travel),
        getattr(ignore_appointment, "pk", None),
        confirm=catalogue if catalogue is not None and _unconfirmed.get() is catalogue else None,
        rooms_within=windows,
        occupied=occupied,
        rendered=catalogue.busy_arguments if catalogue is not None else None,
    )
    for each in sites:
        calendar = Calendar(
            treatment,
            setup,
            date_from,
            date_to,
            site=each,
            closed=catalogue.closed_days(date_from, date_to, each) if catalogue else None,
            now=now,
            notice=notice,
            busy=busy,
        )
        for day, slots in calendar.slots_by_day().items():
            result[day].extend(slots)
    if len(sites) > 1:
        for slots in result.values():
            slots.sort(key=lambda slot: slot.start_at)  # stable: at one instant, the sites' order
    return result


def check_slot(
    treatment, practitioner, start_at, *, site=None, room=None, now=None, ignore_appointment=None, notice=None
) -> tuple[Verdict, Slot | None]:
    """The verdict on one exact start (FREE with the slot, TAKEN, or NOT_OFFERED): what the booking
    service re-checks inside its transaction, straight from the database. practitioner=None: the first one
    free then. site=None: the room's site when a room is given, else the first site (in the sites' order)
    where it is free."""
    if room is not None:
        site = room.site
    setup = load_setup(treatment, practitioner, site)
    sites = [site] if site is not None else setup.sites()
    if not setup.practitioners or not sites:
        return Verdict.NOT_OFFERED, None
    start_at = start_at.astimezone(UTC)
    verdicts = []
    for each in sites:
        day = start_at.astimezone(clock.zone(each)).date()
        calendar = Calendar(
            treatment,
            setup,
            day,
            day,
            site=each,
            now=now,
            ignore_appointment_id=getattr(ignore_appointment, "pk", None),
            notice=notice,
        )
        verdict, slot = calendar.check_any(start_at, room)
        if verdict is Verdict.FREE:
            return verdict, slot
        verdicts.append(verdict)
    return (Verdict.TAKEN if Verdict.TAKEN in verdicts else Verdict.NOT_OFFERED), None


# --- cached reads: what pages and the API show ----------------------------------------------------------
#
# Patients ask for the same ranges again and again, and an answer changes only when something it read
# changes, or as time passes. What an answer reads is named by scopes, each a row of AvailabilityScope
# whose value database triggers bump in the writing transaction, whoever writes (a service, the admin, a
# bulk update, another process):
# - "clinic": the set-up (sites, treatments and where they are offered, practitioners and what they offer,
#   working hours, rooms, closures);
# - "practitioner:<id>:<YYYY-MM-DD>": that practitioner's time off and live appointments, at every site, that
#   touch that UTC date (an answer at one site reads the practitioner's appointments at the others: never in
#   two places, the travel time between; bookings migration 0024), and "practitioner:<id>" for all their
#   days, bumped too (0025): an answer about one practitioner reads the first, about several the second;
# - "room:<id>:<YYYY-MM-DD>": the live appointments that occupy that room on that UTC date. An answer reads
#   the rooms of the site(s) asked for, on its dates.
# A booking bumps its practitioner's rows and its room's rows of its dates, nothing else (bookings migrations
# 0020, 0024): bookings of other practitioners in other rooms, at the same site or another, never wait on
# the same row, and answers for other sites and other days are still read.
# An answer is filed under the values of the scopes it read (their sum, in one row: `ScopeRead`), so once a
# write commits, the answers that read what it changed are never read again, and all others still are: one
# booking leaves the answers for other days alone. (A reader that read the old values just before a commit
# may file a newer answer under them: harmless, nobody asks for the old values any more.)
# - Time: answers are computed as of the END of their 5-minute bucket, so a cached list never offers a
#   time that falls inside the minimum notice at any moment it is served.
# - The booking service never reads the cache: it re-checks with `check_slot` in its transaction, and the
#   exclusion constraints have the last word. A cached time just taken gets the usual "just taken" answer.
# The cache is per process (local memory): the scope rows, in the database, keep every process right.

CACHE_BUCKET_SECONDS = 300
CLINIC_SCOPE = "clinic"

# `BUSY_SQL` (and `FREE_ROOMS_SQL`) with the "clinic" scope's value first (a row whose time off flag is NULL):
# `busy_rows(clinic=True)`.
_CLINIC_ROW = f"""
SELECT NULL::bigint, NULL::bigint, NULL::bigint, value, NULL::bigint, NULL::boolean
  FROM {AvailabilityScope._meta.db_table} WHERE scope = '{CLINIC_SCOPE}'
UNION ALL """
BUSY_CLINIC_SQL = _CLINIC_ROW + BUSY_SQL.strip()
FREE_ROOMS_CLINIC_SQL = _CLINIC_ROW + FREE_ROOMS_SQL.strip()


def practitioner_scope(practitioner_id, utc_day: datetime.date | None = None) -> str:
    """A practitioner's scope on one UTC date, or for all their days (`utc_day` None)."""
    if utc_day is None:
        return f"practitioner:{practitioner_id}"
    return f"practitioner:{practitioner_id}:{utc_day.isoformat()}"


def room_scope(room_id, utc_day: datetime.date) -> str:
    return f"room:{room_id}:{utc_day.isoformat()}"


def utc_dates(start: datetime.datetime, end: datetime.datetime) -> list[datetime.date]:
    """The UTC dates an interval [start, end) touches (as the triggers count them)."""
    first = start.astimezone(UTC).date()
    last = (end - datetime.timedelta(microseconds=1)).astimezone(UTC).date()
    return list(days_between(first, last))


def scope_versions(scopes) -> dict[str, int]:
    """The current value of each scope (absent: never written). One query. A lost "clinic" row (a flushed
    database) is put back with a value no earlier row can have reached (microseconds since 1970), and every
    answer reads it, so no answer cached before the loss is ever read again."""
    table = AvailabilityScope._meta.db_table
    # Raw SQL: every cached read asks this, and compiling the ORM query costs more than running it.
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * len(scopes))  # one mark per scope: SQLite takes no tuple parameter
        cursor.execute(f"SELECT scope, value FROM {table} WHERE scope IN ({marks})", list(scopes))
        versions = dict(cursor.fetchall())
        if CLINIC_SCOPE in scopes and CLINIC_SCOPE not in versions:
            # On the database's clock where the triggers have one (they start and bump rows by it): the
            # application's clock may be behind it (a test's clock, skew between machines).
            if connection.vendor == "postgresql":
                fresh, params = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint", [CLINIC_SCOPE]
            else:
                fresh, params = "%s", [CLINIC_SCOPE, int(timezone.now().timestamp() * 1_000_000)]
            cursor.execute(
                f"INSERT INTO {table} (scope, value) VALUES (%s, {fresh}) ON CONFLICT (scope) DO NOTHING", params
            )
            cursor.execute(f"SELECT value FROM {table} WHERE scope = %s", [CLINIC_SCOPE])
            versions[CLINIC_SCOPE] = cursor.fetchone()[0]
    return versions


def clinic_version() -> int:
    return scope_versions([CLINIC_SCOPE])[CLINIC_SCOPE]


def bucket_end(now: datetime.datetime) -> datetime.datetime:
    """The end of the 5-minute bucket `now` falls in: the moment cached answers are computed for."""
    seconds = (int(now.timestamp()) // CACHE_BUCKET_SECONDS + 1) * CACHE_BUCKET_SECONDS
    return datetime.datetime.fromtimestamp(seconds, tz=UTC)


class Catalogue:
    """The clinic's set-up as of one value of the "clinic" scope: active treatments and practitioners (with
    what they offer, in the order 'first available' prefers them) by slug, working hours, rooms, closures
    still to come, the travel times between sites. Loaded in seven queries when the set-up changes, then
    shared by every cached answer of the process: validating a query string and computing an answer need no
    query for it."""

    def __init__(self, version: int):
        self.version = version
        self.treatments = {t.slug: t for t in Treatment.objects.filter(active=True)}
        practitioners = list(
            Practitioner.objects.filter(active=True)
            .select_related("user")
            .order_by("user__last_name", "user__first_name", "pk")
        )
        self.practitioners = {p.slug: p for p in practitioners}
        offered = defaultdict(set)
        for p_id, t_id in Practitioner.treatments.through.objects.filter(
            practitioner__active=True, treatment__active=True
        ).values_list("practitioner_id", "treatment_id"):
            offered[t_id].add(p_id)
        # Practitioner ids offering each treatment, in preference order.
        self.offering = {t_id: [p.pk for p in practitioners if p.pk in ids] for t_id, ids in offered.items()}
        self.hours = defaultdict(list)
        for site_id, p_id, weekday, start, end in WorkingHours.objects.order_by("start").values_list(
            "site_id", "practitioner_id", "weekday", "start", "end"
        ):
            self.hours[(site_id, p_id, weekday)].append((start, end))
        # Each practitioner's part of the hours: an answer's set-up takes those it asks about (`setup`)
        # instead of sifting everyone's (350 spans on the bench clinic) for every answer.
        self.hours_of = defaultdict(dict)
        for key, spans in self.hours.items():
            self.hours_of[key[1]][key] = spans
        self.sites = {site.pk: site for site in Site.objects.all()}
        self.site_slugs = {site.slug: site for site in self.sites.values() if site.active}
        self.zones = {site.pk: site.zone for site in self.sites.values()}
        self.travel = SiteTravel.times()
        self.rooms = list(Room.objects.filter(active=True).order_by("name", "pk"))
        for room in self.rooms:
            room.site = self.sites[room.site_id]  # no query per room
        self.treatment_sites = defaultdict(set)
        for t_id, site_id in Treatment.sites.through.objects.values_list("treatment_id", "site_id"):
            self.treatment_sites[t_id].add(site_id)
        yesterday = clock.today() - datetime.timedelta(days=1)
        self.closures = list(Closure.objects.filter(last_day__gte=yesterday))
        self._by_id = {p.pk: p for p in practitioners}
        self._rooms_by_id = {room.pk: room for room in self.rooms}
        self.reads = {}  # how each cached answer reads its scopes (`_kept_read`)
        self._derived = {}
        self._working = None
        self._day_span = False  # not worked out yet (`day_span`)
        self._windows = {}  # `room_windows` kept per answer asked
        self.busy_arguments = {}  # `busy_rows(rendered=...)`: the parameters' SQL text per answer asked

    def derived(self, key, make):
        """make(), worked out once for this catalogue under `key`: for what follows from its rows alone (the
        booking chooser's options, `bookings.forms.Choices`), which is then exactly as current as they are."""
        found = self._derived.get(key)
        if found is None:
            found = self._derived[key] = make()
        return found

    def reference(self, obj):
        """How a cached answer names one of this catalogue's practitioners or rooms (`_freeze`), or None."""
        kind = _REFERENCED.get(type(obj))  # asked of every object an answer holds: one lookup for most
        if kind is None:
            return None
        table = self._by_id if kind == "practitioner" else self._rooms_by_id
        return (kind, obj.pk) if table.get(obj.pk) is obj else None

    def referenced(self, reference):
        kind, pk = reference
        return (self._by_id if kind == "practitioner" else self._rooms_by_id)[pk]

    def closed_days(self, first, last, site=None):
        return closed_days(first, last, closures=self.closures, site=site)

    def room_windows(self, setup: Setup, sites, first_day, last_day, treatment) -> str:
        """`room_windows` of a set-up of this catalogue, worked out once per practitioner, treatment, sites and
        days: with the cache off every answer for one practitioner asks for it, and its text (a span a day,
        each end written out) was a tenth of that answer's computing (docs/benchmarks.md, issue #16's
        seventh pass). It follows from the catalogue's hours and the site's clock alone; query strings are the
        caller's, so it is bounded as the scope reads are (`SCOPES_KEPT`)."""
        key = (
            tuple(p.pk for p in setup.practitioners),
            tuple(getattr(site, "pk", None) for site in sites),
            first_day,
            last_day,
            treatment.duration,
            treatment.buffer_after,
        )
        return per_question(self._windows, key, lambda: room_windows(setup, sites, first_day, last_day, treatment))

    def rooms_for(self, treatment, site=None) -> list:
        """The rooms that can host the treatment, at the site or anywhere."""
        rooms = rooms_for(treatment, self.rooms, self.treatment_sites.get(treatment.pk))
        return [room for room in rooms if site is None or room.site_id == site.pk]

    def room_ids(self, treatment, site=None) -> list[int]:
        """Whose rooms an answer reads (the treatment's, at the site or anywhere; every room for an answer
        that names no treatment)."""
        if treatment is None:
            return [room.pk for room in self.rooms]
        return [room.pk for room in self.rooms_for(treatment, site)]

    def offers(self, practitioner_id, treatment_id) -> bool:
        return practitioner_id in self.offering.get(treatment_id, ())

    def practitioner_ids(self, treatment, practitioner) -> list[int]:
        """Whose time an answer reads: the one asked for, or everyone offering the treatment."""
        if practitioner is not None:
            return [practitioner.pk]
        return list(self.offering.get(treatment.pk, ()))

    def setup(self, treatment, practitioner) -> Setup:
        """The set-up for the treatment and the practitioner (None: everyone offering it), made once for this
        catalogue: it follows from the catalogue's rows alone, and what calendars work out from it is kept
        with it (`Setup.kept`)."""
        key = ("setup", treatment.pk, treatment.slug, getattr(practitioner, "pk", None))
        return self.derived(key, lambda: self._setup(treatment, practitioner))

    def _setup(self, treatment, practitioner) -> Setup:
        if treatment.slug not in self.treatments:
            return Setup([], {}, [])
        ids = [
            p_id
            for p_id in self.practitioner_ids(treatment, practitioner)
            if self.offers(p_id, treatment.pk) and self.works(p_id)
        ]
        practitioners = [self._by_id[p_id] for p_id in ids]
        hours = {}
        for p_id in ids:
            hours.update(self.hours_of.get(p_id, ()))
        return Setup(practitioners, hours, self.rooms_for(treatment), self.zones, self.travel)

    def practitioners_for(self, treatment) -> list:
        """Who offers the treatment, in the order the booking page lists them (last name, first name)."""
        return [self._by_id[p_id] for p_id in self.offering.get(treatment.pk, ())]

    def sites_for(self, treatment) -> list:
        """The sites where the treatment can be had (a room hosts it there), in the sites' order, as
        `sites_offering` reads them."""
        found = {room.site_id: room.site for room in self.rooms_for(treatment)}
        return sorted(found.values(), key=lambda site: (site.display_order, site.name, site.pk))

    def day_span(self) -> tuple[datetime.time, datetime.time, datetime.timedelta] | None:
        """(the earliest start and the latest end of anyone's working span on any day at any site, the longest
        buffer after any treatment), or None if nobody works: no time offered on a day starts before the
        first on its clock or keeps a room busy past the second plus the third (a treatment ends within its
        span). What an answer's scopes must cover (`_answer_dates`)."""
        span = self._day_span
        if span is False:
            spans = [span for spans in self.hours.values() for span in spans]
            buffers = [treatment.buffer_after for treatment in self.treatments.values()]
            span = self._day_span = (
                (
                    min(start for start, _ in spans),
                    max(end for _, end in spans),
                    max(buffers, default=datetime.timedelta(0)),
                )
                if spans
                else None
            )
        return span

    def works(self, practitioner_id) -> bool:
        working = self._working
        if working is None:
            working = self._working = {p_id for (_, p_id, _), spans in self.hours.items() if spans}
        return practitioner_id in working


_REFERENCED = {Practitioner: "practitioner", Room: "room"}  # what a catalogue holds, by exact type
_catalogue: Catalogue | None = None


def held_catalogue(version: int) -> Catalogue | None:
    """The catalogue this process holds if it is that of this value of the "clinic" scope, else None: a
    page that read the value already (the desk's day view, bookings/frontdesk/day_cache.py) takes the
    set-up from it without a query, or reads what it needs itself."""
    known = _catalogue
    return known if known is not None and known.version == version else None


def catalogue(version: int | None = None) -> Catalogue:
    """The process's catalogue for this value of the "clinic" scope (the current one if not given)."""
    global _catalogue
    version = clinic_version() if version is None else version
    current = _catalogue
    if current is None or current.version != version:
        current = _catalogue = Catalogue(version)
    return current


class CatalogueChanged(Exception):
    """The clinic's set-up changed since the catalogue a question was checked against was loaded: check it
    again against the current one (`catalogue()`)."""


def process_catalogue() -> Catalogue:
    """The catalogue this process holds, without reading the "clinic" scope (loaded if there is none), so
    it may be out of date. Who checks a question against it (the booking pages: the treatment, the
    practitioner and site chosen) has it confirmed by the scope read of `cached(..., checked=...)` that
    follows, or by `confirm`, either of which raises `CatalogueChanged` if the set-up changed since: a
    request then pays no query for the set-up, and is never answered from an older one."""
    known = _catalogue
    return catalogue() if known is None else known


def confirm(known: Catalogue) -> None:
    """Raise `CatalogueChanged` unless `known` is the catalogue of the clinic's set-up now. One query."""
    if clinic_version() != known.version:
        raise CatalogueChanged


def forget_cached_answers() -> None:
    """Empty this process's cached answers and catalogue (tests start each one from nothing, as a freshly
    started process does: a rolled-back test rolls the scope values back too)."""
    global _catalogue
    _catalogue = None
    caches["availability"].clear()
    with _thawed_lock:
        _thawed.clear()


def _answer_dates(
    first_day, last_day, zones=(), span=None, travel=datetime.timedelta(0)
) -> tuple[datetime.date, datetime.date] | None:
    """The first and last UTC date whose room scopes an answer for these local days reads (None: no days);
    with `travel` (the longest travel time between two sites), whose practitioner scopes it reads: an
    appointment of theirs at another site nearer than that to a time offered takes it out too.
    `zones`: the zones of the sites whose days they are (the clinic's without). An appointment that overlaps
    a time offered touches a UTC date that time touches (the triggers bump every date an appointment
    touches), so the dates read run from the earliest start of a working span on the first day to the latest
    end of one on the last plus the longest buffer (`span`: `Catalogue.day_span`; each wall time taken at
    whichever of its two readings on a clock-change day is further out). Without `span`, from the first
    day's midnight to the last's plus a day (no appointment lasts a day). Reading the dates the clinic is
    closed on (a night in UTC) made a booking early on the day after a week invalidate the answers for that
    week too: a seventh of the busy clinic's misses (docs/benchmarks.md, issue #16's fifth pass)."""
    if first_day is None or last_day is None or first_day > last_day:
        return None
    zones = zones or (clock.zone(),)
    if span is None:
        bounds = [day_bounds_utc(first_day, last_day, zone) for zone in zones]
        start, end = min(b[0] for b in bounds), max(b[1] for b in bounds) + LONGEST_APPOINTMENT
    else:
        earliest, latest, buffer = span
        first, last = datetime.datetime.combine(first_day, earliest), datetime.datetime.combine(last_day, latest)
        start = min(first.replace(tzinfo=zone, fold=fold).astimezone(UTC) for zone in zones for fold in (0, 1))
        end = max(last.replace(tzinfo=zone, fold=fold).astimezone(UTC) for zone in zones for fold in (0, 1)) + buffer
    dates = utc_dates(start - travel, end + travel)
    return dates[0], dates[-1]


class ScopeRead:
    """How one cached answer reads its scopes: one statement, answered in one row (the "clinic" value, and
    the sum of the values of every scope it reads), worked out once per catalogue and answer.

    Its rooms' scopes are read as one range of names a room, from "room:<id>:<first date>" to
    "room:<id>:<last date>" (its practitioners' likewise, "practitioner:<id>:<date>", on the dates
    `_answer_dates` gives with the travel time): ISO dates sort as their text, so the range holds exactly
    the dates between (compared byte by byte: PostgreSQL's `~>=~` and `~<=~`, which the primary key's
    pattern index serves whatever the database's collation; SQLite compares bytes). A month of one
    practitioner's answer reads ~320 room scopes: ten index ranges instead of ~320 lookups, and one row back
    instead of ~320 (PostgreSQL planned, ran and sent them in more time than the rest of a cached request).

    On PostgreSQL every read is the same statement, whatever it reads: the names and ranges are two arrays
    (a name is the range from itself to itself), one index range each (`SCOPE_READ`). That one statement is
    prepared once a connection and then only executed: planning the read (an `OR` of one range a room,
    planned again on every request) was half of its server time, and one plan serves every answer. On the
    bench clinic (docs/benchmarks.md, issue #16's fifth pass), a month of one practitioner: 0.32 to 0.44 ms
    of PostgreSQL CPU a read before, 0.25 to 0.32 prepared, 0.16 once the table is dense (bookings 0023).

    Why a sum names the state as well as the list of values did: a value only grows (a trigger sets it to
    the database clock's microseconds since 1970, or adds one when that is not past it; a row first written
    starts at that clock), so any write to a scope read makes the sum larger than every sum read before it,
    and snapshots only gain commits, so no later read can find an earlier sum after a write it sees. Bumps
    that a rollback took back are not made again with the same values (migration 0027): the clock has moved
    on, so an answer kept inside a rolled-back transaction is never read for a later state. Rows are never
    deleted, except all of them at once (a flushed database), and then the "clinic" row comes back at a value
    no earlier one reached (`scope_versions`): the key holds that value too."""

    __slots__ = ("sql", "params", "digest", "arguments")

    def __init__(self, names, rooms, key_parts):
        names = list(dict.fromkeys(names))  # each scope summed once
        rooms = list(dict.fromkeys(rooms))
        if connection.vendor == "postgresql":
            self.sql = None  # the prepared statement's (`SCOPE_READ`)
            self.params = [[*names, *(low for low, _ in rooms)], [*names, *(high for _, high in rooms)]]
        else:
            self.params = [*names, *(name for bounds in rooms for name in bounds)]
            where = [f"scope IN ({', '.join(['%s'] * len(names))})", *("(scope >= %s AND scope <= %s)" for _ in rooms)]
            self.sql = (
                f"SELECT max(CASE WHEN scope = '{CLINIC_SCOPE}' THEN value END), sum(value) "
                f"FROM {AvailabilityScope._meta.db_table} WHERE {' OR '.join(where)}"
            )
        # Parts may be long, hostile query strings: the key holds a digest.
        self.digest = hashlib.sha256(repr(key_parts).encode()).hexdigest()
        # The arrays as SQL text, rendered at the first read: adapting ~24 names for every request cost the
        # process more than the rest of the read (docs/benchmarks.md, issue #16's sixth pass).
        self.arguments = None

    def __eq__(self, other):
        return isinstance(other, ScopeRead) and (self.sql, self.params) == (other.sql, other.params)

    def state(self) -> tuple[int | None, int]:
        """(the "clinic" value, None if its row is lost; the sum of the values read). One query."""
        with connection.cursor() as cursor:
            if self.sql is None:
                arguments = self.arguments
                if arguments is None:
                    arguments = self.arguments = arguments_sql(cursor, self.params)
                execute_prepared(cursor, "availability_scope_read", SCOPE_READ, SCOPE_READ_TYPES, arguments=arguments)
            else:
                cursor.execute(self.sql, self.params)
            clinic, total = cursor.fetchone()
        return clinic, total or 0


# The scope read on PostgreSQL: the sum of the scopes whose names lie between low and high, for each (low,
# high) of two arrays, and the "clinic" value. Prepared once a connection (`clinic.prepared`).
# Each range is read by its own index scan (the LATERAL subquery, kept apart by OFFSET 0): joined plainly, the
# plan made once for every size of the arrays could be, on a table full of dead rows, one scan of the whole
# table matched against every range (seen: 7.6 ms instead of 0.25).
SCOPE_READ = (
    f"SELECT max(value) FILTER (WHERE scope = '{CLINIC_SCOPE}'), sum(value) "
    f"FROM unnest($1::text[], $2::text[]) AS asked (low, high) CROSS JOIN LATERAL ("
    f"SELECT scope, value FROM {AvailabilityScope._meta.db_table} WHERE scope ~>=~ low AND scope ~<=~ high OFFSET 0"
    f") AS read"
)


SCOPE_READ_TYPES = ("text[]", "text[]")


def answer_read(
    practitioner_ids, room_ids, first_day, last_day, zones=(), *, span=None, travel=None, key_parts=()
) -> ScopeRead:
    """The `ScopeRead` of an answer (`key_parts`) for these practitioners and rooms on these local days
    (`span`: `Catalogue.day_span`; `travel`: the longest travel time between two sites, by default the
    longest there can be; see `_answer_dates`). An answer about one practitioner reads their scopes per date
    (a booking of theirs on other days leaves it alone); an answer about several (first available) reads
    each one's scope for all their days, one row a practitioner (bookings 0025: per date, a month of 50
    practitioners read about 1,550 rows, and its read cost twice as much)."""
    travel = LONGEST_TRAVEL if travel is None else travel
    dates = _answer_dates(first_day, last_day, zones, span)
    if dates is None:  # an answer without days (a refusal) reads the set-up only
        return ScopeRead([CLINIC_SCOPE], [], key_parts)
    names, ranges = [CLINIC_SCOPE], [(room_scope(r_id, dates[0]), room_scope(r_id, dates[1])) for r_id in room_ids]
    if len(practitioner_ids) == 1:
        met = _answer_dates(first_day, last_day, zones, span, travel)
        ranges.append(
            (practitioner_scope(practitioner_ids[0], met[0]), practitioner_scope(practitioner_ids[0], met[1]))
        )
    else:
        names += [practitioner_scope(p_id) for p_id in practitioner_ids]
    return ScopeRead(names, ranges, key_parts)


def cached(
    key_parts: tuple,
    compute,
    *,
    reads,
    rooms=None,
    days=(None, None),
    now: datetime.datetime | None = None,
    checked: Catalogue | None = None,
    shared: bool = False,
    pooled: bool = False,
):
    """compute(as_of, catalogue) once per state of what it reads and time bucket.

    `key_parts` say what is computed, so they decide what it reads (kept per catalogue); `reads(catalogue)` gives
    the ids of the practitioners whose time it reads; `rooms(catalogue)` the ids of the rooms it reads (None: every
    room); `days` the local (first, last) days whose rooms it reads (None: no rooms, e.g. an answer that is a
    refusal). One query when the set-up has not changed since this process last looked. `checked`: the
    catalogue (`process_catalogue`) the caller checked the question against; `CatalogueChanged` is raised,
    and nothing computed, if the scope read finds the set-up changed since. `shared`: the caller never changes
    the value (nor anything in it), so the value thawed from the cache is kept as it is for the next requests
    that find the same entry (`_thawed`), which then cost no unpickling. `pooled`: the value is JSON bytes (the
    API's), shared with the other processes through Redis when there is one (bookings/answer_cache.py): a
    process that misses takes it from there before computing it.

    With the cache off (`AVAILABILITY_CACHE=0`) every answer is computed, as of now; the set-up still comes
    from the catalogue of the current "clinic" value, as issue 16's "endpoint cold" has it: the treatment
    and practitioner looked up under the same invalidation, not read again for every answer (`_uncached`).
    """
    now = now or timezone.now()
    if not settings.AVAILABILITY_CACHE:
        return _uncached(compute, now, checked)

    def read_of(known):
        if known is None:  # no catalogue yet: what it is, and what the answer reads once it is known
            return answer_read([], [], None, None, key_parts=key_parts)
        room_ids = rooms(known) if rooms is not None else known.room_ids(None)
        asked = set(room_ids)
        zones = {known.zones[room.site_id] for room in known.rooms if room.pk in asked}
        zones = sorted(zones, key=str)
        return answer_read(
            reads(known),
            room_ids,
            *days,
            zones=zones,
            span=known.day_span(),
            travel=known.travel.longest(),
            key_parts=key_parts,
        )

    known = _catalogue
    read = _kept_read(known, key_parts, read_of)
    clinic, total = read.state()
    if checked is not None and checked.version != clinic:
        raise CatalogueChanged
    if known is None or known.version != clinic:
        known = catalogue(clinic_version() if clinic is None else clinic)  # a lost row is put back first
        fresh = _kept_read(known, key_parts, read_of)
        if clinic is None or fresh != read:
            read = fresh
            clinic, total = read.state()
            if clinic != known.version:  # the set-up changed again meanwhile: answered, not kept
                return compute(bucket_end(now), known)
    # The key: the answer asked (a digest), its time bucket and the state read (bookings/answer_cache.py).
    key = (read.digest, int(now.timestamp()) // CACHE_BUCKET_SECONDS, clinic, total)
    cache = caches["availability"]
    found = cache.get(key)
    if found is not None:
        if type(found) is bytes:  # JSON bytes as sent (the API): immutable, handed out as they are
            return found
        if shared:
            thawed = _thawed.get(key)
            if thawed is not None and thawed[0] is known and thawed[1] is found:
                return thawed[2]
        try:
            value = _thaw(found.frozen, known)
        except KeyError:  # names a practitioner or room of another catalogue of this version: compute again
            pass
        else:
            if shared:
                _keep_thawed(key, known, found, value)
            return value
    if pooled:
        value = pooled_get(key)
        if value is not None:
            cache.set(key, value)
            return value
    value = compute(bucket_end(now), known)
    if type(value) is bytes:
        cache.set(key, value)
        if pooled:
            pooled_set(key, value, timeout=2 * CACHE_BUCKET_SECONDS)
        return value
    found = Frozen(_freeze(value, known))
    cache.set(key, found)
    if shared:
        _keep_thawed(key, known, found, value)
    return value


# Answers as `cached(..., shared=True)` thawed them, per process: (catalogue, the cached entry, the value) by
# key. Unpickling the booking page's first-available times (about 600 slots) cost a millisecond of every
# request (docs/benchmarks.md, issue #16's sixth pass). A kept value is served only while the availability
# cache holds the very entry (`Frozen`) it was thawed from under the same key (a name of the state of
# everything the answer reads: a write to any of it gives a key never seen before), for the same catalogue
# object: so it is never newer nor older than what the cache gives, and emptying the cache (or the entry's
# eviction) forgets it too.
THAWED_KEPT = 64
_thawed: OrderedDict = OrderedDict()
_thawed_lock = threading.Lock()


def _keep_thawed(key, known, frozen, value) -> None:
    with _thawed_lock:
        _thawed[key] = (known, frozen, value)
        _thawed.move_to_end(key)
        while len(_thawed) > THAWED_KEPT:
            _thawed.popitem(last=False)


# The catalogue an answer computed with the cache off has not confirmed yet (`_uncached`): its busy rows'
# statement reads the "clinic" value too, and confirms it (`Busy.load`).
_unconfirmed: ContextVar = ContextVar("availability_unconfirmed", default=None)


def _uncached(compute, now, checked):
    """compute(now, catalogue) with the catalogue this process holds, confirmed by the statement that reads
    the answer's busy rows (one round trip for both, where the scope read and then the rows took two: with
    the cache off, a week of one practitioner's times costs one query). An answer that reads no busy rows (a
    refusal, nobody offering the treatment) confirms it with a query of its own, after. If the set-up
    changed, the answer is computed again from the current one (or `CatalogueChanged` raised for a caller
    who `checked` the question against the one it had)."""
    known = _catalogue
    if known is None or (checked is not None and checked is not known):
        known = catalogue()
        if checked is not None and checked.version != known.version:
            raise CatalogueChanged
        return compute(now, known)
    token = _unconfirmed.set(known)
    try:
        value = compute(now, known)
    except CatalogueChanged:
        changed = True
    except Exception:
        if _unconfirmed.get() is not known or clinic_version() == known.version:
            raise  # a refusal from the current set-up
        changed = True
    else:
        changed = _unconfirmed.get() is known and clinic_version() != known.version
    finally:
        _unconfirmed.reset(token)
    if not changed:
        return value
    if checked is not None:
        raise CatalogueChanged
    return compute(now, catalogue())


SCOPES_KEPT = 4096


def _kept_read(known, key_parts, read_of) -> ScopeRead:
    """The `ScopeRead` of an answer, worked out once per catalogue and answer (`key_parts` say what is
    computed, so they decide what it reads): a month of one practitioner's times reads about 300 room scopes,
    whose names cost more to build on every request than the cached answer costs to send."""
    if known is None:
        return read_of(None)
    return per_question(known.reads, key_parts, lambda: read_of(known))


def per_question(kept: dict, key, make):
    """make(), kept in `kept` (a catalogue's) under `key`, for what follows from the catalogue and the question
    asked (the scopes an answer reads, the rooms' windows, the statement's parameters as SQL). Query strings
    are the caller's, so it is bounded: forgotten all at once at `SCOPES_KEPT` entries."""
    found = kept.get(key)
    if found is None:
        if len(kept) >= SCOPES_KEPT:
            kept.clear()
        found = kept[key] = make()
    return found


@dataclass(frozen=True, slots=True)
class Frozen:
    """A cached answer that is not bytes (`_freeze`): thawed into a fresh copy for every reader, who may change
    it (an answer of bytes is kept and served as it is)."""

    frozen: bytes


def _catalogue_reference(kind, pk):
    """What a frozen answer names a practitioner or room of its catalogue by (`_Freezer`); `_Thawer` answers
    it from the catalogue it thaws with."""
    raise RuntimeError("a catalogue's reference is thawed by _Thawer")


class _Freezer(pickle.Pickler):
    """No `persistent_id`: pickle calls it for every object (13,500 of them for 60 days of first available,
    a fifth of that answer's cost), `reducer_override` only for those of other than the built-in types."""

    def __init__(self, file, known):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.known = known

    def reducer_override(self, obj):
        reference = self.known.reference(obj)
        if reference is None:
            return NotImplemented
        # Looked up once per practitioner or room: pickle remembers it for the answer's other slots.
        return _catalogue_reference, reference


class _Thawer(pickle.Unpickler):
    def __init__(self, file, known):
        super().__init__(file)
        self.known = known

    def find_class(self, module, name):
        if module == __name__ and name == "_catalogue_reference":
            return self._referenced
        return super().find_class(module, name)

    def _referenced(self, kind, pk):
        return self.known.referenced((kind, pk))


def _freeze(value, known) -> bytes:
    """An answer as cached: its slots name their practitioner and room by id in the catalogue (the key holds
    the catalogue's version) instead of carrying pickled model instances, which cost more to unpickle than
    the rest of the answer (5 ms for the booking page's 15 days of first-available times)."""
    buffer = io.BytesIO()
    _Freezer(buffer, known).dump(value)
    return buffer.getvalue()


def _thaw(frozen: bytes, known):
    return _Thawer(io.BytesIO(frozen), known).load()


def offered_slots(
    treatment, practitioner, date_from, date_to, *, site=None, now=None
) -> dict[datetime.date, list[Slot]]:
    """`available_slots` as the booking pages show them, from the cache (see above). site=None: any site."""
    return cached(
        ("slots", treatment.pk, getattr(practitioner, "pk", "any"), getattr(site, "pk", "any"), date_from, date_to),
        lambda as_of, known: available_slots(
            treatment, practitioner, date_from, date_to, site=site, now=as_of, catalogue=known
        ),
        reads=lambda known: known.practitioner_ids(treatment, practitioner),
        rooms=lambda known: known.room_ids(treatment, site),
        days=(date_from, date_to),
        now=now,
    )


def nearest_free_slots(
    treatment, practitioner, start_at, *, site=None, count=3, now=None, ignore_appointment=None, notice=None
) -> list[Slot]:
    """The free starts closest to a wanted one (the day before to the day after), in time order: what a
    patient who just lost a slot is offered instead (at the same site, when one was asked for)."""
    day = start_at.astimezone(clock.zone(site)).date()
    days = available_slots(
        treatment,
        practitioner,
        day - datetime.timedelta(days=1),
        day + datetime.timedelta(days=1),
        site=site,
        now=now,
        ignore_appointment=ignore_appointment,
        notice=notice,
    )
    slots = [slot for day_slots in days.values() for slot in day_slots if slot.start_at != start_at]
    slots.sort(key=lambda slot: abs(slot.start_at - start_at))
    return sorted(slots[:count], key=lambda slot: slot.start_at)


def bookable_days(now=None, *, site=None) -> tuple[datetime.date, datetime.date]:
    """The first and last local days (the site's, the clinic's without) a patient may pick (minimum notice
    to horizon)."""
    now = now or timezone.now()
    zone = clock.zone(site)
    first = (now + datetime.timedelta(hours=policy("MIN_NOTICE_HOURS"))).astimezone(zone).date()
    last = now.astimezone(zone).date() + datetime.timedelta(days=policy("HORIZON_DAYS"))
    return first, last


# --- courses: why a day is not available for this patient -------------------------------------------------


@dataclass(frozen=True)
class CourseBlock:
    """Days on which this patient may not have another session of the treatment, and why."""

    first_day: datetime.date
    last_day: datetime.date
    message: str

    def covers(self, day: datetime.date) -> bool:
        return self.first_day <= day <= self.last_day


def course_blocks(patient, treatment, *, ignore_appointment=None) -> list[CourseBlock]:
    """For a course treatment, the days around each of the patient's live sessions where another one would
    be too close (either side). Consultations and treatments without an interval have none. One query."""
    gap = treatment.min_days_between_sessions
    if treatment.is_consultation or not gap or patient is None:
        return []
    zone = clock.zone()
    sessions = (
        Appointment.objects.live()
        .filter(patient=patient, treatment=treatment)
        .exclude(pk=getattr(ignore_appointment, "pk", None))
        .values_list("start_at", flat=True)
    )
    blocks = []
    for start_at in sessions:
        day = start_at.astimezone(zone).date()
        earliest_next = day + datetime.timedelta(days=gap)
        latest_before = day - datetime.timedelta(days=gap)
        rule = treatment.interval_rule
        blocks += [
            CourseBlock(
                latest_before + datetime.timedelta(days=1),
                day - datetime.timedelta(days=1),
                f"{rule} You have one on {day:%-d %B %Y}, so this one can be up to {latest_before:%-d %B %Y}.",
            ),
            CourseBlock(
                day,
                earliest_next - datetime.timedelta(days=1),
                f"{rule} You have one on {day:%-d %B %Y}, so your next session can be from {earliest_next:%-d %B %Y}.",
            ),
        ]
    return sorted(blocks, key=lambda block: block.first_day)


def why_day_unavailable(patient, treatment, day, *, ignore_appointment=None) -> str:
    """The patient-facing reason this patient cannot have the treatment that day, or '' if none."""
    for block in course_blocks(patient, treatment, ignore_appointment=ignore_appointment):
        if block.covers(day):
            return block.message
    return ""
