"""Notices to staff that need bookings' knowledge of who is booked with whom.

Consultations suspends a clearance and says so (`consultations.signals.clearance_suspended`); the practitioners
to tell are the patient's own (`consultations.selectors.practitioners_of`). Connected in `BookingsConfig.ready`.
"""

from django.urls import reverse

from clinic.links import absolute_url
from clinic.notices import queue_notice
from consultations.selectors import practitioners_of


def tell_practitioners_clearance_suspended(sender, *, intake, **kwargs) -> None:
    """Receiver of `consultations.signals.clearance_suspended`, inside the suspending transaction: the notice
    is queued with it (`clinic.notices`), so it goes out exactly when the suspension commits, and again if the
    mail server refuses. No clinical detail by email: who, and where to look. Only to the patient's own
    practitioners (appointments past or future, and who reviewed the form): a health update is nobody else's
    business. Everyone else finds the form back in the review queue, which every practitioner sees."""
    practitioners = practitioners_of(intake.patient)
    link = absolute_url(reverse("intake_review", args=[intake.pk]))
    queue_notice(
        kind="clearance_suspended",
        to=[p.user.email for p in practitioners.select_related("user")],
        subject=f"Clearance suspended: {intake.patient.full_name} updated their health form",
        body=(
            f"{intake.patient.full_name} changed an answer on their health form that needs a practitioner's "
            f"review. Their clearance is suspended until someone reviews it; booked sessions are not "
            f"cancelled.\n\nReview it here: {link}\n"
        ),
    )
