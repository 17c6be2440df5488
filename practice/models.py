"""The practitioner's clinical records of treatment sessions: what was done (areas, grades, needle depth),
progress photos and the patient's photo consent, course plans, and the patient's confirmation before a
session that their health form still holds.

These tables were created by the consultations app (migration consultations 0003) and keep their names
(`db_table`): moving the models here changed where the code lives, not where the rows are. Who may read them
is decided in `clinic.access`.
"""

import os
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import BodyArea, Patient
from consultations.models import IntakeForm

from .private_storage import private_storage


class IntakeConfirmation(models.Model):
    """Before a session: the patient confirmed that the intake (this version) is still true."""

    appointment = models.ForeignKey("bookings.Appointment", on_delete=models.CASCADE, related_name="+")
    intake = models.ForeignKey(IntakeForm, on_delete=models.CASCADE, related_name="confirmations")
    intake_version = models.PositiveIntegerField()
    confirmed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "consultations_intakeconfirmation"
        ordering = ["-confirmed_at"]

    def __str__(self):
        return f"Intake v{self.intake_version} confirmed at {self.confirmed_at:%Y-%m-%d %H:%M}"


# --- Treatment sessions: what was done, progress photos, the course plan ------------------------------


class GradingScale(models.TextChoices):
    """Recognised cellulite grading scales, each with its own range (checked in forms and the database)."""

    HEXSEL = "hexsel", "Hexsel Cellulite Severity Scale (1-15)"
    NURNBERGER_MULLER = "nurnberger_muller", "Nürnberger-Müller (0-3)"


GRADE_RANGES = {GradingScale.HEXSEL: (1, 15), GradingScale.NURNBERGER_MULLER: (0, 3)}
NEEDLE_DEPTH_RANGE_MM = (Decimal("0.25"), Decimal("3.00"))
MAX_PASSES = 12


def grade_range(scale: str) -> tuple[int, int]:
    return GRADE_RANGES[GradingScale(scale)]


class SessionRecord(models.Model):
    """What the practitioner did in one appointment. Clinical: practitioners of the patient and admins read
    it (each read recorded); the front desk only learns that one exists; the patient sees grades and dates."""

    appointment = models.OneToOneField("bookings.Appointment", on_delete=models.PROTECT, related_name="session_record")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="session_records")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    device = models.CharField(max_length=120)
    needle_depth_mm = models.DecimalField(
        "needle depth (mm)",
        max_digits=4,
        decimal_places=2,
        validators=[MinValueValidator(NEEDLE_DEPTH_RANGE_MM[0]), MaxValueValidator(NEEDLE_DEPTH_RANGE_MM[1])],
    )
    passes = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(MAX_PASSES)])
    product = models.CharField("serum or product", max_length=160, blank=True)
    reactions = models.TextField(blank=True, help_text="Redness, pinpoint bleeding, swelling...")
    notes = models.TextField("practitioner's notes", blank=True, help_text="Never shown to the patient.")
    safety_override_reason = models.CharField(
        max_length=300,
        blank=True,
        help_text="Recorded although a safety check refused it (no clearance in force, consent not signed...): "
        "a clinic admin's reason, kept with the record and in the audit trail.",
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "consultations_sessionrecord"
        ordering = ["-recorded_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    needle_depth_mm__gte=NEEDLE_DEPTH_RANGE_MM[0], needle_depth_mm__lte=NEEDLE_DEPTH_RANGE_MM[1]
                ),
                name="session_needle_depth_in_range",
            ),
            models.CheckConstraint(condition=Q(passes__gte=1, passes__lte=MAX_PASSES), name="session_passes_in_range"),
        ]

    def __str__(self):
        return f"Session record of appointment {self.appointment_id}"


class SessionArea(models.Model):
    """One area treated in a session, with its cellulite grade on a named scale."""

    record = models.ForeignKey(SessionRecord, on_delete=models.CASCADE, related_name="areas")
    area = models.CharField(max_length=20, choices=BodyArea.choices)
    scale = models.CharField(max_length=20, choices=GradingScale.choices)
    grade = models.PositiveSmallIntegerField()

    class Meta:
        db_table = "consultations_sessionarea"
        ordering = ["record", "area"]
        constraints = [
            models.UniqueConstraint(fields=["record", "area"], name="session_area_once"),
            models.CheckConstraint(
                condition=(Q(scale=GradingScale.HEXSEL, grade__gte=1, grade__lte=15))
                | Q(scale=GradingScale.NURNBERGER_MULLER, grade__gte=0, grade__lte=3),
                name="session_grade_in_scale_range",
            ),
        ]

    def __str__(self):
        return f"{self.get_area_display()}: {self.grade} ({self.scale})"

    @property
    def session_record(self):
        return self.record

    def clean(self):
        low, high = grade_range(self.scale)
        if self.grade is not None and not low <= self.grade <= high:
            raise ValidationError({"grade": f"On this scale a grade is from {low} to {high}."})


class PhotoConsent(models.Model):
    """The patient's own choice to allow progress photos. Withdrawing stops new photos at once."""

    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, related_name="photo_consent")
    given_at = models.DateTimeField(default=timezone.now)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "consultations_photoconsent"

    def __str__(self):
        return f"Photo consent of {self.patient} ({'withdrawn' if self.withdrawn_at else 'given'})"

    @property
    def is_given(self) -> bool:
        return self.withdrawn_at is None


def photo_file_name(instance, filename):
    """A random name: nothing about the patient in the path."""
    return f"session-photos/{uuid.uuid4().hex}{os.path.splitext(filename)[1].lower()}"


class SessionPhoto(models.Model):
    """A progress photo, kept in private storage (`practice.private_storage`), never at a public URL."""

    record = models.ForeignKey(SessionRecord, on_delete=models.CASCADE, related_name="photos")
    area = models.CharField(max_length=20, choices=BodyArea.choices, blank=True)
    image = models.FileField(storage=private_storage, upload_to=photo_file_name)
    content_type = models.CharField(max_length=40)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "consultations_sessionphoto"
        ordering = ["uploaded_at", "pk"]

    def __str__(self):
        return f"Photo {self.pk} of session record {self.record_id}"

    @property
    def session_record(self):
        return self.record


class CoursePlan(models.Model):
    """After a consultation: how many sessions of which treatment, how many days apart. One per patient and
    treatment; setting it again changes it. Where the course stands is computed from bookings
    (`practice.course.course_progress`), never stored."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="course_plans")
    treatment = models.ForeignKey("clinic.Treatment", on_delete=models.PROTECT, related_name="+")
    practitioner = models.ForeignKey("clinic.Practitioner", on_delete=models.PROTECT, related_name="+")
    sessions = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(20)])
    interval_days = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(365)])
    starts_on = models.DateField(default=timezone.localdate, help_text="The first session is due from then.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "consultations_courseplan"
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "treatment"], name="course_plan_once_per_treatment"),
            models.CheckConstraint(condition=Q(sessions__gte=1), name="course_plan_sessions_positive"),
        ]

    def __str__(self):
        return f"{self.sessions} x {self.treatment} every {self.interval_days} days for {self.patient}"
