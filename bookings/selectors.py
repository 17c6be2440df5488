"""Reads for the booking pages."""

from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import Appointment


def patient_appointments(patient):
    return Appointment.objects.filter(patient=patient).select_related("treatment", "practitioner__user", "room")


def upcoming_and_past(patient, now=None):
    """Upcoming (soonest first) and past (latest first) appointments of one patient: two lists."""
    now = now or timezone.now()
    appointments = list(patient_appointments(patient))
    upcoming = [a for a in appointments if a.start_at >= now]
    past = sorted((a for a in appointments if a.start_at < now), key=lambda a: a.start_at, reverse=True)
    return upcoming, past


def patient_appointment_or_404(patient, pk):
    """One of this patient's appointments; another patient's answers 404, as an unknown id does."""
    return get_object_or_404(patient_appointments(patient), pk=pk)
