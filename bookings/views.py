"""Booking pages for a signed-in patient: choose, confirm, see, move and cancel appointments.

Views stay thin: the forms read the input, `availability` says what is free, `services` writes. Every
refusal is a `BookingError` whose message is shown as it is; nothing is written when one is raised.
"""

import datetime

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from clinic import access, clock, csrf
from clinic.closures import closed_days, closed_on
from clinic.kept_urls import urls_kept
from clinic.selectors import bookable_treatments
from consultations.eligibility import check_eligibility
from consultations.selectors import current_clearance

from . import availability, hooks, kept_times, selectors, services
from .forms import CancelForm, DayChoiceForm, TimeChoiceForm
from .models import Appointment

DAYS_LOOKED_AHEAD = 21  # the times list offers the next days with free times within this many days
NEXT_DAYS_OFFERED = 5


# --- choosing a time ----------------------------------------------------------------------------------


def times_context(patient, treatment, form, *, ignore_appointment=None, checked=None) -> dict:
    """What the times list shows for the form's practitioner and day: the free times, or why there are none
    (a bad day, the course interval) and the next days that have free times. `checked`: the availability
    catalogue the form was checked against, to confirm (`availability.CatalogueChanged` if out of date)."""
    if not form.is_valid():
        if checked is not None:
            availability.confirm(checked)  # the choices refused may have been added since it was loaded
        return {"form_errors": [error for errors in form.errors.values() for error in errors]}
    day, practitioner = form.cleaned_data["day"], form.cleaned_data["practitioner"]
    site = form.cleaned_data.get("site")  # None: any site (a move stays at its site, in the service)
    blocks = availability.course_blocks(patient, treatment, ignore_appointment=ignore_appointment)
    if not form.data.get("day"):  # no day asked for: the first day this patient may book (course interval)
        while day < form.last_day and any(block.covers(day) for block in blocks):
            day += datetime.timedelta(days=1)
    blocked = next((block for block in blocks if block.covers(day)), None)
    last_day = min(day + datetime.timedelta(days=DAYS_LOOKED_AHEAD), form.last_day)
    answer = None  # the cached answer, shared (kept thawed per process): the times list is kept under it
    if ignore_appointment is None:
        answer = _offered_times(treatment, practitioner, day, last_day, site, checked)
        days, closed, several_sites = answer
    else:  # moving an appointment: its own time counts as free, an answer for this patient alone
        site = site or ignore_appointment.site  # a move stays at its site unless another is chosen
        days = availability.available_slots(
            treatment, practitioner, day, last_day, site=site, ignore_appointment=ignore_appointment
        )
        closed = closed_on(day, site=site)
        several_sites = len(form.fields["site"].queryset) > 1  # evaluated once with the chooser's options
    next_days = [
        other
        for other, slots in days.items()
        if other > day and slots and not any(block.covers(other) for block in blocks)
    ][:NEXT_DAYS_OFFERED]
    return {
        "day": day,
        "practitioner": practitioner,
        "site": site,
        "several_sites": several_sites,  # each time then names its site
        "closed": closed,
        "course_reason": blocked.message if blocked else "",
        "slots": [] if blocked else days.get(day, []),
        "next_days": next_days,
        "times_answer": answer,  # bookings.kept_times
    }


def _offered_times(treatment, practitioner, day, last_day, site=None, checked=None):
    """The free times from `day` to `last_day` (at `site`, or any site), why `day` is closed (or "") and
    whether the treatment is had at several sites, from availability's cache (its "cached reads"): the
    closures and rooms come with the clinic's set-up there, so a page served from the cache reads none again.
    `checked`: the catalogue the question was checked against (confirmed by the cache's scope read)."""

    def compute(as_of, known):
        days = availability.available_slots(
            treatment, practitioner, day, last_day, site=site, now=as_of, catalogue=known
        )
        if known is None:
            closed, sites = closed_days(day, day, site=site), availability.sites_offering(treatment).count()
        else:
            closed = known.closed_days(day, day, site=site)
            sites = len({room.site_id for room in known.rooms_for(treatment)})
        return days, closed.get(day, ""), sites > 1

    return availability.cached(
        ("times", treatment.pk, getattr(practitioner, "pk", "any"), getattr(site, "pk", "any"), day, last_day),
        compute,
        reads=lambda known: known.practitioner_ids(treatment, practitioner),
        rooms=lambda known: known.room_ids(treatment, site),
        days=(day, last_day),
        checked=checked,
        shared=True,  # only read (times_context): kept thawed, per process
    )


def _with_current_catalogue(work):
    """work(catalogue, checked) with the availability catalogue this process holds, to be confirmed
    (`checked`), and once more with the current one if the clinic's set-up changed since
    (`availability.process_catalogue`): the booking pages take the treatment and the chooser's practitioners
    and sites from it, which costs no query, and the scope read of the times they show confirms it. The
    second catalogue was read during this request, as a page reading the rows would read them: it is not
    confirmed again (a set-up changing twice within one request would otherwise fail it)."""
    known = availability.process_catalogue()
    try:
        return work(known, known)
    except availability.CatalogueChanged:
        return work(availability.catalogue(), None)


def _bookable_treatment(known, slug, checked):
    """The active treatment with this slug, from the catalogue, or 404."""
    treatment = known.treatments.get(slug)
    if treatment is None:
        if checked is not None:
            availability.confirm(checked)  # it may have been added since the catalogue was loaded
        raise Http404("No such treatment.")
    return treatment


@access.patient_required
def book_start(request):
    """The treatments, each marked when this patient needs a consultation (a cleared health form) first."""
    cleared = current_clearance(request.patient) is not None
    treatments = list(bookable_treatments())
    for treatment in treatments:
        treatment.consultation_first = treatment.needs_cleared_intake and not cleared
    return render(request, "bookings/book_start.html", {"treatments": treatments})


def _booking_page_context(request, slug, known, checked, *, times_only=False):
    """The booking page's context (the times list's alone with `times_only`), every choice checked against
    the availability catalogue `known` (confirmed if `checked`: `_with_current_catalogue`)."""
    treatment = _bookable_treatment(known, slug, checked)
    eligibility = check_eligibility(request.patient, treatment)
    # With nothing asked, the form is bound to no values: the first day this patient may book (times_context).
    # The chooser writes it as it writes an unbound one (no value sent, no error), so one form serves both:
    # building a second cost ~100 Python calls on every first visit (docs/benchmarks.md, issue #16).
    form = DayChoiceForm(request.GET or {}, treatment=treatment, catalogue=known)
    context = {"treatment": treatment, "eligibility": eligibility, **_booking_urls(treatment)}
    if not times_only:
        context["form"] = form
    if eligibility.allowed:
        context.update(times_context(request.patient, treatment, form, checked=checked))
    elif checked is not None:
        availability.confirm(checked)  # no times read: the treatment shown must still be the current one
    return context


@access.patient_required
def book_treatment(request, slug):
    """Step 1-3: practitioner or first available, day, time (times load in place with htmx)."""
    context = _with_current_catalogue(lambda *known: _booking_page_context(request, slug, *known))
    times = kept_times.times_html(context)
    key = kept_times.page_key(request, context, context["form"])
    if key is None or messages.get_messages(request):  # a message is shown once: written for this request
        return render(request, kept_times.PAGE, {**context, "times_html": times})
    return HttpResponse(
        kept_times.page_body(
            key,
            context,
            times,
            lambda: csrf.masked_token(request),
            lambda holes: render_to_string(kept_times.PAGE, {**context, **holes}, request),
        )
    )


@access.patient_required
def book_times(request, slug):
    """The times list alone, for htmx to swap in when the practitioner or day changes."""
    context = _with_current_catalogue(lambda *known: _booking_page_context(request, slug, *known, times_only=True))
    return HttpResponse(kept_times.times_html(context))  # the list reads nothing of the request's context


def _booking_urls(treatment) -> dict:
    """The booking page's links for this treatment (reversed once per process: `clinic.kept_urls`)."""
    return urls_kept(
        ("booking", treatment.slug),
        lambda: {
            "page_url": reverse("book_treatment", args=[treatment.slug]),
            "times_url": reverse("book_times", args=[treatment.slug]),
            "choose_url": reverse("book_confirm", args=[treatment.slug]),
            "waitlist_url": reverse("waitlist_join"),
            "start_url": reverse("book_start"),
        },
    )


def _moving_urls(appointment) -> dict:
    return {
        "page_url": reverse("appointment_reschedule", args=[appointment.pk]),
        "times_url": reverse("appointment_reschedule_times", args=[appointment.pk]),
        "choose_url": reverse("appointment_reschedule", args=[appointment.pk]),
    }


# --- confirming ----------------------------------------------------------------------------------------


def _refusal(request, template, context, error: services.BookingError):
    """Show a refusal on the page it concerns: 409 when the time was just taken, else 400."""
    messages.error(request, error.message)
    context.update(
        error=error,
        alternatives=getattr(error, "alternatives", []),
        next_step_url=getattr(error, "next_step_url", ""),
    )
    status = 409 if isinstance(error, services.SlotTaken) else 400
    return render(request, template, context, status=status)


@access.patient_required
@require_http_methods(["GET", "POST"])
def book_confirm(request, slug):
    """Step 4: what, who, when, where and the price, then one button that books."""
    treatment = get_object_or_404(bookable_treatments(), slug=slug)
    form = TimeChoiceForm(request.POST if request.method == "POST" else request.GET, treatment=treatment)
    context = {"treatment": treatment, "form": form, **_booking_urls(treatment)}
    template = "bookings/book_confirm.html"
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return render(request, template, context, status=400)
    start, practitioner, site = form.cleaned_data["start"], form.cleaned_data["practitioner"], form.cleaned_data["site"]
    if request.method == "GET":
        verdict, slot = availability.check_slot(treatment, practitioner, start, site=site)
        if verdict is availability.Verdict.TAKEN:
            return _refusal(request, template, context, services.slot_taken(treatment, practitioner, start))
        if slot is None:
            return _refusal(request, template, context, services.SlotNotOffered(services.NOT_OFFERED_MESSAGE))
        context["slot"] = slot
        return render(request, template, context)
    steps = hooks.steps()
    try:
        appointment = services.book_appointment(
            patient=request.patient,
            treatment=treatment,
            practitioner=practitioner,
            start_at=start,
            site=site,
            booked_by=request.user,
            source=Appointment.Source.ONLINE,
        )
    except services.BookingError as error:
        return _refusal(request, template, context, error)
    if appointment.status == Appointment.Status.BOOKED:
        messages.success(
            request, f"You are booked: {treatment.name} on {clock.when_text(appointment.start_at, appointment.site)}."
        )
    return redirect(steps.next_url(appointment) or reverse("appointment_detail", args=[appointment.pk]))


# --- the patient's appointments ------------------------------------------------------------------------


@access.patient_required
def my_appointments(request):
    upcoming, past = selectors.upcoming_and_past(request.patient)
    return render(
        request,
        "bookings/my_appointments.html",
        {"upcoming": upcoming, "past": past, "changeable": {a.pk for a in upcoming if services.patient_can_change(a)}},
    )


@access.patient_required
def appointment_detail(request, pk):
    """The confirmation page, and the appointment's page afterwards."""
    appointment = selectors.patient_appointment_or_404(request.patient, pk)
    return render(request, "bookings/appointment_detail.html", _appointment_context(appointment))


def _appointment_context(appointment) -> dict:
    can_change = services.patient_can_change(appointment)
    late_terms = services.late_cancellation_terms(appointment)
    return {
        "appointment": appointment,
        "can_change": can_change,
        "can_cancel": can_change or bool(late_terms) or appointment.status == Appointment.Status.AWAITING_DEPOSIT,
        "late_cancellation_terms": late_terms,
        "booking_terms": hooks.steps().booking_terms(appointment),
        "next_step_url": (
            hooks.steps().next_url(appointment) if appointment.status == Appointment.Status.AWAITING_DEPOSIT else ""
        ),
        "call_the_clinic": (
            services.call_the_clinic_message(site=appointment.site)
            if appointment.status == Appointment.Status.BOOKED and not can_change
            else ""
        ),
        "events": appointment.events.select_related("by"),
    }


@access.patient_required
@require_http_methods(["GET", "POST"])
def appointment_cancel(request, pk):
    appointment = selectors.patient_appointment_or_404(request.patient, pk)
    form = CancelForm(request.POST if request.method == "POST" else None)
    context = {**_appointment_context(appointment), "form": form}
    template = "bookings/appointment_cancel.html"
    if request.method == "POST" and form.is_valid():
        try:
            services.cancel_appointment(appointment, by=request.user, reason=form.cleaned_data["reason"])
        except services.BookingError as error:
            return _refusal(request, template, context, error)
        messages.success(
            request,
            f"Your appointment on {clock.when_text(appointment.start_at, appointment.site)} is cancelled. "
            "The time is free for others.",
        )
        return redirect("my_appointments")
    return render(request, template, context)


@access.patient_required
@require_http_methods(["GET", "POST"])
def appointment_reschedule(request, pk):
    """Choose a new time (times load in place), confirm it, and the old time is free at once."""
    appointment = selectors.patient_appointment_or_404(request.patient, pk)
    treatment = appointment.treatment
    context = {**_appointment_context(appointment), "treatment": treatment, **_moving_urls(appointment)}
    template = "bookings/appointment_reschedule.html"
    data = request.POST if request.method == "POST" else request.GET
    if "start" not in data:
        if context["can_change"]:
            initial = {"site": appointment.site_id, "practitioner": appointment.practitioner_id}
            initial["day"] = data.get("day", "")
            form = DayChoiceForm(data if "day" in data else initial, treatment=treatment)
            context.update(form=form, **times_context(request.patient, treatment, form, ignore_appointment=appointment))
        return render(request, template, context)
    form = TimeChoiceForm(data, treatment=treatment)
    context["time_form"] = form
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return render(request, template, context, status=400)
    start = form.cleaned_data["start"]
    practitioner = form.cleaned_data["practitioner"] or appointment.practitioner
    site = form.cleaned_data["site"] or appointment.site
    if request.method == "GET":
        context["new_start"] = start
        context["new_start_key"] = start.strftime("%Y-%m-%dT%H:%MZ")
        context["new_practitioner"] = practitioner
        context["new_site"] = site
        context["new_start_text"] = clock.when_text(start, site)
        context["several_sites"] = len(form.fields["site"].queryset) > 1
        return render(request, template, context)
    try:
        services.reschedule_appointment(
            appointment, new_start_at=start, by=request.user, practitioner=practitioner, site=site
        )
    except services.BookingError as error:
        return _refusal(request, template, context, error)
    appointment.refresh_from_db()
    messages.success(
        request, f"Your appointment is moved to {clock.when_text(appointment.start_at, appointment.site)}."
    )
    return redirect("appointment_detail", appointment.pk)


@access.patient_required
def appointment_reschedule_times(request, pk):
    appointment = selectors.patient_appointment_or_404(request.patient, pk)
    form = DayChoiceForm(request.GET, treatment=appointment.treatment)
    context = {"treatment": appointment.treatment, "appointment": appointment, **_moving_urls(appointment)}
    if services.patient_can_change(appointment):
        context.update(times_context(request.patient, appointment.treatment, form, ignore_appointment=appointment))
    else:
        context["form_errors"] = [services.call_the_clinic_message(site=appointment.site)]
    return render(request, "bookings/includes/times.html", context)
