"""Notices to staff that need bookings' knowledge of who is booked with whom.

Consultations suspends a clearance and says so (`consultations.signals.clearance_suspended`); the practitioners
to tell are the patient's own (`consultations.selectors.practitioners_of`), mailed once the suspension has
committed. Connected in `BookingsConfig.ready`.
"""

from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from clinic.links import absolute_url
from consultations.selectors import practitioners_of


def tell_practitioners_clearance_suspended(sender, *, intake, **kwargs) -> None:
    """Receiver of `consultations.signals.clearance_suspended`: mails once the suspension has committed."""
    transaction.on_commit(lambda: _mail_clearance_suspended(intake))


def _mail_clearance_suspended(intake) -> None:
    """No clinical detail by email: who, and where to look. Only to the patient's own practitioners
    (`consultations.selectors.practitioners_of`: appointments past or future, and who reviewed the form): a
    health update is nobody else's business. Everyone else finds the form back in the review queue, which every
    practitioner sees."""
    practitioners = practitioners_of(intake.patient)
    recipients = sorted({p.user.email for p in practitioners.select_related("user")})
    if not recipients:
        return
    link = absolute_url(reverse("intake_review", args=[intake.pk]))
    send_mail(
        subject=f"Clearance suspended: {intake.patient.full_name} updated their health form",
        message=(
            f"{intake.patient.full_name} changed an answer on their health form that needs a practitioner's "
            f"review. Their clearance is suspended until someone reviews it; booked sessions are not "
            f"cancelled.\n\nReview it here: {link}\n"
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )
