"""The availability computation as it was before issue #16's fifth pass (main at a43fe57): datetimes all the
way, every busy row a pair of aware datetimes. Kept, unchanged but for its imports, as the reference that
tests/test_availability_equivalence.py compares the integer computation with, on seeded random clinics
across both clock changes. Not used by the application."""

import datetime
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, F, IntegerField, Q, Value
from django.utils import timezone

from bookings.availability import (
    LONGEST_APPOINTMENT,
    ONE_DAY,
    Setup,
    Slot,
    Verdict,
    busy_range,
    days_between,
    load_setup,
    minimum_notice,
    policy,
    span_end_utc,
)
from bookings.models import Appointment
from clinic import clock
from clinic.clock import UTC, day_bounds_utc, local_to_utc
from clinic.closures import closed_days
from clinic.models import Practitioner, Room, SiteTravel, TimeOff, TravelTimes, Treatment


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


def busy_rows(practitioner_ids, room_ids, range_start, range_end, ignore_appointment_id=None):
    """The one query of a computation: (practitioner id, room id, site id, start, end, is time off) for the
    practitioners' time off and the live appointments of those practitioners (at any site: a practitioner is
    in one place at a time) or in those rooms that overlap [range_start, range_end). bench/large.py times it
    alone, as the floor of an answer's cost.

    On PostgreSQL its SQL is written once (`BUSY_SQL`, the same rows as `busy_rows_orm`: tests/test_availability.py):
    building and compiling the ORM union cost more than running it (2.3 ms of CPU against 1.3 ms to run it and
    fetch the rows, for 7 days of one practitioner on the bench clinic)."""
    if connection.vendor != "postgresql":
        return busy_rows_orm(practitioner_ids, room_ids, range_start, range_end, ignore_appointment_id)
    params = {
        "live": tuple(Appointment.LIVE_STATUSES),
        "start": range_start,
        "end": range_end,
        "earliest": range_start - LONGEST_APPOINTMENT,
        "practitioners": list(practitioner_ids),
        "rooms": list(room_ids),
        "ignore": ignore_appointment_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(BUSY_SQL, params)
        return cursor.fetchall()


BUSY_SQL = f"""
SELECT practitioner_id, room_id, site_id, start_at, busy_until, false FROM {Appointment._meta.db_table}
 WHERE status IN %(live)s AND start_at < %(end)s AND busy_until > %(start)s AND start_at >= %(earliest)s
   AND (practitioner_id = ANY(%(practitioners)s::bigint[]) OR room_id = ANY(%(rooms)s::bigint[]))
   AND id IS DISTINCT FROM %(ignore)s
UNION ALL
SELECT practitioner_id, NULL, NULL, start_at, end_at, true FROM {TimeOff._meta.db_table}
 WHERE practitioner_id = ANY(%(practitioners)s::bigint[]) AND start_at < %(end)s AND end_at > %(start)s
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
    return appointments.union(time_off, all=True)


@dataclass
class Busy:
    """The busy rows of a range, by practitioner (time off; appointments with their site) and by room.
    Loaded once and shared by the calendars of every site an answer looks at."""

    time_off: dict
    appointments: dict  # practitioner id -> [(start, busy_until, site id)]
    rooms: dict  # room id -> Intervals

    @classmethod
    def load(cls, practitioner_ids, room_ids, range_start, range_end, ignore_appointment_id=None) -> "Busy":
        rows = busy_rows(practitioner_ids, room_ids, range_start, range_end, ignore_appointment_id)
        time_off_by, by_practitioner, by_room = defaultdict(list), defaultdict(list), defaultdict(list)
        for p_id, room_id, site_id, start, end, off in rows:
            if off:
                time_off_by[p_id].append((start, end))
                continue
            by_practitioner[p_id].append((start, end, site_id))
            by_room[room_id].append((start, end))
        return cls(
            {p_id: Intervals(pairs) for p_id, pairs in time_off_by.items()},
            dict(by_practitioner),
            {room_id: Intervals(pairs) for room_id, pairs in by_room.items()},
        )


class Calendar:
    """The busy picture of a date range at one site for one treatment: the set-up plus one query for the busy
    rows (or the rows already loaded for several sites, `busy`). Days are the site's local days, its closures
    and bank holidays close it, and a practitioner's spans and appointments at other sites keep the travel
    time between the two sites free (`clinic.models.SiteTravel`, else `CLINIC_TRAVEL_MINUTES`)."""

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
        self._steady_days: dict = {}
        self._away: dict = {}
        self.time_off, self.appointments, self.room_busy, self._appointment_rows = {}, {}, {}, {}
        if busy is not None:
            self._use(busy)
        elif load and self.practitioners and self.rooms:
            self._load_busy(ignore_appointment_id)

    def busy_range(self):
        return busy_range([self.site], self.first_day, self.last_day, self.occupied, self._travel)

    @property
    def travel(self) -> TravelTimes:
        """The travel times between sites: the set-up's, or read now (a set-up at one site met an appointment
        at another)."""
        if self._travel is None:
            self._travel = SiteTravel.times()
        return self._travel

    def _load_busy(self, ignore_appointment_id):
        """One query: the practitioners' time off, and the live appointments of those practitioners or in
        those rooms, in the range."""
        self._use(
            Busy.load(
                [p.pk for p in self.practitioners],
                [room.pk for room in self.rooms],
                *self.busy_range(),
                ignore_appointment_id,
            )
        )

    def _use(self, busy: Busy):
        self.time_off = busy.time_off
        self._appointment_rows = busy.appointments
        self.appointments = {}  # practitioner id -> Intervals, made when first asked (`booked`)
        self.room_busy = busy.rooms

    def booked(self, practitioner_id) -> Intervals:
        """The practitioner's live appointments at any site. Made when first asked: the busy rows hold the
        appointments of every practitioner who used the rooms read (~50 on the bench clinic), and an answer
        for one practitioner asks about one."""
        found = self.appointments.get(practitioner_id)
        if found is None:
            rows = self._appointment_rows.get(practitioner_id, ())
            found = self.appointments[practitioner_id] = Intervals((start, end) for start, end, _ in rows)
        return found

    def away(self, practitioner_id) -> tuple[Intervals, Intervals]:
        """When the practitioner is kept for another site: (their appointments there, their working spans
        there), each widened by the travel time between that site and this one either side; spans of the days
        around the range, on that site's clock. Empty for a practitioner who works at this site only."""
        found = self._away.get(practitioner_id)
        if found is None:
            booked, spans_there = [], []
            for start, end, site_id in self._appointment_rows.get(practitioner_id, ()):
                if site_id != self.site_id:
                    travel = self.travel.between(self.site_id, site_id)
                    booked.append((start - travel, end + travel))
            for site_id, weekday, spans in self._spans_elsewhere.get(practitioner_id, ()):
                zone = self.zones.get(site_id) or self.zone
                travel = self.travel.between(self.site_id, site_id)
                for day in days_between(self.first_day - ONE_DAY, self.last_day + ONE_DAY):
                    if day.weekday() != weekday:
                        continue
                    for span_start, span_end in spans:
                        opens = local_to_utc(day, span_start, zone) or span_end_utc(day, span_start, zone)
                        spans_there.append((opens - travel, span_end_utc(day, span_end, zone) + travel))
            found = self._away[practitioner_id] = (Intervals(booked), Intervals(spans_there))
        return found

    # candidates ---------------------------------------------------------------------------------------

    def candidates(self, practitioner, day):
        """(start, end) instants on the slot grid of the practitioner's spans that day, in order; none on a
        day the clinic is closed."""
        if day in self.closed:
            return
        for span_start, span_end in self.hours.get((practitioner.pk, day.weekday()), ()):
            yield from self.span_candidates(day, span_start, span_end)

    def span_candidates(self, day, span_start, span_end):
        """The grid of one span on one day; practitioners with the same hours share it (computed once)."""
        key = (day, span_start, span_end)
        grid = self._grid.get(key)
        if grid is None:
            grid = self._grid[key] = self._span_grid(day, span_start, span_end)
        return grid

    def _span_grid(self, day, span_start, span_end):
        limit = span_end_utc(day, span_end, self.zone)
        first = local_to_utc(day, span_start, self.zone)
        if first is not None and self._no_clock_change(day):
            # No clock change inside the span (every day but two a year): wall steps are UTC steps.
            grid, start = [], first
            while start + self.duration <= limit:
                grid.append((start, start + self.duration))
                start += self.step
            return grid
        grid = []
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
        return grid

    def _no_clock_change(self, day) -> bool:
        """The zone's UTC offset is the same all day (every day but two a year): wall steps are UTC steps."""
        steady = self._steady_days.get(day)
        if steady is None:
            midnight = datetime.datetime.combine(day, datetime.time.min, tzinfo=self.zone)
            next_midnight = datetime.datetime.combine(
                day + datetime.timedelta(days=1), datetime.time.min, tzinfo=self.zone
            )
            steady = self._steady_days[day] = (
                midnight.utcoffset() == next_midnight.utcoffset() == (next_midnight.replace(fold=1).utcoffset())
            )
        return steady

    # verdicts -----------------------------------------------------------------------------------------

    def within_policy(self, start: datetime.datetime) -> bool:
        return self.earliest_start <= start < self.latest_start_before

    def free_room(self, start, busy_until, wanted=None):
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
        for room, starts, ends in self._room_intervals():
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

    def verdict(self, practitioner, start, end, wanted_room=None) -> tuple[Verdict, Room | None]:
        busy_until = end + self.buffer_after
        if not self.within_policy(start):
            return Verdict.NOT_OFFERED, None
        if self.time_off.get(practitioner.pk, EMPTY).overlaps(start, busy_until):
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

    def slot(self, practitioner, start, end, room) -> Slot:
        return Slot(start, end, end + self.buffer_after, practitioner, room)

    def slots_by_day(self) -> dict[datetime.date, list[Slot]]:
        """Every local day of the range, with its free starts; with several practitioners, each start once,
        given to the first practitioner (in the practitioners' order) who is free then.

        Practitioners with the same hours that day share one grid, and a start's room is looked for once:
        a start no room can host (the usual case in a busy clinic) costs nothing per practitioner."""
        ranked = [(n, practitioner.pk, practitioner) for n, practitioner in enumerate(self.practitioners)]
        result = {}
        for day in days_between(self.first_day, self.last_day):
            if day in self.closed:  # the whole clinic is closed: no time with anyone
                result[day] = []
                continue
            teams = defaultdict(list)  # the same spans that day -> those practitioners, in order
            weekday = day.weekday()
            for member in ranked:
                spans = self.hours.get((member[1], weekday))
                if spans:
                    teams[tuple(spans)].append(member)
            chosen: dict[datetime.datetime, tuple[int, Slot]] = {}
            for spans, team in teams.items():
                for span_start, span_end in spans:
                    for start, end in self.span_candidates(day, span_start, span_end):
                        if not self.within_policy(start):
                            continue
                        busy_until = end + self.buffer_after
                        room = self.free_room(start, busy_until)
                        if room is None:
                            continue
                        taken_by = chosen[start][0] if start in chosen else len(ranked)
                        for rank, practitioner_id, practitioner in team:
                            if rank >= taken_by:
                                break
                            if self.practitioner_free(practitioner_id, start, busy_until):
                                chosen[start] = (rank, self.slot(practitioner, start, end, room))
                                break
            result[day] = [chosen[start][1] for start in sorted(chosen)]
        return result

    def practitioner_free(self, practitioner_id, start, busy_until) -> bool:
        if self.time_off.get(practitioner_id, EMPTY).overlaps(start, busy_until) or self.booked(
            practitioner_id
        ).overlaps(start, busy_until):
            return False
        booked_elsewhere, working_elsewhere = self.away(practitioner_id)
        return not (booked_elsewhere.overlaps(start, busy_until) or working_elsewhere.overlaps(start, busy_until))

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


def available_slots(
    treatment: Treatment,
    practitioner: Practitioner | None,
    date_from: datetime.date,
    date_to: datetime.date,
    *,
    site=None,
    now: datetime.datetime | None = None,
    ignore_appointment=None,
    catalogue=None,
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
    busy = Busy.load(
        [p.pk for p in setup.practitioners],
        [room.pk for room in setup.rooms if room.site_id in {s.pk for s in sites}],
        *busy_range(sites, date_from, date_to, occupied, setup.travel),
        getattr(ignore_appointment, "pk", None),
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
