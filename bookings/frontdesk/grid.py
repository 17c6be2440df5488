"""The calendar grid's geometry: where each block sits, computed on the server.

A column is a CSS grid of 5-minute rows of REAL elapsed time from the top of the window, so a day the
clocks go forward has 23 hours of rows and a day they go back has 25 (its repeated hour is labelled with
the zone's abbreviation, e.g. 01:00 BST then 01:00 GMT). Positions are classes (`cal-r-N` for the first
row, `cal-s-N` for the span, generated in static/clinic/site.css): the content security policy allows no
inline styles.

The window shows 08:00 to 20:00 local time, widened to the hour to whatever falls outside it that day.
"""

import datetime
import functools
import math
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from clinic import clock
from clinic.clock import UTC, day_bounds_utc

STEP = datetime.timedelta(minutes=5)
HOUR = datetime.timedelta(hours=1)
DEFAULT_OPEN = datetime.time(8)
DEFAULT_CLOSE = datetime.time(20)
MAX_LANES = 3
SHORT_SPAN = 4  # 20 minutes or less: the card lays its time, name and badges out on fewer lines
# Where a kept grid leaves a hole for what depends on the moment (day_cache.py): unguessable, so no text
# written on the page can pass for one.
DEFERRED = f"\x00{secrets.token_hex(8)}:"


@dataclass
class Block:
    """One thing on a column: an appointment, a working span, time off."""

    kind: str
    start_at: datetime.datetime
    end_at: datetime.datetime
    appointment: object = None
    row: int = 1
    span: int = 1
    lane: int = 0
    lanes: int = 1

    @property
    def css(self) -> str:
        classes = [f"cal-r-{self.row}", f"cal-s-{self.span}"]
        if self.kind == "appointment" and self.span <= SHORT_SPAN:
            classes.append("cal-short")
        if self.lanes > 1:
            classes.append(f"cal-lanes-{self.lanes} cal-lane-{self.lane}")
        return " ".join(classes)


@dataclass
class Column:
    title: str
    start_at: datetime.datetime
    end_at: datetime.datetime
    blocks: list = field(default_factory=list)
    subtitle: str = ""
    practitioner: object = None
    room: object = None
    day: datetime.date | None = None
    now_row: int | None = None
    rows: int = 0
    cells: tuple = ()  # ((start, markup), ...) of the day's cells (`cell_markup`), shown from `now` on
    now: datetime.datetime | None = None
    deferred: int | None = None  # the column's index in a grid kept with holes (day_cache.keep_holes)

    @property
    def appointments(self):
        return [block for block in self.blocks if block.kind == "appointment"]

    @property
    def background(self):
        return [block for block in self.blocks if block.kind in ("working", "off")]

    @property
    def cells_html(self):
        """The cells' markup from now on (see `cell_markup`), or a hole for them in a kept grid."""
        if self.deferred is not None:
            return mark_safe(f"{DEFERRED}cells:{self.deferred}\x00")  # noqa: S308
        now = self.now
        return mark_safe("".join(html for instant, html in self.cells if now is None or instant >= now))  # noqa: S308

    @property
    def now_html(self):
        """The "now" line where now falls in the column's window, or a hole for it in a kept grid."""
        if self.deferred is not None:
            return mark_safe(f"{DEFERRED}now:{self.deferred}\x00")  # noqa: S308
        return mark_safe(_now_line(self.now_row) if self.now_row else "")  # noqa: S308


def now_markup(start_at, end_at, now) -> str:
    """The "now" line of a column whose window is [start_at, end_at) (as `place` finds its row), or ""."""
    return _now_line((now - start_at) // STEP + 1) if start_at <= now < end_at else ""


def _now_line(row) -> str:
    return f'<div class="cal-now cal-r-{row} cal-s-1" title="Now"><span class="visually-hidden">Now</span></div>'


def cell_markup(practitioner, day, spans, taken, window, label_zones=False) -> tuple:
    """((start, markup), ...) of a practitioner's cells for a day: a button per slot step of each working
    span (from the span's start, as availability steps; `spans`: (start, end, site), on the site's clock)
    that the desk may click to book there (it opens the booking panel), a plain drop target where an
    appointment or time off covers it (`taken`: (start, end) pairs), for a card moved by less than its own
    length. Whether a treatment fits is the booking service's answer, given in the panel. The column keeps
    the cells from now on (the desk's notice: a walk-in gets the next step). With `label_zones` (a calendar
    mixing zones) each time says its zone.

    Written as strings rather than in the template (a day of 50 practitioners has some 1,600 cells: a date
    format, a time format and a URL each took the template language about half a second), and remembered
    per process for the same inputs: every value the markup depends on is in the key (the practitioner and
    their name, the day, the window, the spans and their sites' zones, what is taken, the slot step), all
    read by this request, so a remembered column can never show a time that has since been
    taken or freed; a booking changes only its practitioner's key. A click opens the booking panel for the
    cell's `data-slot` at the grid's `data-book-url` (static/bookings/desk_calendar.js), in the column's
    `hx-target`: neither the URL nor the target is written 1,600 times (a busy day's cells were most of its
    400 KB). The visible time is part of the label (the label names the button: "Book Fri 11 Dec 09:00 with
    ...")."""
    return _cell_markup(
        practitioner.pk,
        practitioner.name,
        day,
        tuple(window),
        tuple((start, end, site.zone) for start, end, site in spans),
        tuple(sorted(taken)),
        label_zones,
        settings.CLINIC["SLOT_STEP_MINUTES"],
    )


@functools.lru_cache(maxsize=512)  # ~10 KB a column: ten days of 50 practitioners
def _cell_markup(pk, name, day, window, spans, taken, label_zones, step_minutes) -> tuple:
    step = datetime.timedelta(minutes=step_minutes)
    window_start, window_end = window
    name = escape(name)
    days: dict = {}  # the 'D j M' of each local date (Django's date format, as the template wrote it)
    cells = []
    for start, end, zone in spans:
        wall, last = datetime.datetime.combine(day, start), datetime.datetime.combine(day, end)
        while wall < last:
            instant = clock.local_to_utc(day, wall.time(), zone)
            wall += step
            if instant is None:
                continue
            first, stop = max(instant, window_start), min(instant + step, window_end)
            css = f"cal-r-{(first - window_start) // STEP + 1} cal-s-{max(1, math.ceil((stop - first) / STEP))}"
            key = f"{instant.astimezone(UTC):%Y-%m-%dT%H:%MZ}"  # as slots travel in forms (availability.Slot.key)
            slot = f"{pk}@{key}"
            if any(start_at < instant + step and instant < end_at for start_at, end_at in taken):
                cells.append((instant, f'<div class="cal-cell cal-covered {css}" data-slot="{slot}"></div>'))
                continue
            local = instant.astimezone(zone)  # on its site's clock
            label_day = days.get(local.date())
            if label_day is None:
                label_day = days[local.date()] = dateformat.format(local, "D j M")
            time = local.strftime("%H:%M %Z" if label_zones else "%H:%M")
            cells.append(
                (
                    instant,
                    f'<button type="button" class="cal-cell {css}" data-slot="{slot}" '
                    f'aria-label="Book {label_day} {time} with {name}">{time}</button>',
                )
            )
    return tuple(cells)


def cards_html(column, *, by_room=False, show_site=False):
    """The column's appointment cards: time (`desk_time`, on its site's clock), patient, treatment (and
    practitioner, by room; site, when the calendar shows several), and the badges of
    bookings/frontdesk/_status, _screening, _paperwork (not the form's on a card: the screening badge says
    it) and _alert. Written here rather than in the template for the cells' reason: a busy day's 108 cards
    cost the template language a fifth of the page (some 20 variables, a time format and four includes
    each); here they are string formatting. The badges are the includes' markup
    (tests/test_desk_calendar_panel.py checks them against the includes): change both."""
    zone = timezone.get_current_timezone()
    parts = []
    for block in column.appointments:
        appointment = block.appointment
        status = appointment.status
        drag = f' draggable="true" data-move-url="{appointment.move_url}"' if status == "booked" else ""
        treatment = escape(appointment.treatment.name)
        if by_room:
            treatment = f"{treatment} · {escape(appointment.practitioner.name)}"
        site = f'<span class="cal-site small">{escape(appointment.room.site.name)}</span>' if show_site else ""
        confirmed = ""
        if appointment.confirmed_at and status == "booked":
            when = dateformat.format(appointment.confirmed_at.astimezone(zone), "j M H:i")
            confirmed = f' <span class="badge text-bg-success" title="The patient confirmed {when}">Confirmed</span>'
        screening = appointment.screening
        paperwork = "".join(
            f'<span class="badge paperwork paperwork-{item.code}">{escape(item.label)}</span> '
            for item in appointment.paperwork
            if item.code != "form"
        )
        alert = ALERT_BADGE if appointment.has_clinical_alert else ""
        parts.append(
            f'<a class="cal-appt status-{status} {block.css}" href="{appointment.desk_url}" '
            f'data-appointment="{appointment.pk}" hx-get="{appointment.panel_url}"{drag}>\n'
            f'<span class="cal-time">{appointment.desk_time}</span>\n'
            f'<strong class="cal-patient">{escape(appointment.patient.full_name)}</strong>\n'
            f'<span class="cal-treatment">{treatment}</span>\n{site}'
            f'<span class="cal-badges"><span class="badge appt-status status-{status}">'
            f"{escape(appointment.get_status_display())}</span>{confirmed}\n"
            f'<span class="badge screening screening-{screening.code}" title="Intake screening">'
            f"{escape(screening.label)}</span>\n{paperwork}{alert}</span>\n</a>\n"
        )
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped, made of digits or an internal code


def cancelled_html(appointments, *, show_site=False):
    """The rows of the cancelled list under the grid: when (`desk_when`, on its site's clock), where (when the
    calendar shows several sites), who, what, with whom, and why. Written here for the cards' reason: a busy
    day lists a hundred or more, each costing the template language a dozen variables."""
    rows = []
    for appointment in appointments:
        site = f" ({escape(appointment.room.site.name)})" if show_site else ""
        reason = appointment.cancellation_reason
        rows.append(
            f'<li><a href="{appointment.desk_url}">{appointment.desk_when}{site} '
            f"{escape(appointment.patient.full_name)}, {escape(appointment.treatment.name)} with "
            f"{escape(appointment.practitioner.name)}</a>{f': {escape(reason)}' if reason else ''}</li>\n"
        )
    return mark_safe("".join(rows))  # noqa: S308 - every value above is escaped or made of digits


ALERT_BADGE = (
    '<span class="badge text-bg-danger desk-alert" data-testid="desk-alert" '
    'title="A clinical alert or condition: ask the practitioner">Alert: see practitioner</span>'
)


@dataclass
class Grid:
    columns: list
    rows: int
    hours: list  # (row, label)

    @property
    def end_row_css(self) -> str:
        return f"cal-r-{self.rows}"


def with_desk_links(appointments):
    """Attach the desk's three links of each appointment (its page, its panel, the move panel) as
    `desk_url`, `panel_url`, `move_url`: one `reverse` per link name instead of one per card (a busy day
    has hundreds of cards and cancelled rows)."""
    forms = {name: _url_form(f"desk:{name}") for name in ("appointment", "panel_appointment", "panel_move")}
    for appointment in appointments:
        pk = appointment.pk
        appointment.desk_url = forms["appointment"](pk)
        appointment.panel_url = forms["panel_appointment"](pk)
        appointment.move_url = forms["panel_move"](pk)
    return appointments


def with_desk_times(appointments, label_zones=False):
    """Attach each appointment's times as the desk reads them, on its own site's clock: `desk_start`
    ('10:00'), `desk_time` ('10:00–10:45') and `desk_when` ('Sun 28 Mar 10:00'); with `label_zones` (a
    calendar of sites in different zones) each ends with its zone ('10:00–10:45 CEST'). Written here
    rather than with the template's filters: the page's zone is the clinic's, not each site's. A cancelled
    appointment gets `desk_when` only (the list under the grid), the others the first two."""
    days: dict = {}  # Django's 'D j M' once per local date, not once per row (a busy day lists hundreds)
    for appointment in appointments:
        zone = appointment.room.site.zone
        start = appointment.start_at.astimezone(zone)
        label = f" {start:%Z}" if label_zones else ""
        if appointment.status == "cancelled":  # listed under the grid, by its day and time
            day = days.get(start.date())
            if day is None:
                day = days[start.date()] = dateformat.format(start, "D j M")
            appointment.desk_when = f"{day} {start:%H:%M}{label}"
            continue
        appointment.desk_start = f"{start:%H:%M}{label}"
        appointment.desk_time = f"{start:%H:%M}–{appointment.end_at.astimezone(zone):%H:%M}{label}"
    return appointments


def with_column_links(columns):
    """Attach a practitioner's column's links, each for the column's day: `day_url` (the day view),
    `week_url` (their week), `day_sheet_url`. One `reverse` per link name instead of two `{% url %}` and two
    date formats a column (a day of 50 practitioners spent an eighth of its time on them)."""
    forms = {name: _url_form(f"desk:{name}") for name in ("week", "day_sheet")}
    calendar_url = reverse("desk:calendar")
    for column in columns:
        if column.practitioner is None or column.day is None:
            continue
        date, pk = f"?date={column.day.isoformat()}", column.practitioner.pk
        column.day_url = f"{calendar_url}{date}"
        column.week_url = f"{forms['week'](pk)}{date}"
        column.day_sheet_url = f"{forms['day_sheet'](pk)}{date}"
    return columns


def _url_form(name):
    """A URL with one integer argument as a function of it: reversed once, with a marker for the argument."""
    marker = "987654321"
    before, after = reverse(name, args=[int(marker)]).split(marker)
    return lambda pk: f"{before}{pk}{after}"


def _floor_hour(instant, zone):
    return instant.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _ceil_hour(instant, zone):
    floored = _floor_hour(instant, zone)
    return floored if floored == instant else floored + HOUR


def local_instant(day: datetime.date, wall: datetime.time, zone) -> datetime.datetime:
    """The instant of a local wall time; for one the clocks skip or repeat, the earlier instant."""
    naive = datetime.datetime.combine(day, wall)
    return min(naive.replace(tzinfo=zone, fold=0).astimezone(UTC), naive.replace(tzinfo=zone, fold=1).astimezone(UTC))


def day_window(day: datetime.date, intervals, zone=None, bounds=None):
    """[start, end) of the rows shown for a day: 08:00-20:00 widened to the hour around `intervals`,
    never past the day's own midnights (`bounds`: the earliest and latest of several sites' midnights,
    for a calendar of sites in different zones)."""
    zone = zone or clock.zone()
    day_start, day_end = bounds or day_bounds_utc(day, day, zone)
    starts = [local_instant(day, DEFAULT_OPEN, zone)] + [start for start, _ in intervals]
    ends = [local_instant(day, DEFAULT_CLOSE, zone)] + [end for _, end in intervals]
    return max(day_start, _floor_hour(min(starts), zone)), min(day_end, _ceil_hour(max(ends), zone))


def row_count(start_at, end_at) -> int:
    return math.ceil((end_at - start_at) / STEP)


def hour_labels(start_at, end_at, zone=None, with_zone=False):
    """(row, label) for every hour of the window, in local time; with the zone's abbreviation on a day
    the offset changes, so the repeated hour reads '01:00 BST', '01:00 GMT', and always with `with_zone`
    (a calendar of sites in different zones, whose cards say their own zone)."""
    zone = zone or clock.zone()
    changes = start_at.astimezone(zone).utcoffset() != (end_at - STEP).astimezone(zone).utcoffset()
    pattern = "%H:%M %Z" if changes or with_zone else "%H:%M"
    labels, instant = [], start_at
    while instant < end_at:
        labels.append((row_count(start_at, instant) + 1, instant.astimezone(zone).strftime(pattern)))
        instant += HOUR
    return labels


def place(column: Column, now=None) -> Column:
    """Give every block of the column its rows (clipped to the window) and side-by-side lanes where
    blocks of one kind overlap (a no-show and the booking made in its place)."""
    column.rows = row_count(column.start_at, column.end_at)
    for block in column.blocks:
        start, end = max(block.start_at, column.start_at), min(block.end_at, column.end_at)
        block.row = (start - column.start_at) // STEP + 1
        block.span = max(1, math.ceil((end - start) / STEP))
    _assign_lanes(column.appointments)
    if now is not None and column.start_at <= now < column.end_at:
        column.now_row = (now - column.start_at) // STEP + 1
    return column


def _assign_lanes(blocks):
    cluster, lane_ends, cluster_end = [], [], None
    for block in sorted(blocks, key=lambda b: (b.start_at, b.end_at)):
        if cluster and block.start_at >= cluster_end:
            _close_cluster(cluster, lane_ends)
            cluster, lane_ends = [], []
        for lane, lane_end in enumerate(lane_ends):
            if lane_end <= block.start_at:
                block.lane, lane_ends[lane] = lane, block.end_at
                break
        else:
            block.lane = len(lane_ends)
            lane_ends.append(block.end_at)
        cluster.append(block)
        cluster_end = max(cluster_end, block.end_at) if cluster_end else block.end_at
    _close_cluster(cluster, lane_ends)


def _close_cluster(cluster, lane_ends):
    lanes = min(len(lane_ends), MAX_LANES)
    for block in cluster:
        block.lanes, block.lane = lanes, min(block.lane, MAX_LANES - 1)
