"""Gating: the one eligibility check the booking service calls, suspension on update, and expiry."""

import datetime
import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from bookings import selectors as booking_selectors
from bookings.models import Appointment
from clinic.models import Patient
from consultations import selectors, services
from consultations.eligibility import check_eligibility
from consultations.models import IntakeForm, Review
from operations.management.commands.seed_demo import DEMO_PINNED_ALERT
from tests.factories import (
    INTAKE_ANSWERS_NO_FLAGS,
    AppointmentFactory,
    ClearedPatientFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    TreatmentFactory,
    clear_patient,
    submitted_intake,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]


@pytest.fixture
def session():
    return TreatmentFactory()


def update(patient, **answers) -> IntakeForm:
    return services.submit_intake(patient, {**INTAKE_ANSWERS_NO_FLAGS, **answers})


def test_a_consultation_is_always_bookable():
    assert check_eligibility(PatientFactory(), ConsultationFactory()).allowed


def test_a_session_that_needs_no_clearance_is_bookable():
    assert check_eligibility(PatientFactory(), TreatmentFactory(needs_cleared_intake=False)).allowed


def test_without_a_form_the_patient_is_sent_to_the_form(session):
    result = check_eligibility(PatientFactory(), session)
    assert not result.allowed
    assert result.next_step_url == reverse("intake_form")
    assert "health form" in result.reason


def test_while_waiting_for_review_the_patient_is_offered_a_consultation(session):
    consultation = ConsultationFactory()
    result = check_eligibility(submitted_intake().patient, session)
    assert not result.allowed
    assert result.next_step_url == consultation.get_absolute_url()
    assert "waiting for a practitioner" in result.reason


@pytest.mark.parametrize("decision", ["needs_information", "declined"])
def test_a_decision_that_does_not_clear_keeps_sessions_closed(session, decision):
    intake = submitted_intake()
    services.record_review(intake, reviewer=PractitionerFactory().user, decision=decision, message_to_patient="?")
    assert not check_eligibility(intake.patient, session).allowed


@pytest.mark.parametrize("decision", ["cleared", "cleared_with_conditions"])
def test_a_clearance_opens_sessions(session, decision):
    patient = clear_patient(decision=decision, message_to_patient="Patch test first.")
    assert check_eligibility(patient, session).allowed


@pytest.mark.clock
def test_a_clearance_expires(session):
    patient = clear_patient(valid_until=timezone.localdate())
    assert check_eligibility(patient, session).allowed
    Review.objects.update(valid_until=timezone.localdate() - datetime.timedelta(days=1))
    result = check_eligibility(patient, session)
    assert not result.allowed
    assert "expired" in result.reason and result.next_step_url == reverse("intake_form")
    assert selectors.screening_status(patient) == selectors.EXPIRED
    update(patient)  # sending the form again puts it back in the queue
    assert selectors.screening_status(patient) == selectors.PENDING
    assert patient.intake in list(selectors.review_queue())


@pytest.mark.parametrize("answers", [{"anticoagulants": ["warfarin"]}, {"pregnant_or_breastfeeding": True}])
def test_a_new_block_or_review_answer_suspends_the_clearance_and_tells_practitioners(
    session, answers, django_capture_on_commit_callbacks
):
    practitioner, unrelated = PractitionerFactory(), PractitionerFactory()
    patient = ClearedPatientFactory()
    reviewer = Review.objects.get(intake__patient=patient).reviewer
    mail.outbox.clear()
    with_session = AppointmentFactory(patient=patient, practitioner=practitioner, treatment=session)
    with django_capture_on_commit_callbacks(execute=True):
        update(patient, **answers)
    result = check_eligibility(patient, session)
    assert not result.allowed and "review it again" in result.reason
    assert selectors.screening_status(patient) == selectors.SUSPENDED
    review = Review.objects.get(intake__patient=patient)
    assert review.suspended_at is not None and "Health form updated" in review.suspended_reason
    assert patient.intake in list(selectors.review_queue())
    # The booked session is flagged to its practitioner, not cancelled.
    assert list(booking_selectors.future_sessions_needing_attention(practitioner)) == [with_session]
    with_session.refresh_from_db()
    assert with_session.status == "booked"
    (message,) = mail.outbox  # the patient's own practitioners: who treats them and who cleared them
    assert sorted(message.to) == sorted([practitioner.user.email, reviewer.email])
    assert unrelated.user.email not in message.to
    assert "Clearance suspended" in message.subject
    assert "warfarin" not in message.body.lower() and "pregnan" not in message.body.lower()


def test_an_advise_only_update_keeps_the_clearance(session):
    patient = ClearedPatientFactory()
    update(patient, drinks_alcohol=True, recent_sun_exposure=True)
    assert check_eligibility(patient, session).allowed
    assert IntakeForm.objects.get(patient=patient).status == "reviewed"


def test_confirming_the_same_serious_answer_again_does_not_suspend(session):
    patient = PatientFactory()
    intake = submitted_intake(patient, anticoagulants=["apixaban"])
    services.record_review(intake, reviewer=PractitionerFactory().user, decision="cleared")
    update(patient, anticoagulants=["apixaban"], goals="Same answers, new words.")
    assert check_eligibility(patient, session).allowed
    update(patient, anticoagulants=["apixaban", "clopidogrel"])
    assert not check_eligibility(patient, session).allowed


def test_a_new_decision_replaces_the_clearance_in_force(session):
    patient = ClearedPatientFactory()
    services.record_review(patient.intake, reviewer=PractitionerFactory().user, decision="declined")
    assert not check_eligibility(patient, session).allowed
    assert selectors.current_clearances().count() == 0


@pytest.mark.clock
def test_future_sessions_needing_attention_skips_cleared_patients_past_and_cancelled_sessions(session):
    practitioner = PractitionerFactory()
    soon = timezone.now().replace(microsecond=0) + datetime.timedelta(days=2)

    def booked(hours_later, **kwargs):
        start = soon + datetime.timedelta(hours=hours_later)
        kwargs.setdefault("treatment", session)
        return AppointmentFactory(practitioner=practitioner, start_at=start, **kwargs)

    not_cleared = booked(0)
    booked(2, patient=ClearedPatientFactory())
    booked(4, treatment=ConsultationFactory())
    booked(0, status="cancelled")
    booked(-24 * 4)
    AppointmentFactory(treatment=session)  # another practitioner's
    assert list(booking_selectors.future_sessions_needing_attention(practitioner)) == [not_cleared]


def test_the_queue_shows_the_practitioner_their_sessions_needing_attention(client, session):
    practitioner = PractitionerFactory()
    appointment = AppointmentFactory(practitioner=practitioner, treatment=session)
    client.force_login(practitioner.user)
    page = client.get(reverse("review_queue")).content.decode()
    assert "upcoming sessions whose patient is not cleared" in page
    assert appointment.patient.full_name in page


def test_screening_status_walks_through_the_states():
    patient = PatientFactory()
    assert selectors.screening_status(patient) == selectors.NO_FORM
    services.save_intake_draft(patient, {"gp_name": "Dr A"})
    assert selectors.screening_status(patient) == selectors.DRAFT
    intake = update(patient, keloid_scarring=True)
    assert selectors.screening_status(patient) == selectors.FLAGGED
    services.record_review(intake, reviewer=PractitionerFactory().user, decision="cleared_with_conditions")
    assert selectors.screening_status(patient) == selectors.CLEARED_WITH_CONDITIONS


# --- Through the booking service ---------------------------------------------------------------


@pytest.fixture
def bookable_slot(session):
    """A practitioner offering the session, a room, and a start time inside their hours a week ahead."""
    from tests.factories import RoomFactory, WorkingHoursFactory

    practitioner = PractitionerFactory(treatments=[session])
    RoomFactory()
    start = (timezone.now() + datetime.timedelta(days=7)).astimezone(timezone.get_current_timezone())
    start = start.replace(hour=10, minute=0, second=0, microsecond=0)
    WorkingHoursFactory(practitioner=practitioner, weekday=start.weekday())
    return practitioner, start


@pytest.mark.parametrize("who", ["patient", "front desk"])
def test_the_booking_service_refuses_a_session_without_clearance_and_books_with_one(session, bookable_slot, who):
    from bookings import services as booking
    from clinic import roles
    from tests.factories import staff_user

    practitioner, start = bookable_slot
    patient = PatientFactory()
    booked_by, source = (patient.user, "online") if who == "patient" else (staff_user(roles.FRONT_DESK), "front_desk")
    kwargs = dict(treatment=session, practitioner=practitioner, start_at=start, booked_by=booked_by, source=source)
    with pytest.raises(booking.NotEligible) as refused:
        booking.book_appointment(patient=patient, **kwargs)
    assert refused.value.next_step_url == reverse("intake_form")
    assert not Appointment.objects.exists()
    clear_patient(patient)
    assert booking.book_appointment(patient=patient, **kwargs).pk


def test_the_booking_service_refuses_after_a_suspension(session, bookable_slot):
    from bookings import services as booking

    practitioner, start = bookable_slot
    patient = ClearedPatientFactory()
    update(patient, bleeding_disorder=True)
    with pytest.raises(booking.NotEligible):
        booking.book_appointment(
            patient=patient,
            treatment=session,
            practitioner=practitioner,
            start_at=start,
            booked_by=patient.user,
            source="online",
        )


def test_seed_demo_leaves_the_demo_patient_cleared_once(session):
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())

    patient = Patient.objects.get(user__email="patient@clinic.example")
    assert check_eligibility(patient, session).allowed
    assert Review.objects.filter(intake__patient=patient).count() == 1
    assert IntakeForm.objects.get(patient=patient).version == 1
    assert patient.consents.count() == 1
    clearance = Review.objects.get(intake__patient=patient)  # a structured condition to show in the demo
    assert clearance.limits_text() == "needle depth at most 1.50 mm; do not treat abdomen"
    assert [a.text for a in patient.pinned_alerts.all()] == [DEMO_PINNED_ALERT]  # and a pinned alert, once


def test_the_booking_page_guides_an_uncleared_patient_to_the_form_and_books_nothing(client, session, bookable_slot):
    practitioner, start = bookable_slot
    patient = PatientFactory()
    client.force_login(patient.user)
    page = client.get(reverse("book_treatment", args=[session.slug])).content.decode()
    assert "practitioner reviews your health form" in page
    assert f'href="{reverse("intake_form")}"' in page
    key = start.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")
    response = client.post(
        reverse("book_confirm", args=[session.slug]), {"practitioner": practitioner.pk, "start": key}
    )
    assert response.status_code == 400
    assert not Appointment.objects.exists()
    clear_patient(patient)
    response = client.post(
        reverse("book_confirm", args=[session.slug]), {"practitioner": practitioner.pk, "start": key}
    )
    assert response.status_code == 302
    assert Appointment.objects.filter(patient=patient).count() == 1
