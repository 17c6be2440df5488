from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.shortcuts import redirect, render

from clinic import access, clock

from . import alerts, selectors, services
from .consent import CONSENT_TEXT, CONSENT_VERSION
from .forms import QUESTION_FIELDS, ConsentForm, IntakeFormForm, ReviewForm
from .models import IntakeForm, ScreeningFlag
from .signals import REVIEW_QUEUE_PAGE

# --- Patient pages --------------------------------------------------------------------------------


@access.patient_required
def intake_home(request):
    """The patient's view: status, what the screening means for them, the practitioner's message. Never the
    practitioner's notes or texts."""
    patient = request.patient
    intake = selectors.current_intake(patient)
    submitted = intake is not None and intake.is_submitted
    review = selectors.latest_review(intake) if submitted else None
    flags = selectors.current_flags(intake) if submitted else []
    return render(
        request,
        "consultations/intake_home.html",
        {
            "intake": intake,
            "status": selectors.screening_status(patient),
            "patient_texts": [(flag.topic, flag.patient_text) for flag in flags],
            "outcome": _patient_outcome(review),
            "consent": selectors.latest_consent(patient),
            "consent_version": CONSENT_VERSION,
        },
    )


def _patient_outcome(review):
    if review is None:
        return None
    return {
        "decision": review.get_decision_display(),
        "message": review.message_to_patient,
        "prescriber_advice": review.attributed_prescriber_advice,
        "decided_at": review.decided_at,
        "valid_until": review.valid_until if review.clears and not review.suspended_at else None,
    }


@access.patient_required
def intake_form(request):
    patient = request.patient
    intake = selectors.current_intake(patient) or IntakeForm(patient=patient)
    sending = "submit" in request.POST
    # Once a form has been sent, it only changes by a complete submission (see services.save_intake_draft).
    submitting = sending or intake.is_submitted
    sent_answers = {name: getattr(intake, name) for name in QUESTION_FIELDS}  # the form writes to `intake`
    form = IntakeFormForm(request.POST or None, instance=intake, submitting=submitting)
    if request.method == "POST":
        if form.is_valid():
            answers = {name: form.cleaned_data[name] for name in QUESTION_FIELDS}
            if intake.is_submitted and answers == sent_answers:
                # A re-send with nothing changed is no new version: nothing to review, nobody to tell.
                messages.info(request, "Nothing has changed: your health form stays as you sent it.")
                return redirect("intake_home")
            if submitting:
                was_cleared = selectors.current_clearance(patient) is not None
                services.submit_intake(patient, answers)
                messages.success(request, _after_submission_message(patient, was_cleared))
                return redirect("intake_home")
            services.save_intake_draft(patient, answers)
            messages.success(request, "Your answers are saved. Your form is not sent yet: come back to finish it.")
            return redirect("intake_form")
        if sending and not intake.is_submitted and _save_partial(patient, request.POST):
            messages.warning(
                request,
                "Your answers so far are saved, but the form is not sent yet. Still to do: "
                + ", ".join(form.missing_sections())
                + ".",
            )
        else:
            messages.error(request, "Nothing was saved: please correct the answers marked below.")
    return render(
        request,
        "consultations/intake_form.html",
        {"form": form, "intake": intake, "missing": form.missing_sections() if form.is_bound else []},
    )


def _after_submission_message(patient, was_cleared: bool) -> str:
    if not was_cleared:
        return "Thank you: your health form is sent. A practitioner will review it."
    if selectors.current_clearance(patient) is not None:
        return "Thank you: your changes are saved, and your clearance still stands."
    return (
        "Thank you: your changes are saved. One of them needs a practitioner's review before your next session; "
        "we have told them, and your bookings stay in place meanwhile."
    )


def _save_partial(patient, data) -> bool:
    """Keep what a patient entered when a submission is incomplete, if each answer given is itself valid."""
    fresh = selectors.current_intake(patient) or IntakeForm(patient=patient)
    draft = IntakeFormForm(data, instance=fresh, submitting=False)
    if not draft.is_valid():
        return False
    services.save_intake_draft(patient, {name: draft.cleaned_data[name] for name in QUESTION_FIELDS})
    return True


@access.patient_required
def consent_sign(request):
    patient = request.patient
    form = ConsentForm(request.POST or None, patient=patient)
    if request.method == "POST":
        if form.is_valid():
            services.sign_consent(patient, signed_name=form.cleaned_data["signed_name"])
            messages.success(request, "Thank you: your consent is signed.")
            return redirect("intake_home")
        messages.error(request, "Not signed yet: please correct the fields marked below.")
    return render(
        request,
        "consultations/consent.html",
        {
            "form": form,
            "consent_text": CONSENT_TEXT,
            "consent_version": CONSENT_VERSION,
            "consent": selectors.latest_consent(patient),
        },
    )


# --- Practitioner pages ---------------------------------------------------------------------------


@access.clinician_required
def review_queue(request):
    intakes = list(selectors.review_queue())
    flags = ScreeningFlag.objects.filter(intake__in=intakes, intake_version=F("intake__version"))
    by_intake = {}
    for flag in flags:
        by_intake.setdefault(flag.intake_id, []).append(flag)
    services.log_intake_accesses(intakes, request.user, "review_queue", to_audit_trail=False)
    return render(
        request,
        "consultations/review_queue.html",
        {
            "rows": [(intake, by_intake.get(intake.pk, [])) for intake in intakes],
            "attention": [],
            **REVIEW_QUEUE_PAGE.context(user=request.user),
        },
    )


@access.clinician_required
def intake_review(request, intake_id):
    intake = selectors.intake_for_staff(request.user, intake_id)
    flags = list(selectors.current_flags(intake))
    today = clock.today()
    running_washouts = [f for f in flags if f.until and f.until > today and f.severity == "block"]
    may_decide = access.may_decide_review(request.user)
    free_text = selectors.free_text_answers(intake)
    form = (
        ReviewForm(request.POST or None, running_washouts=running_washouts, free_text=free_text) if may_decide else None
    )
    if request.method == "POST":
        if form is None:
            raise PermissionDenied("Only a practitioner records a decision.")
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.record_review(
                    intake,
                    reviewer=request.user,
                    decision=data["decision"],
                    notes=data["notes"],
                    message_to_patient=data["message_to_patient"],
                    valid_until=data["valid_until"],
                    prescriber_advice=data["prescriber_advice"],
                    prescriber_name=data["prescriber_name"],
                    prescriber_role=data["prescriber_role"],
                    prescriber_advised_on=data["prescriber_advised_on"],
                    free_text_read=data.get("free_text_read", False),
                    max_needle_depth_mm=data["max_needle_depth_mm"],
                    excluded_areas=data["excluded_areas"],
                )
            except services.IntakeError as error:  # the form changed under the reviewer (a new version)
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Decision recorded for {intake.patient.full_name}.")
                return redirect("review_queue")
        messages.error(request, "No decision recorded: please correct the fields marked below.")
    services.log_intake_access(intake, request.user, "intake_review")
    return render(
        request,
        "consultations/intake_review.html",
        {
            "intake": intake,
            "status": selectors.screening_status(intake.patient),
            "answers": selectors.intake_answers(intake),
            "free_text": free_text,
            "flags": flags,
            "reviews": intake.reviews.select_related("reviewer"),
            "alerts": alerts.banner(intake.patient),
            "consent": selectors.latest_consent(intake.patient),
            "form": form,
        },
    )
