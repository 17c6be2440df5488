"""May this patient book this treatment? The one check every booking path calls (pages, API, front desk).

Contract (the booking service depends on it; keep the signature):
    check_eligibility(patient, treatment) -> Eligibility

Until the intake issue lands this allows everything; it then answers from the patient's current intake
review: a session that needs a cleared intake is bookable only with a current clearance; a consultation
always is.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Eligibility:
    allowed: bool
    reason: str = ""  # patient-facing: why not, and what to do next
    next_step_url: str = ""  # where to go to become eligible (the intake form, a consultation)


def check_eligibility(patient, treatment) -> Eligibility:
    return Eligibility(allowed=True)
