"""Notices to staff that need bookings' knowledge of who is booked with whom.

Consultations suspends a clearance and says so (`consultations.signals.clearance_suspended`); the practitioners
to tell are those the patient is booked with, which only bookings knows. Connected in `BookingsConfig.ready`.
"""

from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clinic.links import absolute_url
from clinic.models import Practitioner

from .models import Appointment


def tell_practitioners_clearance_suspended(sender, *, intake, **kwargs) -> None:
    """Receiver of `consultations.signals.clearance_suspended`: mails once the suspension has committed."""
    transaction.on_commit(lambda: _mail_clearance_suspended(intake))


def _mail_clearance_suspended(intake) -> None:
    """No clinical detail by email: who, and where to look. Goes to the practitioners with sessions booked
    with the patient, or to every active practitioner when there are none."""
    upcoming = Appointment.objects.filter(
        patient_id=intake.patient_id, status=Appointment.Status.BOOKED, start_at__gte=timezone.now()
    ).values("practitioner")
    practitioners = Practitioner.objects.filter(pk__in=upcoming, active=True)
    if not practitioners.exists():
        practitioners = Practitioner.objects.filter(active=True)
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
