"""Writes of the practitioner's workspace: session records, progress photos, photo consent, course plans, and
the patient's confirmation before a session that their health form still holds.

Each write is one transaction. Recording a session locks the patient's row first (the booking service's
order), and completes a checked-in appointment through `bookings.services.complete_appointment`, so its
history and aftercare reminders follow as for any completion.
"""

from django.db import transaction
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Appointment
from clinic import access, clock, locks
from consultations import eligibility
from consultations.models import IntakeForm
from consultations.services import IntakeError

from . import selectors
from .models import CoursePlan, IntakeConfirmation, PhotoConsent, SessionArea, SessionPhoto, SessionRecord
from .photos import check_photo


class RecordingError(Exception):
    """A write refused in the current state; the message is for the user."""


RECORD_FIELDS = ("device", "needle_depth_mm", "passes", "product", "reactions", "notes")


@transaction.atomic
def record_session(
    appointment, *, by, details: dict, areas: list[tuple[str, str, int]], photo=None, override_reason: str = ""
):
    """Write (or rewrite) the record of a session. `areas`: (area, scale, grade) for each area treated.
    Completes the appointment if it is checked in, or booked and its time has come.

    Only when it is safe (`consultations.eligibility.session_record_refusal`: a treatment session, started,
    clearance in force, current consent signed), unless a clinic admin overrides with a reason kept on the
    record; never against a structured condition of the clearance (depth, excluded areas), which nobody
    overrides here: the practitioner changes the clearance first."""
    locks.lock_patient(appointment.patient)
    appointment = Appointment.objects.select_related("treatment", "patient__user").get(pk=appointment.pk)
    override_reason = (override_reason or "").strip()
    if override_reason and not access.may_override_eligibility(by):
        raise RecordingError("Only a clinic admin can override the safety checks.")
    if clock.is_upcoming(appointment.start_at) or appointment.treatment.is_consultation:
        override_reason = ""  # never: nothing to record yet, or nothing that was needled
    if (refusal := eligibility.session_record_refusal(appointment)) and not override_reason:
        raise RecordingError(refusal)
    if refusal := eligibility.limits_refusal(
        appointment.patient, needle_depth_mm=details.get("needle_depth_mm"), areas=[area for area, _, _ in areas]
    ):
        raise RecordingError(refusal)
    if appointment.status in (Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN):
        booking_services.complete_appointment(appointment, by=by)
    elif appointment.status != Appointment.Status.COMPLETED:
        raise RecordingError(
            f"This appointment is {appointment.get_status_display().lower()}: there is no session to record."
        )
    if not areas:
        raise RecordingError("Choose at least one area treated.")
    record, _ = SessionRecord.objects.update_or_create(
        appointment=appointment,
        defaults={
            "patient_id": appointment.patient_id,
            "recorded_by": by,
            "safety_override_reason": override_reason[:300],
            **{k: details[k] for k in RECORD_FIELDS},
        },
    )
    _keep_areas(record, areas)
    if photo is not None:
        add_photo(record, photo, by=by)
    return record


def _keep_areas(record, areas) -> None:
    """Change only the areas that changed: a correction that keeps an area keeps its row (and its audit
    trail), and an unchanged save writes nothing."""
    wanted = {area: (scale, grade) for area, scale, grade in areas}
    record.areas.exclude(area__in=wanted).delete()
    current = {row.area: row for row in record.areas.all()}
    for area, (scale, grade) in wanted.items():
        row = current.get(area)
        if row is None:
            SessionArea.objects.create(record=record, area=area, scale=scale, grade=grade)
        elif (row.scale, row.grade) != (scale, grade):
            row.scale, row.grade = scale, grade
            row.save(update_fields=["scale", "grade"])


@transaction.atomic
def add_photo(record, upload, *, by, area="") -> SessionPhoto:
    if not selectors.has_photo_consent(record.patient):
        raise RecordingError("The patient has not agreed to progress photos: no photo was kept.")
    checked = check_photo(upload)
    upload.name = f"photo{checked.extension}"
    return SessionPhoto.objects.create(
        record=record, area=area, image=upload, content_type=checked.content_type, uploaded_by=by
    )


@transaction.atomic
def give_photo_consent(patient) -> PhotoConsent:
    locks.lock_patient(patient)
    consent, _ = PhotoConsent.objects.update_or_create(
        patient=patient, defaults={"given_at": timezone.now(), "withdrawn_at": None}
    )
    return consent


@transaction.atomic
def withdraw_photo_consent(patient) -> PhotoConsent | None:
    locks.lock_patient(patient)
    consent = PhotoConsent.objects.select_for_update().filter(patient=patient).first()
    if consent is not None and consent.is_given:
        consent.withdrawn_at = timezone.now()
        consent.save(update_fields=["withdrawn_at"])
    return consent


@transaction.atomic
def set_course_plan(patient, *, treatment, sessions: int, interval_days: int, practitioner) -> CoursePlan:
    """Plan (or re-plan) a course after a consultation. The interval cannot be shorter than the treatment's
    minimum (`Treatment.interval_problem`), which bookings hold between sessions anyway."""
    if treatment.is_consultation:
        raise RecordingError("A course is planned for a treatment session, not a consultation.")
    if problem := treatment.interval_problem(interval_days):
        raise RecordingError(problem)
    if not selectors.had_consultation(patient):
        raise RecordingError("Plan a course after the patient's consultation (checked in or completed).")
    plan, _ = CoursePlan.objects.update_or_create(
        patient=patient,
        treatment=treatment,
        defaults={"sessions": sessions, "interval_days": interval_days, "practitioner": practitioner},
    )
    return plan


@transaction.atomic
def confirm_intake_unchanged(appointment) -> IntakeConfirmation:
    """Before a session: the patient says their health form (its current version) still holds."""
    locks.lock_patient(appointment.patient)
    intake = IntakeForm.objects.select_for_update().filter(patient_id=appointment.patient_id).first()
    if intake is None or not intake.is_submitted:
        raise IntakeError("Please fill in and send your health form first.")
    return IntakeConfirmation.objects.create(appointment=appointment, intake=intake, intake_version=intake.version)
