"""Reads for the booking pages and the front desk (the calendar's appointments, patient search, a patient's page).

The front desk's reads cost a fixed number of queries whatever the number of practitioners, rooms,
appointments or patients: pages that list many rows pin that with a test.
"""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.db.models import Case, Count, Exists, F, Max, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Concat
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinic import clock, phones
from clinic.closures import closed_days
from clinic.models import LONGEST_APPOINTMENT, Closure, Patient, Practitioner, Room, Site, TimeOff, WorkingHours
from consultations.consent import CONSENT_VERSION
from consultations.models import Consent
from consultations.selectors import current_clearances, screening_and_alerts, screening_statuses

from .models import Appointment, Reminder, SignedLink
from .signals import DESK_APPOINTMENT_COLUMNS


def patient_appointments(patient):
    return Appointment.objects.filter(patient=patient).select_related(
        "treatment", "practitioner__user", "room__site", "site"
    )


def upcoming_and_past(patient, now=None):
    """Upcoming (soonest first) and past (latest first) appointments of one patient: two lists. A cancelled
    appointment is never upcoming: it goes with the past ones, whenever its time was."""
    now = now or timezone.now()
    appointments = list(patient_appointments(patient))
    cancelled = Appointment.Status.CANCELLED
    upcoming = [a for a in appointments if clock.is_upcoming(a.start_at, now) and a.status != cancelled]
    shown_upcoming = {a.pk for a in upcoming}
    past = sorted((a for a in appointments if a.pk not in shown_upcoming), key=lambda a: a.start_at, reverse=True)
    return upcoming, past


def patient_appointment_or_404(patient, pk):
    """One of this patient's appointments; another patient's answers 404, as an unknown id does."""
    return get_object_or_404(patient_appointments(patient), pk=pk)


def patient_site(patient, now=None):
    """The site a message about the patient but no one appointment names (its address and phone, through
    `clinic.message_text.place`): the site of their next appointment, else of their last one (cancelled ones
    left out), else None: the clinic's own settings, which the main site was made from. One query. The one
    rule for "the patient's site": a Manchester patient's health form link gives Manchester's phone."""
    now = now or timezone.now()
    ahead = Case(When(start_at__gt=now, then=Value(0)), default=Value(1))
    soonest_ahead = Case(When(start_at__gt=now, then=F("start_at")))
    appointment = (
        Appointment.objects.filter(patient=patient)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("site")
        .order_by(ahead, soonest_ahead.asc(nulls_last=True), "-start_at")
        .first()
    )
    return appointment.site if appointment is not None else None


# --- the front desk ---------------------------------------------------------------------------------------

PATIENT_PAGE_SIZE = 25


def appointments_between(start_at, end_at, *, practitioner=None, room=None):
    """Appointments (any status) that touch [start_at, end_at), with everything a calendar shows. One query."""
    appointments = Appointment.objects.filter(
        start_at__lt=end_at,
        end_at__gt=start_at,
        # No appointment lasts a day: a lower bound on start_at lets the start_at index do the work.
        start_at__gte=start_at - LONGEST_APPOINTMENT,
    ).select_related("patient__user", "treatment", "room__site", "practitioner__user")
    appointments = with_paperwork_columns(appointments)
    if practitioner is not None:
        appointments = appointments.filter(practitioner=practitioner)
    if room is not None:
        appointments = appointments.filter(room=room)
    return list(appointments.order_by("start_at", "pk"))


def with_screening(appointments):
    """Attach each appointment's patient screening status as `appointment.screening`, and whether the patient
    has a clinical alert as `appointment.has_clinical_alert` (one bulk read, at most four queries). The desk
    learns that an alert exists ("Alert: see practitioner"), never what it says."""
    statuses, alerted = screening_and_alerts({appointment.patient_id for appointment in appointments})
    for appointment in appointments:
        appointment.screening = statuses[appointment.patient_id]
        appointment.has_clinical_alert = appointment.patient_id in alerted
    return appointments


def with_paperwork_columns(appointments):
    """Annotate what `with_paperwork` needs inside the appointments' own query (no extra query): the version
    of the consent the patient signed last, and what apps above add (`DESK_APPOINTMENT_COLUMNS`: practice
    says whether the patient confirmed their health form for this visit)."""
    return appointments.annotate(
        consent_version=Subquery(
            Consent.objects.filter(patient_id=OuterRef("patient_id")).order_by("-signed_at").values("text_version")[:1]
        ),
        **DESK_APPOINTMENT_COLUMNS.context(),
    )


@dataclass(frozen=True)
class Paperwork:
    """Something the patient still has to fill in or sign, shown on the calendar card and the day sheet so
    the desk can hand it over on arrival."""

    code: str
    label: str


FORM_NOT_SENT = Paperwork("form", "To do: health form")
FORM_NOT_FINISHED = Paperwork("form", "To do: finish health form")
CONSENT_NOT_SIGNED = Paperwork("consent", "To do: consent")
CONSENT_OUTDATED = Paperwork("consent", "To do: sign new consent")
FORM_NOT_CONFIRMED = Paperwork("confirm", "To do: confirm health form")
OPEN_STATUSES = (Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN)


def paperwork_due(appointment) -> list[Paperwork]:
    """The one rule for what a patient must still complete for this visit: a health form sent (every
    visit), and for a treatment session the current consent signed and the form confirmed as still true.
    Reads `appointment.screening` and the `with_paperwork_columns` annotations."""
    if appointment.status not in OPEN_STATUSES:
        return []
    due = []
    code = appointment.screening.code
    if code == "no_form":
        due.append(FORM_NOT_SENT)
    elif code == "draft":
        due.append(FORM_NOT_FINISHED)
    if not appointment.treatment.is_consultation:
        if appointment.consent_version is None:
            due.append(CONSENT_NOT_SIGNED)
        elif appointment.consent_version != CONSENT_VERSION:
            due.append(CONSENT_OUTDATED)
        confirmed = getattr(appointment, "form_confirmed", None)  # None: no app tells (practice removed)
        if code not in ("no_form", "draft") and confirmed is False:
            due.append(FORM_NOT_CONFIRMED)
    return due


def with_paperwork(appointments):
    """Attach `appointment.paperwork` (see `paperwork_due`) to appointments read with their screening."""
    for appointment in appointments:
        appointment.paperwork = paperwork_due(appointment)
    return appointments


def desk_practitioners():
    """Active practitioners in name order: the calendar's columns."""
    return list(Practitioner.objects.filter(active=True).select_related("user").order_by("user__last_name", "pk"))


def desk_rooms():
    return list(Room.objects.filter(active=True).order_by("name", "pk"))


def working_spans(practitioner_ids, days, *, site_ids=None, catalogue=None):
    """{(practitioner id, date): [(start, end, site)]} in start order for the given days, the times on that
    site's clock; with `site_ids`, only the spans worked at those sites (the desk's calendar of one site).
    One query, or none from the availability `catalogue` of the set-up as of the rows read (the desk's kept
    day view: bookings/frontdesk/day_cache.py)."""
    ids, weekdays = set(practitioner_ids), {day.weekday() for day in days}
    if catalogue is None:
        found = WorkingHours.objects.filter(practitioner_id__in=ids, weekday__in=weekdays)
        if site_ids:
            found = found.filter(site_id__in=site_ids)
        rows = ((h.site, h.practitioner_id, h.weekday, h.start, h.end) for h in found.select_related("site"))
    else:
        rows = (
            (catalogue.sites[site_id], p_id, weekday, start, end)
            for (site_id, p_id, weekday), hours in catalogue.hours.items()
            if p_id in ids and weekday in weekdays and (not site_ids or site_id in site_ids)
            for start, end in hours
        )
    spans = {}
    for site, p_id, weekday, start, end in rows:
        for day in days:
            if day.weekday() == weekday:
                spans.setdefault((p_id, day), []).append((start, end, site))
    for found_spans in spans.values():
        found_spans.sort(key=lambda span: span[0])
    return spans


def time_off_between(practitioner_ids, start_at, end_at):
    """{practitioner id: [(start, end)]} of time off touching the range. One query."""
    found = {}
    for p_id, start, end in TimeOff.objects.filter(
        practitioner_id__in=practitioner_ids, start_at__lt=end_at, end_at__gt=start_at
    ).values_list("practitioner_id", "start_at", "end_at"):
        found.setdefault(p_id, []).append((start, end))
    return found


def counts_by_day(first_day: datetime.date, last_day: datetime.date) -> dict:
    """{local day: {status: count}} of the appointments starting in those days, each on its own site's day
    (a Madrid 00:30 is Madrid's day, not London's evening before): the month overview. One query, grouped
    by site zone, status and start (appointments starting together at one site count as one row)."""
    start_at, end_at = clock.sites_day_bounds(first_day, last_day)
    counts: dict = {}
    rows = (
        Appointment.objects.filter(start_at__gte=start_at, start_at__lt=end_at)
        .values_list("site__time_zone", "status", "start_at")
        .annotate(n=Count("pk"))
        .order_by()
    )
    zones: dict = {}
    for time_zone, status, start, n in rows:
        zone = zones.get(time_zone) or zones.setdefault(time_zone, ZoneInfo(time_zone))
        day = start.astimezone(zone).date()
        if first_day <= day <= last_day:
            by_status = counts.setdefault(day, {})
            by_status[status] = by_status.get(status, 0) + n
    return counts


# --- patients ------------------------------------------------------------------------------------------


def _as_date(text: str) -> datetime.date | None:
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"):
        try:
            return datetime.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def _phone_condition(query: str) -> Q | None:
    """When the query is a phone number or a piece of one, in any common format ("+44 7700 900123",
    "07700 900123", "0044 7700...", "900 123"): the condition on the stored E.164 number. Else None."""
    if any(c not in "0123456789 +-()." for c in query):
        return None
    full = phones.to_e164(query)
    if full is not None:
        return Q(phone=full)
    digits = "".join(c for c in query if c.isdigit())
    if len(digits) < 3:
        return None
    if query.startswith("+"):
        return Q(phone__startswith="+" + digits)
    if query.startswith("00"):
        return Q(phone__startswith="+" + digits[2:])
    if digits.startswith("0"):  # a national number: the clinic's country code replaces the trunk 0
        return Q(phone__startswith=f"+{phones.country_code()}{digits[1:]}")
    return Q(phone__contains=digits)


def search_patients(query: str):
    """Patients whose phone number is (or starts with, or contains) the number given in any common format;
    or matching every word of the query in their name or email; or born on the date given (2026-01-31 or
    31/01/2026). Case-insensitive. A queryset, with each patient's no-show count, for a paginator (count +
    page: two queries). An empty query finds nobody: the page shows today's and recent patients instead."""
    patients = Patient.objects.select_related("user").annotate(
        no_show_count=Count("appointments", filter=Q(appointments__status=Appointment.Status.NO_SHOW))
    )
    query = (query or "").strip()
    if not query:
        return patients.none()
    ordered = ("user__last_name", "user__first_name", "pk")
    born = _as_date(query)
    if born is not None:
        return patients.filter(date_of_birth=born).order_by(*ordered)
    by_phone = _phone_condition(query)
    if by_phone is not None:
        return patients.filter(by_phone).order_by(*ordered)
    patients = patients.annotate(search_name=Concat("user__first_name", Value(" "), "user__last_name"))
    for word in query.split():
        patients = patients.filter(Q(search_name__icontains=word) | Q(user__email__icontains=word))
    return patients.order_by(*ordered)


RECENT_PATIENTS = 10


def todays_and_recent_patients(now) -> tuple[list, list]:
    """What the patient search shows before anyone types: today's patients (a live appointment today at its
    site, on the site's clock: Madrid's today starts an hour before London's; by the time of their first,
    with `first_start` and `first_start_text`, its time on its site's clock) and the patients most recently
    booked, changed or created (not today's), latest first. Two queries."""
    # Any site's today holds `now` and lasts at most 25 hours: its appointments start within 25 hours of now.
    longest_day = datetime.timedelta(hours=25)
    not_cancelled = [status for status in Appointment.Status.values if status != Appointment.Status.CANCELLED]
    todays: dict = {}
    for appointment in (
        Appointment.objects.filter(
            status__in=not_cancelled, start_at__gte=now - longest_day, start_at__lt=now + longest_day
        )
        .select_related("patient__user", "room__site")
        .order_by("start_at", "pk")
    ):
        site = appointment.room.site
        if appointment.patient_id in todays or not clock.on_days(
            appointment.start_at, clock.today(now, site=site), site=site
        ):
            continue
        patient = appointment.patient
        patient.first_start = appointment.start_at
        patient.first_start_text = clock.time_text(appointment.start_at, site)
        todays[patient.pk] = patient
    todays = list(todays.values())
    recent = list(
        Patient.objects.select_related("user")
        .exclude(pk__in=[p.pk for p in todays])
        .annotate(last_activity=Coalesce(Max("appointments__updated_at"), "created_at"))
        .order_by("-last_activity", "-pk")[:RECENT_PATIENTS]
    )
    return todays, recent


def form_links_sent(patient):
    """The health form links the desk sent this patient, newest first, with whether their message went (its
    notice: sent, waiting for a retry, failed, delivery uncertain) and whether they were used."""
    links = SignedLink.objects.filter(patient=patient, sent_by__isnull=False).select_related("sent_by", "notice")
    return list(links.order_by("-pk")[:5])


def patient_overview(patient, now):
    """What the front desk sees of a patient: appointments split upcoming/past, messages and their
    delivery, screening status (never intake answers) and the no-show count. Fixed number of queries."""
    upcoming, past = upcoming_and_past(patient, now)
    reminders = list(
        Reminder.objects.filter(appointment__patient=patient)
        .select_related("appointment__treatment")
        .order_by("-due_at", "pk")
    )
    return {
        "upcoming": upcoming,
        "past": past,
        "reminders": reminders,
        "no_show_count": sum(1 for a in past + upcoming if a.status == Appointment.Status.NO_SHOW),
        "screening": screening_statuses([patient])[patient.pk],
    }


# --- closures and time off: appointments the desk must move ----------------------------------------------

CLOSURES_AHEAD_DAYS = 365


def upcoming_closures(today: datetime.date, *, sites=None) -> list[dict]:
    """Every closed day of every active site from today on (its bank holidays, its closures and the
    clinic-wide ones, a year ahead), each with the live appointments booked at that site on that local day,
    which the desk must move: [{day, site, reason, closure (or None), appointments}], by day then by site's
    order. A day closed at every site is one row with site None. Two queries, three without `sites` (the
    active sites, when the page has read them)."""
    last = today + datetime.timedelta(days=CLOSURES_AHEAD_DAYS)
    sites = list(Site.objects.active()) if sites is None else sites
    closures = list(Closure.objects.filter(last_day__gte=today, first_day__lte=last))
    closed_at = {site.pk: closed_days(today, last, closures=closures, site=site) for site in sites}
    stranded = {}
    if any(closed_at.values()):
        first_closed = min(min(days) for days in closed_at.values() if days)
        last_closed = max(max(days) for days in closed_at.values() if days)
        start_at, end_at = clock.sites_day_bounds(first_closed, last_closed, sites)
        for appointment in (
            Appointment.objects.live()
            .filter(start_at__gte=start_at, start_at__lt=end_at, site__in=sites)
            .select_related("patient__user", "treatment", "practitioner__user", "site")
            .order_by("start_at", "pk")
        ):
            local_day = appointment.start_at.astimezone(appointment.site.zone).date()
            if local_day in closed_at[appointment.site_id]:
                stranded.setdefault((local_day, appointment.site_id), []).append(appointment)
    rows = []
    for day in sorted({day for days in closed_at.values() for day in days}):
        closed_here = [site for site in sites if day in closed_at[site.pk]]
        reasons = {closed_at[site.pk][day] for site in closed_here}
        if len(closed_here) == len(sites) and len(reasons) == 1:  # the same for every site: one row
            groups = [(None, closed_here)]
        else:
            groups = [(site, [site]) for site in closed_here]
        for site, members in groups:
            closure = next(
                (c for c in closures if c.first_day <= day <= c.last_day and all(c.closes(m) for m in members)),
                None,
            )
            rows.append(
                {
                    "day": day,
                    "site": site,
                    "reason": closed_at[members[0].pk][day],
                    "closure": closure,
                    "appointments": [a for m in members for a in stranded.get((day, m.pk), [])],
                }
            )
    return rows


def appointments_in_time_off(practitioner, now) -> list:
    """The practitioner's live appointments from now on that fall in their time off: the desk moves them.
    Two queries."""
    spans = list(practitioner.time_off.filter(end_at__gt=now).values_list("start_at", "end_at"))
    if not spans:
        return []
    condition = Q()
    for start, end in spans:
        condition |= Q(start_at__lt=end, busy_until__gt=start)
    return list(
        Appointment.objects.live()
        .filter(condition, practitioner=practitioner, start_at__gte=now)
        .select_related("patient__user", "treatment", "site")
        .order_by("start_at", "pk")
    )


def future_sessions_needing_attention(practitioner, now=None):
    """The practitioner's upcoming sessions whose patient has no clearance in force (suspended, expired,
    pending...). They are not cancelled: the practitioner decides what to do."""
    now = now or timezone.now()
    cleared = current_clearances(clock.today(now)).filter(intake__patient=OuterRef("patient"))
    return (
        Appointment.objects.upcoming(now)
        .filter(
            practitioner=practitioner,
            status=Appointment.Status.BOOKED,
            treatment__needs_cleared_intake=True,
        )
        .exclude(Exists(cleared))
        .select_related("patient__user", "patient__intake", "treatment")
        .order_by("start_at")
    )


def review_queue_attention(sender, *, user, **kwargs) -> dict:
    """The review queue's part from bookings (`consultations.signals.REVIEW_QUEUE_PAGE`): a practitioner's own
    upcoming sessions whose patient is not cleared."""
    practitioner = getattr(user, "practitioner", None)
    return {"attention": list(future_sessions_needing_attention(practitioner)) if practitioner else []}
