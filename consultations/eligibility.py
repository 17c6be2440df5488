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

from clinic.models import Treatment

from . import selectors


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
