"""Cached availability (bookings/availability.py, "cached reads"): the same answer as the exact one, never a
time that has been taken, whoever changed the data and however (services, bulk updates, other connections)."""

import datetime
import threading
import time

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from bookings import availability, services
from bookings.availability import CACHE_BUCKET_SECONDS, available_slots, bucket_end, offered_slots
from bookings.models import Appointment, AvailabilityScope
from clinic import clock
from clinic.models import Room, WorkingHours
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)
from tests.helpers import at, book_online

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _inside_one_time_bucket():
    """Answers are filed per time bucket (`CACHE_BUCKET_SECONDS`): a test that asks twice and expects the
    second answer from the cache would see it computed again had the bucket turned in between (seen once, at
    06:00:00). Each test starts a minute into the bucket it runs in, its clock ticking on from there."""
    now = time.time()
    with time_machine.travel(now - now % CACHE_BUCKET_SECONDS + 60, tick=True):
        yield


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


def test_an_answer_read_inside_a_rolled_back_booking_is_never_served_after_another_booking(clinic):
    """A transaction that books, reads the times (caching them under the values its booking wrote) and then
    rolls back takes those values back with it. The next booking must not write the same values again, or
    the kept answer (which holds the rolled-back booking, not this one) would offer this booking's time."""
    treatment, practitioner, day = clinic
    first, second, last = offered_slots(treatment, practitioner, day, day)[day][:9:4]  # 09:00, 10:00, 11:00
    book_slot(PatientFactory(), last)  # the day's scope rows exist from here on: later writes bump them
    with pytest.raises(RuntimeError), transaction.atomic():
        book_slot(PatientFactory(), first)
        assert starts(offered_slots(treatment, practitioner, day, day), day)[0] == "10:00"  # kept, then undone
        raise RuntimeError("the payment failed")
    book_slot(PatientFactory(), second)
    after = starts(offered_slots(treatment, practitioner, day, day), day)
    assert after[0] == "09:00" and "10:00" not in after


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
    # A fixed morning moment (tomorrow 06:02 in London): the notice then ends in the afternoon, on a grid time
    # that fits before the spans close, whatever the hour the suite runs at.
    now = at(timezone.localdate() + datetime.timedelta(days=1), 6, 2)
    notice = datetime.timedelta(hours=availability.policy("MIN_NOTICE_HOURS"))
    first = (now + notice).astimezone(clock.zone()).date()
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


def test_every_reader_of_a_kept_answer_gets_their_own_copy(clinic):
    """The booking pages' answers are thawed for every reader (only the API's JSON bytes are handed out as they
    are kept): one reader changing theirs never reaches the next."""
    treatment, practitioner, day = clinic
    offered_slots(treatment, practitioner, day, day)[day].clear()
    assert starts(offered_slots(treatment, practitioner, day, day), day)[0] == "09:00"


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_reads_the_scopes_again_and_sees_a_booking(clinic, django_assert_num_queries):
    """The scope read's arguments are rendered once per answer, its statement prepared once per connection:
    on a new connection (CONN_MAX_AGE, a lost one) it is prepared again with the same arguments."""
    treatment, practitioner, day = clinic
    slot = offered_slots(treatment, practitioner, day, day)[day][0]
    connection.close()
    with django_assert_num_queries(1):
        assert starts(offered_slots(treatment, practitioner, day, day), day)[0] == "09:00"
    book_slot(PatientFactory(), slot)
    connection.close()
    assert starts(offered_slots(treatment, practitioner, day, day), day)[0] == "10:00"


def test_a_lost_scope_row_comes_back_past_every_value_it_had(clinic):
    treatment, practitioner, day = clinic
    offered_slots(treatment, practitioner, day, day)
    before = availability.clinic_version()
    AvailabilityScope.objects.all().delete()
    assert availability.clinic_version() > before
    WorkingHours.objects.filter(practitioner=practitioner).delete()  # the triggers bump the new row
    assert offered_slots(treatment, practitioner, day, day)[day] == []


@pytest.mark.clock  # the UTC dates read move with the season of the day asked
def test_an_answer_reads_exactly_the_scopes_it_names():
    """An answer reads its practitioners' and rooms' scopes as one range of names each (`ScopeRead`) and sums
    the values: the rows summed are exactly the scopes it depends on, whatever else the table holds (a room
    or practitioner whose id starts with the same digit, the dates either side, another practitioner, the
    old rows: per date for every room, one for all of a practitioner's days)."""
    first, last = next_weekday(2), next_weekday(2) + datetime.timedelta(days=1)
    # What an answer for these two local days depends on: the clinic, and its practitioner and its room on
    # every UTC date from the first day's local midnight to the end of the last plus the longest appointment
    # (in summer the UTC date before the first day too: London's midnight is 23:00 UTC); no travel time.
    start, end = at(first, 0), at(last + datetime.timedelta(days=1), 0) + availability.LONGEST_APPOINTMENT
    last_date = (end - datetime.timedelta(microseconds=1)).date()
    room_dates = [start.date() + datetime.timedelta(days=n) for n in range((last_date - start.date()).days + 1)]
    read = [
        availability.CLINIC_SCOPE,
        *(f"practitioner:1:{date.isoformat()}" for date in room_dates),
        *(f"room:1:{date.isoformat()}" for date in room_dates),
    ]
    dates = [first + datetime.timedelta(days=offset) for offset in range(-2, 4)]
    rows = [
        availability.CLINIC_SCOPE,
        *(availability.practitioner_scope(p_id, date) for p_id in (1, 10) for date in dates),
        "practitioner:1",
        *(availability.room_scope(room_id, date) for room_id in (1, 10, 2) for date in dates),
        f"rooms:{first.isoformat()}",
    ]
    assert set(read) < set(rows)  # every row read is there, beside rows that must not be
    AvailabilityScope.objects.all().delete()
    # A value a row: the sum says which rows were read.
    AvailabilityScope.objects.bulk_create(AvailabilityScope(scope=scope, value=2**n) for n, scope in enumerate(rows))
    clinic, total = availability.answer_read([1], [1], first, last, travel=datetime.timedelta(0)).state()
    assert clinic == 1 and total == sum(2 ** rows.index(scope) for scope in read)


def test_the_cache_can_be_turned_off(clinic, settings, django_assert_num_queries):
    """Every answer computed, as of now; the set-up still from the catalogue of the current "clinic" value."""
    treatment, practitioner, day = clinic
    settings.AVAILABILITY_CACHE = False
    assert starts(offered_slots(treatment, practitioner, day, day), day)[0] == "09:00"
    with django_assert_num_queries(1):  # the busy rows, read with the clinic's value, every time
        offered_slots(treatment, practitioner, day, day)
    WorkingHours.objects.filter(practitioner=practitioner).update(start=datetime.time(10))
    assert starts(offered_slots(treatment, practitioner, day, day), day)[0] == "10:00"


def test_with_the_cache_off_an_answer_that_reads_no_busy_rows_still_confirms_its_catalogue(clinic, settings, client):
    """A question the process's catalogue would refuse (a treatment added since it was loaded) is asked
    again of the current one: the busy rows' statement confirms the catalogue of an answer that reads them,
    and one that does not (a refusal) confirms it with a query of its own."""
    treatment, practitioner, day = clinic
    settings.AVAILABILITY_CACHE = False
    assert api_days(client, treatment, day)[0]["slots"]  # the catalogue is loaded
    added = TreatmentFactory(slug="added-since", duration_minutes=60, needs_cleared_intake=False)
    practitioner.treatments.add(added)
    (answer,) = api_days(client, added, day)
    assert answer["slots"][0]["start"][11:16] == "09:00" and answer["slots"][-1]["start"][11:16] == "11:00"
    added.active = False
    added.save()
    response = client.get("/api/v1/availability/", {"treatment": added.slug, "from": day, "to": day})
    assert response.status_code == 400, response.content


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


# --- invalidation by what changed (scopes) ----------------------------------------------------------------


@pytest.fixture
def two_practitioners():
    """Two practitioners who work 09:00-12:00 on two coming Wednesdays, sharing one room."""
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=0, needs_cleared_intake=False)
    RoomFactory(name="A")
    day = next_weekday(2)
    practitioners = [PractitionerFactory(treatments=[treatment]) for _ in range(2)]
    for practitioner in practitioners:
        WorkingHoursFactory(
            practitioner=practitioner, weekday=day.weekday(), start=datetime.time(9), end=datetime.time(12)
        )
    return treatment, practitioners, day, day + datetime.timedelta(days=7)


def test_a_booking_leaves_the_answers_for_other_days_cached(two_practitioners, django_assert_num_queries):
    treatment, (first, second), day, next_week = two_practitioners
    later = offered_slots(treatment, second, next_week, next_week)
    book_slot(PatientFactory(), offered_slots(treatment, first, day, day)[day][0])
    with django_assert_num_queries(1):  # still served from the cache
        assert offered_slots(treatment, second, next_week, next_week) == later
    assert starts(offered_slots(treatment, first, day, day), day)[0] == "10:00"


def test_a_booking_takes_its_room_from_every_practitioners_answer_that_day(two_practitioners):
    """The one room is shared: once the first practitioner has it at 09:00, the second cannot offer 09:00."""
    treatment, (first, second), day, _ = two_practitioners
    assert starts(offered_slots(treatment, second, day, day), day)[0] == "09:00"
    book_slot(PatientFactory(), offered_slots(treatment, first, day, day)[day][0])
    assert starts(offered_slots(treatment, second, day, day), day)[0] == "10:00"
    assert starts(offered_slots(treatment, None, day, day), day)[0] == "10:00"


def test_time_off_reaches_its_practitioners_answers_and_leaves_the_others_cached(
    two_practitioners, django_assert_num_queries
):
    treatment, (first, second), day, _ = two_practitioners
    theirs = offered_slots(treatment, second, day, day)
    TimeOffFactory(practitioner=first, start_at=at(day, 9), end_at=at(day, 12))
    assert offered_slots(treatment, first, day, day)[day] == []
    with django_assert_num_queries(1):
        assert offered_slots(treatment, second, day, day) == theirs
    assert starts(offered_slots(treatment, None, day, day), day)[0] == "09:00"  # the second practitioner's


def test_an_update_that_changes_nothing_availability_reads_keeps_the_answers(clinic, django_assert_num_queries):
    treatment, practitioner, day = clinic
    appointment = book_slot(PatientFactory(), offered_slots(treatment, practitioner, day, day)[day][0])
    offered_slots(treatment, practitioner, day, day)
    Appointment.objects.filter(pk=appointment.pk).update(updated_at=timezone.now())
    with django_assert_num_queries(1):
        offered_slots(treatment, practitioner, day, day)


def test_a_practitioners_rename_reaches_the_cache_and_a_sign_in_or_a_patients_rename_does_not(clinic):
    """The catalogue shows practitioners by their users' names (bookings 0022): renaming one is a change to
    the set-up; a sign-in, a password or a patient's rename is not, and keeps every answer."""
    treatment, practitioner, day = clinic
    assert {slot.practitioner.name for slot in offered_slots(treatment, None, day, day)[day]} == {practitioner.name}
    patient = PatientFactory()
    before = availability.clinic_version()
    patient.user.first_name = "Renamed"
    patient.user.save()
    practitioner.user.last_login = timezone.now()
    practitioner.user.set_password("a new password 2027")
    practitioner.user.save()
    assert availability.clinic_version() == before
    practitioner.user.first_name, practitioner.user.last_name = "Zoe", "Okafor"
    practitioner.user.save()
    assert availability.clinic_version() != before
    assert {slot.practitioner.name for slot in offered_slots(treatment, None, day, day)[day]} == {"Zoe Okafor"}


def test_an_appointment_across_midnight_utc_bumps_both_dates_of_its_room_as_answers_read_them(clinic):
    treatment, practitioner, day = clinic
    room = RoomFactory(name="A")
    start = datetime.datetime.combine(day, datetime.time(23, 30), tzinfo=datetime.UTC)
    end = start + datetime.timedelta(hours=1)
    assert availability.utc_dates(start, end) == [day, day + datetime.timedelta(days=1)]  # as answers read them
    scopes = [f"room:{room.pk}:{day.isoformat()}", f"room:{room.pk}:{(day + datetime.timedelta(days=1)).isoformat()}"]
    scopes += [
        availability.practitioner_scope(practitioner.pk, date) for date in (day, day + datetime.timedelta(days=1))
    ]
    before = availability.scope_versions(scopes)
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=room, start_at=start)
    after = availability.scope_versions(scopes)
    assert all(after[scope] != before.get(scope) for scope in scopes)


def practitioner_api_times(client, treatment, practitioner, day) -> list[str]:
    """The start times the API offers a practitioner on one day, as a user reads them."""
    response = client.get(
        "/api/v1/availability/",
        {"treatment": treatment.slug, "practitioner": practitioner.slug, "from": day, "to": day},
    )
    assert response.status_code == 200, response.content
    (answer,) = response.json()["days"]
    return [slot["start"] for slot in answer["slots"]]


def test_a_booking_the_next_morning_leaves_a_days_answers_cached(two_practitioners, client, django_assert_num_queries):
    """An answer reads its rooms on the UTC dates its times can touch, from the earliest start of a working
    span to the latest end plus the longest buffer (`Catalogue.day_span`), not on the day after: a booking
    early the next day in the same room (the first day of next week's answers) leaves it cached."""
    treatment, (first, second), day, _ = two_practitioners
    theirs = practitioner_api_times(client, treatment, second, day)
    next_day = day + datetime.timedelta(days=1)
    AppointmentFactory(practitioner=first, treatment=treatment, room=Room.objects.get(), start_at=at(next_day, 9))
    with django_assert_num_queries(1):  # still served from the cache
        assert practitioner_api_times(client, treatment, second, day) == theirs
    # The first practitioner's answers read their own bookings, any day: computed again (the same times).
    assert practitioner_api_times(client, treatment, first, day) == theirs


def test_a_booking_after_midnight_takes_out_a_late_time_whose_buffer_runs_into_it(client):
    """The other side of the same bound: a time late in the day whose buffer keeps the room busy past
    midnight reads the next date's room scopes too, so a booking in that room just after midnight (by
    another practitioner) takes it out of the cached answer."""
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=90, needs_cleared_intake=False)
    room = RoomFactory(name="A")
    day = next_weekday(2)
    late, other = PractitionerFactory(treatments=[treatment]), PractitionerFactory(treatments=[treatment])
    WorkingHoursFactory(practitioner=late, weekday=day.weekday(), start=datetime.time(20), end=datetime.time(23))
    times, next_day = practitioner_api_times(client, treatment, late, day), day + datetime.timedelta(days=1)
    assert len(times) == 9 and times[-1].startswith(f"{day.isoformat()}T22:00")
    AppointmentFactory(practitioner=other, treatment=treatment, room=room, start_at=at(next_day, 0))
    # 21:45 and 22:00 keep the room busy past midnight (until 00:15 and 00:30): taken out; 21:30 frees it at 00:00.
    assert practitioner_api_times(client, treatment, late, day) == times[:-2]


def test_a_booking_leaves_its_practitioners_answers_for_other_weeks_cached(
    two_practitioners, client, django_assert_num_queries
):
    """A practitioner's scopes are per UTC date (bookings 0024): their booking next week leaves their answer
    for this week cached, and reaches next week's. First available reads each practitioner's scope for all
    their days (bookings 0025: one row a practitioner), so it is computed again: the same times."""
    treatment, (first, _), day, next_week = two_practitioners
    theirs = practitioner_api_times(client, treatment, first, day)
    anyone = api_days(client, treatment, day)
    later = practitioner_api_times(client, treatment, first, next_week)
    book_online(PatientFactory(), treatment, first, at(next_week, 9))
    with django_assert_num_queries(1):  # still served from the cache
        assert practitioner_api_times(client, treatment, first, day) == theirs
    assert api_days(client, treatment, day) == anyone
    assert practitioner_api_times(client, treatment, first, next_week) == later[4:]  # 09:00 to 10:00 taken


def test_time_off_reaches_the_answers_of_its_dates_only(two_practitioners, client, django_assert_num_queries):
    treatment, (first, _), day, next_week = two_practitioners
    theirs = practitioner_api_times(client, treatment, first, day)
    TimeOffFactory(practitioner=first, start_at=at(next_week, 9), end_at=at(next_week, 12))
    with django_assert_num_queries(1):
        assert practitioner_api_times(client, treatment, first, day) == theirs
    assert practitioner_api_times(client, treatment, first, next_week) == []
    TimeOffFactory(practitioner=first, start_at=at(day - datetime.timedelta(days=1), 9), end_at=at(day, 10))
    assert practitioner_api_times(client, treatment, first, day) == theirs[4:]  # from 10:00


def test_a_booking_bumps_only_its_practitioner_and_its_room(two_practitioners):
    """Per practitioner and per room (bookings 0020): another room's row and another practitioner's row are
    not written, so bookings elsewhere never wait on them."""
    treatment, (first, second), day, _ = two_practitioners
    room, other_room = RoomFactory(name="A"), RoomFactory(name="B")
    bounds = clock.day_bounds_utc(day, day)
    dates = [*availability.utc_dates(*bounds), day + datetime.timedelta(days=7)]
    watched = [
        *(availability.practitioner_scope(p.pk, date) for p in (first, second) for date in [*dates, None]),
        *(availability.room_scope(r.pk, date) for r in (room, other_room) for date in dates),
    ]
    before = availability.scope_versions(watched)
    book_online(PatientFactory(), treatment, first, at(day, 9), room=room)
    after = availability.scope_versions(watched)
    changed = {scope for scope in watched if after.get(scope) != before.get(scope)}
    assert changed == {
        availability.practitioner_scope(first.pk, day),
        availability.practitioner_scope(first.pk),  # for all their days: what first available reads
        availability.room_scope(room.pk, day),
    }


def race_readers_against_bookers(make_reader, *, booking_slots, reads: int) -> None:
    """Real threads on PostgreSQL: two book, one by one, times offered for three practitioners sharing two
    rooms (`booking_slots`), while two others read answers over and over, each through its own
    `make_reader(treatment, practitioners, day)`: a function giving every time offered, as (practitioner id,
    start, end), for each practitioner and first available. Every answer a reader gets must be free of every
    booking that had committed before it asked: no time of a practitioner already booked, and no time at which
    both rooms were already taken."""
    from django.db import connections

    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=0, needs_cleared_intake=False)
    rooms = [RoomFactory(name="A"), RoomFactory(name="B")]
    day = next_weekday(2)
    practitioners = [PractitionerFactory(treatments=[treatment]) for _ in range(3)]
    for practitioner in practitioners:
        WorkingHoursFactory(
            practitioner=practitioner, weekday=day.weekday(), start=datetime.time(9), end=datetime.time(17)
        )
    patients = [PatientFactory() for _ in range(16)]
    committed: list[tuple] = []  # (practitioner id, room id, start, busy until) of each committed booking
    lock = threading.Lock()
    done = threading.Event()
    failures: list[str] = []

    def booker(offset):
        try:
            for n in range(8):
                patient = patients[offset * 8 + n]
                for practitioner in practitioners[offset:] + practitioners[:offset]:
                    slots = booking_slots(treatment, practitioner, day, day)[day]
                    if not slots:
                        continue
                    try:
                        appointment = book_online(patient, treatment, practitioner, slots[n % len(slots)].start_at)
                    except services.BookingError:
                        continue  # the other booker took it first: the usual "just taken"
                    with lock:
                        committed.append(
                            (practitioner.pk, appointment.room_id, appointment.start_at, appointment.busy_until)
                        )
                    break
        except Exception as error:  # noqa: BLE001 - reported by the test below
            failures.append(f"booker: {error!r}")
        finally:
            connections.close_all()

    def reader():
        try:
            read = make_reader(treatment, practitioners, day)
            for _ in range(reads):  # bounded; stops once the bookers are done
                if done.is_set():
                    break
                with lock:
                    before = list(committed)
                for practitioner_id, start, end in read():
                    overlapping = [b for b in before if b[2] < end and b[3] > start]
                    mine = [b for b in overlapping if b[0] == practitioner_id]
                    if mine or len({b[1] for b in overlapping}) == len(rooms):
                        failures.append(f"offered {start:%H:%M} ({practitioner_id}) after {overlapping}")
        except Exception as error:  # noqa: BLE001 - reported by the test below
            failures.append(f"reader: {error!r}")
        finally:
            connections.close_all()

    bookers = [threading.Thread(target=booker, args=(n,)) for n in range(2)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for thread in (*readers, *bookers):
        thread.start()
    for thread in bookers:
        thread.join(60)
    done.set()
    for thread in readers:
        thread.join(60)
    assert not failures, failures[:5]
    assert len(committed) >= 8  # the bookers really booked while the readers read


@pytest.mark.django_db(transaction=True)
def test_concurrent_readers_never_see_a_time_booked_before_they_asked():
    """`race_readers_against_bookers`, the readers asking the availability cache in this process."""

    def make_reader(treatment, practitioners, day):
        def read():
            for asked in (*practitioners, None):
                for slot in offered_slots(treatment, asked, day, day)[day]:
                    yield slot.practitioner.pk, slot.start_at, slot.busy_until

        return read

    race_readers_against_bookers(make_reader, booking_slots=offered_slots, reads=200)


def test_a_booking_made_elsewhere_takes_its_time_off_the_patients_booking_page_at_once(clinic, client):
    """The booking page and its times list keep their answer as thawed, per process (`cached(shared=True)`):
    another patient's booking (here through the pages, as they book) gives the next request a new name of the
    state, so the page never offers the time just taken, not even once."""
    from django.test import Client
    from django.urls import reverse

    from bookings import kept_times

    treatment, practitioner, day = clinic
    client.force_login(PatientFactory().user)
    page, times = reverse("book_treatment", args=[treatment.slug]), reverse("book_times", args=[treatment.slug])
    asked = {"practitioner": "", "day": day.isoformat()}
    ten = f"start={at(day, 10).strftime('%Y-%m-%dT%H:%MZ')}"
    for url in (page, times, page, times):  # the later two from the kept answer
        assert ten in client.get(url, asked).content.decode()
    assert availability._thawed, "the answer is kept thawed"
    assert kept_times._kept, "and the list written from it"
    other = Client()
    other.force_login(PatientFactory().user)
    chosen = {"practitioner": practitioner.pk, "start": ten.removeprefix("start=")}
    booked = other.post(reverse("book_confirm", args=[treatment.slug]), chosen)
    assert booked.status_code == 302 and Appointment.objects.filter(start_at=at(day, 10)).exists()
    for url in (times, page):
        body = client.get(url, asked).content.decode()
        assert ten not in body and f"start={at(day, 11).strftime('%Y-%m-%dT%H:%MZ')}" in body
    Appointment.objects.get(start_at=at(day, 10)).delete()  # freed (a cancellation, a desk's bulk delete)
    assert ten in client.get(times, asked).content.decode()


def test_a_shared_answer_is_kept_thawed_only_while_the_cache_holds_what_it_was_thawed_from(clinic):
    """`cached(shared=True)` gives the same object while the state of what it reads and the cached entry are
    the same, and a new one after a booking, after the cache is emptied, or when the catalogue is another."""
    from django.core.cache import caches

    treatment, practitioner, day = clinic

    def answer():
        return availability.cached(
            ("test shared", treatment.pk, practitioner.pk, day),
            lambda as_of, known: available_slots(treatment, practitioner, day, day, now=as_of, catalogue=known),
            reads=lambda known: [practitioner.pk],
            rooms=lambda known: known.room_ids(treatment),
            days=(day, day),
            shared=True,
        )

    first = answer()
    assert answer() is first and starts(first, day)[0] == "09:00"
    book_slot(PatientFactory(), first[day][0])
    after_booking = answer()
    assert after_booking is not first and starts(after_booking, day)[0] == "10:00"
    assert starts(first, day)[0] == "09:00"  # what earlier requests were given is left as it was
    assert answer() is after_booking
    caches["availability"].clear()  # an entry expired or evicted: thawed or computed again, never kept longer
    emptied = answer()
    assert emptied is not after_booking and starts(emptied, day) == starts(after_booking, day)
    availability.forget_cached_answers()
    assert not availability._thawed
    for n in range(availability.THAWED_KEPT + 5):  # bounded
        availability.cached(("test bound", n), lambda as_of, known, n=n: n, reads=lambda known: [], shared=True)
    assert len(availability._thawed) == availability.THAWED_KEPT


@pytest.mark.redis
def test_a_process_that_misses_takes_the_apis_answer_another_computed_and_never_a_stale_one(
    clinic, client, django_assert_num_queries
):
    """The API's answers are pooled in Redis (bookings/answer_cache.py): a process that never saw an answer (its
    own answers emptied, Redis's kept) takes it from there with the scope read alone; after a booking the key
    names another state, so it computes the new answer, without the time booked."""
    from bookings import answer_cache

    treatment, practitioner, day = clinic
    first = api_days(client, treatment, day)
    answer_cache._stores["availability"].clear()  # another process: nothing kept of its own
    with django_assert_num_queries(1):  # the scope read; the answer from Redis
        assert api_days(client, treatment, day) == first
    book_slot(PatientFactory(), offered_slots(treatment, practitioner, day, day)[day][0])
    answer_cache._stores["availability"].clear()
    after = api_days(client, treatment, day)
    assert [slot["start"] for slot in after[0]["slots"]][:1] != [slot["start"] for slot in first[0]["slots"]][:1]
    assert len(after[0]["slots"]) == len(first[0]["slots"]) - 4  # 09:00 taken: 09:00 to 09:45 no longer fit


@pytest.mark.redis
def test_without_redis_the_api_computes_its_answers(clinic, client, settings):
    treatment, _, day = clinic
    settings.CACHES = {
        **settings.CACHES,
        "answers": {**settings.CACHES["answers"], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    first = api_days(client, treatment, day)
    assert first and api_days(client, treatment, day) == first


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_api_readers_taking_answers_from_redis_never_see_a_time_booked_before_they_asked():
    """As `test_concurrent_readers_never_see_a_time_booked_before_they_asked`, through the API, with every
    reader's request a miss of the process's own answers (emptied before each, as in a worker that never saw
    it), so each answer comes from Redis where another reader left it, or is computed and left there: no answer
    taken from Redis offers a time of a booking that had committed before it was asked for."""
    from django.test import Client

    from bookings import answer_cache

    own = answer_cache._stores["availability"]

    def make_reader(treatment, practitioners, day):
        client = Client()
        slugs = {practitioner.slug: practitioner.pk for practitioner in practitioners}

        def read():
            for asked in (*slugs, ""):
                own.clear()  # this process's answers only: Redis's are kept
                query = {"treatment": treatment.slug, "practitioner": asked, "from": day, "to": day}
                response = client.get("/api/v1/availability/", query)
                assert response.status_code == 200, response.content
                for slot in response.json()["days"][0]["slots"]:
                    start = datetime.datetime.fromisoformat(slot["start"])
                    yield slugs[slot["practitioner"]], start, datetime.datetime.fromisoformat(slot["end"])

        return read

    race_readers_against_bookers(make_reader, booking_slots=available_slots, reads=100)
