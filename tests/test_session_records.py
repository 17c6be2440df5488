"""Session records and the practitioner's workspace ('My day', the patient page), through the web layer."""

import datetime
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from clinic import roles
from consultations.models import Consent
from practice.models import SessionArea, SessionRecord
from tests.factories import (
    AppointmentFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    TreatmentFactory,
    make_safe_to_record,
    record_session_for,
    staff_user,
    submitted_intake,
)
from tests.helpers import at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]

VALID = {
    "scale": "hexsel",
    "treated_thighs": "on",
    "grade_thighs": "9",
    "device": "Dermapen 4",
    "needle_depth_mm": "1.50",
    "passes": "3",
    "product": "Hyaluronic serum",
    "reactions": "Mild redness",
    "notes": "Patient tolerated well; discussed home care.",
}


def past_appointment(status=Appointment.Status.CHECKED_IN, hours_ago=2, **kwargs):
    """A session that has begun, for a patient cleared and consented (what a record needs)."""
    start = (timezone.now() - datetime.timedelta(hours=hours_ago)).replace(microsecond=0)
    appointment = AppointmentFactory(start_at=start, status=status, **kwargs)
    make_safe_to_record(appointment.patient)
    return appointment


def record_url(appointment):
    return reverse("practice_session_record", args=[appointment.pk])


@pytest.fixture
def appointment():
    return past_appointment()


@pytest.fixture
def practitioner_client(client, appointment):
    client.force_login(appointment.practitioner.user)
    return client


def test_recording_a_checked_in_session_saves_it_completes_the_appointment_and_says_so(
    practitioner_client, appointment
):
    response = practitioner_client.post(record_url(appointment), VALID, follow=True)
    assert "Session recorded for" in response.content.decode()
    record = SessionRecord.objects.get(appointment=appointment)
    assert (record.device, record.needle_depth_mm, record.passes) == ("Dermapen 4", Decimal("1.50"), 3)
    assert list(record.areas.values_list("area", "scale", "grade")) == [("thighs", "hexsel", 9)]
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.COMPLETED
    assert appointment.events.filter(action="completed", by=appointment.practitioner.user).exists()
    assert response.redirect_chain[-1][0] == reverse("practice_patient", args=[appointment.patient_id])


def test_correcting_a_record_replaces_areas_and_details(practitioner_client, appointment):
    practitioner_client.post(record_url(appointment), VALID)
    changed = {**VALID, "treated_thighs": "", "treated_buttocks": "on", "grade_buttocks": "7", "passes": "4"}
    practitioner_client.post(record_url(appointment), changed)
    record = SessionRecord.objects.get(appointment=appointment)
    assert record.passes == 4
    assert list(record.areas.values_list("area", "grade")) == [("buttocks", 7)]


def test_nurnberger_muller_grades_are_zero_to_three(practitioner_client, appointment):
    data = {**VALID, "scale": "nurnberger_muller", "grade_thighs": "2"}
    practitioner_client.post(record_url(appointment), data)
    assert SessionArea.objects.get().grade == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"needle_depth_mm": "3.5"}, "at most 3.00 mm"),
        ({"needle_depth_mm": "0.1"}, "at least 0.25 mm"),
        ({"grade_thighs": "16"}, "a grade is from 1 to 15"),
        ({"grade_thighs": "0"}, "a grade is from 1 to 15"),
        ({"scale": "nurnberger_muller", "grade_thighs": "4"}, "a grade is from 0 to 3"),
        ({"grade_thighs": ""}, "Give the grade of the thighs"),
        ({"treated_thighs": ""}, "Tick at least one area treated"),
        ({"passes": "0"}, "greater than or equal to 1"),
        ({"device": ""}, "This field is required"),
    ],
)
def test_bad_input_saves_nothing_and_says_why(practitioner_client, appointment, change, message):
    response = practitioner_client.post(record_url(appointment), {**VALID, **change})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was saved" in page and message in page
    assert not SessionRecord.objects.exists()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CHECKED_IN


def test_a_session_not_yet_started_or_cancelled_cannot_be_recorded(client):
    future = AppointmentFactory()  # booked, next week
    cancelled = past_appointment(status=Appointment.Status.CANCELLED, practitioner=future.practitioner)
    client.force_login(future.practitioner.user)
    for appointment, message in [(future, "has not started yet"), (cancelled, "there is no session to record")]:
        response = client.post(record_url(appointment), VALID)
        assert message in response.content.decode()
    assert not SessionRecord.objects.exists()


def test_another_practitioners_appointment_is_404(client, appointment):
    client.force_login(PractitionerFactory().user)
    assert client.get(record_url(appointment)).status_code == 404
    assert client.post(record_url(appointment), VALID).status_code == 404
    assert not SessionRecord.objects.exists()


def test_front_desk_and_patients_cannot_open_the_workspace(client, appointment):
    for user in (staff_user(roles.FRONT_DESK), appointment.patient.user):
        client.force_login(user)
        assert client.get(reverse("my_day")).status_code == 403
        assert client.get(record_url(appointment)).status_code == 403
        assert client.post(record_url(appointment), VALID).status_code == 403
        assert client.get(reverse("practice_patient", args=[appointment.patient_id])).status_code == 403
    assert not SessionRecord.objects.exists()


def test_a_clinic_admin_may_record_and_read(client, sign_in, appointment):
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    client.post(record_url(appointment), VALID)
    page = client.get(reverse("practice_patient", args=[appointment.patient_id])).content.decode()
    assert "discussed home care" in page


def test_patient_page_shows_records_only_to_that_patients_practitioners(client, appointment):
    record_session_for(appointment)
    url = reverse("practice_patient", args=[appointment.patient_id])
    client.force_login(appointment.practitioner.user)
    assert "Private clinical note" in client.get(url).content.decode()
    client.force_login(PractitionerFactory().user)
    assert client.get(url).status_code == 404
    client.force_login(PractitionerFactory().user)
    assert client.get(reverse("practice_patient", args=[999999])).status_code == 404


def test_a_practitioner_with_any_appointment_with_the_patient_sees_the_course(client, appointment):
    record_session_for(appointment)
    colleague = PractitionerFactory()
    AppointmentFactory(patient=appointment.patient, practitioner=colleague)
    client.force_login(colleague.user)
    page = client.get(reverse("practice_patient", args=[appointment.patient_id])).content.decode()
    assert "Private clinical note" in page
    assert client.get(record_url(appointment)).status_code == 404  # reading is not writing someone else's record


def test_every_record_shown_to_staff_is_in_the_audit_trail(practitioner_client, appointment):
    record = record_session_for(appointment)
    practitioner_client.get(reverse("practice_patient", args=[appointment.patient_id]))
    practitioner_client.get(record_url(appointment))
    reads = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(record.pk))
    assert reads.count() == 2
    assert {entry.actor for entry in reads} == {appointment.practitioner.user}
    assert all(entry.additional_data["patient_id"] == appointment.patient_id for entry in reads)
    assert LogEntry.objects.filter(action=LogEntry.Action.CREATE, object_pk=str(record.pk)).exists()


def test_front_desk_learns_only_that_a_session_was_recorded(appointment):
    from practice.selectors import recorded_appointment_ids

    record_session_for(appointment)
    other = past_appointment()
    assert recorded_appointment_ids([appointment.pk, other.pk]) == {appointment.pk}


# --- My day ------------------------------------------------------------------------------------------------


def local_today_at(hour):
    day = timezone.localdate()
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))


@pytest.mark.clock
def test_my_day_lists_todays_appointments_with_screening_and_consent(client):
    practitioner = PractitionerFactory()
    flagged = submitted_intake(keloid_scarring=True).patient
    signed = PatientFactory()
    Consent.objects.create(patient=signed, text_version="2026-11-v1", text="...", signed_name="S", agreed=True)
    AppointmentFactory(practitioner=practitioner, patient=flagged, start_at=local_today_at(9))
    AppointmentFactory(practitioner=practitioner, patient=signed, start_at=local_today_at(11))
    AppointmentFactory(practitioner=PractitionerFactory(), start_at=local_today_at(10))  # someone else's
    AppointmentFactory(practitioner=practitioner, start_at=local_today_at(10) + datetime.timedelta(days=1))
    client.force_login(practitioner.user)
    response = client.get(reverse("my_day"))
    rows = response.context["rows"]
    assert [row.appointment.patient for row in rows] == [flagged, signed]
    page = response.content.decode()
    assert "Flagged: waiting for review" in page and "Review: History of keloid" in page
    assert "Consent not signed" in page and "Consent signed" in page
    assert reverse("review_queue") in page


def test_my_day_switches_dates_and_survives_a_bad_one(client):
    practitioner = PractitionerFactory()
    tomorrow = local_today_at(10) + datetime.timedelta(days=1)
    AppointmentFactory(practitioner=practitioner, start_at=tomorrow)
    client.force_login(practitioner.user)
    day = timezone.localdate() + datetime.timedelta(days=1)
    response = client.get(reverse("my_day"), {"day": day.isoformat()})
    assert len(response.context["rows"]) == 1
    response = client.get(reverse("my_day"), {"day": "not-a-day"}, follow=True)
    assert response.status_code == 200 and "could not be read" in response.content.decode()
    # The day after 9999-12-31 does not exist: that was a 500 (found by tests/test_hostile_input.py).
    response = client.get(reverse("my_day"), {"day": "9999-12-31"})
    assert response.status_code == 200 and response.context["day"] == timezone.localdate()


def test_my_day_on_a_dst_day_covers_the_local_day(client, settings):
    practitioner = PractitionerFactory()
    # 2027-03-28: clocks go forward in London at 01:00 UTC. 00:30 UTC is 00:30 local that day; 21:45 UTC is
    # 22:45 local; 23:00 UTC is already midnight of the 29th.
    early = datetime.datetime(2027, 3, 28, 0, 30, tzinfo=datetime.UTC)
    late = datetime.datetime(2027, 3, 28, 21, 45, tzinfo=datetime.UTC)
    next_day = datetime.datetime(2027, 3, 28, 23, 0, tzinfo=datetime.UTC)
    for start in (early, late, next_day):
        AppointmentFactory(practitioner=practitioner, start_at=start)
    client.force_login(practitioner.user)
    rows = client.get(reverse("my_day"), {"day": "2027-03-28"}).context["rows"]
    assert [row.appointment.start_at for row in rows] == [early, late]


def test_my_day_query_count_is_flat(client, django_assert_max_num_queries):
    practitioner = PractitionerFactory()
    client.force_login(practitioner.user)

    def add(count):
        for _ in range(count):
            patient = submitted_intake(drinks_alcohol=True).patient
            Consent.objects.create(patient=patient, text_version="v0", text="...", signed_name="X", agreed=True)
            appointment = AppointmentFactory(
                practitioner=practitioner,
                patient=patient,
                start_at=yesterday_at_7 + datetime.timedelta(minutes=90 * Appointment.objects.count()),
                status=Appointment.Status.COMPLETED,
            )
            record_session_for(appointment)

    # Yesterday's day, whatever the hour: a session is recorded only once it has begun.
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    yesterday_at_7 = at(yesterday, 7)
    add(1)
    with django_assert_max_num_queries(20) as one:  # session, user, roles, 2FA, then 10 reads for any length
        client.get(reverse("my_day"), {"day": yesterday.isoformat()})
    add(5)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(reverse("my_day"), {"day": yesterday.isoformat()})
    assert len(response.context["rows"]) == 6


def test_patient_page_query_count_is_flat(client, django_assert_max_num_queries):
    patient = PatientFactory()
    practitioner = PractitionerFactory()
    consultation = ConsultationFactory()
    AppointmentFactory(
        patient=patient,
        practitioner=practitioner,
        treatment=consultation,
        status=Appointment.Status.COMPLETED,
        start_at=timezone.now() - datetime.timedelta(days=200),
    )
    treatment = TreatmentFactory()
    client.force_login(practitioner.user)
    client.post(
        reverse("practice_course_plan", args=[patient.pk]),
        {"treatment": treatment.pk, "sessions": 6, "interval_days": 28},
    )

    def add_sessions(count):
        for _ in range(count):
            done = Appointment.objects.filter(patient=patient).count()
            appointment = AppointmentFactory(
                patient=patient,
                practitioner=practitioner,
                treatment=treatment,
                status=Appointment.Status.COMPLETED,
                start_at=timezone.now() - datetime.timedelta(days=190 - 30 * done),
            )
            record_session_for(
                appointment, areas=[("thighs", "hexsel", 12 - done), ("buttocks", "nurnberger_muller", 2)]
            )

    url = reverse("practice_patient", args=[patient.pk])
    add_sessions(1)
    with django_assert_max_num_queries(26) as one:  # a fixed few per page (cleared: +1; alert banner: +3)
        client.get(url)
    add_sessions(4)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(url)
    assert len(response.context["records"]) == 5


def test_a_clinic_admin_sees_every_practitioners_day(client, sign_in):
    first, second = PractitionerFactory(), PractitionerFactory()
    AppointmentFactory(practitioner=first, start_at=local_today_at(9))
    AppointmentFactory(practitioner=second, start_at=local_today_at(10))
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    response = client.get(reverse("my_day"))
    assert [row.appointment.practitioner for row in response.context["rows"]] == [first, second]
    assert f"with {second.name}" in response.content.decode()
