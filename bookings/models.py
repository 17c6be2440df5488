"""Appointments and their history.

The no-double-booking invariant is held by PostgreSQL exclusion constraints (see migration 0002): no two
live appointments of one practitioner, or in one room, may overlap over [start_at, busy_until), where
busy_until includes the treatment's buffer. Cancelled and no-show appointments do not block.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from clinic.models import Patient, Practitioner, Room, Treatment


class AppointmentQuerySet(models.QuerySet):
    def live(self):
        return self.filter(status__in=Appointment.LIVE_STATUSES)

    def overlapping(self, start_at, end_at):
        return self.filter(start_at__lt=end_at, busy_until__gt=start_at)


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    class Source(models.TextChoices):
        ONLINE = "online", "Online"
        API = "api", "API"
        PHONE = "phone", "Phone"
        FRONT_DESK = "front_desk", "Front desk"

    LIVE_STATUSES = (Status.BOOKED, Status.CHECKED_IN, Status.COMPLETED)

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="appointments")
    treatment = models.ForeignKey(Treatment, on_delete=models.PROTECT, related_name="appointments")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="appointments")
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    busy_until = models.DateTimeField(
        help_text="End plus the treatment's buffer: practitioner and room are busy until then."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.BOOKED)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.ONLINE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.CharField(max_length=300, blank=True)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start_at"]
        indexes = [
            models.Index(fields=["practitioner", "start_at"]),
            models.Index(fields=["room", "start_at"]),
            models.Index(fields=["patient", "start_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(end_at__gt=F("start_at")), name="appointment_end_after_start"),
            models.CheckConstraint(condition=Q(busy_until__gte=F("end_at")), name="appointment_busy_covers_end"),
        ]

    def __str__(self):
        return f"{self.treatment} with {self.practitioner} for {self.patient} at {self.start_at:%Y-%m-%d %H:%M} UTC"

    @property
    def is_live(self):
        return self.status in self.LIVE_STATUSES


class AppointmentEvent(models.Model):
    """What happened to an appointment, by whom, when and why: booked, moved, cancelled, checked in..."""

    class Action(models.TextChoices):
        BOOKED = "booked", "Booked"
        RESCHEDULED = "rescheduled", "Rescheduled"
        CANCELLED = "cancelled", "Cancelled"
        CHECKED_IN = "checked_in", "Checked in"
        COMPLETED = "completed", "Completed"
        NO_SHOW = "no_show", "Marked no-show"

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    old_start_at = models.DateTimeField(null=True, blank=True)
    new_start_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"
