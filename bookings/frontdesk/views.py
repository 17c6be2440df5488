"""The front desk's pages under /desk/: calendar, actions on appointments, patients, day sheets.

Views stay thin: reads come from `bookings.selectors` and `.calendar`, every write goes through
`bookings.services` (or `clinic.services` for a new patient), whose refusals are shown as they are.
Only the front desk and clinic admins get in: anyone else signed in gets 403, anonymous visitors the
login page.
"""

import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.template import Engine
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from bookings import availability, hooks, selectors, services, states
from bookings.models import Appointment, InboundMessage, Reminder
from bookings.reminders import inbound
from bookings.reminders.services import send_again, send_health_form_link
from bookings.signals import DESK_PATIENT_PAGE
from clinic import access, clock, csrf, kept_pages
from clinic import selectors as clinic_selectors
from clinic.closures import closed_on
from clinic.forms import WorkingHoursFormSet, read_calendar_day
from clinic.kept_urls import url_state
from clinic.models import Closure, Notice, Patient, Practitioner, Site
from clinic.redirects import safe_next
from clinic.services import close_clinic, register_phone_patient, reopen_clinic
from clinic.sms import PermanentDeliveryError
from clinic.templatetags import chrome
from consultations.alerts import patients_with_alerts
from consultations.selectors import latest_consent, screening_status

from . import calendar, day_cache, panel
from .forms import (
    BookForm,
    CancelForm,
    ClosureForm,
    FindTimesForm,
    FormLinkForm,
    MoveForm,
    PatientSearchForm,
    PhonePatientForm,
    TimeOffFormSet,
    UndoForm,
)

STATUS_ACTIONS = {
    states.CHECK_IN: (services.check_in, "checked in"),
    states.COMPLETE: (services.complete_appointment, "completed"),
    states.NO_SHOW: (services.mark_no_show, "marked as a no-show"),
    states.UNDO_CHECK_IN: (services.undo_check_in, "no longer checked in"),
    states.UNDO_COMPLETION: (services.undo_completion, "no longer completed"),
}


def _day(request, today=None) -> datetime.date:
    """The day asked for (`?date=`), else today (`today`: the shown site's, else the clinic's)."""
    text = request.GET.get("date", "")
    if text:
        if (day := read_calendar_day(text)) is not None:
            return day
        messages.warning(request, f"'{text[:20]}' is not a date we can show: showing today.")
    return today or clock.today()


def _appointment(pk):
    return get_object_or_404(
        Appointment.objects.select_related("patient__user", "practitioner__user", "treatment", "room__site"), pk=pk
    )


def _nav_days(day, today=None):
    one = datetime.timedelta(days=1)
    return {"day": day, "previous": day - one, "next": day + one, "today": today or clock.today()}


# --- calendar ----------------------------------------------------------------------------------------------

DESK_SITE_SESSION_KEY = "desk_site"


def _site_choice(request) -> dict:
    """Which sites' calendars the desk sees: `?site=<slug>` or `?site=all` (the switcher: one click, kept
    in the session for the next pages), else the last choice, else the user's own sites
    (`clinic.access.desk_default_sites`). A desk user of one site may look at another's (clinic policy,
    `clinic.access.may_see_site_calendar`). An unknown slug is ignored. One query (`sites_for_desk`)."""
    sites = clinic_selectors.sites_for_desk(request.user)
    asked = request.GET.get("site")
    if asked is not None and (asked == "all" or any(s.slug == asked for s in sites)):
        request.session[DESK_SITE_SESSION_KEY] = asked
    choice = request.session.get(DESK_SITE_SESSION_KEY)
    if choice == "all":
        chosen = []
    elif choice:
        chosen = [s for s in sites if s.slug == choice and access.may_see_site_calendar(request.user, s)]
    else:
        chosen = access.desk_default_sites(request.user, sites)
    shown = chosen or sites
    return {
        "desk_sites": sites if len(sites) > 1 else [],  # one site: no switcher
        "chosen_sites": chosen,
        "chosen_site_slugs": {s.slug for s in chosen},
        "show_site_on_cards": len(sites) > 1 and len(chosen) != 1,
        "shown_sites": shown,
        # "Today" on the shown sites' clock (the clinic's when they keep different clocks).
        "today": clock.today(site=shown[0] if clock.shared_zone(shown) is not None and shown else None),
    }


@access.desk_required
def calendar_day(request):
    """The day by practitioner or by room. The grid and the page around it are kept per process for the
    state of what they show (`day_cache`): a reload that finds nothing changed renders no template; it puts
    in the minute's cells and "now" line, and the request's CSRF token."""
    by_room = request.GET.get("view") == "rooms"
    sites = _site_choice(request)
    day = _day(request, sites["today"])
    chosen, shown = sites["chosen_sites"], sites["shown_sites"]
    site_ids = {s.pk for s in chosen}
    poll_url = _poll_url(request)
    start_at, end_at = clock.sites_day_bounds(day, day, shown)

    def build(catalogue):
        built = (calendar.day_by_room if by_room else calendar.day_by_practitioner)(
            day, None, site_ids, shown, catalogue=catalogue
        )
        # One site: its own closed days (bank holidays of its calendar); several: those of every site.
        closed = closed_on(day, site=chosen[0] if len(chosen) == 1 else None)
        day_cache.keep_holes(built.grid.columns)
        grid_context = {
            "calendar": built,
            "closed": closed,
            "by_room": by_room,
            "poll_url": poll_url,
            "show_site_on_cards": sites["show_site_on_cards"],
        }
        rendered = render_to_string("bookings/frontdesk/_grid.html", grid_context)
        return day_cache.kept_from(rendered, built.grid.columns, closed)

    key_parts = (
        "day",
        by_room,
        day,
        poll_url,
        sites["show_site_on_cards"],
        sorted(site_ids),
        # What the grid reads of the shown sites was read before the state: their clocks, their holidays.
        [(s.pk, s.time_zone, s.bank_holidays) for s in shown],
        day_cache.today_parts(),
    )
    kept = day_cache.day_for(key_parts, start_at, end_at, build)
    now = timezone.now()
    if request.headers.get("HX-Request"):  # htmx reloads the grid alone (every minute, and after a change)
        return _grid_response(request, *kept.grid.written(now))
    context = {
        **sites,
        "closed": kept.grid.closed,
        "by_room": by_room,
        "desk_tab": "rooms" if by_room else "calendar",
        "view_tab": "rooms" if by_room else "day",
        **_nav_days(day, sites["today"]),
    }
    template = "bookings/frontdesk/calendar_day.html"
    opened = _opened_panel(request)
    if opened or messages.get_messages(request):  # shown once: the page is written for this request alone
        return render(request, template, {**context, **opened, "grid_html": kept.grid.html(now)})
    page = day_cache.page_for(
        kept,
        _page_key(request, sites, template),
        lambda: render_to_string(
            template, {**context, "grid_html": kept_pages.CONTENT_HOLE, "csrf_token": kept_pages.CSRF_HOLE}, request
        ),
    )
    if page is None:
        return render(request, template, {**context, "grid_html": kept.grid.html(now)})
    # The kept bytes and the request's own token: nothing encoded again (clinic/kept_pages.py).
    return HttpResponse(page.body(kept.grid.pieces(now), csrf.masked_token(request)))


def _grid_response(request, written: bytes, etag: str):
    """The grid alone, for htmx's reload: with an `ETag` of its bytes, answered 304 without them when the
    browser's copy has that tag. `no-cache`: the browser keeps the grid but asks every time (so it sends the
    tag, and on a 304 hands htmx its copy as a 200: the minute's reload that finds nothing changed sends
    no 300 KB); `private`: no shared cache keeps it; `Vary: HX-Request`: the page at the same address is
    another response (a back button never shows the grid alone)."""
    response = HttpResponse(written)
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ("HX-Request",))
    return get_conditional_response(request, etag=etag, response=response)


def _page_key(request, sites: dict, template: str) -> tuple:
    """Everything the day view's page around the grid shows, besides the grid and the CSRF token: the address
    asked for (the day, the view, the site), who asks (the navigation for their roles, their sites and which
    is theirs), today, and what links and the template depend on."""
    return (
        request.get_full_path(),
        request.user.pk,
        tuple(sorted(chrome.nav_values(request.user, request).items())),
        tuple((site.pk, site.slug, site.name, site.mine) for site in sites["desk_sites"]),
        tuple(sorted(sites["chosen_site_slugs"])),
        sites["today"],
        url_state(),
        get_language(),
        Engine.get_default().get_template(template),  # the compiled template: an edited one is rendered again
    )


def _poll_url(request) -> str:
    """The grid reloads from the page's own address, without the panel a link may have opened."""
    query = request.GET
    if "book" in query or "patient" in query:  # copied only then: a copy is some 100 Python calls a reload
        query = query.copy()
        for name in ("book", "patient"):
            query.pop(name, None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


def _opened_panel(request) -> dict:
    """`?book=<slot>&patient=<id>` opens the booking panel with the page: where 'New patient' comes back to,
    and the way to book from a cell without JavaScript."""
    slot = request.GET.get("book")
    if not slot or request.headers.get("HX-Request"):
        return {}
    return {
        "panel_template": "bookings/frontdesk/panel/book.html",
        **panel.book_context(request, slot, patient_id=request.GET.get("patient")),
    }


@access.desk_required
def calendar_week(request, practitioner_id):
    practitioner = get_object_or_404(Practitioner.objects.select_related("user"), pk=practitioner_id)
    day = _day(request)
    monday = day - datetime.timedelta(days=day.weekday())
    week = datetime.timedelta(days=7)
    built = calendar.week_by_practitioner(practitioner, monday, timezone.now())
    context = {
        # A practitioner's week is theirs at every site: each card names its site when the clinic has several.
        "show_site_on_cards": clinic_selectors.several_sites(),
        "calendar": built,
        "practitioner": practitioner,
        "week_start": monday,
        "previous": monday - week,
        "next": monday + week,
        "today": clock.today(),
        "day": day,
        "poll_url": _poll_url(request),
        "desk_tab": "calendar",
    }
    return _calendar_page(request, "bookings/frontdesk/calendar_week.html", context)


@access.desk_required
def week_overview(request):
    """Every practitioner's week on one screen: a row per practitioner, a column per day, compact cards."""
    sites = _site_choice(request)
    day = _day(request, sites["today"])
    monday = day - datetime.timedelta(days=day.weekday())
    week = datetime.timedelta(days=7)
    built = calendar.week_overview(monday, {s.pk for s in sites["chosen_sites"]}, sites["shown_sites"])
    context = {
        **sites,
        "overview": built,
        "week_start": monday,
        "previous": monday - week,
        "next": monday + week,
        "day": day,
        "desk_tab": "calendar",
    }
    return render(request, "bookings/frontdesk/week_overview.html", context)


@access.desk_required
def month_overview(request):
    """A month at a glance: how many appointments each day holds, each day a link to it."""
    day = _day(request)
    context = {
        "month": calendar.month_overview(day),
        "day": day,
        "today": clock.today(),
        "desk_tab": "calendar",
    }
    return render(request, "bookings/frontdesk/month_overview.html", context)


def _calendar_page(request, template: str, context: dict):
    """The whole page, or only the grid when htmx polls for it (every minute, to show changes)."""
    if request.headers.get("HX-Request"):
        return render(request, "bookings/frontdesk/_grid.html", context)
    return render(request, template, context)


@access.desk_required
def day_sheet(request, practitioner_id):
    practitioner = get_object_or_404(Practitioner.objects.select_related("user"), pk=practitioner_id)
    day = _day(request)
    # The practitioner's day at each site is that site's day: read every zone's, keep each row's own.
    start_at, end_at = clock.sites_day_bounds(day, day)
    appointments = selectors.with_paperwork(
        selectors.with_screening(
            [
                a
                for a in selectors.appointments_between(start_at, end_at, practitioner=practitioner)
                if a.status != Appointment.Status.CANCELLED and clock.on_days(a.start_at, day, day, a.room.site)
            ]
        )
    )
    # Where the sheet's appointments are (a practitioner may work at two sites in a day): each site's name and
    # address heads the sheet, and each row names its site when there are several.
    sites = list({a.site.pk: a.site for a in appointments}.values())
    return render(
        request,
        "bookings/frontdesk/day_sheet.html",
        {
            "practitioner": practitioner,
            "appointments": appointments,
            "sites": sites,
            # Sites on different clocks that day: each row's time says its zone.
            "label_zones": len({site.time_zone for site in sites}) > 1,
            **_nav_days(day),
        },
    )


# --- appointments ------------------------------------------------------------------------------------------


@access.desk_required
def appointment_detail(request, pk):
    appointment = _appointment(pk)
    selectors.with_screening([appointment])
    events = appointment.events.select_related("by").order_by("at", "pk")
    return render(
        request,
        "bookings/frontdesk/appointment_detail.html",
        {
            "appointment": appointment,
            "events": events,
            "cancel_form": CancelForm(),
            "actions": states.allowed_actions(appointment),
            "undo_actions": [(states.UNDO_CHECK_IN, "check-in"), (states.UNDO_COMPLETION, "completion")],
            "panels": hooks.steps().desk_appointment_panels(request, appointment),
        },
    )


@access.desk_required
def appointment_status(request, pk, action):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    appointment = _appointment(pk)
    if action not in STATUS_ACTIONS:
        raise Http404("Unknown action.")
    change, done = STATUS_ACTIONS[action]
    undo = {}
    if action in states.UNDO_ACTIONS:
        form = UndoForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Give a reason for undoing it: nothing was changed.")
            return redirect(reverse("desk:appointment", args=[pk]))
        undo = {"reason": form.cleaned_data["reason"]}
    try:
        change(appointment, by=request.user, **undo)
    except services.BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"{appointment.patient.full_name} ({clock.when_short(appointment.start_at, appointment.site)}) {done}.",
        )
    return redirect(safe_next(request, reverse("desk:appointment", args=[pk])))


@access.desk_required
def appointment_cancel(request, pk):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    appointment = _appointment(pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for cancelling: nothing was changed.")
        return redirect(reverse("desk:appointment", args=[pk]))
    try:
        services.cancel_appointment(appointment, by=request.user, reason=form.cleaned_data["reason"])
    except services.BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"Cancelled {appointment.patient.full_name}'s appointment on "
            f"{clock.when_short(appointment.start_at, appointment.site)}.",
        )
    return redirect(safe_next(request, reverse("desk:appointment", args=[pk])))


@access.desk_required
def appointment_move(request, pk):
    appointment = _appointment(pk)
    site = appointment.room.site  # the date and time are read and written on the site's clock
    local = clock.local(appointment.start_at, site)
    if request.method == "POST":
        form = MoveForm(request.POST, site=site)
        if form.is_valid():
            try:
                moved = services.reschedule_appointment(
                    appointment,
                    new_start_at=form.cleaned_data["start_at"],
                    by=request.user,
                    practitioner=form.cleaned_data["practitioner"],
                    reason=form.cleaned_data["reason"],
                )
            except services.SlotTaken as error:
                _refused(request, error)
            except services.BookingError as error:
                messages.error(request, f"Not moved: {error.message}")
            else:
                if (moved.start_at, moved.practitioner_id) == (appointment.start_at, appointment.practitioner_id):
                    messages.info(
                        request,
                        f"Nothing to change: the appointment stays on {clock.when_short(moved.start_at, moved.site)}.",
                    )
                    return redirect(reverse("desk:appointment", args=[pk]))
                messages.success(
                    request,
                    f"Moved {moved.patient.full_name}'s appointment from {local:%a %-d %b %H:%M} "
                    f"to {clock.when_short(moved.start_at, moved.site)} with {moved.practitioner.name}.",
                )
                return redirect(reverse("desk:appointment", args=[pk]))
        else:
            messages.error(request, "Check the new date and time: nothing was changed.")
    else:
        form = MoveForm(initial={"date": local.date(), "time": local.time()}, site=site)
    return render(request, "bookings/frontdesk/appointment_move.html", {"appointment": appointment, "form": form})


def _refused(request, error):
    times = ", ".join(f"{slot.local_start:%H:%M} with {slot.practitioner.name}" for slot in error.alternatives)
    messages.error(request, f"Not done: {error.message}" + (f" Free nearby: {times}." if times else ""))


# --- booking -----------------------------------------------------------------------------------------------


@access.desk_required
def book(request, patient_id):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    is_admin = access.may_override_eligibility(request.user)
    if request.method == "POST":
        form = BookForm(request.POST)
        if form.is_valid():
            practitioner, start_at = form.cleaned_data["slot"]
            override = form.cleaned_data["override_reason"] if is_admin else ""
            try:
                appointment = services.book_appointment(
                    patient=patient,
                    treatment=form.cleaned_data["treatment"],
                    practitioner=practitioner,
                    start_at=start_at,
                    booked_by=request.user,
                    source=Appointment.Source.PHONE,
                    override_reason=override,
                )
            except services.SlotTaken as error:
                _refused(request, error)
            except services.BookingError as error:
                messages.error(request, f"Not booked: {error.message}")
            else:
                messages.success(
                    request,
                    f"Booked {appointment.treatment.name} for {patient.full_name} on "
                    f"{clock.when_short(appointment.start_at, appointment.site)} with {appointment.practitioner.name}.",
                )
                return redirect(reverse("desk:appointment", args=[appointment.pk]))
        else:
            messages.error(request, "Choose one of the times shown: nothing was booked.")
        find = FindTimesForm(request.POST)
    else:
        find = FindTimesForm(request.GET or None)
    slots = []
    if find.is_bound and find.is_valid():
        day = find.cleaned_data["date"]
        slots = availability.available_slots(
            find.cleaned_data["treatment"],
            find.cleaned_data["practitioner"],
            day,
            day,
            notice=services.notice_for(request.user, Appointment.Source.PHONE),
        )[day]
    return render(
        request,
        "bookings/frontdesk/book.html",
        {
            "patient": patient,
            "find": find,
            "slots": slots,
            "screening": screening_status(patient),
            "show_override": is_admin,
        },
    )


@access.desk_required
def patient_new(request):
    form = PhonePatientForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            patient = register_phone_patient(**form.cleaned_data)
            back = safe_next(request, "")
            if back:  # from the calendar's booking panel: back to it, with the new patient chosen
                messages.success(request, f"Created {patient.full_name}'s record. Now book their time.")
                return redirect(f"{back}{'&' if '?' in back else '?'}patient={patient.pk}")
            messages.success(request, f"Created {patient.full_name}'s record. Now choose a time.")
            return redirect(reverse("desk:book", args=[patient.pk]))
        messages.error(request, "Check the patient's details: nothing was saved.")
    return render(request, "bookings/frontdesk/patient_new.html", {"form": form, "desk_tab": "new"})


# --- patients ----------------------------------------------------------------------------------------------


@access.desk_required
def patient_search(request):
    form = PatientSearchForm(request.GET)
    query = form.query()
    for error in form.errors.get("q", []):
        messages.error(request, f"Search not done: {error}")
    page = Paginator(selectors.search_patients(query), selectors.PATIENT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"query": query, "page": page, "desk_tab": "patients"}
    if not query:
        context["todays"], context["recent"] = selectors.todays_and_recent_patients(timezone.now())
    return render(request, "bookings/frontdesk/patient_search.html", context)


@access.desk_required
def patient_detail(request, pk):
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=pk)
    overview = selectors.patient_overview(patient, timezone.now())
    overview["courses"] = []  # practice adds the course plans (bookings.signals.DESK_PATIENT_PAGE)
    overview.update(DESK_PATIENT_PAGE.context(patient=patient, appointments=overview["upcoming"] + overview["past"]))
    overview["consent"] = latest_consent(patient)
    overview["has_clinical_alert"] = bool(patients_with_alerts([patient.pk]))
    overview["form_links"] = selectors.form_links_sent(patient)
    panels = hooks.steps().desk_patient_panels(request, patient)
    return render(
        request,
        "bookings/frontdesk/patient_detail.html",
        {"patient": patient, "now": timezone.now(), "panels": panels, **overview},
    )


# --- closures and rota -------------------------------------------------------------------------------------


@access.desk_required
def closures(request):
    """Bank holidays and the clinic's closures ahead, each with the appointments booked on it to move; a
    form to close the clinic on more days."""
    sites = list(Site.objects.active())
    form = ClosureForm(request.POST or None, sites=sites)
    if request.method == "POST":
        if form.is_valid():
            closure = close_clinic(**form.cleaned_data, by=request.user)
            where = closure.site.name if closure.site else "The clinic"
            messages.success(request, f"{where} is closed: {closure}. No times are offered there then.")
            return redirect("desk:closures")
        messages.error(request, "Nothing was saved: check the days below.")
    closed = selectors.upcoming_closures(clock.today(), sites=sites)
    return render(
        request,
        "bookings/frontdesk/closures.html",
        {
            "form": form,
            "closed": closed,
            "stranded": sum(len(day["appointments"]) for day in closed),
            "desk_tab": "closures",
        },
    )


@access.desk_required
def closure_remove(request, pk):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    closure = get_object_or_404(Closure, pk=pk)
    reopen_clinic(closure=closure)
    messages.success(request, f"Open again: {closure}.")
    return redirect("desk:closures")


@access.desk_required
def rota(request):
    practitioners = Practitioner.objects.filter(active=True).select_related("user").prefetch_related("working_hours")
    return render(request, "bookings/frontdesk/rota.html", {"practitioners": practitioners, "desk_tab": "rota"})


@access.desk_required
def rota_edit(request, practitioner_id):
    """A practitioner's working hours and time off, with the admin's checks (spans of a day may not overlap,
    an end comes after its start). Time off that has ended is not shown."""
    practitioner = get_object_or_404(Practitioner.objects.select_related("user"), pk=practitioner_id)
    now = timezone.now()
    data = request.POST if request.method == "POST" else None
    hours = WorkingHoursFormSet(data, instance=practitioner, prefix="hours")
    time_off = TimeOffFormSet(
        data, instance=practitioner, prefix="off", queryset=practitioner.time_off.filter(end_at__gt=now)
    )
    if data is not None:
        if hours.is_valid() and time_off.is_valid():
            with transaction.atomic():
                hours.save()
                time_off.save()
            messages.success(request, f"{practitioner.name}'s hours and time off are saved.")
            return redirect("desk:rota_edit", practitioner.pk)
        messages.error(request, "Nothing was saved: please correct the errors below.")
    return render(
        request,
        "bookings/frontdesk/rota_edit.html",
        {
            "practitioner": practitioner,
            "hours": hours,
            "time_off": time_off,
            "stranded": selectors.appointments_in_time_off(practitioner, now),
            "desk_tab": "rota",
        },
    )


@access.desk_required
@require_POST
def patient_form_link(request, pk):
    """Send the patient a signed link to fill in the health form and sign the consent (by text or email)."""
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=pk)
    form = FormLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose text message or email: nothing was sent.")
    else:
        channel = form.cleaned_data["channel"]
        where = "by text message" if channel == "sms" else "by email"
        try:
            notice = send_health_form_link(patient=patient, channel=channel, by=request.user)
        except PermanentDeliveryError as error:  # nowhere to send it: nothing was made
            messages.error(request, f"The link was not sent: {error}.")
        else:
            if notice.status == Notice.Status.SENT:
                messages.success(request, f"The health form and consent link went to {patient.full_name} {where}.")
            elif notice.status == Notice.Status.FAILED:
                messages.error(request, f"The link was not sent: {notice.last_error}.")
            else:  # the text service or mail server refused for now (or a sender has it): the outbox goes on
                why = f" ({notice.last_error})" if notice.last_error else ""
                messages.warning(
                    request,
                    f"The link to {patient.full_name} {where} could not go yet{why}; it is tried again "
                    "automatically, and this page shows when it has gone.",
                )
    return redirect("desk:patient", pk=patient.pk)


# --- the inbox: texts from patients that need a person ----------------------------------------------------


@access.desk_required
def inbox(request):
    return render(
        request,
        "bookings/frontdesk/inbox.html",
        {"open": inbound.open_inbox(), "handled": inbound.recently_handled(), "desk_tab": "inbox"},
    )


@access.desk_required
@require_POST
def inbox_done(request, pk):
    message = get_object_or_404(InboundMessage, pk=pk, needs_desk=True)
    if inbound.mark_handled(message, by=request.user):
        messages.success(request, "Marked done.")
    else:
        messages.info(request, "Someone had already marked it done.")
    return redirect("desk:inbox")


@access.desk_required
@require_POST
def reminder_send_again(request, pk):
    """A message whose delivery is uncertain (the sender stopped mid-hand-over): send it again."""
    reminder = get_object_or_404(Reminder.objects.select_related("appointment"), pk=pk)
    if send_again(reminder):
        messages.success(request, "It will go again within a minute.")
    else:
        messages.error(request, "Only a message whose delivery is uncertain can be sent again from here.")
    return redirect("desk:patient", pk=reminder.appointment.patient_id)
