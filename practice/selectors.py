"""Reads for the practitioner's workspace and the patient's progress pages.

Who may read a patient's session records is decided in `clinic.access` (`may_see_patient_records`): clinic
admins, and practitioners who have (or had) an appointment with the patient. The front desk never reads
them; it may learn that a session was recorded (`recorded_appointment_ids`). Pages that list many rows read
them in a fixed number of queries.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Prefetch

from bookings.models import Appointment
from clinic import access, clock, roles
from clinic.models import Patient
from consultations import alerts as clinical_alerts
from consultations import selectors as intake_selectors
from consultations.consent import CONSENT_VERSION
from consultations.models import Consent, IntakeForm, Review, ScreeningFlag

from .course import course_progress
from .models import CoursePlan, IntakeConfirmation, PhotoConsent, SessionArea, SessionPhoto, SessionRecord


def patient_for_clinician(user, patient_id) -> Patient:
    """The patient, if this practitioner may see their records; anyone else's answers 404."""
    patient = Patient.objects.select_related("user").filter(pk=patient_id).first()
    access.found_only_if(patient is not None and access.may_see_patient_records(user, patient), "No such patient.")
    return patient


def appointment_to_record(user, appointment_id) -> Appointment:
    """An appointment this user may write the session record of: their own, or any for a clinic admin."""
    appointments = Appointment.objects.select_related("patient__user", "treatment", "practitioner__user", "room")
    appointment = appointments.filter(pk=appointment_id).first()
    access.found_only_if(
        appointment is not None and access.may_record_session(user, appointment), "No such appointment."
    )
    return appointment


def recorded_appointment_ids(appointment_ids) -> set[int]:
    """Which of these appointments have a session record: all the front desk may know about it."""
    return set(
        SessionRecord.objects.filter(appointment_id__in=list(appointment_ids))
        .order_by()
        .values_list("appointment_id", flat=True)
    )


# --- My day ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentStatus:
    label: str
    tone: str
    photos: bool


@dataclass(frozen=True)
class DayRow:
    appointment: Appointment
    screening: intake_selectors.ScreeningStatus
    flags: list  # ScreeningFlag of the current intake version, most serious first
    consent: ConsentStatus
    recorded: bool
    alerts: clinical_alerts.Banner  # the clinical alert banner: pinned alerts, flags, washouts, conditions


def consent_status(consent: Consent | None, photo_consent: PhotoConsent | None) -> ConsentStatus:
    photos = photo_consent is not None and photo_consent.is_given
    if consent is None:
        return ConsentStatus("Consent not signed", "danger", photos)
    if consent.text_version != CONSENT_VERSION:
        return ConsentStatus(f"Signed an older version ({consent.text_version})", "warning", photos)
    return ConsentStatus(f"Consent signed {consent.signed_at:%-d %b %Y}", "success", photos)


def day_appointments(user, day: datetime.date) -> list[DayRow]:
    """The day's appointments of this practitioner, or of everyone for a clinic admin who is not a
    practitioner: each on its own site's day (a practitioner in Madrid on Sunday sees Madrid's Sunday).
    Ten queries, however many appointments (three of them the alert banners)."""
    start, end = clock.sites_day_bounds(day, day)  # every zone's day: each row's own site decides below
    appointments = Appointment.objects.filter(start_at__gte=start, start_at__lt=end).select_related(
        # A practitioner's day may span sites: each row names its room's site, on that site's clock.
        "patient__user",
        "treatment",
        "practitioner__user",
        "room__site",
    )
    practitioner = getattr(user, "practitioner", None)
    if practitioner is not None and roles.is_practitioner(user):
        appointments = appointments.filter(practitioner=practitioner)
    appointments = [
        a
        for a in appointments.order_by("start_at", "practitioner__user__last_name")
        if clock.on_days(a.start_at, day, day, a.room.site)
    ]
    patient_ids = {a.patient_id for a in appointments}
    intakes = {i.patient_id: i for i in IntakeForm.objects.filter(patient_id__in=patient_ids)}
    reviews, flags, consents = {}, {}, {}
    for review in Review.objects.filter(intake__in=intakes.values()).order_by("-decided_at", "-pk"):
        reviews.setdefault(review.intake_id, review)
    for flag in ScreeningFlag.objects.filter(intake__in=intakes.values(), intake_version=F("intake__version")):
        flags.setdefault(flag.intake_id, []).append(flag)
    for consent in Consent.objects.filter(patient_id__in=patient_ids).order_by("-signed_at"):
        consents.setdefault(consent.patient_id, consent)
    photo_consents = {c.patient_id: c for c in PhotoConsent.objects.filter(patient_id__in=patient_ids)}
    recorded = recorded_appointment_ids(a.pk for a in appointments)
    banners = clinical_alerts.banners(patient_ids)
    rows = []
    for appointment in appointments:
        intake = intakes.get(appointment.patient_id)
        intake_flags = sorted(
            flags.get(intake.pk, []) if intake else [],
            key=lambda f: -SEVERITY_RANK.get(f.severity, 0),
        )
        rows.append(
            DayRow(
                appointment=appointment,
                screening=intake_selectors.status_from(intake, reviews.get(getattr(intake, "pk", None)), intake_flags),
                flags=intake_flags,
                consent=consent_status(
                    consents.get(appointment.patient_id), photo_consents.get(appointment.patient_id)
                ),
                recorded=appointment.pk in recorded,
                alerts=banners[appointment.patient_id],
            )
        )
    return rows


SEVERITY_RANK = {str(k): v for k, v in intake_selectors.Rule.SEVERITY_RANK.items()}


# --- A patient's record ------------------------------------------------------------------------------------


def session_records(patient):
    """The patient's session records, oldest first, with what each page shows already loaded."""
    return (
        SessionRecord.objects.filter(patient=patient)
        .select_related("appointment__treatment", "appointment__practitioner__user", "recorded_by")
        .prefetch_related(
            Prefetch("areas", queryset=SessionArea.objects.order_by("area")),
            Prefetch("photos", queryset=SessionPhoto.objects.order_by("uploaded_at", "pk")),
        )
        .order_by("appointment__start_at")
    )


def patient_appointments(patient):
    return list(
        Appointment.objects.filter(patient=patient)
        .select_related("treatment", "practitioner__user")
        .order_by("-start_at")
    )


def course_plans(patient, appointments=None, today=None) -> list:
    """Each of the patient's plans with where it stands (see `practice.course`)."""
    plans = CoursePlan.objects.filter(patient=patient).select_related("treatment", "practitioner__user")
    if appointments is None:
        appointments = list(Appointment.objects.filter(patient=patient))
    return [course_progress(plan, appointments, today) for plan in plans]


def photo_consent_of(patient) -> PhotoConsent | None:
    return PhotoConsent.objects.filter(patient=patient).first()


def has_photo_consent(patient) -> bool:
    consent = photo_consent_of(patient)
    return consent is not None and consent.is_given


def had_consultation(patient) -> bool:
    """A course is planned after a consultation: one the patient attended (checked in or completed)."""
    return Appointment.objects.filter(
        patient=patient,
        treatment__kind="consultation",
        status__in=[Appointment.Status.CHECKED_IN, Appointment.Status.COMPLETED],
    ).exists()


def photo_for(user, photo_id) -> SessionPhoto:
    """A progress photo this user may see (`clinic.access.may_see_photo`); anyone else's answers 404."""
    photo = SessionPhoto.objects.select_related("record__patient").filter(pk=photo_id).first()
    access.found_only_if(photo is not None and access.may_see_photo(user, photo), "No such photo.")
    return photo


def record_of(appointment) -> SessionRecord | None:
    return SessionRecord.objects.filter(appointment=appointment).prefetch_related("areas", "photos").first()


def confirmation_for(appointment) -> IntakeConfirmation | None:
    return IntakeConfirmation.objects.filter(appointment=appointment).first()


def desk_form_confirmed(sender, **kwargs) -> dict:
    """The desk's calendars, from practice (`bookings.signals.DESK_APPOINTMENT_COLUMNS`): whether the patient
    confirmed their health form for this visit, as an annotation of the calendar's own query."""
    return {"form_confirmed": Exists(IntakeConfirmation.objects.filter(appointment_id=OuterRef("pk")))}


def desk_patient_courses(sender, *, patient, appointments, **kwargs) -> dict:
    """The front desk's patient page, from practice (`bookings.signals.DESK_PATIENT_PAGE`): where each course
    stands (dates and states, nothing clinical)."""
    return {"courses": course_plans(patient, appointments=appointments)}
