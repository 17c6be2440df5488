"""Reads of the outbox and the check-ins, for the admin and the front desk's and practitioners' pages."""

from bookings.models import AftercareCheckIn, Reminder


def failed_reminders():
    """Reminders that will not go out without someone acting: newest first, with what went wrong."""
    return (
        Reminder.objects.filter(status=Reminder.Status.FAILED)
        .select_related("appointment__patient__user", "appointment__treatment")
        .order_by("-updated_at")
    )


def reminders_for_appointment(appointment):
    return appointment.reminders.order_by("due_at", "kind", "channel")


def check_ins_needing_attention(practitioner=None):
    """Concerning answers nobody has followed up yet; for one practitioner's patients when given."""
    check_ins = AftercareCheckIn.objects.filter(needs_attention=True, followed_up_at__isnull=True).select_related(
        "appointment__patient__user", "appointment__practitioner__user", "appointment__treatment"
    )
    if practitioner is not None:
        check_ins = check_ins.filter(appointment__practitioner=practitioner)
    return check_ins.order_by("created_at")


def reminders_for_patient(patient):
    """A patient's own messages, sent and to come, for their pages."""
    return (
        Reminder.objects.filter(appointment__patient=patient)
        .exclude(status=Reminder.Status.CANCELLED)
        .select_related("appointment__treatment")
        .order_by("due_at")
    )
