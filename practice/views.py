"""The practitioner's workspace (/practice/), the patient's progress pages (/progress/) and the patient's
confirmation before a session (/intake/confirm/<appointment id>/).

Thin views: `selectors` says who may see what and reads in bulk, `services` writes, the
forms check every range. Staff are shown clinical records only after an access check, and every record or
photo shown is written to the audit trail (`clinic.audit`).
"""

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from bookings.models import Appointment
from clinic import access, clock
from clinic.audit import record_access, record_accesses
from clinic.forms import read_calendar_day
from consultations import alerts, eligibility
from consultations import selectors as intake_selectors
from consultations import services as intake_services
from consultations.consent import CONSENT_VERSION
from consultations.services import IntakeError

from . import selectors, services
from .forms import CoursePlanForm, PinAlertForm, SessionRecordForm
from .progress_chart import build_charts, grade_points


def _day_from(request) -> datetime.date:
    today = clock.today()
    text = request.GET.get("day", "")
    if not text:
        return today
    day = read_calendar_day(text)
    if day is None:
        messages.error(request, "That date could not be read: showing today.")
        return today
    return day


@access.clinician_required
def my_day(request):
    day = _day_from(request)
    rows = selectors.day_appointments(request.user, day)
    return render(
        request,
        "consultations/practice/my_day.html",
        {
            "day": day,
            "today": clock.today(),
            "now": timezone.now(),
            "previous_day": day - datetime.timedelta(days=1),
            "next_day": day + datetime.timedelta(days=1),
            "rows": rows,
            # A day at sites on different clocks: each time says its zone (each is on its own site's clock).
            "label_zones": len({row.appointment.room.site.time_zone for row in rows}) > 1,
            "waiting_reviews": intake_selectors.review_queue().count(),
        },
    )


@access.clinician_required
def patient_record(request, patient_id):
    patient = selectors.patient_for_clinician(request.user, patient_id)
    return render(request, "consultations/practice/patient_record.html", _record_context(request, patient))


def _record_context(request, patient, plan_form=None, alert_form=None) -> dict:
    records = list(selectors.session_records(patient))
    appointments = selectors.patient_appointments(patient)
    record_accesses(request.user, records, what="session record (patient page)")
    return {
        "patient": patient,
        "records": records,
        "charts": build_charts(grade_points(records)),
        "appointments": appointments,
        "recorded": {r.appointment_id for r in records},
        "may_record": {a.pk for a in appointments if access.may_record_session(request.user, a)},
        "courses": selectors.course_plans(patient, appointments),
        "plan_form": plan_form or CoursePlanForm(),
        "alert_form": alert_form or PinAlertForm(),
        "status": intake_selectors.screening_status(patient),
        "alerts": alerts.banner(patient),
        "alert_history": alerts.unpinned_alerts(patient),
        "consent": selectors.consent_status(
            intake_selectors.latest_consent(patient), selectors.photo_consent_of(patient)
        ),
    }


@access.clinician_required
def session_record(request, appointment_id):
    """Record (or correct) what was done in a session; completes a checked-in appointment."""
    appointment = selectors.appointment_to_record(request.user, appointment_id)
    record = selectors.record_of(appointment)
    photos_allowed = selectors.has_photo_consent(appointment.patient)
    form = SessionRecordForm(
        request.POST or None, request.FILES or None, instance=record, photos_allowed=photos_allowed
    )
    if request.method == "POST":
        if form.is_valid():
            details = {name: form.cleaned_data[name] for name in services.RECORD_FIELDS}
            try:
                services.record_session(
                    appointment,
                    by=request.user,
                    details=details,
                    areas=form.cleaned_data["areas"],
                    photo=form.cleaned_data.get("photo"),
                    override_reason=form.cleaned_data.get("override_reason", ""),
                )
            except services.RecordingError as error:
                messages.error(request, f"Nothing was saved: {error}")
            else:
                messages.success(request, f"Session recorded for {appointment.patient.full_name}.")
                return redirect("practice_patient", appointment.patient_id)
        else:
            messages.error(request, "Nothing was saved: please correct the fields marked below.")
    if record is not None:
        record_access(request.user, record, what="session record (edit page)")
    refusal = eligibility.session_record_refusal(appointment)
    is_admin = access.may_override_eligibility(request.user)
    return render(
        request,
        "consultations/practice/session_record.html",
        {
            "appointment": appointment,
            "record": record,
            "form": form,
            "photos_allowed": photos_allowed,
            "refusal": refusal,
            "may_override": bool(refusal)
            and is_admin
            and not appointment.treatment.is_consultation
            and appointment.start_at <= timezone.now(),
            "alerts": alerts.banner(appointment.patient),
        },
    )


@access.clinician_required
@require_POST
def set_course_plan(request, patient_id):
    patient = selectors.patient_for_clinician(request.user, patient_id)
    form = CoursePlanForm(request.POST)
    if form.is_valid():
        practitioner = getattr(request.user, "practitioner", None) or _latest_consultant(patient)
        try:
            services.set_course_plan(
                patient,
                treatment=form.cleaned_data["treatment"],
                sessions=form.cleaned_data["sessions"],
                interval_days=form.cleaned_data["interval_days"],
                practitioner=practitioner,
            )
        except services.RecordingError as error:
            messages.error(request, f"No plan was saved: {error}")
        else:
            messages.success(request, f"Course plan saved for {patient.full_name}.")
            return redirect("practice_patient", patient.pk)
    else:
        messages.error(request, "No plan was saved: please correct the fields marked below.")
    return render(
        request, "consultations/practice/patient_record.html", _record_context(request, patient, plan_form=form)
    )


@access.clinician_required
@require_POST
def pin_alert(request, patient_id):
    """Pin a clinical alert on the patient's banner: the patient's own practitioners and clinic admins."""
    patient = selectors.patient_for_clinician(request.user, patient_id)
    form = PinAlertForm(request.POST)
    if form.is_valid():
        try:
            intake_services.pin_alert(patient, by=request.user, text=form.cleaned_data["text"])
        except IntakeError as error:
            form.add_error("text", str(error))
        else:
            messages.success(request, "Alert pinned: practitioners see it wherever they decide.")
            return redirect("practice_patient", patient.pk)
    messages.error(request, "No alert was pinned: please correct the field marked below.")
    return render(
        request, "consultations/practice/patient_record.html", _record_context(request, patient, alert_form=form)
    )


@access.clinician_required
@require_POST
def unpin_alert(request, patient_id, alert_id):
    """Take an alert off the banner; it stays in the patient's alert history."""
    patient = selectors.patient_for_clinician(request.user, patient_id)
    try:
        intake_services.unpin_alert(patient, alert_id=alert_id, by=request.user)
    except IntakeError as error:
        messages.error(request, f"Nothing changed: {error}")
    else:
        messages.success(request, "Alert unpinned; it stays in the alert history.")
    return redirect("practice_patient", patient.pk)


def _latest_consultant(patient):
    appointment = (
        Appointment.objects.filter(patient=patient).select_related("practitioner").order_by("-start_at").first()
    )
    if appointment is None:
        raise Http404("No practitioner to plan this course.")
    return appointment.practitioner


@login_required
def photo(request, photo_id):
    """The only way a progress photo leaves private storage: to someone allowed, with the access recorded.
    The front desk may never see one (403); anyone else's photo answers 404."""
    if not access.may_see_any_photo(request.user):
        raise PermissionDenied("Progress photos are for the patient and their practitioners.")
    photo = selectors.photo_for(request.user, photo_id)
    record_access(request.user, photo, what="progress photo")
    response = FileResponse(photo.image.open("rb"), content_type=photo.content_type)
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = f'inline; filename="photo-{photo.pk}"'
    return response


# --- The patient's pages -----------------------------------------------------------------------------


@access.patient_required
def my_progress(request):
    """Grades and dates, the course plan, photos and photo consent. Never the practitioner's notes."""
    patient = request.patient
    records = list(selectors.session_records(patient))
    return render(
        request,
        "consultations/my_progress.html",
        {
            "charts": build_charts(grade_points(records)),
            "records": records,
            "courses": selectors.course_plans(patient),
            "photo_consent": selectors.photo_consent_of(patient),
        },
    )


@access.patient_required
@require_POST
def photo_consent(request):
    patient = request.patient
    if request.POST.get("choice") == "give":
        services.give_photo_consent(patient)
        messages.success(request, "Thank you: your practitioner may take progress photos from now on.")
    elif request.POST.get("choice") == "withdraw":
        services.withdraw_photo_consent(patient)
        messages.success(request, "Done: no more progress photos will be taken.")
    else:
        messages.error(request, "Nothing changed: choose to allow or to stop progress photos.")
    return redirect("my_progress")


@access.patient_required
def intake_confirm(request, appointment_id):
    """Before a session (linked from the 7-day pre-care reminder): nothing has changed, or update the form."""
    patient = request.patient
    appointment = get_object_or_404(
        Appointment.objects.select_related("treatment", "practitioner__user"), pk=appointment_id, patient=patient
    )
    intake = intake_selectors.current_intake(patient)
    upcoming = appointment.status == Appointment.Status.BOOKED and clock.is_upcoming(appointment.start_at)
    if request.method == "POST":
        if not upcoming:
            messages.error(request, "This appointment is not upcoming: nothing to confirm.")
        else:
            try:
                services.confirm_intake_unchanged(appointment)
            except IntakeError as error:
                messages.error(request, str(error))
                return redirect("intake_form")
            messages.success(request, "Thank you: you confirmed that nothing has changed since your health form.")
        return redirect("intake_confirm", appointment.pk)
    return render(
        request,
        "consultations/intake_confirm.html",
        {
            "appointment": appointment,
            "intake": intake,
            "upcoming": upcoming,
            "confirmation": selectors.confirmation_for(appointment),
            "consent": intake_selectors.latest_consent(patient),
            "consent_version": CONSENT_VERSION,
        },
    )
