"""The calendar's side panel: book from a clicked cell, look at an appointment, move it by picking one of
its real free times or by dropping its card on another cell.

The panel's pieces are partials that htmx swaps into `#desk-panel`; without JavaScript the same URLs work as
plain links and forms (a POST then goes back to the calendar with its message). Every write goes through
`bookings.services` with the desk's minimum notice (`services.notice_for`); a refusal is the service's own
message, shown in the panel, and changes nothing. A change answers with the `desk-changed` event, on which
the grid reloads itself, and every change is written to the appointment's history by the service.
"""

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from bookings import availability, selectors, services, states
from bookings.models import Appointment
from clinic import access, clock, roles
from clinic.forms import read_calendar_day
from clinic.models import Patient, Treatment

from .forms import PanelBookForm, PanelMoveForm, parse_slot

PATIENT_MATCHES = 8
CHANGED = "desk-changed"


def _is_htmx(request) -> bool:
    return bool(request.headers.get("HX-Request"))


def _calendar_url(start_at, site=None) -> str:
    """The desk's calendar of the day of `start_at` on the site's clock."""
    day = clock.local_day(start_at, site)
    return f"{reverse('desk:calendar')}?date={day:%Y-%m-%d}"


def _answer(request, template, context, *, changed=False, back_to=None):
    """The partial for htmx; for a plain form post, back to the calendar where the message is shown."""
    if request.method == "POST" and not _is_htmx(request):
        return redirect(back_to or reverse("desk:calendar"))
    response = render(request, template, context)
    if changed:
        response["HX-Trigger"] = CHANGED
    return response


def _when(start_at, site=None) -> str:
    return f"{clock.local(start_at, site):%a %-d %b, %H:%M}"


# --- booking from a cell -------------------------------------------------------------------------------------


def book_context(request, slot_value: str, data=None, patient_id=None) -> dict:
    """What the booking panel shows for a slot (also used by the calendar page to open it server-side)."""
    try:
        practitioner, start_at = parse_slot(slot_value)
    except ValidationError:
        return {"bad_slot": True}
    treatments = list(practitioner.treatments.filter(active=True).order_by("kind", "name"))
    patient = None
    if patient_id and str(patient_id).isascii() and str(patient_id).isdigit() and len(str(patient_id)) < 10:
        patient = Patient.objects.select_related("user").filter(pk=int(patient_id)).first()
    form = PanelBookForm(
        data,
        initial={"slot": slot_value, "patient": getattr(patient, "pk", None)},
    )
    form.fields["treatment"].queryset = Treatment.objects.filter(pk__in=[t.pk for t in treatments])
    free_room = None
    if treatments and data is None:  # what the first treatment would get: the service picks it again when booking
        verdict, slot = availability.check_slot(
            treatments[0], practitioner, start_at, notice=services.notice_for(request.user)
        )
        free_room = slot.room if verdict is availability.Verdict.FREE else None
    return {
        "free_room": free_room,
        "slot_value": slot_value,
        "practitioner": practitioner,
        "start_at": start_at,
        "treatments": treatments,
        "patient": patient,
        "form": form,
        "show_override": roles.is_clinic_admin(request.user),
        # The cell's site is the free room's (the time is read on its clock); the clinic's when none is free.
        "site": free_room.site if free_room else None,
        "back_url": _calendar_url(start_at, free_room.site if free_room else None),
    }


@access.desk_required
def book_panel(request):
    if request.method == "POST":
        return _book(request)
    context = book_context(request, request.GET.get("slot", ""), patient_id=request.GET.get("patient"))
    return render(request, "bookings/frontdesk/panel/book.html", context)


def _book(request):
    context = book_context(request, request.POST.get("slot", ""), data=request.POST)
    form = context.get("form")
    if form is None or not form.is_valid():
        messages.error(request, _book_form_problem(form))
        return _answer(request, "bookings/frontdesk/panel/book.html", context, back_to=context.get("back_url"))
    practitioner, start_at = form.cleaned_data["slot"]
    patient = form.cleaned_data["patient"]
    override = form.cleaned_data["override_reason"] if context["show_override"] else ""
    try:
        appointment = services.book_appointment(
            patient=patient,
            treatment=form.cleaned_data["treatment"],
            practitioner=practitioner,
            start_at=start_at,
            booked_by=request.user,
            source=form.cleaned_data["source"],
            override_reason=override,
        )
    except services.SlotTaken as error:
        messages.error(request, f"Not booked: {error.message}")
        context["alternatives"] = error.alternatives
        return _answer(request, "bookings/frontdesk/panel/book.html", context, back_to=context["back_url"])
    except services.BookingError as error:
        messages.error(request, f"Not booked: {error.message}")
        return _answer(request, "bookings/frontdesk/panel/book.html", context, back_to=context["back_url"])
    messages.success(
        request,
        f"Booked {appointment.treatment.name} for {patient.full_name} on "
        f"{_when(appointment.start_at, appointment.site)} with {appointment.practitioner.name} "
        f"in {appointment.room.name}.",
    )
    return _answer(
        request,
        "bookings/frontdesk/panel/appointment.html",
        _appointment_context(appointment.pk),
        changed=True,
        back_to=context["back_url"],
    )


def _book_form_problem(form) -> str:
    if form is None:
        return "Not booked: choose a time on the calendar."
    if "slot" in form.errors:
        return "Not booked: choose a time on the calendar."
    first = next(iter(form.errors.values()))[0] if form.errors else "Check the booking."
    return f"Not booked: {first}"


@access.desk_required
def patient_matches(request):
    """The panel's patient search: the desk's own search (`selectors.search_patients`), first matches only."""
    query = (request.GET.get("q") or "").replace("\x00", "")[:100].strip()
    patients = list(selectors.search_patients(query)[:PATIENT_MATCHES]) if query else []
    return render(
        request,
        "bookings/frontdesk/panel/patients.html",
        {"query": query, "patients": patients, "more": len(patients) == PATIENT_MATCHES},
    )


# --- an appointment ------------------------------------------------------------------------------------------


def _appointment_context(pk) -> dict:
    appointment = get_object_or_404(
        selectors.with_paperwork_columns(
            Appointment.objects.select_related("patient__user", "practitioner__user", "treatment", "room__site")
        ),
        pk=pk,
    )
    [appointment] = selectors.with_paperwork(selectors.with_screening([appointment]))
    events = list(appointment.events.select_related("by").order_by("-at", "-pk")[:5])
    return {
        "appointment": appointment,
        "events": events,
        "actions": states.allowed_actions(appointment),  # the buttons the clinic's day allows now (one rule)
        "back_url": _calendar_url(appointment.start_at, appointment.room.site),
    }


@access.desk_required
def appointment_panel(request, pk):
    return render(request, "bookings/frontdesk/panel/appointment.html", _appointment_context(pk))


# --- moving ------------------------------------------------------------------------------------------------


def _move_day(request, appointment) -> datetime.date:
    text = request.GET.get("date") or request.POST.get("date") or ""
    day = read_calendar_day(text) if text else None
    return day or clock.local_day(appointment.start_at, appointment.room.site)


def move_context(request, appointment, day) -> dict:
    """The real free times of the appointment's treatment on a day, per practitioner who offers it, from now on
    (the desk's notice), its own time left out of the busy picture."""
    notice = services.notice_for(request.user)
    practitioners = availability.practitioners_offering(appointment.treatment).order_by(
        "user__last_name", "user__first_name", "pk"
    )
    one = datetime.timedelta(days=1)
    today = clock.today(site=appointment.room.site)
    columns = []
    for practitioner in practitioners:
        slots = availability.available_slots(
            appointment.treatment, practitioner, day, day, ignore_appointment=appointment, notice=notice
        )[day]
        columns.append((practitioner, [slot for slot in slots if slot.start_at != appointment.start_at]))
    return {
        "appointment": appointment,
        "day": day,
        "previous": day - one if day > today else None,
        "next": day + one,
        "columns": columns,
        "any_free": any(slots for _, slots in columns),
        "back_url": _calendar_url(appointment.start_at, appointment.room.site),
    }


@access.desk_required
def move_panel(request, pk):
    appointment = get_object_or_404(
        Appointment.objects.select_related("patient__user", "practitioner__user", "treatment", "room__site"), pk=pk
    )
    if request.method == "POST":
        return _move(request, appointment)
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(
        request,
        "bookings/frontdesk/panel/move.html",
        move_context(request, appointment, _move_day(request, appointment)),
    )


def _move(request, appointment):
    form = PanelMoveForm(request.POST)
    back = _calendar_url(appointment.start_at, appointment.room.site)
    if not form.is_valid():
        messages.error(request, "Not moved: choose one of the free times shown.")
        context = move_context(request, appointment, _move_day(request, appointment))
        return _answer(request, "bookings/frontdesk/panel/move.html", context, back_to=back)
    practitioner, start_at = form.cleaned_data["slot"]
    before = f"{_when(appointment.start_at, appointment.room.site)} with {appointment.practitioner.name}"
    try:
        moved = services.reschedule_appointment(
            appointment,
            new_start_at=start_at,
            by=request.user,
            practitioner=practitioner,
            reason=form.cleaned_data["reason"],
        )
    except services.BookingError as error:
        messages.error(request, f"Not moved: {error.message}")
        context = move_context(request, appointment, clock.local_day(start_at, appointment.room.site))
        context["alternatives"] = getattr(error, "alternatives", [])
        return _answer(request, "bookings/frontdesk/panel/move.html", context, back_to=back)
    messages.success(
        request,
        f"Moved {moved.patient.full_name}'s {moved.treatment.name} from {before} "
        f"to {_when(moved.start_at, moved.site)} with {moved.practitioner.name}.",
    )
    return _answer(
        request,
        "bookings/frontdesk/panel/appointment.html",
        _appointment_context(moved.pk),
        changed=True,
        back_to=_calendar_url(moved.start_at, moved.site),
    )
