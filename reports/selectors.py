"""The owner's reports: reads only, every figure aggregated by the database (annotate/aggregate), each report a
fixed number of queries whatever the range. Local days, weekdays and hours are each appointment's own
site's (`clinic.clock`, `Filters.in_range` and `Filters.local`): a range is [its first day's midnight, the
midnight after its last) in UTC at each site, so a DST day is 23 or 25 hours, and weekdays and hours are
extracted on the site's clock (a Madrid 10:00 is a 10:00, as Madrid's working hours are). Money is counted by
the clinic's month.

What a report counts, where the issue was silent, is what an owner acts on; each report's `notes` say it on
the page, and docs/reports.md says it again.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import (
    Avg,
    BooleanField,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import (
    Cast,
    Coalesce,
    ExtractHour,
    ExtractIsoWeekDay,
    ExtractMinute,
    Lower,
    Trim,
    TruncMonth,
)
from django.utils import timezone

from bookings.models import AftercareCheckIn, Appointment, ReminderChannel, ReminderKind, SignedLink
from bookings.models import Reminder as ReminderRow
from clinic import clock, closures
from clinic.models import Closure, Patient, Room, Site, TimeOff, Treatment, Weekday, WorkingHours
from consultations.models import IntakeForm, Review, ScreeningFlag
from payments.models import PatientPackage, Payment, Redemption, Refund
from practice.course import State, course_progress
from practice.models import CoursePlan, SessionArea
from practice.progress_chart import area_label

from .charts import Bar, bar_chart, heat_map
from .filters import Filters
from .tables import Table, hours, money, percent

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
    where = f", {f.site.name}" if f.site else ""
    return f"{f.start:%-d %b %Y} to {f.end:%-d %b %Y}, {who}{where}"


def describe_bars(what: str, bars, nothing: str) -> str:
    """A chart's text description: what it shows then each bar's label and value, or what the empty range
    means (`what` and `nothing` already name the filters)."""
    if not bars:
        return f"{nothing}."
    return f"{what}: " + "; ".join(f"{bar.label} {bar.text}" for bar in bars) + "."


def appointments_in(f: Filters):
    """The appointments starting on the range's days, each on its own site's days."""
    return Appointment.objects.filter(f.in_range(), **f.appointment_filter())


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


def _capacity(f: Filters, spans, time_off, closed_at, site_zones):
    """Working seconds per practitioner and per (weekday, hour) cell: each weekday's spans times the open days
    of that weekday at the span's site in the range (`closed_at`: site id -> its closed days), less time off
    that falls inside them, on the span's site's clock (`site_zones`: site id -> zone). Also the open days per
    site and weekday."""
    open_count = {site_id: _open_weekdays(f, closed) for site_id, closed in closed_at.items()}
    per_practitioner: dict[int, float] = defaultdict(float)
    per_cell: dict[tuple[int, int], float] = defaultdict(float)
    by_day: dict[tuple[int, int], list] = defaultdict(list)
    for practitioner_id, site_id, weekday, start, end in spans:
        by_day[(practitioner_id, weekday)].append((site_id, start, end))
        for hour, seconds in _hour_overlaps(start, end):
            per_practitioner[practitioner_id] += seconds * open_count[site_id][weekday]
            per_cell[(weekday, hour)] += seconds * open_count[site_id][weekday]
    for practitioner_id, utc_start, utc_end in time_off:
        for site_id, zone in site_zones.items():  # a span is on its site's clock: so is the time off it loses
            off_start, off_end = utc_start.astimezone(zone), utc_end.astimezone(zone)
            day = max(off_start.date(), f.start)
            while day <= min(off_end.date(), f.end):
                for span_site, start, end in by_day.get((practitioner_id, day.weekday()), ()):
                    if span_site != site_id or day in closed_at[site_id]:
                        continue
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
            # Each appointment in its own site's weekday and hour, as its site's working hours are.
            weekday=f.local(ExtractIsoWeekDay),
            hour=f.local(ExtractHour),
            minute=f.local(ExtractMinute),
            length=DURATION,
        )
        .values("weekday", "hour", "minute", "length")
        .annotate(count=Count("pk"))
        .order_by()
    )
    booked_cells = _spread(groups)
    hours_of = WorkingHours.objects.filter(**({"site": f.site} if f.site else {}))
    all_spans = list(hours_of.values_list("practitioner_id", "site_id", "weekday", "start", "end"))
    start, end = f.bounds()
    time_off = TimeOff.objects.filter(
        start_at__lt=end, end_at__gt=start, **({"practitioner": f.practitioner} if f.practitioner else {})
    )
    # Each site's closed days (its bank holidays, its closures and the clinic's): a closure of one site takes
    # no hours from another. One query for the closures and one for the sites, whatever the range.
    in_range = list(Closure.objects.filter(first_day__lte=f.end, last_day__gte=f.start))
    sites = [f.site] if f.site else list(Site.objects.all())
    closed_at = {site.pk: closures.closed_days(f.start, f.end, closures=in_range, site=site) for site in sites}
    chosen = f.practitioner.pk if f.practitioner else None
    spans = [span for span in all_spans if chosen is None or span[0] == chosen]
    capacity, cell_capacity, open_count = _capacity(
        f,
        spans,
        time_off.values_list("practitioner_id", "start_at", "end_at"),
        closed_at,
        {site.pk: site.zone for site in sites},
    )
    rooms = list(Room.objects.filter(**({"site": f.site} if f.site else {})).order_by("name"))

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
    staffed = _staffed_seconds(all_spans)  # per site: a room is open while someone works at its site
    for room in rooms:
        room_capacity = sum(
            staffed.get((room.site_id, weekday), 0.0) * open_count.get(room.site_id, [0] * 7)[weekday]
            for weekday in range(7)
        )
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
        "A room is open while anyone is working at its site that weekday (from the earliest start to the latest "
        "end); each site's closed days are its own.",
    ]
    return report


def _staffed_seconds(spans) -> dict[tuple[int, int], float]:
    """Per (site, weekday), from the earliest start to the latest end of anyone's hours there: when a room of
    that site can be used."""
    first: dict[tuple[int, int], datetime.time] = {}
    last: dict[tuple[int, int], datetime.time] = {}
    for _, site_id, weekday, start, end in spans:
        key = (site_id, weekday)
        first[key] = min(first.get(key, start), start)
        last[key] = max(last.get(key, end), end)
    return {key: sum(seconds for _, seconds in _hour_overlaps(first[key], last[key])) for key in first}


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
    window = datetime.timedelta(hours=settings.CLINIC["CANCELLATION_WINDOW_HOURS"])
    past = appointments_in(f).filter(start_at__lte=now)
    counts = _attendance_counts(window)
    start, end = f.bounds()
    reminded = ReminderRow.objects.filter(
        kind__in=(ReminderKind.REMINDER_24H, ReminderKind.PRE_CARE_48H),
        status=ReminderRow.Status.SENT,
        due_at__gte=start - datetime.timedelta(days=3),  # due 48 or 24 hours before a start in the range
        due_at__lt=end,
    ).values("appointment_id")
    deposits = Payment.objects.filter(
        purpose=Payment.Purpose.DEPOSIT, status=Payment.Status.PAID, appointment__isnull=False
    ).values("appointment_id")
    past = past.annotate(
        weekday=f.local(ExtractIsoWeekDay),
        lead=Case(
            *[When(created_at__gt=F("start_at") - limit, then=Value(key)) for key, _, limit in LEAD_TIMES],
            default=Value("d"),
        ),
        # `IN (subquery)`, not EXISTS per row: PostgreSQL hashes the subquery's ids once (a hashed subplan).
        reminded=Case(When(pk__in=reminded, then=Value(True)), default=Value(False), output_field=BooleanField()),
        deposit=Case(When(pk__in=deposits, then=Value(True)), default=Value(False), output_field=BooleanField()),
    )
    # One query grouped by every dimension at once; each table adds up its groups (a few thousand rows at
    # most: practitioners x treatments x 7 weekdays x 4 lead times x 2 x 2). Seven grouped scans of a year
    # took 1.7 s on the bench clinic; one takes a fraction of that.
    dimensions = ("practitioner", "treatment", "weekday", "lead", "reminded", "deposit")
    groups = list(past.values(*dimensions).annotate(**counts).order_by())
    names = {p.pk: str(p) for p in practitioners}
    treatments = dict(Treatment.objects.values_list("pk", "name"))
    keys = tuple(counts)
    totals = {key: sum(group[key] for group in groups) for key in keys}

    def breakdown(key, caption, group, label):
        table = Table(key, caption, [caption.removeprefix("By ").capitalize(), *ATTENDANCE_COLUMNS])
        added = defaultdict(lambda: dict.fromkeys(keys, 0))
        for row in groups:
            for count in keys:
                added[row[group]][count] += row[count]
        rows = [{group: value, **added[value]} for value in sorted(added)]
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
    description = describe_bars(
        f"No-show rate by practitioner, {describe_filters(f)}", bars, f"No appointments were due, {describe_filters(f)}"
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


# --- 3. Revenue --------------------------------------------------------------------------------------------

NO_VISIT = "No visit (course packages, other)"


def _sum_table(key, caption, first_column, taken_rows, refund_rows, label) -> tuple[Table, list]:
    """Taken, refunded and net per group, from two aggregates (payments, refunds) joined on the group."""
    taken = {row["group"]: row["total"] for row in taken_rows}
    refunded = {row["group"]: row["total"] for row in refund_rows}
    table = Table(key, caption, [first_column, "Taken", "Refunded", "Net"])
    lines = []
    for group in sorted(set(taken) | set(refunded), key=lambda g: (g is None, str(label(g)) if g is not None else "")):
        got, back = taken.get(group) or Decimal(0), refunded.get(group) or Decimal(0)
        table.add(label(group), money(got), money(back), money(got - back))
        lines.append((label(group), got - back))
    return table, lines


def revenue(f: Filters, practitioners, now: datetime.datetime | None = None) -> Report:
    report = Report("revenue", "Revenue", f)
    now = now or timezone.now()
    zone = clock.zone()
    start, end = f.bounds()
    currency = settings.PAYMENTS["CURRENCY"]
    paid = Payment.objects.filter(status=Payment.Status.PAID, paid_at__gte=start, paid_at__lt=end, currency=currency)
    refunds = Refund.objects.exclude(status=Refund.Status.FAILED).filter(
        created_at__gte=start, created_at__lt=end, currency=currency
    )
    if f.practitioner is not None or f.site is not None:
        paid = paid.filter(**f.appointment_filter("appointment__"))
        refunds = refunds.filter(**f.appointment_filter("payment__appointment__"))
    purpose = Payment.Purpose
    totals = paid.aggregate(
        taken=Sum("amount"),
        packages=Sum("amount", filter=Q(purpose=purpose.PACKAGE)),
        package_count=Count("pk", filter=Q(purpose=purpose.PACKAGE)),
        fees=Sum("amount", filter=Q(purpose=purpose.FEE)),
    )
    refunded = refunds.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    # A deposit kept as a fee was kept when the visit was missed: counted by the visit's day.
    kept = Payment.objects.filter(
        status=Payment.Status.PAID,
        deposit_outcome=Payment.DepositOutcome.KEPT,
        currency=currency,
        appointment__start_at__gte=start,
        appointment__start_at__lt=end,
        **f.appointment_filter("appointment__"),
    ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
    share = ExpressionWrapper(
        Cast("patient_package__price_paid", FloatField()) / F("patient_package__sessions_total"),
        output_field=FloatField(),
    )
    redeemed = Redemption.objects.filter(
        created_at__gte=start, created_at__lt=end, **f.appointment_filter("appointment__")
    ).aggregate(count=Count("pk"), value=Sum(share))

    month = TruncMonth("paid_at", tzinfo=zone)
    by_month, month_lines = _sum_table(
        "months",
        "By month",
        "Month",
        paid.annotate(group=month).values("group").annotate(total=Sum("amount")).order_by(),
        refunds.annotate(group=TruncMonth("created_at", tzinfo=zone))
        .values("group")
        .annotate(total=Sum("amount"))
        .order_by(),
        lambda day: f"{day:%Y-%m}" if day else "",
    )
    names = {p.pk: str(p) for p in practitioners}
    by_practitioner, _ = _sum_table(
        "practitioners",
        "By practitioner",
        "Practitioner",
        paid.values(group=F("appointment__practitioner")).annotate(total=Sum("amount")).order_by(),
        refunds.values(group=F("payment__appointment__practitioner")).annotate(total=Sum("amount")).order_by(),
        lambda pk: names.get(pk, "?") if pk else NO_VISIT,
    )
    treatments = dict(Treatment.objects.values_list("pk", "name"))
    by_treatment, _ = _sum_table(
        "treatments",
        "By treatment",
        "Treatment",
        paid.values(group=Coalesce("appointment__treatment", "patient_package__treatment"))
        .annotate(total=Sum("amount"))
        .order_by(),
        refunds.values(group=Coalesce("payment__appointment__treatment", "payment__patient_package__treatment"))
        .annotate(total=Sum("amount"))
        .order_by(),
        lambda pk: treatments.get(pk, "?") if pk else "Other",
    )

    # Outstanding, now: money asked and not yet paid; sessions sold and not yet given; visits in the range
    # that were completed with nothing paid towards them and no package session used.
    pending = Payment.objects.filter(
        status=Payment.Status.PENDING, currency=currency, **f.appointment_filter("appointment__")
    )
    pending = pending.aggregate(count=Count("pk"), total=Sum("amount"))
    unused = ExpressionWrapper(
        Cast("price_paid", FloatField()) * (F("sessions_total") - F("sessions_used")) / F("sessions_total"),
        output_field=FloatField(),
    )
    prepaid = PatientPackage.objects.filter(
        status=PatientPackage.Status.ACTIVE, expires_at__gt=now, currency=currency
    ).aggregate(sessions=Sum(F("sessions_total") - F("sessions_used")), value=Sum(unused))
    unpaid = (
        appointments_in(f)
        .filter(status=Status.COMPLETED, treatment__price__gt=0, redemption__isnull=True)
        .exclude(
            Exists(
                Payment.objects.filter(
                    appointment=OuterRef("pk"),
                    status=Payment.Status.PAID,
                    purpose__in=(purpose.SESSION, purpose.DEPOSIT),
                )
            )
        )
        .aggregate(count=Count("pk"), total=Sum("treatment__price"))
    )
    outstanding = Table("outstanding", "Outstanding", ["What", "How many", "Amount"])
    outstanding.add("Asked and not yet paid (now)", pending["count"], money(pending["total"]))
    outstanding.add(
        "Package sessions sold and not yet given (now)", prepaid["sessions"] or 0, money(_decimal(prepaid["value"]))
    )
    outstanding.add("Completed visits in the range with nothing paid", unpaid["count"], money(unpaid["total"]))

    taken = totals["taken"] or Decimal(0)
    report.summary = [
        ("Taken", money(taken)),
        ("Refunded", money(refunded)),
        ("Net", money(taken - refunded)),
        ("Kept as fees", money(kept + (totals["fees"] or Decimal(0)))),
        ("Packages sold", f"{totals['package_count']} ({money(totals['packages'])})"),
        ("Package sessions used", f"{redeemed['count']} ({money(_decimal(redeemed['value']))})"),
    ]
    bars = [Bar(label, float(net), money(net)) for label, net in month_lines]
    description = describe_bars(
        f"Net takings ({currency}) by month, {describe_filters(f)}",
        bars,
        f"Nothing was taken or refunded, {describe_filters(f)}",
    )
    report.chart = bar_chart("report-revenue", f"Net takings by month ({currency})", description, bars)
    report.tables = [by_month, by_practitioner, by_treatment, outstanding]
    report.notes = [
        f"Amounts in {currency}. Taken: payments received in the range (deposits, sessions, packages, fees); "
        "refunded: refunds made in the range (being sent or done); net: the difference.",
        "Kept as fees: deposits kept for visits in the range that were missed or cancelled late, and fees paid.",
        "Package sessions used: sessions paid for by a package, valued at the package's price per session.",
        "With a practitioner chosen, only money tied to their visits counts (a package sold is no one's visit).",
    ]
    return report


def _decimal(value) -> Decimal:
    return Decimal(str(value or 0))


# --- 4. Courses and patients -------------------------------------------------------------------------------

ATTENDED = (Status.CHECKED_IN, Status.COMPLETED)
ABANDONED_AFTER_DAYS = 90  # a session overdue this long: the patient has left the course, not just slipped


def courses(f: Filters, practitioners, today: datetime.date | None = None) -> Report:
    report = Report("courses", "Courses and patients", f)
    today = today or clock.today()
    start, end = f.bounds()
    in_range = Q(appointments__start_at__gte=start, appointments__start_at__lt=end)
    with_practitioner = Q(**f.appointment_filter("appointments__"))
    patients = (
        Patient.objects.annotate(
            first=Min("appointments__start_at", filter=Q(appointments__status__in=ATTENDED)),
            visits=Count("appointments", filter=Q(appointments__status__in=ATTENDED) & in_range & with_practitioner),
        )
        .filter(visits__gt=0)
        .aggregate(
            new=Count("pk", filter=Q(first__gte=start)),
            returning=Count("pk", filter=Q(first__lt=start)),
            all_visits=Sum("visits"),
        )
    )

    appointments = defaultdict(list)
    # Subqueries, not lists of ids: the same three queries with no plan, one plan or thousands.
    planned = CoursePlan.objects.filter(**({"practitioner": f.practitioner} if f.practitioner else {}))
    for appointment in Appointment.objects.filter(
        patient_id__in=planned.values("patient_id"), status__in=Appointment.LIVE_STATUSES
    ).only("pk", "patient_id", "treatment_id", "status", "start_at"):
        appointments[appointment.patient_id].append(appointment)
    plans = list(planned.select_related("treatment"))
    counts = defaultdict(lambda: {"started": 0, "completed": 0, "overdue": 0, "abandoned": 0})
    completed = []
    for plan in plans:
        progress = course_progress(plan, appointments[plan.patient_id], today=today)
        tally = counts[plan.treatment.name]
        first = progress.sessions[0] if progress.sessions else None
        if first is not None and first.appointment is not None and f.start <= first.day <= f.end:
            tally["started"] += 1
        if progress.done == plan.sessions and f.start <= progress.sessions[-1].day <= f.end:
            tally["completed"] += 1
            completed.append(progress)
        waiting = progress.next_session
        if waiting is not None and waiting.state == State.OVERDUE:
            if (today - waiting.day).days > ABANDONED_AFTER_DAYS:
                tally["abandoned"] += 1
            else:
                tally["overdue"] += 1
    course_table = Table(
        "courses", "Courses by treatment", ["Treatment", "Started", "Completed", "Overdue now", "Abandoned"]
    )
    for name in sorted(counts):
        tally = counts[name]
        course_table.add(name, tally["started"], tally["completed"], tally["overdue"], tally["abandoned"])

    # Grades over each completed course: the first and the last session's grade of each area.
    ends = {}
    for progress in completed:
        ends[progress.sessions[0].appointment.pk] = (progress.plan.pk, "first")
        ends[progress.sessions[-1].appointment.pk] = (progress.plan.pk, "last")
    grades = defaultdict(dict)
    for area in SessionArea.objects.filter(record__patient_id__in=planned.values("patient_id")).values(
        "record__appointment_id", "area", "scale", "grade"
    ):
        if area["record__appointment_id"] not in ends:
            continue
        plan_pk, which = ends[area["record__appointment_id"]]
        grades[(plan_pk, area["area"], area["scale"])][which] = area["grade"]
    changes = defaultdict(list)
    for (_, area, scale), pair in grades.items():
        if "first" in pair and "last" in pair:
            changes[(area, scale)].append((pair["first"], pair["last"]))
    grade_table = Table(
        "grades",
        "Average grade change per area over a completed course (lower is better)",
        ["Area", "Scale", "Courses", "First grade (average)", "Last grade (average)", "Change (average)"],
    )
    bars = []
    for (area, scale), pairs in sorted(changes.items()):
        first = sum(a for a, _ in pairs) / len(pairs)
        last = sum(b for _, b in pairs) / len(pairs)
        change = last - first
        scale_name = scale.replace("_", "-").title()
        grade_table.add(area_label(area), scale_name, len(pairs), _one(first), _one(last), _one(change))
        bars.append(Bar(f"{area_label(area)} ({scale_name})", change, _one(change)))

    report.summary = [
        ("New patients", str(patients["new"])),
        ("Returning patients", str(patients["returning"])),
        ("Visits", str(patients["all_visits"] or 0)),
        ("Courses completed", str(sum(t["completed"] for t in counts.values()))),
        ("Overdue now", str(sum(t["overdue"] for t in counts.values()))),
        ("Abandoned", str(sum(t["abandoned"] for t in counts.values()))),
    ]
    patients_table = Table("patients", "Patients seen", ["Patients", "Count"])
    patients_table.add("New (first visit in the range)", patients["new"])
    patients_table.add("Returning (seen before the range)", patients["returning"])
    description = describe_bars(
        f"Average change of the cellulite grade from the first to the last session of courses completed, "
        f"{describe_filters(f)} (lower is better, so a negative change is an improvement)",
        bars,
        f"No course with grades was completed, {describe_filters(f)}",
    )
    report.chart = bar_chart("report-courses", "Average grade change per area", description, bars)
    report.tables = [patients_table, course_table, grade_table]
    report.notes = [
        "New: patients whose first visit (checked in or completed) ever was in the range; returning: seen before.",
        "Courses come from the practitioners' course plans (practice.course): started when the first session "
        "was in the range, completed when the last planned session was done in the range.",
        f"Overdue now: the next session's window has been open for more than 14 days without a booking; "
        f"abandoned: for more than {ABANDONED_AFTER_DAYS} days.",
        "Grade change: the last session's grade minus the first's, per area, on the scale recorded.",
    ]
    return report


def _one(value: float) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


# --- 5. Screening and safety -------------------------------------------------------------------------------


def screening(f: Filters, practitioners) -> Report:
    report = Report("screening", "Screening and safety", f)
    start, end = f.bounds()
    # With a practitioner chosen: the forms of their patients, the decisions they made, their visits' check-ins.
    theirs = {}
    if f.practitioner is not None:
        theirs = {"patient_id__in": Appointment.objects.filter(practitioner=f.practitioner).values("patient_id")}
    sent = IntakeForm.objects.filter(submitted_at__gte=start, submitted_at__lt=end, **theirs).count()
    # Links to the health form the desk texted or emailed (a phone booking's patient fills it in from there).
    links = SignedLink.objects.filter(
        action=SignedLink.Action.HEALTH_FORM, sent_by__isnull=False, created_at__gte=start, created_at__lt=end, **theirs
    ).count()
    flag_filter = {f"intake__{key}": value for key, value in theirs.items()}
    flags = Table("flags", "Flags by rule", ["Rule", "Severity", "Flags"])
    flag_rows = list(
        ScreeningFlag.objects.filter(created_at__gte=start, created_at__lt=end, **flag_filter)
        .values("topic", "severity")
        .annotate(count=Count("pk"))
        .order_by("-count", "topic")
    )
    for row in flag_rows:
        flags.add(row["topic"], row["severity"], row["count"])

    reviews = Review.objects.filter(decided_at__gte=start, decided_at__lt=end)
    suspended = Review.objects.filter(suspended_at__gte=start, suspended_at__lt=end)
    if f.practitioner is not None:
        reviews = reviews.filter(reviewer_id=f.practitioner.user_id)
        suspended = suspended.filter(**flag_filter)
    wait = ExpressionWrapper(F("decided_at") - F("intake__submitted_at"), output_field=DurationField())
    current = Q(intake_version=F("intake__version"))
    decisions = Table(
        "decisions", "Decisions by kind", ["Decision", "Decisions", "Average wait (hours)", "Longest wait (hours)"]
    )
    labels = dict(Review.Decision.choices)
    for row in (
        reviews.values("decision")
        .annotate(count=Count("pk"), average=Avg(wait, filter=current), longest=Max(wait, filter=current))
        .order_by("decision")
    ):
        decisions.add(
            labels.get(row["decision"], row["decision"]), row["count"], hours(row["average"]), hours(row["longest"])
        )
    overall = reviews.aggregate(count=Count("pk"), average=Avg(wait, filter=current))
    suspensions = suspended.count()

    check_ins = AftercareCheckIn.objects.filter(
        created_at__gte=start, created_at__lt=end, **f.appointment_filter("appointment__")
    )
    follow = ExpressionWrapper(F("followed_up_at") - F("created_at"), output_field=DurationField())
    concerning = Q(needs_attention=True)
    done = concerning & Q(followed_up_at__isnull=False)
    care = check_ins.aggregate(
        total=Count("pk"),
        concerning=Count("pk", filter=concerning),
        followed=Count("pk", filter=done),
        open=Count("pk", filter=concerning & Q(followed_up_at__isnull=True)),
        average=Avg(follow, filter=done),
        longest=Max(follow, filter=done),
    )
    aftercare = Table("aftercare", "Aftercare check-ins", ["What", "Count", "Hours"])
    aftercare.add("Check-ins answered", care["total"], "")
    aftercare.add("Concerning (infection or something else)", care["concerning"], "")
    aftercare.add("Followed up: average time", care["followed"], hours(care["average"]))
    aftercare.add("Followed up: longest time", care["followed"], hours(care["longest"]))
    aftercare.add("Still waiting for a follow-up", care["open"], "")

    report.summary = [
        ("Form links sent by the desk", str(links)),
        ("Health forms sent", str(sent)),
        ("Decisions", str(overall["count"])),
        ("Average wait for a decision", f"{hours(overall['average'])} h"),
        ("Clearances suspended", str(suspensions)),
        ("Concerning check-ins", str(care["concerning"])),
        ("Not yet followed up", str(care["open"])),
    ]
    bars = [Bar(row["topic"], row["count"], str(row["count"])) for row in flag_rows[:12]]
    description = describe_bars(
        f"Screening flags by rule, {describe_filters(f)}", bars, f"No screening flags, {describe_filters(f)}"
    )
    report.chart = bar_chart("report-screening", "Screening flags by rule", description, bars)
    report.tables = [flags, decisions, aftercare]
    report.notes = [
        "Form links: links to the health form the desk sent a patient. Health forms sent: forms whose latest "
        "sending by the patient was in the range. Flags: raised by forms sent in the range.",
        "Wait: from the patient sending the form to the decision, for decisions on the form as last sent.",
        "Clearances suspended: a new answer that triggers a rule suspended a clearance in force.",
        "Concerning check-ins: a patient's answer of infection or something else after a session; follow-up is "
        "when a member of staff marked it done.",
    ]
    return report


# --- 6. Messages -------------------------------------------------------------------------------------------


def messages(f: Filters, practitioners) -> Report:
    report = Report("messages", "Messages", f)
    start, end = f.bounds()
    rows = list(
        ReminderRow.objects.filter(due_at__gte=start, due_at__lt=end, **f.appointment_filter("appointment__"))
        .values("kind", "channel")
        .annotate(
            due=Count("pk"),
            sent=Count("pk", filter=Q(status=ReminderRow.Status.SENT)),
            failed=Count("pk", filter=Q(status=ReminderRow.Status.FAILED)),
            retried=Count("pk", filter=Q(attempts__gt=1)),
            uncertain=Count("pk", filter=Q(status=ReminderRow.Status.UNCERTAIN)),
            cancelled=Count("pk", filter=Q(status=ReminderRow.Status.CANCELLED)),
            waiting=Count("pk", filter=Q(status__in=ReminderRow.UNSENT_STATUSES)),
        )
        .order_by("kind", "channel")
    )
    kinds = dict(ReminderKind.choices)
    channels = dict(ReminderChannel.choices)
    table = Table(
        "messages",
        "By kind and channel",
        [
            "Message",
            "Channel",
            "Due",
            "Sent",
            "Failed",
            "Failure rate (%)",
            "Retried",
            "Uncertain",
            "Cancelled",
            "Waiting",
        ],
    )
    totals = defaultdict(int)
    bars = []
    for row in rows:
        tried = row["sent"] + row["failed"]
        label = f"{kinds.get(row['kind'], row['kind'])} ({channels.get(row['channel'], row['channel'])})"
        table.add(
            kinds.get(row["kind"], row["kind"]),
            channels.get(row["channel"], row["channel"]),
            row["due"],
            row["sent"],
            row["failed"],
            percent(row["failed"], tried),
            row["retried"],
            row["uncertain"],
            row["cancelled"],
            row["waiting"],
        )
        for key in ("due", "sent", "failed", "retried", "uncertain"):
            totals[key] += row[key]
        bars.append(Bar(label, row["failed"] / tried * 100 if tried else 0.0, _percent_text(row["failed"], tried)))
    report.summary = [
        ("Messages due", str(totals["due"])),
        ("Sent", str(totals["sent"])),
        ("Failed", str(totals["failed"])),
        ("Retried", str(totals["retried"])),
        ("Delivery uncertain (ask the desk)", str(totals["uncertain"])),
    ]
    description = describe_bars(
        f"Failure rate of messages by kind and channel, {describe_filters(f)}",
        bars,
        f"No messages were due, {describe_filters(f)}",
    )
    report.chart = bar_chart("report-messages", "Failure rate by kind and channel", description, bars)
    report.tables = [table]
    report.notes = [
        "Messages due in the range: confirmations, pre-care, reminders, aftercare, check-ins and the rest "
        "(bookings.reminders).",
        "Failure rate: failed after the last attempt, of those sent or failed. Retried: needed more than one "
        "attempt. Uncertain: a hand-over interrupted; the desk decides whether to send again.",
    ]
    return report


def _percent_text(part, whole) -> str:
    value = percent(part, whole)
    return f"{value}%" if value != "-" else "-"
