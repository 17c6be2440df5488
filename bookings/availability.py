"""The one availability module: which start times can be booked, and why a time or day cannot.

Everything that offers or re-checks a time (booking pages, the booking service, the API, the front desk)
asks this module; nobody re-implements the rule.

The rule. A start time is offered for (treatment, practitioner) when:
- it lies on the slot grid of one of the practitioner's working-hours spans for that weekday (clinic local
  time, `SLOT_STEP_MINUTES` apart from the span's start) and the treatment itself ends within that span
  (the buffer after it may run past closing: it is cleaning time, not patient time);
- its occupied interval [start, start + duration + buffer) overlaps none of the practitioner's time off and
  none of their live appointments' [start_at, busy_until) (the same intervals the database's exclusion
  constraints compare);
- at least one active room is free over that interval (the first free one by name is proposed);
- it is at least `MIN_NOTICE_HOURS` from now, and its local day is at most `HORIZON_DAYS` after today.

Daylight saving. Candidates are wall-clock times in the clinic's zone, converted to UTC with zoneinfo:
- a wall time that does not exist (spring forward, e.g. 01:30 on 2027-03-28 in London) is skipped;
- a wall time that happens twice (fall back, e.g. 01:30 on 2026-10-25) is offered once, at its FIRST
  occurrence (fold=0, still summer time): a patient reading '01:30' on a list cannot tell two of them
  apart, so the repeated hour is not offered a second time;
- durations are real elapsed time: the end of a session is start + duration in UTC.

Cost. A date range is computed from a fixed number of queries whatever its length (practitioners, their
hours, time off, appointments, rooms: one query each); the rest is done in memory with sorted intervals.
"""

import datetime
import hashlib
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from enum import Enum
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from clinic.closures import closed_days
from clinic.models import Practitioner, Room, TimeOff, Treatment, WorkingHours

from .models import Appointment, AvailabilityGeneration

UTC = datetime.UTC
LONGEST_APPOINTMENT = datetime.timedelta(days=1)


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(settings.CLINIC_TIME_ZONE)


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
    def local_start(self) -> datetime.datetime:
        return self.start_at.astimezone(clinic_zone())

    @property
    def local_end(self) -> datetime.datetime:
        return self.end_at.astimezone(clinic_zone())


class Verdict(Enum):
    FREE = "free"
    NOT_OFFERED = "not_offered"  # outside hours, off the grid, time off, too soon, too far ahead
    TAKEN = "taken"  # an appointment (of the practitioner, or in every room) is in the way


# --- time helpers ------------------------------------------------------------------------------------


def local_to_utc(day: datetime.date, wall: datetime.time, zone: ZoneInfo) -> datetime.datetime | None:
    """The instant a clinic wall-clock time happens, its first occurrence if it happens twice; None if the
    clocks jump over it."""
    naive = datetime.datetime.combine(day, wall)
    aware = naive.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return utc


def span_end_utc(day: datetime.date, wall: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """The end of a working span as an instant; for a wall time in a DST gap or overlap, the earlier one
    (never lets a session run past the span)."""
    naive = datetime.datetime.combine(day, wall)
    return min(naive.replace(tzinfo=zone, fold=0).astimezone(UTC), naive.replace(tzinfo=zone, fold=1).astimezone(UTC))


def day_bounds_utc(first: datetime.date, last: datetime.date, zone: ZoneInfo):
    start = datetime.datetime.combine(first, datetime.time.min).replace(tzinfo=zone).astimezone(UTC)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min).replace(tzinfo=zone)
    return start, end.astimezone(UTC)


def days_between(first: datetime.date, last: datetime.date):
    day = first
    while day <= last:
        yield day
        day += datetime.timedelta(days=1)


class Intervals:
    """Half-open busy intervals, merged and sorted, answering 'does [a, b) touch any?' in O(log n)."""

    def __init__(self, pairs):
        merged: list[list[datetime.datetime]] = []
        for start, end in sorted(pairs):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def overlaps(self, start: datetime.datetime, end: datetime.datetime) -> bool:
        index = bisect_left(self.starts, end) - 1
        return index >= 0 and self.ends[index] > start


EMPTY = Intervals([])


# --- the calendar: everything one range needs, fetched once --------------------------------------------


class Calendar:
    """The busy picture of a date range for one treatment, loaded in a fixed number of queries."""

    def __init__(self, treatment, practitioners, first_day, last_day, *, now=None, ignore_appointment_id=None):
        self.treatment = treatment
        self.zone = clinic_zone()
        self.now = now or timezone.now()
        self.practitioners = list(practitioners)
        self.first_day, self.last_day = first_day, last_day
        today = self.now.astimezone(self.zone).date()
        self.earliest_start = self.now + datetime.timedelta(hours=policy("MIN_NOTICE_HOURS"))
        self.last_bookable_day = today + datetime.timedelta(days=policy("HORIZON_DAYS"))
        self.latest_start_before = day_bounds_utc(self.last_bookable_day, self.last_bookable_day, self.zone)[1]
        self.step = datetime.timedelta(minutes=policy("SLOT_STEP_MINUTES"))
        self.duration, self.buffer_after = treatment.duration, treatment.buffer_after
        self.occupied = self.duration + self.buffer_after
        self._grid: dict = {}

        ids = [p.pk for p in self.practitioners]
        range_start, range_end = day_bounds_utc(first_day, last_day, self.zone)
        # A slot late on the last day occupies time after midnight: look a little further.
        range_end += self.occupied
        self.hours = defaultdict(list)
        for span in WorkingHours.objects.filter(practitioner_id__in=ids).order_by("start"):
            self.hours[(span.practitioner_id, span.weekday)].append(span)
        time_off = defaultdict(list)
        for p_id, start, end in TimeOff.objects.filter(
            practitioner_id__in=ids, start_at__lt=range_end, end_at__gt=range_start
        ).values_list("practitioner_id", "start_at", "end_at"):
            time_off[p_id].append((start, end))
        self.time_off = {p_id: Intervals(pairs) for p_id, pairs in time_off.items()}
        # Clinic closures and bank holidays: a clinic-wide time off, whole local days.
        self.closed = closed_days(first_day, last_day)
        self.rooms = list(Room.objects.filter(active=True).order_by("name", "pk"))
        appointments = (
            Appointment.objects.live()
            .overlapping(range_start, range_end)
            # No appointment lasts a day: this bound lets the (practitioner|room, start_at) indexes do the work.
            .filter(start_at__gte=range_start - LONGEST_APPOINTMENT)
            .filter(Q(practitioner_id__in=ids) | Q(room_id__in=[room.pk for room in self.rooms]))
            .exclude(pk=ignore_appointment_id)
            .order_by()  # Intervals sorts; an ORDER BY here would only add a sort step to the plan
            .values_list("practitioner_id", "room_id", "start_at", "busy_until")
        )
        by_practitioner, by_room = defaultdict(list), defaultdict(list)
        for p_id, room_id, start, end in appointments:
            by_practitioner[p_id].append((start, end))
            by_room[room_id].append((start, end))
        self.appointments = {p_id: Intervals(pairs) for p_id, pairs in by_practitioner.items()}
        self.room_busy = {room_id: Intervals(pairs) for room_id, pairs in by_room.items()}

    # candidates ---------------------------------------------------------------------------------------

    def candidates(self, practitioner, day):
        """(start, end) instants on the slot grid of the practitioner's spans that day, in order; none on a
        day the clinic is closed."""
        if day in self.closed:
            return
        for span in self.hours.get((practitioner.pk, day.weekday()), ()):
            yield from self.span_candidates(day, span.start, span.end)

    def span_candidates(self, day, span_start, span_end):
        """The grid of one span on one day; practitioners with the same hours share it (computed once)."""
        key = (day, span_start, span_end)
        if key not in self._grid:
            grid = []
            limit = span_end_utc(day, span_end, self.zone)
            wall = datetime.datetime.combine(day, span_start)
            span_end_wall = datetime.datetime.combine(day, span_end)
            while wall < span_end_wall:
                start = local_to_utc(day, wall.time(), self.zone)
                if start is not None:
                    end = start + self.duration
                    if end > limit:
                        break
                    grid.append((start, end))
                wall += self.step
            self._grid[key] = grid
        return self._grid[key]

    # verdicts -----------------------------------------------------------------------------------------

    def within_policy(self, start: datetime.datetime) -> bool:
        return self.earliest_start <= start < self.latest_start_before

    def free_room(self, start, busy_until, wanted=None):
        rooms = [room for room in self.rooms if wanted is None or room.pk == wanted.pk]
        for room in rooms:
            if not self.room_busy.get(room.pk, EMPTY).overlaps(start, busy_until):
                return room
        return None

    def verdict(self, practitioner, start, end, wanted_room=None) -> tuple[Verdict, Room | None]:
        busy_until = end + self.buffer_after
        if not self.within_policy(start):
            return Verdict.NOT_OFFERED, None
        if self.time_off.get(practitioner.pk, EMPTY).overlaps(start, busy_until):
            return Verdict.NOT_OFFERED, None
        if self.appointments.get(practitioner.pk, EMPTY).overlaps(start, busy_until):
            return Verdict.TAKEN, None
        room = self.free_room(start, busy_until, wanted_room)
        if room is None:
            return Verdict.TAKEN, None
        return Verdict.FREE, room

    def slot(self, practitioner, start, end, room) -> Slot:
        return Slot(start, end, end + self.buffer_after, practitioner, room)

    def slots_by_day(self) -> dict[datetime.date, list[Slot]]:
        """Every local day of the range, with its free starts; with several practitioners, each start once,
        given to the first practitioner (in the practitioners' order) who is free then."""
        result = {}
        for day in days_between(self.first_day, self.last_day):
            chosen: dict[datetime.datetime, Slot] = {}
            for practitioner in self.practitioners:
                for start, end in self.candidates(practitioner, day):
                    if start in chosen:
                        continue
                    verdict, room = self.verdict(practitioner, start, end)
                    if verdict is Verdict.FREE:
                        chosen[start] = self.slot(practitioner, start, end, room)
            result[day] = [chosen[start] for start in sorted(chosen)]
        return result

    def check(self, practitioner, start_at, wanted_room=None) -> tuple[Verdict, Slot | None]:
        """Is this exact start bookable with this practitioner (and room, if given)?"""
        day = start_at.astimezone(self.zone).date()
        for start, end in self.candidates(practitioner, day):
            if start == start_at:
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


def practitioners_offering(treatment: Treatment):
    return Practitioner.objects.filter(active=True, treatments=treatment).select_related("user")


def _practitioners_for(treatment, practitioner):
    """The practitioners to look at, in the order 'first available' prefers them (name, then id)."""
    if not treatment.active:
        return []
    queryset = practitioners_offering(treatment)
    if practitioner is not None:
        queryset = queryset.filter(pk=practitioner.pk)
    return list(queryset.order_by("user__last_name", "user__first_name", "pk"))


# --- public API ------------------------------------------------------------------------------------------


def available_slots(
    treatment: Treatment,
    practitioner: Practitioner | None,
    date_from: datetime.date,
    date_to: datetime.date,
    *,
    now: datetime.datetime | None = None,
    ignore_appointment=None,
) -> dict[datetime.date, list[Slot]]:
    """Bookable starts per clinic-local day from date_from to date_to (both included, every day present).

    practitioner=None means 'first available': each start once, with the first free practitioner who
    offers the treatment. `ignore_appointment` leaves one appointment out of the busy picture (moving an
    appointment may overlap its own old time).
    """
    if date_to < date_from:
        return {}
    calendar = Calendar(
        treatment,
        _practitioners_for(treatment, practitioner),
        date_from,
        date_to,
        now=now,
        ignore_appointment_id=getattr(ignore_appointment, "pk", None),
    )
    return calendar.slots_by_day()


# --- cached reads: what pages and the API show ----------------------------------------------------------
#
# Patients ask for the same ranges again and again, and the answer changes only when an appointment, working
# hours, time off, a room, a practitioner or a treatment changes, or as time passes.
# - Writes: database triggers bump one counter row (AvailabilityGeneration) in the writing transaction,
#   whoever writes. Answers are filed under the counter's value, so after any write commits, older answers
#   are never read again. (A reader that read the old value just before a commit may file a newer answer
#   under the old value: harmless, nobody asks for the old value any more.)
# - Time: answers are computed as of the END of their 5-minute bucket, so a cached list never offers a
#   time that falls inside the minimum notice at any moment it is served.
# - The booking service never reads the cache: it re-checks with `check_slot` in its transaction, and the
#   exclusion constraints have the last word. A cached time just taken gets the usual "just taken" answer.
# The cache is per process (local memory): the counter, in the database, keeps every process right.

CACHE_BUCKET_SECONDS = 300


def availability_generation() -> int:
    """The counter's value. A lost row (a flushed database) is put back with a value no earlier row can
    have reached (microseconds since 1970), so no answer cached before the loss is ever read again."""
    table = AvailabilityGeneration._meta.db_table
    # Raw SQL: every cached read asks this, and compiling the ORM query costs more than running it.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {table} WHERE id = 1")
        row = cursor.fetchone()
        if row is None:
            fresh = int(timezone.now().timestamp() * 1_000_000)
            cursor.execute(f"INSERT INTO {table} (id, value) VALUES (1, %s) ON CONFLICT (id) DO NOTHING", [fresh])
            cursor.execute(f"SELECT value FROM {table} WHERE id = 1")
            row = cursor.fetchone()
    return row[0]


def bucket_end(now: datetime.datetime) -> datetime.datetime:
    """The end of the 5-minute bucket `now` falls in: the moment cached answers are computed for."""
    seconds = (int(now.timestamp()) // CACHE_BUCKET_SECONDS + 1) * CACHE_BUCKET_SECONDS
    return datetime.datetime.fromtimestamp(seconds, tz=UTC)


def cached(key_parts: tuple, compute, *, now: datetime.datetime | None = None):
    """compute(as_of) once per state of the clinic and time bucket; `key_parts` say what is computed."""
    now = now or timezone.now()
    if not settings.AVAILABILITY_CACHE:
        return compute(now)
    generation = availability_generation()
    as_of = bucket_end(now)
    digest = hashlib.sha256(repr(key_parts).encode()).hexdigest()  # parts may be long, hostile query strings
    key = f"availability:{generation}:{int(as_of.timestamp())}:{digest}"
    cache = caches["availability"]
    value = cache.get(key)
    if value is None:
        value = compute(as_of)
        cache.set(key, value, timeout=2 * CACHE_BUCKET_SECONDS)
    return value


def offered_slots(treatment, practitioner, date_from, date_to, *, now=None) -> dict[datetime.date, list[Slot]]:
    """`available_slots` as the booking pages show them, from the cache (see above)."""
    return cached(
        ("slots", treatment.pk, getattr(practitioner, "pk", "any"), date_from, date_to),
        lambda as_of: available_slots(treatment, practitioner, date_from, date_to, now=as_of),
        now=now,
    )


def check_slot(
    treatment, practitioner, start_at, *, room=None, now=None, ignore_appointment=None
) -> tuple[Verdict, Slot | None]:
    """The verdict on one exact start (FREE with the slot, TAKEN, or NOT_OFFERED): what the booking
    service re-checks inside its transaction. practitioner=None: the first one free then."""
    day = start_at.astimezone(clinic_zone()).date()
    practitioners = _practitioners_for(treatment, practitioner)
    if not practitioners:
        return Verdict.NOT_OFFERED, None
    calendar = Calendar(
        treatment, practitioners, day, day, now=now, ignore_appointment_id=getattr(ignore_appointment, "pk", None)
    )
    return calendar.check_any(start_at.astimezone(UTC), room)


def nearest_free_slots(treatment, practitioner, start_at, *, count=3, now=None, ignore_appointment=None) -> list[Slot]:
    """The free starts closest to a wanted one (the day before to the day after), in time order: what a
    patient who just lost a slot is offered instead."""
    day = start_at.astimezone(clinic_zone()).date()
    days = available_slots(
        treatment,
        practitioner,
        day - datetime.timedelta(days=1),
        day + datetime.timedelta(days=1),
        now=now,
        ignore_appointment=ignore_appointment,
    )
    slots = [slot for day_slots in days.values() for slot in day_slots if slot.start_at != start_at]
    slots.sort(key=lambda slot: abs(slot.start_at - start_at))
    return sorted(slots[:count], key=lambda slot: slot.start_at)


def bookable_days(now=None) -> tuple[datetime.date, datetime.date]:
    """The first and last local days a patient may pick (minimum notice to horizon)."""
    now = now or timezone.now()
    zone = clinic_zone()
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
    zone = clinic_zone()
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
        rule = f"Sessions of {treatment.name} are at least {gap} days apart."
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
