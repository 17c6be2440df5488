"""Waitlist pages: a patient joins, sees and leaves it and confirms an offer; the front desk adds a patient
and sees who waits for what. Thin views: rules and writes are in `bookings.waitlist`."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from clinic import access, clock
from clinic.models import Patient

from . import hooks, services, waitlist
from .models import Appointment, WaitlistEntry
from .waitlist_forms import DeskWaitlistForm, JoinWaitlistForm, WaitlistFilterForm


def _join(request, form, patient):
    data = form.cleaned_data
    return waitlist.join_waitlist(
        patient=patient,
        treatment=data["treatment"],
        practitioner=data["practitioner"],
        earliest_day=data["earliest_day"],
        latest_day=data["latest_day"],
        before_day=data["before_day"],
        by=request.user,
    )


def _form_errors_as_messages(request, form):
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


# --- patients ----------------------------------------------------------------------------------------


@access.patient_required
def waitlist_mine(request):
    entries = list(waitlist.patient_entries(request.patient))
    offers = [
        offer
        for offer in waitlist.WaitlistOffer.objects.filter(entry__patient=request.patient)
        .select_related("entry", "entry__treatment", "practitioner__user")
        .order_by("start_at")
        if waitlist.is_open(offer)
    ]
    return render(request, "waitlist/mine.html", {"entries": entries, "offers": offers})


@access.patient_required
@require_http_methods(["GET", "POST"])
def waitlist_join(request):
    form = JoinWaitlistForm(request.POST if request.method == "POST" else None, initial=request.GET.dict())
    if request.method == "POST":
        if not form.is_valid():
            _form_errors_as_messages(request, form)
            return render(request, "waitlist/join.html", {"form": form}, status=400)
        try:
            entry = _join(request, form, request.patient)
        except services.BookingError as error:
            messages.error(request, error.message)
            return render(request, "waitlist/join.html", {"form": form}, status=400)
        messages.success(
            request,
            f"You are on the waitlist for {entry.treatment.name} "
            f"with {waitlist.practitioner_label(entry.practitioner)}. "
            "We will email you when an earlier time comes up.",
        )
        return redirect("waitlist_mine")
    return render(request, "waitlist/join.html", {"form": form})


@access.patient_required
@require_POST
def waitlist_leave(request, pk):
    entry = get_object_or_404(WaitlistEntry, pk=pk, patient=request.patient)
    try:
        waitlist.leave_waitlist(entry, by=request.user)
    except services.BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"You have left the waitlist for {entry.treatment.name}.")
    return redirect("waitlist_mine")


@access.patient_required
@require_http_methods(["GET", "POST"])
def waitlist_offer(request, pk):
    """The link in the offer message: the time, and one button that books it if nobody was quicker."""
    offer = waitlist.patient_offer_or_404(request.patient, pk)
    context = {"offer": offer, "closed_reason": waitlist.why_closed(offer)}
    if request.method == "GET":
        return render(request, "waitlist/offer.html", context)
    try:
        appointment = waitlist.confirm_offer(offer, by=request.user)
    except services.BookingError as error:
        messages.error(request, error.message)
        offer.refresh_from_db()
        context["closed_reason"] = waitlist.why_closed(offer) or error.message
        status = 409 if isinstance(error, services.SlotTaken) else 400
        return render(request, "waitlist/offer.html", context, status=status)
    if appointment.status == Appointment.Status.AWAITING_DEPOSIT:  # the online deposit rule, as on booking
        return redirect(hooks.steps().next_url(appointment) or reverse("appointment_detail", args=[appointment.pk]))
    messages.success(
        request,
        f"You are booked: {appointment.treatment.name} on {clock.when_text(appointment.start_at, appointment.site)}.",
    )
    return redirect("appointment_detail", appointment.pk)


# --- front desk --------------------------------------------------------------------------------------


@access.desk_required
def waitlist_desk(request):
    """Who waits for what, per treatment and practitioner, in the order they will be offered times."""
    form = WaitlistFilterForm(request.GET or None)
    treatment = practitioner = None
    if form.is_valid():
        treatment, practitioner = form.cleaned_data["treatment"], form.cleaned_data["practitioner"]
    entries = list(waitlist.staff_entries(treatment, practitioner))
    now = timezone.now()
    for entry in entries:
        entry.offer_rows = [(offer, waitlist.offer_state(offer, now)) for offer in entry.offers.all()]
    calls = sum(1 for entry in entries for offer, _ in entry.offer_rows if waitlist.needs_a_call(offer, now))
    return render(request, "waitlist/desk.html", {"form": form, "entries": entries, "calls": calls})


@access.desk_required
@require_http_methods(["GET", "POST"])
def waitlist_desk_add(request):
    """A small form the desk pages can link to: ?patient=<id>&treatment=<slug>&practitioner=<id>."""
    initial = request.GET.dict()
    patient_id = (request.POST if request.method == "POST" else initial).get("patient", "")
    initial.pop("patient", None)
    patient = Patient.objects.select_related("user").filter(pk=patient_id).first() if patient_id.isdigit() else None
    form = DeskWaitlistForm(request.POST if request.method == "POST" else None, initial=initial, patient=patient)
    if request.method == "POST":
        if not form.is_valid():
            _form_errors_as_messages(request, form)
            return render(request, "waitlist/desk_add.html", {"form": form, "patient": patient}, status=400)
        try:
            entry = _join(request, form, form.cleaned_data["patient"])
        except services.BookingError as error:
            messages.error(request, error.message)
            return render(request, "waitlist/desk_add.html", {"form": form, "patient": patient}, status=400)
        messages.success(
            request,
            f"{entry.patient.full_name or entry.patient.email} is on the waitlist for {entry.treatment.name} "
            f"with {waitlist.practitioner_label(entry.practitioner)}.",
        )
        return redirect("waitlist_desk")
    return render(request, "waitlist/desk_add.html", {"form": form, "patient": patient})


@access.desk_required
@require_POST
def waitlist_desk_remove(request, pk):
    entry = get_object_or_404(WaitlistEntry.objects.select_related("patient__user", "treatment"), pk=pk)
    try:
        waitlist.leave_waitlist(entry, by=request.user)
    except services.BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"{entry.patient.full_name or entry.patient.email} is off the waitlist for {entry.treatment.name}."
        )
    return redirect("waitlist_desk")
