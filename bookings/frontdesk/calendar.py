"""The front desk's calendars: a day by practitioner, a day by room, a practitioner's week.

Each is built from a fixed number of queries (columns, appointments with their patients, working hours,
time off, screening statuses in bulk), then laid out in memory by `grid`. Cancelled appointments do not
take room on the grid (their time is free again); they are listed under it.

Sites keep their own clocks (issue 17). "The day" is each appointment's own site's day, and each time is
written on its site's clock; a calendar of sites that share a zone (one site, or London and Manchester) is
drawn on that zone's clock. A calendar mixing zones (all sites, with a Madrid one) is drawn on the
clinic's clock, its hour labels and every card's time carrying their zone's abbreviation ("10:00-11:00
CEST" in a row labelled "09:00 BST"), so no time is read on the wrong clock.
"""

import datetime
from dataclasses import dataclass, field

from bookings import selectors
from bookings.models import Appointment
from clinic import clock

from . import grid
from .grid import (
    DEFAULT_CLOSE,
    DEFAULT_OPEN,
    Block,
    Column,
    Grid,
    day_window,
    hour_labels,
    local_instant,
    place,
    row_count,
)


@dataclass
class Calendar:
    grid: Grid
    cancelled: list = field(default_factory=list)


def at_sites(appointments, site_ids):
    """The appointments at the chosen sites (`site_ids`; empty: every site). Their room is selected with its
    site, so this asks nothing of the database."""
    if not site_ids:
        return appointments
    return [a for a in appointments if a.room.site_id in site_ids]


def _drawn_on(sites):
    """(the zone the grid is drawn on, whether times carry their zone): the sites' shared zone, else the
    clinic's with labels (see the module's docstring)."""
    shared = clock.shared_zone(sites)
    return (shared, False) if shared is not None else (clock.zone(), True)


def _on_day(appointments, first, last=None):
    """The appointments on those local days at their own site (rows read over every site's day)."""
    return [a for a in appointments if clock.on_days(a.start_at, first, last, a.room.site)]


def _split(appointments, label_zones=False):
    """The appointments the grid shows, with their screening, alert and forms to do (read in bulk for them
    alone), and the cancelled ones listed apart, which show none of those: on a busy day most rows are
    cancelled, and their patients' screening was read for nothing. Each with its times on its site's clock
    (`grid.with_desk_times`)."""
    grid.with_desk_links(appointments)
    grid.with_desk_times(appointments, label_zones)
    shown = [a for a in appointments if a.status != Appointment.Status.CANCELLED]
    cancelled = [a for a in appointments if a.status == Appointment.Status.CANCELLED]
    return selectors.with_paperwork(selectors.with_screening(shown)), cancelled


def _working_blocks(spans, day):
    """A span's times are on its own site's clock."""
    return [
        Block("working", local_instant(day, start, site.zone), local_instant(day, end, site.zone))
        for start, end, site in spans
    ]


def _appointment_blocks(appointments):
    return [Block("appointment", a.start_at, a.end_at, appointment=a) for a in appointments]


def day_by_practitioner(day: datetime.date, now, site_ids=(), sites=None, catalogue=None) -> Calendar:
    """Every practitioner's day; with `site_ids` (the desk's chosen sites), only the appointments and working
    hours at those sites, and only the practitioners working or booked there that day. `sites`: the sites
    shown (the chosen ones, or every site), whose clocks say when the day is; None: the clinic's only.
    `catalogue`: the availability catalogue of the set-up as of the rows read (bookings/frontdesk/day_cache.py),
    whose working hours save a query."""
    zone, label_zones = _drawn_on(sites or [])
    start_at, end_at = clock.sites_day_bounds(day, day, sites or [])
    appointments = _on_day(at_sites(selectors.appointments_between(start_at, end_at), site_ids), day)
    shown, cancelled = _split(appointments, label_zones)
    practitioners = selectors.desk_practitioners()
    known = {p.pk for p in practitioners}
    for appointment in shown:  # an inactive practitioner's remaining appointments still need a column
        if appointment.practitioner_id not in known:
            practitioners.append(appointment.practitioner)
            known.add(appointment.practitioner_id)
    spans = selectors.working_spans(known, [day], site_ids=site_ids, catalogue=catalogue)
    if site_ids:
        booked_here = {a.practitioner_id for a in shown}
        practitioners = [p for p in practitioners if (p.pk, day) in spans or p.pk in booked_here]
        known = {p.pk for p in practitioners}
    time_off = selectors.time_off_between(known, start_at, end_at)
    working = {p.pk: _working_blocks(spans.get((p.pk, day), []), day) for p in practitioners}
    window = day_window(
        day,
        [(a.start_at, a.end_at) for a in shown] + [(b.start_at, b.end_at) for w in working.values() for b in w],
        zone,
        bounds=(start_at, end_at),
    )
    theirs: dict = {}
    for appointment in shown:
        theirs.setdefault(appointment.practitioner_id, []).append(appointment)
    columns = []
    for practitioner in practitioners:
        booked, off = theirs.get(practitioner.pk, []), time_off.get(practitioner.pk, [])
        column = Column(practitioner.name, *window, subtitle=practitioner.title, practitioner=practitioner, day=day)
        column.blocks = (
            working[practitioner.pk] + [Block("off", start, end) for start, end in off] + _appointment_blocks(booked)
        )
        column.cells = grid.cell_markup(
            practitioner,
            day,
            spans.get((practitioner.pk, day), []),
            [(a.start_at, a.end_at) for a in booked] + off,
            window,
            label_zones,
        )
        column.now = now
        columns.append(place(column, now))
    return Calendar(
        Grid(grid.with_column_links(columns), row_count(*window), hour_labels(*window, zone, label_zones)), cancelled
    )


def day_by_room(day: datetime.date, now, site_ids=(), sites=None, catalogue=None) -> Calendar:
    """Every room's day (of the chosen sites), each room's on its site's day; see `day_by_practitioner`
    (`catalogue`: its active rooms save a query)."""
    zone, label_zones = _drawn_on(sites or [])
    start_at, end_at = clock.sites_day_bounds(day, day, sites or [])
    appointments = _on_day(at_sites(selectors.appointments_between(start_at, end_at), site_ids), day)
    shown, cancelled = _split(appointments, label_zones)
    active = list(catalogue.rooms) if catalogue is not None else selectors.desk_rooms()  # both in name order
    rooms = [room for room in active if not site_ids or room.site_id in site_ids]
    known = {room.pk for room in rooms}
    for appointment in shown:
        if appointment.room_id not in known:
            rooms.append(appointment.room)
            known.add(appointment.room_id)
    window = day_window(day, [(a.start_at, a.end_at) for a in shown], zone, bounds=(start_at, end_at))
    columns = []
    for room in rooms:
        column = Column(room.name, *window, room=room, day=day)
        column.blocks = _appointment_blocks([a for a in shown if a.room_id == room.pk])
        columns.append(place(column, now))
    return Calendar(
        Grid(grid.with_column_links(columns), row_count(*window), hour_labels(*window, zone, label_zones)), cancelled
    )


def _wall(instant, day, zone) -> datetime.timedelta:
    """How far into its local day an instant's wall clock is (24:00 for the next midnight)."""
    local = instant.astimezone(zone)
    return datetime.timedelta(days=(local.date() - day).days, hours=local.hour, minutes=local.minute)


def week_by_practitioner(practitioner, first_day: datetime.date, now) -> Calendar:
    """Seven day columns for one practitioner, at every site they work at: each appointment on its site's
    day and clock, each span on its site's clock. Every column covers the same wall-clock hours (the widest
    day's), each from its own local midnight, so a DST day's column is an hour shorter or longer only if
    the window reaches into the night. Drawn on the clock of the practitioner's sites that week when they
    share one, else on the clinic's with every time labelled (the module's docstring)."""
    days = [first_day + datetime.timedelta(days=n) for n in range(7)]
    # The sites are not known before the rows are read: read every zone's week, keep each row's own.
    start_at, end_at = clock.sites_day_bounds(days[0], days[-1])
    appointments = selectors.appointments_between(start_at, end_at, practitioner=practitioner)
    spans = selectors.working_spans([practitioner.pk], days)
    zone, label_zones = _drawn_on(
        [a.room.site for a in appointments] + [site for day_spans in spans.values() for *_, site in day_spans]
    )
    shown, cancelled = _split(_on_day(appointments, days[0], days[-1]), label_zones)
    time_off = selectors.time_off_between([practitioner.pk], start_at, end_at).get(practitioner.pk, [])
    per_day = {}
    for day in days:
        per_day[day] = (
            _working_blocks(spans.get((practitioner.pk, day), []), day),
            [a for a in shown if clock.on_days(a.start_at, day, day, a.room.site)],
        )
    offsets = [
        (_wall(w_start, day, zone), _wall(w_end, day, zone))
        for day, (working, day_appointments) in per_day.items()
        for w_start, w_end in [
            day_window(
                day,
                [(b.start_at, b.end_at) for b in working] + [(a.start_at, a.end_at) for a in day_appointments],
                zone,
            )
        ]
    ]
    opens = min([o for o, _ in offsets], default=_as_offset(DEFAULT_OPEN))
    closes = max([c for _, c in offsets], default=_as_offset(DEFAULT_CLOSE))
    columns = []
    for day, (working, day_appointments) in per_day.items():
        window = (_at_offset(day, opens, zone), _at_offset(day, closes, zone))
        column = Column(f"{day:%a %-d %b}", *window, practitioner=practitioner, day=day)
        column.blocks = (
            working + [Block("off", start, end) for start, end in time_off] + _appointment_blocks(day_appointments)
        )
        column.cells = grid.cell_markup(
            practitioner,
            day,
            spans.get((practitioner.pk, day), []),
            [(a.start_at, a.end_at) for a in day_appointments] + time_off,
            (column.start_at, column.end_at),
            label_zones,
        )
        column.now = now
        columns.append(place(column, now))
    # The hour labels of a day of usual length (the median), not of a DST day's column.
    usual = sorted(columns, key=lambda c: c.rows)[len(columns) // 2]
    rows = max(c.rows for c in columns)
    labels = hour_labels(usual.start_at, usual.end_at, zone, label_zones)
    return Calendar(Grid(grid.with_column_links(columns), rows, labels), cancelled)


def _as_offset(wall: datetime.time) -> datetime.timedelta:
    return datetime.timedelta(hours=wall.hour, minutes=wall.minute)


def _at_offset(day, offset: datetime.timedelta, zone):
    if offset >= datetime.timedelta(days=1):
        return clock.day_bounds_utc(day, day, zone)[1]
    return local_instant(day, (datetime.datetime.min + offset).time(), zone)


# --- overviews: every practitioner's week, a month of counts ------------------------------------------------


@dataclass
class WeekRow:
    practitioner: object
    days: list  # [(day, [appointments], working: bool)]


@dataclass
class WeekOverview:
    days: list
    rows: list
    cancelled: list = field(default_factory=list)


def week_overview(first_day: datetime.date, site_ids=(), sites=None) -> WeekOverview:
    """Seven days for every practitioner: the appointments of each day (its site's day) in time order
    (cancelled ones listed apart), and whether the practitioner works that day. `sites` as for
    `day_by_practitioner`. Fixed queries: practitioners, appointments, working hours, screening statuses."""
    days = [first_day + datetime.timedelta(days=n) for n in range(7)]
    _, label_zones = _drawn_on(sites or [])
    start_at, end_at = clock.sites_day_bounds(days[0], days[-1], sites or [])
    appointments = _on_day(at_sites(selectors.appointments_between(start_at, end_at), site_ids), days[0], days[-1])
    shown, cancelled = _split(appointments, label_zones)
    practitioners = selectors.desk_practitioners()
    known = {p.pk for p in practitioners}
    for appointment in shown:
        if appointment.practitioner_id not in known:
            practitioners.append(appointment.practitioner)
            known.add(appointment.practitioner_id)
    spans = selectors.working_spans(known, days, site_ids=site_ids)
    if site_ids:
        booked_here = {a.practitioner_id for a in shown}
        working_here = {p_id for p_id, _ in spans}
        practitioners = [p for p in practitioners if p.pk in working_here or p.pk in booked_here]
    by_key: dict = {}
    for appointment in shown:
        day = clock.local_day(appointment.start_at, appointment.room.site)
        by_key.setdefault((appointment.practitioner_id, day), []).append(appointment)
    rows = [
        WeekRow(p, [(day, by_key.get((p.pk, day), []), bool(spans.get((p.pk, day)))) for day in days])
        for p in practitioners
    ]
    return WeekOverview(days, rows, cancelled)


@dataclass
class MonthDay:
    day: datetime.date
    in_month: bool
    live: int = 0
    no_show: int = 0
    cancelled: int = 0


def month_overview(day: datetime.date) -> dict:
    """The weeks (Monday first) covering the month of `day`, each day with its counts: live appointments
    (booked, checked in, completed), no-shows and cancellations. One query."""
    first = day.replace(day=1)
    last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    start = first - datetime.timedelta(days=first.weekday())
    end = last + datetime.timedelta(days=6 - last.weekday())
    counts = selectors.counts_by_day(start, end)
    weeks, week = [], []
    current = start
    while current <= end:
        found = counts.get(current, {})
        week.append(
            MonthDay(
                current,
                current.month == first.month,
                live=sum(found.get(status, 0) for status in Appointment.LIVE_STATUSES),
                no_show=found.get(Appointment.Status.NO_SHOW, 0),
                cancelled=found.get(Appointment.Status.CANCELLED, 0),
            )
        )
        if len(week) == 7:
            weeks.append(week)
            week = []
        current += datetime.timedelta(days=1)
    one_month = datetime.timedelta(days=1)
    return {
        "first": first,
        "weeks": weeks,
        "previous": first - one_month,
        "next": last + one_month,
        "total": sum(d.live for w in weeks for d in w if d.in_month),
    }
