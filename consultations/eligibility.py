"""May this patient book this treatment? The one check every booking path calls (pages, API, front desk).

Contract (the booking service depends on it; keep the signature):
    check_eligibility(patient, treatment) -> Eligibility

A session of a treatment that needs a cleared intake is bookable only with a clearance in force (a
practitioner's "cleared" or "cleared with conditions" on the patient's intake, not expired, not suspended
by a later answer). A consultation always is. An admin override is the booking service's business
(`override_reason`), not this check's.
"""

from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from clinic.models import BodyArea, Treatment

from . import selectors
from .consent import CONSENT_VERSION


@dataclass(frozen=True)
class Eligibility:
    allowed: bool
    reason: str = ""  # patient-facing: why not, and what to do next
    next_step_url: str = ""  # where to go to become eligible (the intake form, a consultation)


def check_eligibility(patient, treatment) -> Eligibility:
    if treatment.is_consultation or not treatment.needs_cleared_intake:
        return Eligibility(allowed=True)
    if selectors.current_clearance(patient) is not None:
        return Eligibility(allowed=True)
    status = selectors.screening_status(patient)
    reason, next_step_url = _why_not(status)
    return Eligibility(allowed=False, reason=reason, next_step_url=next_step_url)


def _why_not(status: selectors.ScreeningStatus) -> tuple[str, str]:
    form_url = reverse("intake_form")
    if status in (selectors.NO_FORM, selectors.DRAFT):
        return (
            "Before a treatment session, a practitioner reviews your health form. Please fill it in and send "
            "it; meanwhile you can book a free consultation.",
            form_url,
        )
    if status in (selectors.PENDING, selectors.FLAGGED):
        return (
            "Your health form is waiting for a practitioner's review. You can book a session once you are "
            "cleared; meanwhile you can book a consultation.",
            _consultation_url(),
        )
    if status == selectors.SUSPENDED:
        return (
            "You updated your health form and a practitioner needs to review it again before another session. "
            "We will be in touch; you can also book a consultation.",
            _consultation_url(),
        )
    if status == selectors.NEEDS_INFORMATION:
        return ("A practitioner needs more information on your health form before a session.", form_url)
    if status == selectors.EXPIRED:
        return (
            "Your clearance has expired. Please check your health form is up to date and send it again for review.",
            form_url,
        )
    return (
        "A practitioner has not cleared you for this treatment. Please book a consultation to talk it through.",
        _consultation_url(),
    )


def _consultation_url() -> str:
    consultation = Treatment.objects.filter(kind=Treatment.Kind.CONSULTATION, active=True).first()
    return consultation.get_absolute_url() if consultation else reverse("intake_home")


# --- Recording a session: only when it is safe (design notes, invariant 8) ---------------------------------


def session_record_refusal(appointment, now=None) -> str:
    """Why no session record may be written for this appointment now ("" when it may): a session record is
    for a treatment session, not a consultation; once the appointment has started; while the patient's
    clearance is in force and the current consent is signed. A clinic admin may override with a reason (the
    recording service's business)."""
    now = now or timezone.now()
    treatment, patient = appointment.treatment, appointment.patient
    if treatment.is_consultation:
        return "A consultation has no session record: needling is recorded only for a treatment session."
    if appointment.start_at > now:
        return "This appointment has not started yet: record the session once it has taken place."
    if selectors.current_clearance(patient) is None:
        return (
            f"{patient.full_name} has no clearance in force (status: {selectors.screening_status(patient).label}): "
            "review the health form first."
        )
    consent = selectors.latest_consent(patient)
    if consent is None or consent.text_version != CONSENT_VERSION:
        return f"{patient.full_name} has not signed the current consent (version {CONSENT_VERSION})."
    return ""


def limits_refusal(patient, *, needle_depth_mm=None, areas=()) -> str:
    """A record that breaks a structured condition of the clearance in force, quoting it ("" when none)."""
    clearance = selectors.current_clearance(patient)
    if clearance is None or not clearance.has_limits:
        return ""
    quoted = f'The clearance says: "{clearance.limits_text()}".'
    limit = clearance.max_needle_depth_mm
    if limit is not None and needle_depth_mm is not None and needle_depth_mm > limit:
        return f"A needle depth of {needle_depth_mm} mm is over the limit of {limit} mm. {quoted}"
    excluded = sorted(set(areas) & set(clearance.excluded_areas))
    if excluded:
        labels = dict(BodyArea.choices)
        return f"{', '.join(str(labels[a]) for a in excluded)} must not be treated. {quoted}"
    return ""
