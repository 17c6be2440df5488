"""Writes for intakes, reviews, consent and confirmations. Each is one transaction; the intake row is locked
so two tabs (or a patient and a reviewer) cannot interleave a submission and a decision."""

import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from clinic import clock, locks
from clinic.audit import record_access
from clinic.links import absolute_url
from clinic.notices import queue_notice

from . import screening, selectors
from .consent import CONSENT_TEXT, CONSENT_VERSION
from .forms import FREE_TEXT_UNREAD
from .models import Consent, IntakeAccess, IntakeForm, PinnedAlert, Review, ScreeningFlag
from .signals import clearance_suspended


class IntakeError(Exception):
    """A write that is not allowed in the intake's current state; the message is for the user."""


def _locked_intake(patient) -> IntakeForm:
    """Lock the patient row first, as the booking service does, so a submission that suspends a clearance
    and a booking that relies on it happen one after the other."""
    locks.lock_patient(patient)
    intake, _ = IntakeForm.objects.get_or_create(patient=patient)
    return IntakeForm.objects.select_for_update().get(pk=intake.pk)


@transaction.atomic
def save_intake_draft(patient, answers: dict) -> IntakeForm:
    """Progress on a form never sent. A form already sent changes only by a complete submission, so the
    answers a practitioner reviewed are never replaced by half an update."""
    intake = _locked_intake(patient)
    if intake.is_submitted:
        raise IntakeError("Your form was already sent: changes are saved when you send it again, complete.")
    for name, value in answers.items():
        setattr(intake, name, value)
    intake.save()
    return intake


@transaction.atomic
def submit_intake(patient, answers: dict) -> IntakeForm:
    """Save a complete form as a new version, screen it, and decide what happens to a clearance in force:
    a new block or review answer suspends it (and `clearance_suspended` lets bookings tell the practitioners);
    anything else keeps it."""
    intake = _locked_intake(patient)
    previous_serious = _serious_answers(selectors.current_flags(intake)) if intake.is_submitted else set()
    for name, value in answers.items():
        setattr(intake, name, value)
    intake.version += 1
    intake.submitted_at = timezone.now()
    flags = screening.evaluate(intake)
    ScreeningFlag.objects.bulk_create(
        ScreeningFlag(
            intake=intake,
            intake_version=intake.version,
            rule=flag.rule,
            severity=flag.rule.severity,
            topic=flag.rule.topic,
            answer=flag.answer[:240],
            patient_text=flag.rule.patient_text,
            practitioner_text=flag.rule.practitioner_text,
            until=flag.until,
        )
        for flag in flags
    )
    new_serious = {(f.rule.pk, f.answer) for f in flags if f.is_serious} - previous_serious
    clearance = selectors.current_clearances().select_for_update().filter(intake=intake).first()
    if clearance and new_serious:
        topics = sorted({f.rule.topic for f in flags if f.is_serious and (f.rule.pk, f.answer) in new_serious})
        clearance.suspended_at = timezone.now()
        clearance.suspended_reason = ("Health form updated: " + "; ".join(topics))[:300]
        clearance.save(update_fields=["suspended_at", "suspended_reason"])
        intake.status = IntakeForm.Status.AWAITING_REVIEW
        clearance_suspended.send(sender=IntakeForm, intake=intake)
    elif clearance:
        intake.status = IntakeForm.Status.REVIEWED
    else:
        intake.status = IntakeForm.Status.AWAITING_REVIEW
    intake.save()
    return intake


def _serious_answers(flags) -> set:
    return {(flag.rule_id, flag.answer) for flag in flags if flag.is_serious}


@transaction.atomic
def record_review(
    intake: IntakeForm,
    *,
    reviewer,
    decision: str,
    notes: str = "",
    message_to_patient: str = "",
    valid_until: datetime.date | None = None,
    prescriber_advice: str = "",
    prescriber_name: str = "",
    prescriber_role: str = "",
    prescriber_advised_on: datetime.date | None = None,
    free_text_read: bool = False,
    max_needle_depth_mm=None,
    excluded_areas=(),
) -> Review:
    """A practitioner's decision on the intake's current version. It ends any clearance still in force, so a
    patient never has two. The texts the patient reads pass the clinic's medicine-advice rule
    (`Review.clean`, a ValidationError otherwise, nothing written); a prescriber's advice is kept with who
    gave it and when, and the audit trail records it with the review. A form with free-text answers is
    decided only by a reviewer who ticked that they read them (no rule reads free text)."""
    locks.lock_patient(intake.patient)
    intake = IntakeForm.objects.select_for_update().get(pk=intake.pk)
    if not intake.is_submitted:
        raise IntakeError("This form has not been sent yet.")
    if selectors.free_text_answers(intake) and not free_text_read:
        raise IntakeError(FREE_TEXT_UNREAD)
    clears = decision in Review.CLEARING
    if clears and valid_until is None:
        valid_until = clock.today() + datetime.timedelta(days=settings.CLINIC["CLEARANCE_VALID_DAYS"])
    now = timezone.now()
    review = Review(
        intake=intake,
        intake_version=intake.version,
        reviewer=reviewer,
        decision=decision,
        notes=notes,
        message_to_patient=message_to_patient,
        prescriber_advice=prescriber_advice.strip(),
        prescriber_name=prescriber_name.strip(),
        prescriber_role=prescriber_role.strip(),
        prescriber_advised_on=prescriber_advised_on,
        free_text_read=free_text_read,
        max_needle_depth_mm=max_needle_depth_mm,
        excluded_areas=list(excluded_areas),
        decided_at=now,
        valid_until=valid_until if clears else None,
    )
    review.clean()
    selectors.current_clearances().filter(intake=intake).update(
        suspended_at=now, suspended_reason="Replaced by a later decision."
    )
    review.save()
    intake.status = IntakeForm.Status.REVIEWED
    intake.save(update_fields=["status", "updated_at"])
    queue_notice(  # the outcome is read signed in: nothing clinical by email
        kind="review_decided",
        to=[intake.patient.email],
        patient=intake.patient,
        subject="Your health form has been reviewed",
        body=(
            "A practitioner has reviewed your health form. Sign in to see the outcome: "
            f"{absolute_url(reverse('intake_home'))}\n"
        ),
    )
    return review


def sign_consent(patient, *, signed_name: str) -> Consent:
    return Consent.objects.create(
        patient=patient, text_version=CONSENT_VERSION, text=CONSENT_TEXT, signed_name=signed_name, agreed=True
    )


def log_intake_access(intake: IntakeForm, user, view: str) -> IntakeAccess:
    return log_intake_accesses([intake], user, view)[0]


def log_intake_accesses(intakes, user, view: str, *, to_audit_trail: bool = True) -> list[IntakeAccess]:
    """A member of staff was shown these intakes: our own access list (one insert), and unless told
    otherwise the clinic-wide audit trail too, so a patient's trail lists the reads of their health form.
    The review queue (names and flag topics, no answers) stays out of the trail to keep it a fixed cost."""
    accesses = IntakeAccess.objects.bulk_create(IntakeAccess(intake=i, user=user, view=view) for i in intakes)
    if to_audit_trail:
        for intake in intakes:
            record_access(user, intake, what=view)
    return accesses


# --- Pinned clinical alerts (consultations.alerts) ---------------------------------------------------------


def pin_alert(patient, *, by, text: str) -> PinnedAlert:
    """Pin a practitioner-facing alert on the patient's banner ("pacemaker: no RF"). In the audit trail."""
    text = " ".join(text.split())
    if not text:
        raise IntakeError("Write the alert.")
    if len(text) > PinnedAlert._meta.get_field("text").max_length:
        raise IntakeError("Keep the alert to 200 characters.")
    return PinnedAlert.objects.create(patient=patient, text=text, pinned_by=by)


def unpin_alert(patient, *, alert_id: int, by) -> PinnedAlert:
    """Take an alert off the banner. The row stays, with who unpinned it and when (and the audit trail's
    entry), so what staff were warned about is never lost. Unpinning twice is refused."""
    with transaction.atomic():
        locks.lock_patient(patient)  # the clinic's one lock order: patient first
        alert = (
            PinnedAlert.objects.select_for_update()
            .filter(patient=patient, pk=alert_id, unpinned_at__isnull=True)
            .first()
        )
        if alert is None:
            raise IntakeError("That alert is not pinned (any more).")
        alert.unpinned_by = by
        alert.unpinned_at = timezone.now()
        alert.save(update_fields=["unpinned_by", "unpinned_at"])
    return alert
