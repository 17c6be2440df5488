"""The owner's reports: reads only, every figure aggregated by the database (annotate/aggregate), each report a
fixed number of queries whatever the range. Local days, weekdays and hours are the clinic's
(`clinic.clock`): a range is [its first day's midnight, the midnight after its last) in UTC, so a DST day is
23 or 25 hours, and weekdays and hours are extracted in the clinic's zone.

What a report counts, where the issue was silent, is what an owner acts on; each report's `notes` say it on
the page, and docs/reports.md says it again.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Case, Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum, Value, When
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, ExtractMinute, Lower, Trim
from django.utils import timezone

from bookings.models import Appointment, ReminderKind
from bookings.models import Reminder as ReminderRow
from clinic import clock, closures
from clinic.models import Room, TimeOff, Treatment, Weekday, WorkingHours
from payments.models import Payment

from .charts import Bar, bar_chart, heat_map
from .filters import Filters
from .tables import Table, hours, percent

DAY = datetime.timedelta(days=1)
ZERO = datetime.timedelta()
HOUR = datetime.timedelta(hours=1)
WEEKDAYS = [label for _, label in Weekday.choices]  # Monday first; ISO weekday n is WEEKDAYS[n - 1]
Status = Appointment.Status
# Time that was booked, whether or not the patient came: a no-show's hour was still taken from the diary.
BOOKED_STATUSES = (*Appointment.LIVE_STATUSES, Status.NO_SHOW)
DURATION = ExpressionWrapper(F("end_at") - F("start_at"), output_field=DurationField())


@dataclass
class Report:
    slug: str
    title: str
    filters: Filters
    summary: list[tuple[str, str]] = field(default_factory=list)
    chart: str = ""
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, key: str) -> Table | None:
        return next((table for table in self.tables if table.key == key), None)


def describe_filters(f: Filters) -> str:
    who = str(f.practitioner) if f.practitioner else "all practitioners"
    return f"{f.start:%-d %b %Y} to {f.end:%-d %b %Y}, {who}"


def appointments_in(f: Filters):
    start, end = f.bounds()
    return Appointment.objects.filter(start_at__gte=start, start_at__lt=end, **f.appointment_filter())


# --- 1. Utilisation ----------------------------------------------------------------------------------------


def _open_weekdays(f: Filters, closed: dict) -> list[int]:
    """How many open days of each weekday (Monday = 0) the range holds: closed days (bank holidays, closures)
    offer no hours to fill."""
    counts = [0] * 7
    day = f.start
    while day <= f.end:
        if day not in closed:
            counts[day.weekday()] += 1
        day += DAY
    return counts


def _hour_overlaps(start: datetime.time, end: datetime.time):
    """(hour, seconds) of a wall-clock span on one day, hour by hour."""
    first = start.hour * 3600 + start.minute * 60
    last = end.hour * 3600 + end.minute * 60
    hour = start.hour
    while hour * 3600 < last:
        seconds = min(last, (hour + 1) * 3600) - max(first, hour * 3600)
        if seconds > 0:
            yield hour, seconds
        hour += 1


def _capacity(f: Filters, spans, time_off, closed):
    """Working seconds per practitioner and per (weekday, hour) cell: each weekday's spans times the open days
    of that weekday in the range, less time off that falls inside them."""
    open_count = _open_weekdays(f, closed)
    per_practitioner: dict[int, float] = defaultdict(float)
    per_cell: dict[tuple[int, int], float] = defaultdict(float)
    by_day: dict[tuple[int, int], list] = defaultdict(list)
    for practitioner_id, weekday, start, end in spans:
        by_day[(practitioner_id, weekday)].append((start, end))
        for hour, seconds in _hour_overlaps(start, end):
            per_practitioner[practitioner_id] += seconds * open_count[weekday]
            per_cell[(weekday, hour)] += seconds * open_count[weekday]
    zone = clock.zone()
    for practitioner_id, off_start, off_end in time_off:
        off_start, off_end = clock.local(off_start), clock.local(off_end)
        day = max(off_start.date(), f.start)
        while day <= min(off_end.date(), f.end):
            if day not in closed:
                for start, end in by_day.get((practitioner_id, day.weekday()), ()):
                    for hour, lost in _time_off_overlaps(day, start, end, off_start, off_end, zone):
                        per_practitioner[practitioner_id] -= lost
                        per_cell[(day.weekday(), hour)] -= lost
            day += DAY
    return per_practitioner, per_cell, open_count


def _time_off_overlaps(day, start, end, off_start, off_end, zone):
    """(hour, seconds) of a working span on `day` that fall inside a time off."""
    for hour, _ in _hour_overlaps(start, end):
        hour_start = datetime.datetime.combine(day, datetime.time(hour))
        cell_start = max(datetime.datetime.combine(day, start), hour_start).replace(tzinfo=zone)
        cell_end = min(datetime.datetime.combine(day, end), hour_start + HOUR).replace(tzinfo=zone)
        lost = (min(cell_end, off_end) - max(cell_start, off_start)).total_seconds()
        if lost > 0:
            yield hour, lost


def _spread(groups):
    """Booked seconds per (weekday, hour) from groups of (ISO weekday, start hour, start minute, length, count):
    an appointment from 10:30 to 11:30 fills half of 10:00 and half of 11:00."""
    cells: dict[tuple[int, int], float] = defaultdict(float)
    for group in groups:
        weekday, hour = group["weekday"] - 1, group["hour"]
        left = group["length"].total_seconds()
        offset = group["minute"] * 60
        while left > 0:
            seconds = min(left, 3600 - offset)
            cells[(weekday, hour)] += seconds * group["count"]
            left -= seconds
            offset = 0
            hour += 1
            if hour == 24:
                hour, weekday = 0, (weekday + 1) % 7
    return cells


def utilisation(f: Filters, practitioners) -> Report:
    report = Report("utilisation", "Utilisation", f)
    zone = clock.zone()
    booked = appointments_in(f).filter(status__in=BOOKED_STATUSES)
    per_practitioner = {
        row["practitioner"]: row
        for row in booked.values("practitioner")
        .annotate(count=Count("pk"), booked=Sum(DURATION), lost=Sum(DURATION, filter=Q(status=Status.NO_SHOW)))
        .order_by()
    }
    per_room = {
        row["room"]: row for row in booked.values("room").annotate(count=Count("pk"), booked=Sum(DURATION)).order_by()
    }
    groups = (
        booked.annotate(
            weekday=ExtractIsoWeekDay("start_at", tzinfo=zone),
            hour=ExtractHour("start_at", tzinfo=zone),
            minute=ExtractMinute("start_at", tzinfo=zone),
            length=DURATION,
        )
        .values("weekday", "hour", "minute", "length")
        .annotate(count=Count("pk"))
        .order_by()
    )
    booked_cells = _spread(groups)
    all_spans = list(WorkingHours.objects.values_list("practitioner_id", "weekday", "start", "end"))
    start, end = f.bounds()
    time_off = TimeOff.objects.filter(start_at__lt=end, end_at__gt=start, **f.appointment_filter())
    closed = closures.closed_days(f.start, f.end)
    chosen = f.practitioner.pk if f.practitioner else None
    spans = [span for span in all_spans if chosen is None or span[0] == chosen]
    capacity, cell_capacity, open_count = _capacity(
        f, spans, time_off.values_list("practitioner_id", "start_at", "end_at"), closed
    )
    rooms = list(Room.objects.order_by("name"))

    table = Table(
        "practitioners",
        "By practitioner",
        ["Practitioner", "Appointments", "Booked hours", "Working hours", "Utilisation (%)", "Hours lost to no-shows"],
    )
    total_booked = total_capacity = 0.0
    for practitioner in practitioners:
        row = per_practitioner.get(practitioner.pk)
        seconds = capacity.get(practitioner.pk, 0.0)
        if (chosen and practitioner.pk != chosen) or (row is None and seconds <= 0):
            continue
        booked_seconds = row["booked"].total_seconds() if row and row["booked"] else 0.0
        total_booked += booked_seconds
        total_capacity += seconds
        table.add(
            str(practitioner),
            row["count"] if row else 0,
            hours(datetime.timedelta(seconds=booked_seconds)),
            hours(datetime.timedelta(seconds=seconds)),
            percent(booked_seconds, seconds),
            hours(row["lost"] if row else None),
        )
    room_table = Table("rooms", "By room", ["Room", "Appointments", "Booked hours", "Open hours", "Utilisation (%)"])
    staffed = _staffed_seconds(all_spans)
    room_capacity = sum(staffed[weekday] * open_count[weekday] for weekday in range(7))
    for room in rooms:
        row = per_room.get(room.pk)
        if row is None and not room.active:
            continue
        booked_seconds = row["booked"].total_seconds() if row else 0.0
        room_table.add(
            room.name,
            row["count"] if row else 0,
            hours(row["booked"] if row else None),
            hours(datetime.timedelta(seconds=room_capacity)),
            percent(booked_seconds, room_capacity),
        )

    open_hours = {hour for (_, hour), seconds in cell_capacity.items() if seconds > 0}
    used_hours = sorted(open_hours | {hour for _, hour in booked_cells})
    columns = [f"{hour:02d}:00" for hour in range(used_hours[0], used_hours[-1] + 1)] if used_hours else []
    grid = Table("heat-map", "By weekday and hour (utilisation, %)", ["Weekday", *columns])
    rows, cells, shares = [], [], []
    for weekday in range(7):
        hours_of_day = range(used_hours[0], used_hours[-1] + 1) if used_hours else range(0)
        if not any(cell_capacity.get((weekday, h), 0) > 0 or booked_cells.get((weekday, h)) for h in hours_of_day):
            continue
        line = []
        for hour in hours_of_day:
            have, used = cell_capacity.get((weekday, hour), 0.0), booked_cells.get((weekday, hour), 0.0)
            share = used / have if have > 0 else None
            text = percent(used, have) if have > 0 else ("booked outside hours" if used else "closed")
            line.append((share, text if have <= 0 else f"{text}%"))
            if share is not None:
                shares.append((share, f"{WEEKDAYS[weekday]} {hour:02d}:00"))
        rows.append(WEEKDAYS[weekday])
        cells.append(line)
        grid.add(WEEKDAYS[weekday], *[text.removesuffix("%") for _, text in line])

    overall = percent(total_booked, total_capacity)
    report.summary = [
        ("Utilisation", f"{overall}%" if overall != "-" else "-"),
        ("Booked hours", hours(datetime.timedelta(seconds=total_booked))),
        ("Working hours", hours(datetime.timedelta(seconds=total_capacity))),
        ("Hours lost to no-shows", hours(sum((r["lost"] or ZERO for r in per_practitioner.values()), ZERO))),
    ]
    description = f"Booked hours over working hours for each weekday and hour, {describe_filters(f)}."
    if shares:
        fullest, quietest = max(shares), min(shares)
        description += (
            f" Overall {overall}%. Fullest: {fullest[1]} ({percent(fullest[0], 1)}%);"
            f" quietest: {quietest[1]} ({percent(quietest[0], 1)}%)."
        )
    report.chart = heat_map("report-utilisation", "Utilisation by weekday and hour", description, rows, columns, cells)
    report.tables = [grid, table, room_table]
    report.notes = [
        "Booked time counts every appointment that held the diary (no-shows included); cancelled ones do not.",
        "Working hours are each practitioner's weekly hours on the days the clinic was open (bank holidays and "
        "closures left out), less their time off.",
        "A room is open while anyone is working that weekday (from the earliest start to the latest end).",
    ]
    return report


def _staffed_seconds(spans) -> list[float]:
    """Per weekday, from the earliest start to the latest end of anyone's hours: when a room can be used."""
    first: dict[int, datetime.time] = {}
    last: dict[int, datetime.time] = {}
    for _, weekday, start, end in spans:
        first[weekday] = min(first.get(weekday, start), start)
        last[weekday] = max(last.get(weekday, end), end)
    return [
        sum(seconds for _, seconds in _hour_overlaps(first[weekday], last[weekday])) if weekday in first else 0.0
        for weekday in range(7)
    ]


# --- 2. Attendance -----------------------------------------------------------------------------------------

LEAD_TIMES = (
    ("a", "Booked under 24 hours ahead", datetime.timedelta(days=1)),
    ("b", "1 to 7 days ahead", datetime.timedelta(days=7)),
    ("c", "8 to 28 days ahead", datetime.timedelta(days=28)),
)
LEAD_TIME_LABELS = {key: label for key, label, _ in LEAD_TIMES} | {"d": "Over 28 days ahead"}
ATTENDANCE_COLUMNS = [
    "Due",
    "Attended",
    "No-shows",
    "No-show rate (%)",
    "Late cancellations",
    "Late-cancellation rate (%)",
    "Not marked",
]


def _attendance_counts(window: datetime.timedelta) -> dict:
    late = Q(status=Status.CANCELLED, cancelled_at__gt=F("start_at") - window)
    return {
        "due": Count("pk", filter=~Q(status=Status.CANCELLED) | late),
        "attended": Count("pk", filter=Q(status__in=(Status.CHECKED_IN, Status.COMPLETED))),
        "no_shows": Count("pk", filter=Q(status=Status.NO_SHOW)),
        "late": Count("pk", filter=late),
        "unmarked": Count("pk", filter=Q(status__in=(Status.BOOKED, Status.AWAITING_DEPOSIT))),
    }


def _attendance_cells(row) -> list:
    return [
        row["due"],
        row["attended"],
        row["no_shows"],
        percent(row["no_shows"], row["due"]),
        row["late"],
        percent(row["late"], row["due"]),
        row["unmarked"],
    ]


def attendance(f: Filters, practitioners, now: datetime.datetime | None = None) -> Report:
    report = Report("attendance", "Attendance", f)
    now = now or timezone.now()
    zone = clock.zone()
    window = datetime.timedelta(hours=settings.CLINIC["CANCELLATION_WINDOW_HOURS"])
    past = appointments_in(f).filter(start_at__lte=now)
    counts = _attendance_counts(window)
    past = past.annotate(
        weekday=ExtractIsoWeekDay("start_at", tzinfo=zone),
        lead=Case(
            *[When(created_at__gt=F("start_at") - limit, then=Value(key)) for key, _, limit in LEAD_TIMES],
            default=Value("d"),
        ),
        reminded=Exists(
            ReminderRow.objects.filter(
                appointment=OuterRef("pk"),
                kind__in=(ReminderKind.REMINDER_24H, ReminderKind.PRE_CARE_48H),
                status=ReminderRow.Status.SENT,
            )
        ),
        deposit=Exists(
            Payment.objects.filter(
                appointment=OuterRef("pk"), purpose=Payment.Purpose.DEPOSIT, status=Payment.Status.PAID
            )
        ),
    )
    totals = past.aggregate(**counts)
    names = {p.pk: str(p) for p in practitioners}
    treatments = dict(Treatment.objects.values_list("pk", "name"))

    def breakdown(key, caption, group, label):
        table = Table(key, caption, [caption.removeprefix("By ").capitalize(), *ATTENDANCE_COLUMNS])
        rows = list(past.values(group).annotate(**counts).order_by(group))
        for row in rows:
            table.add(label(row[group]), *_attendance_cells(row))
        return table, rows

    by_practitioner, practitioner_rows = breakdown("practitioners", "By practitioner", "practitioner", names.get)
    by_treatment, _ = breakdown("treatments", "By treatment", "treatment", treatments.get)
    by_weekday, _ = breakdown("weekdays", "By weekday", "weekday", lambda n: WEEKDAYS[n - 1])
    by_lead, _ = breakdown("lead-times", "By lead time", "lead", LEAD_TIME_LABELS.get)
    by_reminder, _ = breakdown(
        "reminders", "By reminder", "reminded", lambda sent: "Reminder sent" if sent else "No reminder sent"
    )
    by_deposit, _ = breakdown(
        "deposits", "By deposit", "deposit", lambda paid: "Deposit paid" if paid else "No deposit"
    )

    cancelled = appointments_in(f).filter(status=Status.CANCELLED)
    late = Q(cancelled_at__gt=F("start_at") - window)
    reasons = Table("reasons", "Cancellation reasons", ["Reason", "Cancellations", "Of which late"])
    for row in (
        cancelled.annotate(reason=Lower(Trim("cancellation_reason")))
        .values("reason")
        .annotate(count=Count("pk"), late=Count("pk", filter=late))
        .order_by("-count", "reason")[:20]
    ):
        reasons.add(row["reason"] or "(no reason given)", row["count"], row["late"])

    report.summary = [
        ("Appointments due", str(totals["due"])),
        ("No-show rate", _rate(totals["no_shows"], totals["due"])),
        ("Late-cancellation rate", _rate(totals["late"], totals["due"])),
        ("Not marked (ask the desk)", str(totals["unmarked"])),
    ]
    bars = [
        Bar(
            names.get(row["practitioner"], "?"),
            row["no_shows"] / row["due"] * 100 if row["due"] else 0.0,
            _rate(row["no_shows"], row["due"]),
        )
        for row in practitioner_rows
    ]
    description = (
        f"No-show rate by practitioner, {describe_filters(f)}: "
        + "; ".join(f"{bar.label} {bar.text}" for bar in bars)
        + "."
        if bars
        else f"No appointments were due, {describe_filters(f)}."
    )
    report.chart = bar_chart("report-attendance", "No-show rate by practitioner", description, bars)
    report.tables = [by_practitioner, by_treatment, by_weekday, by_lead, by_reminder, by_deposit, reasons]
    hours_window = settings.CLINIC["CANCELLATION_WINDOW_HOURS"]
    report.notes = [
        "Due: appointments that started in the range, up to now, less those cancelled in good time. Rates are "
        "of the appointments due.",
        f"A late cancellation came within {hours_window} hours of the start (the cancellation window).",
        "Not marked: past appointments still 'booked': nobody checked them in or marked a no-show.",
        "Reminder sent: the 48-hour or 24-hour reminder went out before the visit.",
    ]
    return report


def _rate(part, whole) -> str:
    value = percent(part, whole)
    return f"{value}%" if value != "-" else "-"
