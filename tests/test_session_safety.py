"""Issue 14 part 2: a session record only when it is safe (consultations.eligibility.session_record_refusal),
and never against a structured condition of the clearance, through the record page."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from clinic import roles
from consultations import services as intake_services
from practice.models import SessionRecord
from tests.factories import (
    AppointmentFactory,
    ConsultationFactory,
    PractitionerFactory,
    make_safe_to_record,
    staff_user,
    submitted_intake,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]

RECORD = {"scale": "hexsel", "treated_thighs": "on", "grade_thighs": "9", "device": "Dermapen 4", "passes": "2"}


def started(**kwargs):
    start = (timezone.now() - datetime.timedelta(hours=1)).replace(microsecond=0)
    return AppointmentFactory(start_at=start, status=Appointment.Status.CHECKED_IN, **kwargs)


def record(client, appointment, **data):
    return client.post(
        reverse("practice_session_record", args=[appointment.pk]), {**RECORD, "needle_depth_mm": "1.0", **data}
    )


def test_a_consultation_gets_no_session_record(client):
    appointment = started(treatment=ConsultationFactory())
    make_safe_to_record(appointment.patient)
    client.force_login(appointment.practitioner.user)
    page = client.get(reverse("practice_session_record", args=[appointment.pk])).content.decode()
    assert "A consultation has no session record" in page and "Save the record" not in page
    record(client, appointment)
    assert not SessionRecord.objects.exists()


def test_no_record_without_a_clearance_or_the_current_consent_unless_an_admin_overrides(client, sign_in):
    appointment = started()
    submitted_intake(appointment.patient, anticoagulants=["warfarin"])  # waiting for review
    client.force_login(appointment.practitioner.user)
    page = client.get(reverse("practice_session_record", args=[appointment.pk])).content.decode()
    assert "has no clearance in force" in page and "Save the record" not in page
    record(client, appointment)
    assert not SessionRecord.objects.exists()

    intake_services.record_review(
        appointment.patient.intake, reviewer=PractitionerFactory().user, decision="cleared", free_text_read=True
    )
    response = record(client, appointment)
    assert "has not signed the current consent" in response.content.decode()
    assert not SessionRecord.objects.exists()

    admin = staff_user(roles.CLINIC_ADMIN)
    sign_in(client, admin)
    page = client.get(reverse("practice_session_record", args=[appointment.pk])).content.decode()
    assert "record it anyway" in page
    record(client, appointment, override_reason="Consent signed on paper; scanned into the notes")
    saved = SessionRecord.objects.get(appointment=appointment)
    assert saved.safety_override_reason == "Consent signed on paper; scanned into the notes"


def test_structured_conditions_are_shown_and_enforced_with_the_condition_quoted(client):
    appointment = started()
    intake = submitted_intake(appointment.patient)
    intake_services.record_review(
        intake,
        reviewer=PractitionerFactory().user,
        decision="cleared_with_conditions",
        message_to_patient="We will keep to a shallow depth and leave your buttocks for now.",
        max_needle_depth_mm=Decimal("0.50"),
        excluded_areas=["buttocks"],
    )
    make_safe_to_record(appointment.patient)
    client.force_login(appointment.practitioner.user)
    page = client.get(reverse("practice_session_record", args=[appointment.pk])).content.decode()
    assert "needle depth at most 0.50 mm; do not treat buttocks" in page
    assert "leave your buttocks for now" in page
    patient_page = client.get(reverse("practice_patient", args=[appointment.patient_id])).content.decode()
    assert "needle depth at most 0.50 mm; do not treat buttocks" in patient_page
    response = record(client, appointment)
    assert "over the limit of 0.50 mm" in response.content.decode()
    assert "needle depth at most 0.50 mm; do not treat buttocks" in response.content.decode()
    response = record(client, appointment, needle_depth_mm="0.5", treated_buttocks="on", grade_buttocks="8")
    assert "Buttocks must not be treated" in response.content.decode()
    assert not SessionRecord.objects.exists()
    record(client, appointment, needle_depth_mm="0.5")
    assert SessionRecord.objects.get(appointment=appointment).needle_depth_mm == Decimal("0.50")


def test_limits_belong_to_a_clearance_with_conditions():
    intake = submitted_intake()
    with pytest.raises(Exception, match="cleared with conditions"):
        intake_services.record_review(
            intake, reviewer=PractitionerFactory().user, decision="cleared", max_needle_depth_mm=Decimal("0.5")
        )
