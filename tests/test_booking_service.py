"""The booking service: book, reschedule, cancel and status changes, with their checks and history."""

import datetime

import pytest
from django.utils import timezone

from bookings import services
from bookings.models import Appointment, AppointmentEvent
from clinic import roles
from consultations.eligibility import Eligibility
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    staff_user,
)
from tests.helpers import at, book_online, open_every_day, set_clock

pytestmark = pytest.mark.django_db

Source = Appointment.Source


def in_days(days):
    return timezone.localdate() + datetime.timedelta(days=days)


@pytest.fixture
def treatment():
    return TreatmentFactory(duration_minutes=60, buffer_after_minutes=15, min_days_between_sessions=28)


@pytest.fixture
def practitioner(treatment):
    RoomFactory(name="Room B"), RoomFactory(name="Room A")
    return open_every_day(PractitionerFactory(treatments=[treatment]))


def test_booking_saves_the_appointment_in_the_first_free_room_and_records_who(treatment, practitioner):
    patient = ClearedPatientFactory()
    appointment = book_online(patient, treatment, practitioner, at(in_days(7), 10))
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    assert appointment.room.name == "Room A"
    assert appointment.end_at - appointment.start_at == datetime.timedelta(minutes=60)
    assert appointment.busy_until - appointment.end_at == datetime.timedelta(minutes=15)
    event = appointment.events.get()
    assert (event.action, event.by, event.new_start_at) == ("booked", patient.user, appointment.start_at)


def test_first_available_books_whoever_is_free(treatment, practitioner):
    start_at = at(in_days(7), 10)
    book_online(ClearedPatientFactory(), treatment, practitioner, start_at)
    colleague = open_every_day(PractitionerFactory(treatments=[treatment]))
    appointment = book_online(ClearedPatientFactory(), treatment, None, start_at)
    assert appointment.practitioner == colleague


def test_a_time_not_offered_is_refused_and_nothing_is_written(treatment, practitioner):
    patient = ClearedPatientFactory()
    for start_at in (at(in_days(7), 10, 5), at(in_days(7), 20), at(in_days(0), 10), at(in_days(200), 10)):
        with pytest.raises(services.SlotNotOffered):
            book_online(patient, treatment, practitioner, start_at)
    assert not Appointment.objects.exists() and not AppointmentEvent.objects.exists()


@pytest.mark.clock
def test_a_taken_time_offers_the_nearest_free_ones(treatment, practitioner):
    start_at = at(in_days(7), 12)
    book_online(ClearedPatientFactory(), treatment, practitioner, start_at)
    with pytest.raises(services.SlotTaken) as error:
        book_online(ClearedPatientFactory(), treatment, practitioner, start_at)
    assert "just taken" in error.value.message
    alternatives = [slot.local_start.strftime("%H:%M") for slot in error.value.alternatives]
    assert alternatives == ["10:30", "10:45", "13:15"]
    assert Appointment.objects.count() == 1


def test_not_eligible_stops_everyone_but_an_admin_override_with_a_reason(treatment, practitioner, monkeypatch):
    monkeypatch.setattr(
        services,
        "check_eligibility",
        lambda patient, treatment: Eligibility(False, "Your intake needs a review first.", "/intake/"),
    )
    patient = ClearedPatientFactory()
    desk = staff_user(roles.FRONT_DESK)
    with pytest.raises(services.NotEligible) as error:
        book_online(patient, treatment, practitioner, at(in_days(7), 10))
    assert (error.value.message, error.value.next_step_url) == ("Your intake needs a review first.", "/intake/")
    with pytest.raises(services.NotEligible):
        book_online(patient, treatment, practitioner, at(in_days(7), 10), booked_by=desk, source=Source.PHONE)
    with pytest.raises(services.NotAllowed):
        book_online(
            patient,
            treatment,
            practitioner,
            at(in_days(7), 10),
            booked_by=desk,
            source=Source.PHONE,
            override_reason="x",
        )
    admin = staff_user(roles.CLINIC_ADMIN)
    appointment = book_online(
        patient, treatment, practitioner, at(in_days(7), 10), booked_by=admin, source=Source.PHONE,
        override_reason="Cleared by Dr Okafor by phone",
    )  # fmt: skip
    assert "Cleared by Dr Okafor by phone" in appointment.events.get().reason


def test_course_interval_holds_on_either_side_and_consultations_are_exempt(treatment, practitioner):
    patient = ClearedPatientFactory()
    book_online(patient, treatment, practitioner, at(in_days(30), 10))
    with pytest.raises(services.CourseIntervalTooShort) as error:
        book_online(patient, treatment, practitioner, at(in_days(50), 10))
    assert "your next session can be from" in error.value.message
    with pytest.raises(services.CourseIntervalTooShort):
        book_online(patient, treatment, practitioner, at(in_days(5), 10))
    book_online(patient, treatment, practitioner, at(in_days(58), 10))
    consultation = ConsultationFactory()
    practitioner.treatments.add(consultation)
    book_online(patient, consultation, practitioner, at(in_days(31), 10))
    book_online(patient, consultation, practitioner, at(in_days(32), 10))


def test_someone_else_cannot_book_for_a_patient(treatment, practitioner):
    with pytest.raises(services.NotAllowed):
        book_online(
            ClearedPatientFactory(), treatment, practitioner, at(in_days(7), 10), booked_by=PatientFactory().user
        )


def test_reschedule_frees_the_old_time_at_once_and_keeps_history(treatment, practitioner):
    patient = ClearedPatientFactory()
    old = at(in_days(7), 10)
    appointment = book_online(patient, treatment, practitioner, old)
    new = at(in_days(8), 14)
    services.reschedule_appointment(appointment, new_start_at=new, by=patient.user, reason="Work")
    appointment.refresh_from_db()
    assert appointment.start_at == new and appointment.status == Appointment.Status.BOOKED
    event = appointment.events.last()
    assert (event.action, event.old_start_at, event.new_start_at, event.reason) == ("rescheduled", old, new, "Work")
    book_online(ClearedPatientFactory(), treatment, practitioner, old)  # the old time is free again


def test_reschedule_may_overlap_its_own_old_time(treatment, practitioner):
    patient = ClearedPatientFactory()
    appointment = book_online(patient, treatment, practitioner, at(in_days(7), 10))
    services.reschedule_appointment(appointment, new_start_at=at(in_days(7), 10, 30), by=patient.user)
    appointment.refresh_from_db()
    assert appointment.start_at == at(in_days(7), 10, 30)


def test_reschedule_onto_a_taken_time_changes_nothing(treatment, practitioner):
    patient = ClearedPatientFactory()
    appointment = book_online(patient, treatment, practitioner, at(in_days(7), 10))
    book_online(ClearedPatientFactory(), treatment, practitioner, at(in_days(7), 14))
    with pytest.raises(services.SlotTaken):
        services.reschedule_appointment(appointment, new_start_at=at(in_days(7), 14), by=patient.user)
    appointment.refresh_from_db()
    assert appointment.start_at == at(in_days(7), 10) and appointment.events.count() == 1


@pytest.mark.clock
def test_cancel_frees_the_time_and_keeps_the_record(treatment, practitioner):
    patient = ClearedPatientFactory()
    start_at = at(in_days(7), 10)
    appointment = book_online(patient, treatment, practitioner, start_at)
    services.cancel_appointment(appointment, by=patient.user, reason="Feeling unwell")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED and appointment.cancelled_at
    assert [e.action for e in appointment.events.all()] == ["booked", "cancelled"]
    assert book_online(ClearedPatientFactory(), treatment, practitioner, start_at).start_at == start_at
    with pytest.raises(services.InvalidStatusChange):
        services.cancel_appointment(appointment, by=patient.user)


@pytest.mark.clock
def test_inside_the_cancellation_window_a_patient_is_told_to_call_but_the_desk_can_act(
    treatment, practitioner, settings
):
    settings.CLINIC = {**settings.CLINIC, "CANCELLATION_WINDOW_HOURS": 24, "MIN_NOTICE_HOURS": 1}
    patient = ClearedPatientFactory()
    soon = timezone.now() + datetime.timedelta(hours=20)
    appointment = AppointmentFactory(patient=patient, practitioner=practitioner, treatment=treatment, start_at=soon)
    with pytest.raises(services.OutsideCancellationWindow) as error:
        services.cancel_appointment(appointment, by=patient.user)
    assert settings.CLINIC["PHONE"] in error.value.message
    with pytest.raises(services.OutsideCancellationWindow):
        services.reschedule_appointment(appointment, new_start_at=at(in_days(9), 10), by=patient.user)
    services.cancel_appointment(appointment, by=staff_user(roles.FRONT_DESK), reason="Called in")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_status_changes_by_staff_with_history(treatment, practitioner, monkeypatch):
    desk = staff_user(roles.FRONT_DESK)
    appointment = AppointmentFactory(practitioner=practitioner, treatment=treatment)
    with pytest.raises(services.NotAllowed):
        services.check_in(appointment, by=appointment.patient.user)
    with pytest.raises(services.InvalidStatusChange):
        services.mark_no_show(appointment, by=desk)  # not yet its time
    set_clock(monkeypatch, appointment.start_at + datetime.timedelta(minutes=5))  # the day and time come
    services.check_in(appointment, by=desk)
    services.complete_appointment(appointment, by=practitioner.user)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.COMPLETED
    assert [e.action for e in appointment.events.all()] == ["checked_in", "completed"]
    with pytest.raises(services.InvalidStatusChange):
        services.check_in(appointment, by=desk)
    past = AppointmentFactory(
        practitioner=practitioner, treatment=treatment, start_at=timezone.now() - datetime.timedelta(hours=3)
    )
    services.mark_no_show(past, by=desk)
    past.refresh_from_db()
    assert past.status == Appointment.Status.NO_SHOW
