"""Cached availability (bookings/availability.py, "cached reads"): the same answer as the exact one, never a
time that has been taken, whoever changed the data and however (services, bulk updates, other connections)."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from bookings import availability
from bookings.availability import available_slots, bucket_end, offered_slots
from bookings.models import Appointment, AvailabilityGeneration
from clinic.models import WorkingHours
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)
from tests.helpers import book_online

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def next_weekday(weekday: int) -> datetime.date:
    day = timezone.localdate() + datetime.timedelta(days=3)
    while day.weekday() != weekday:
        day += datetime.timedelta(days=1)
    return day


@pytest.fixture
def clinic():
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=0, needs_cleared_intake=False)
    RoomFactory(name="A")
    day = next_weekday(2)
    practitioner = PractitionerFactory(treatments=[treatment])
    WorkingHoursFactory(practitioner=practitioner, weekday=day.weekday(), start=datetime.time(9), end=datetime.time(12))
    return treatment, practitioner, day


def book_slot(patient, slot):
    treatment = slot.practitioner.treatments.get()  # the clinic fixture offers one
    return book_online(patient, treatment, slot.practitioner, slot.start_at)


def starts(days, day):
    return [slot.local_start.strftime("%H:%M") for slot in days[day]]


def test_the_cached_answer_is_the_exact_answer_as_of_the_end_of_its_time_bucket(clinic):
    treatment, practitioner, day = clinic
    cached = offered_slots(treatment, practitioner, day, day)
    exact = available_slots(treatment, practitioner, day, day, now=bucket_end(timezone.now()))
    assert (
        starts(cached, day)
        == starts(exact, day)
        == ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00"]
    )


def test_a_repeated_question_costs_one_small_query(clinic, django_assert_num_queries):
    treatment, practitioner, day = clinic
    offered_slots(treatment, practitioner, day, day)
    with django_assert_num_queries(1):
        offered_slots(treatment, practitioner, day, day)


def test_a_booking_takes_its_time_out_of_the_cached_answer(clinic):
    treatment, practitioner, day = clinic
    book_slot(PatientFactory(), offered_slots(treatment, practitioner, day, day)[day][0])
    assert starts(offered_slots(treatment, practitioner, day, day), day)[:2] == ["10:00", "10:15"]


def test_a_bulk_update_that_sends_no_signal_still_reaches_the_cache(clinic):
    treatment, practitioner, day = clinic
    appointment = AppointmentFactory(
        practitioner=practitioner,
        treatment=treatment,
        start_at=offered_slots(treatment, practitioner, day, day)[day][0].start_at,
    )
    assert "09:00" not in starts(offered_slots(treatment, practitioner, day, day), day)
    Appointment.objects.filter(pk=appointment.pk).update(status=Appointment.Status.CANCELLED)
    assert "09:00" in starts(offered_slots(treatment, practitioner, day, day), day)


def test_hours_time_off_and_what_a_practitioner_offers_all_reach_the_cache(clinic):
    treatment, practitioner, day = clinic
    assert starts(offered_slots(treatment, practitioner, day, day), day)
    WorkingHours.objects.filter(practitioner=practitioner).update(end=datetime.time(10))
    assert starts(offered_slots(treatment, practitioner, day, day), day) == ["09:00"]
    start = offered_slots(treatment, practitioner, day, day)[day][0].start_at
    TimeOffFactory(practitioner=practitioner, start_at=start, end_at=start + datetime.timedelta(hours=1))
    assert starts(offered_slots(treatment, practitioner, day, day), day) == []
    other = PractitionerFactory(treatments=[treatment])
    WorkingHoursFactory(practitioner=other, weekday=day.weekday(), start=datetime.time(9), end=datetime.time(10))
    assert starts(offered_slots(treatment, None, day, day), day) == ["09:00"]
    other.treatments.remove(treatment)
    assert starts(offered_slots(treatment, None, day, day), day) == []


def test_a_cached_answer_never_offers_a_time_inside_the_minimum_notice():
    treatment = TreatmentFactory(duration_minutes=30, buffer_after_minutes=0)
    RoomFactory(name="A")
    practitioner = PractitionerFactory(treatments=[treatment])
    for weekday in range(7):
        WorkingHoursFactory(
            practitioner=practitioner, weekday=weekday, start=datetime.time(0), end=datetime.time(23, 45)
        )
    now = timezone.now()
    notice = datetime.timedelta(hours=availability.policy("MIN_NOTICE_HOURS"))
    first = (now + notice).astimezone(availability.clinic_zone()).date()
    days = offered_slots(treatment, practitioner, first, first + datetime.timedelta(days=1), now=now)
    earliest = min(slot.start_at for slots in days.values() for slot in slots)
    # Served until the bucket ends: every time offered is still far enough ahead at that moment.
    assert earliest >= bucket_end(now) + notice
    assert earliest - (bucket_end(now) + notice) < datetime.timedelta(minutes=15)


@pytest.mark.django_db(transaction=True)
def test_a_write_made_on_another_connection_is_seen_once_it_commits_and_not_before(clinic):
    """A reader that looks while another request's booking is still uncommitted caches what it saw under
    the old generation; the commit moves the generation on, so the next read is right."""
    treatment, practitioner, day = clinic
    slot = offered_slots(treatment, practitioner, day, day)[day][0]
    patient = PatientFactory()
    inserted, release = threading.Event(), threading.Event()

    def book_and_wait_before_commit():
        from django.db import transaction

        try:
            with transaction.atomic():
                book_slot(patient, slot)
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=book_and_wait_before_commit)
    writer.start()
    assert inserted.wait(10)
    assert starts(offered_slots(treatment, practitioner, day, day), day)[0] == "09:00"  # not committed yet
    release.set()
    writer.join(10)
    assert starts(offered_slots(treatment, practitioner, day, day), day)[0] == "10:00"


def test_a_lost_counter_row_comes_back_past_every_value_it_had(clinic):
    treatment, practitioner, day = clinic
    offered_slots(treatment, practitioner, day, day)
    before = availability.availability_generation()
    AvailabilityGeneration.objects.all().delete()
    assert availability.availability_generation() > before
    WorkingHours.objects.filter(practitioner=practitioner).delete()  # the triggers bump the new row
    assert offered_slots(treatment, practitioner, day, day)[day] == []


def test_the_cache_can_be_turned_off(clinic, settings, django_assert_num_queries):
    treatment, practitioner, day = clinic
    settings.AVAILABILITY_CACHE = False
    offered_slots(treatment, practitioner, day, day)
    with django_assert_num_queries(6):  # the whole computation (closures included), every time
        offered_slots(treatment, practitioner, day, day)


def api_days(client, treatment, day):
    response = client.get(
        "/api/v1/availability/", {"treatment": treatment.slug, "from": day.isoformat(), "to": day.isoformat()}
    )
    assert response.status_code == 200, response.content
    return response.json()["days"]


def test_the_api_answers_a_repeated_question_from_one_small_query(clinic, client, django_assert_num_queries):
    treatment, _, day = clinic
    first = api_days(client, treatment, day)
    with django_assert_num_queries(1):
        assert api_days(client, treatment, day) == first


def test_one_patients_course_interval_never_reaches_anyone_elses_answer(clinic, client):
    treatment, practitioner, day = clinic
    treatment.min_days_between_sessions = 28
    treatment.save()
    patient = PatientFactory()
    AppointmentFactory(
        patient=patient,
        treatment=treatment,
        start_at=offered_slots(treatment, practitioner, day, day)[day][-1].start_at,
    )
    client.force_login(patient.user)
    (mine,) = api_days(client, treatment, day)
    assert mine["unavailable_reason"] and mine["slots"] == []
    client.logout()
    (theirs,) = api_days(client, treatment, day)
    assert theirs["unavailable_reason"] == "" and theirs["slots"]
