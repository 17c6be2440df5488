"""The availability rule: hours minus time off minus appointments (with buffers) minus busy rooms, within
notice and horizon, on the slot grid, in the clinic's zone across daylight-saving changes."""

import datetime

import pytest

from bookings.availability import available_slots, check_slot, course_blocks, why_day_unavailable
from bookings.models import Appointment
from tests.factories import (
    AppointmentFactory,
    ConsultationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)
from tests.helpers import at

pytestmark = pytest.mark.django_db

MONDAY = datetime.date(2027, 1, 4)
NOW = datetime.datetime(2027, 1, 1, 9, tzinfo=datetime.UTC)


def local_times(slots):
    return [slot.local_start.strftime("%H:%M") for slot in slots]


def practitioner_with_hours(treatment, spans=((9, 12),), weekday=0, **kwargs):
    practitioner = PractitionerFactory(treatments=[treatment], **kwargs)
    for start, end in spans:
        WorkingHoursFactory(
            practitioner=practitioner, weekday=weekday, start=datetime.time(start), end=datetime.time(end)
        )
    return practitioner


@pytest.fixture
def treatment():
    return TreatmentFactory(duration_minutes=60, buffer_after_minutes=15)


@pytest.fixture
def room():
    return RoomFactory(name="A")


def slots_on(day, treatment, practitioner, now=NOW):
    return available_slots(treatment, practitioner, day, day, now=now)[day]


def test_a_free_day_offers_every_step_whose_session_ends_within_the_hours(treatment, room):
    practitioner = practitioner_with_hours(treatment)
    slots = slots_on(MONDAY, treatment, practitioner)
    assert local_times(slots) == ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00"]
    assert {slot.room for slot in slots} == {room}
    assert slots[0].start_at == at(MONDAY, 9) and slots[0].busy_until == at(MONDAY, 10, 15)


def test_several_spans_a_day_and_no_hours_on_other_days(treatment, room):
    practitioner = practitioner_with_hours(treatment, spans=((9, 10), (14, 15)))
    assert local_times(slots_on(MONDAY, treatment, practitioner)) == ["09:00", "14:00"]
    assert slots_on(MONDAY + datetime.timedelta(days=1), treatment, practitioner) == []


def test_an_appointment_blocks_its_time_and_both_buffers(treatment, room):
    practitioner = practitioner_with_hours(treatment, spans=((9, 13),))
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=room, start_at=at(MONDAY, 10))
    # Busy 10:00-11:15 (with its buffer); a new slot needs 75 minutes from its start.
    assert local_times(slots_on(MONDAY, treatment, practitioner)) == ["11:15", "11:30", "11:45", "12:00"]


def test_cancelled_and_no_show_appointments_do_not_block(treatment, room):
    practitioner = practitioner_with_hours(treatment)
    for status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW):
        AppointmentFactory(
            practitioner=practitioner, treatment=treatment, room=room, start_at=at(MONDAY, 9), status=status
        )
    assert len(slots_on(MONDAY, treatment, practitioner)) == 9


def test_time_off_removes_overlapping_slots(treatment, room):
    practitioner = practitioner_with_hours(treatment)
    TimeOffFactory(practitioner=practitioner, start_at=at(MONDAY, 10), end_at=at(MONDAY, 11))
    assert local_times(slots_on(MONDAY, treatment, practitioner)) == ["11:00"]


@pytest.mark.clock
def test_minimum_notice(treatment, room, settings):
    settings.CLINIC = {**settings.CLINIC, "MIN_NOTICE_HOURS": 12}
    practitioner = practitioner_with_hours(treatment)
    now = at(MONDAY, 9) - datetime.timedelta(hours=12) + datetime.timedelta(minutes=20)
    assert local_times(slots_on(MONDAY, treatment, practitioner, now=now))[0] == "09:30"


@pytest.mark.clock
def test_horizon(treatment, room, settings):
    settings.CLINIC = {**settings.CLINIC, "HORIZON_DAYS": 10}
    practitioner = practitioner_with_hours(treatment, weekday=0)
    today = NOW.date()  # a Friday
    days = available_slots(treatment, practitioner, today, today + datetime.timedelta(days=30), now=NOW)
    offered = [day for day, slots in days.items() if slots]
    assert offered == [MONDAY, MONDAY + datetime.timedelta(days=7)]  # the 4th and 11th; the 18th is too far


def test_a_shared_room_in_use_blocks_another_practitioner(treatment, room):
    first = practitioner_with_hours(treatment)
    second = practitioner_with_hours(treatment)
    AppointmentFactory(practitioner=first, treatment=treatment, room=room, start_at=at(MONDAY, 9))
    assert local_times(slots_on(MONDAY, treatment, second)) == ["10:15", "10:30", "10:45", "11:00"]
    RoomFactory(name="B")
    slots = slots_on(MONDAY, treatment, second)
    assert local_times(slots)[0] == "09:00" and slots[0].room.name == "B"


def test_a_room_taken_just_outside_the_hours_still_blocks_what_reaches_it(treatment, room):
    """One practitioner's answer reads the room's other appointments only around their hours: one that ends
    inside the first slot and one that only the last slot's buffer reaches are read all the same."""
    asked, other = practitioner_with_hours(treatment), practitioner_with_hours(treatment, spans=((7, 19),))
    AppointmentFactory(practitioner=other, treatment=treatment, room=room, start_at=at(MONDAY, 8, 5))  # to 09:20
    AppointmentFactory(practitioner=other, treatment=treatment, room=room, start_at=at(MONDAY, 12, 10))
    AppointmentFactory(practitioner=other, treatment=treatment, room=room, start_at=at(MONDAY, 14))
    expected = ["09:30", "09:45", "10:00", "10:15", "10:30", "10:45"]
    assert local_times(slots_on(MONDAY, treatment, asked)) == expected


@pytest.mark.postgres
def test_one_practitioners_busy_rows_give_each_room_as_its_free_time_where_a_slot_fits(treatment, room):
    """The rooms for one practitioner (hours 09:00 to 12:00, busy 09:00 to 10:15): not their rows, but the
    pieces of the hours (with the last slot's buffer, to 12:15) outside that practitioner's busy time and the
    room's appointments, where a slot (60 minutes and 15 of buffer) fits; a room with none is taken all along."""
    from bookings.availability import ALWAYS, FOREVER, Busy, busy_range, load_setup, room_windows

    other_room, full_room = RoomFactory(name="B"), RoomFactory(name="C")
    asked = practitioner_with_hours(treatment)
    other, third, fourth = (practitioner_with_hours(treatment, spans=((7, 19),)) for _ in range(3))
    AppointmentFactory(practitioner=asked, treatment=treatment, room=room, start_at=at(MONDAY, 9))
    AppointmentFactory(practitioner=other, treatment=treatment, room=room, start_at=at(MONDAY, 7, 45))  # to 09:00
    AppointmentFactory(practitioner=other, treatment=treatment, room=room, start_at=at(MONDAY, 12, 15))
    AppointmentFactory(practitioner=third, treatment=treatment, room=other_room, start_at=at(MONDAY, 9))  # to 10:15
    AppointmentFactory(practitioner=third, treatment=treatment, room=other_room, start_at=at(MONDAY, 12, 14))
    AppointmentFactory(practitioner=other, treatment=treatment, room=full_room, start_at=at(MONDAY, 10))  # to 11:15
    AppointmentFactory(practitioner=fourth, treatment=treatment, room=full_room, start_at=at(MONDAY, 11, 15))
    setup = load_setup(treatment, asked)
    sites, occupied = setup.sites(), treatment.duration + treatment.buffer_after
    assert occupied == datetime.timedelta(minutes=75)
    asked_of = ([asked.pk], [room.pk, other_room.pk, full_room.pk], *busy_range(sites, MONDAY, MONDAY, occupied))
    busy = Busy.load(*asked_of)
    assert [len(busy.rooms[each.pk].starts) for each in (room, other_room, full_room)] == [3, 2, 2]
    busy = Busy.load(*asked_of, rooms_within=room_windows(setup, sites, MONDAY, MONDAY, treatment), occupied=occupied)

    def us(hour, minute=0):
        return (at(MONDAY, hour, minute) - busy.origin) // datetime.timedelta(microseconds=1)

    # Free from 10:15 to 12:15 (its appointment at 12:15 is outside), from 10:15 to 12:14 (the one at 12:14
    # is in the way after), and never in the third (taken 10:00 to 12:30): no room's rows are sent.
    assert (busy.rooms[room.pk].starts, busy.rooms[room.pk].ends) == ([-FOREVER, us(12, 15)], [us(10, 15), FOREVER])
    assert (busy.rooms[other_room.pk].starts, busy.rooms[other_room.pk].ends) == (
        [-FOREVER, us(12, 14)],
        [us(10, 15), FOREVER],
    )
    assert busy.rooms[full_room.pk] is ALWAYS
    assert set(busy.appointments) == {asked.pk}


def test_no_active_room_means_no_slots(treatment):
    RoomFactory(name="Closed", active=False)
    practitioner = practitioner_with_hours(treatment)
    assert slots_on(MONDAY, treatment, practitioner) == []


def test_first_available_gives_each_time_to_the_first_free_practitioner(treatment):
    RoomFactory(name="A"), RoomFactory(name="B")
    ann = practitioner_with_hours(treatment, user__last_name="Abbot")
    bob = practitioner_with_hours(treatment, user__last_name="Brown")
    practitioner_with_hours(TreatmentFactory())  # offers something else: never chosen
    AppointmentFactory(practitioner=ann, treatment=treatment, start_at=at(MONDAY, 9))
    slots = slots_on(MONDAY, treatment, None)
    by_time = {slot.local_start.strftime("%H:%M"): slot.practitioner for slot in slots}
    assert by_time["09:00"] == bob
    assert by_time["10:15"] == ann
    assert len(slots) == len(by_time) == 9


def test_practitioner_not_offering_the_treatment_or_inactive_has_no_slots(treatment, room):
    other = practitioner_with_hours(TreatmentFactory())
    inactive = practitioner_with_hours(treatment, active=False)
    assert slots_on(MONDAY, treatment, other) == []
    assert slots_on(MONDAY, treatment, inactive) == []


def test_check_slot_tells_taken_from_not_offered(treatment, room):
    practitioner = practitioner_with_hours(treatment)
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=room, start_at=at(MONDAY, 9))
    assert check_slot(treatment, practitioner, at(MONDAY, 9), now=NOW)[0].value == "taken"
    assert check_slot(treatment, practitioner, at(MONDAY, 9, 5), now=NOW)[0].value == "not_offered"
    assert check_slot(treatment, practitioner, at(MONDAY, 18), now=NOW)[0].value == "not_offered"
    verdict, slot = check_slot(treatment, practitioner, at(MONDAY, 10, 15), now=NOW)
    assert verdict.value == "free" and slot.room == room


# --- daylight saving (Europe/London) ------------------------------------------------------------------


def night_owl(treatment, day, end_hour):
    return practitioner_with_hours(treatment, spans=((0, end_hour),), weekday=day.weekday())


def test_spring_forward_skips_the_missing_hour_and_keeps_real_durations(room):
    day = datetime.date(2027, 3, 28)  # 01:00 GMT -> 02:00 BST
    treatment = TreatmentFactory(duration_minutes=30, buffer_after_minutes=0)
    practitioner = night_owl(treatment, day, 4)
    now = datetime.datetime(2027, 3, 20, tzinfo=datetime.UTC)
    slots = slots_on(day, treatment, practitioner, now=now)
    assert local_times(slots)[:4] == ["00:00", "00:15", "00:30", "00:45"]
    assert "01:00" not in local_times(slots) and "01:30" not in local_times(slots)
    assert local_times(slots)[4] == "02:00"
    # 00:45 GMT lasts 30 real minutes: it ends at 02:15 BST.
    assert slots[3].local_end.strftime("%H:%M %Z") == "02:15 BST"
    assert all(slot.end_at - slot.start_at == datetime.timedelta(minutes=30) for slot in slots)
    assert slots[-1].local_start.strftime("%H:%M") == "03:30"


def test_fall_back_offers_the_repeated_hour_once_at_its_first_occurrence(room):
    day = datetime.date(2026, 10, 25)  # 02:00 BST -> 01:00 GMT
    treatment = TreatmentFactory(duration_minutes=30, buffer_after_minutes=0)
    practitioner = night_owl(treatment, day, 3)
    now = datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC)
    slots = slots_on(day, treatment, practitioner, now=now)
    starts = [slot.start_at for slot in slots]
    assert local_times(slots).count("01:00") == 1
    assert datetime.datetime(2026, 10, 25, 0, 0, tzinfo=datetime.UTC) in starts  # 01:00 BST
    assert datetime.datetime(2026, 10, 25, 1, 0, tzinfo=datetime.UTC) not in starts  # 01:00 GMT, the repeat
    assert [s.strftime("%H:%M %Z") for s in (slots[0].local_start, slots[-1].local_start)] == ["00:00 BST", "02:30 GMT"]
    # 00:00-01:45 BST (8 starts), then 02:00, 02:15, 02:30 GMT (a 30-minute session must end by 03:00).
    assert len(starts) == len(set(starts)) == 11
    assert starts == sorted(starts)


@pytest.mark.postgres
@pytest.mark.parametrize("day", [datetime.date(2027, 3, 28), datetime.date(2026, 10, 25)])  # spring, autumn
def test_one_practitioners_rooms_as_free_pieces_on_a_clock_change_day(room, day):
    """One practitioner's rooms come as their free pieces (`FREE_ROOMS_SQL`); on the days the clock skips or
    repeats an hour, rooms taken across that hour give the same times and rooms as the computation that read
    every room's rows (tests/availability_before.py)."""
    from tests import availability_before as before

    treatment = TreatmentFactory(duration_minutes=30, buffer_after_minutes=15)
    second = RoomFactory(name="B")
    practitioner = night_owl(treatment, day, 5)
    others = [practitioner_with_hours(treatment, spans=((0, 23),), weekday=day.weekday()) for _ in range(4)]
    midnight = datetime.datetime.combine(day, datetime.time(0), tzinfo=datetime.UTC)
    for who, where, minutes in [
        (others[0], room, 0),  # room A from 00:00 UTC, then 01:15 to 02:00: across the hour the clock changes
        (others[1], room, 75),
        (others[2], second, 45),  # room B from 00:45 UTC
        (others[3], second, 150),
        (practitioner, room, 180),  # their own, in A: their time, not the room's
    ]:
        AppointmentFactory(
            practitioner=who, treatment=treatment, room=where, start_at=midnight + datetime.timedelta(minutes=minutes)
        )
    now = datetime.datetime.combine(day - datetime.timedelta(days=10), datetime.time(0), tzinfo=datetime.UTC)
    found = available_slots(treatment, practitioner, day, day, now=now)[day]
    expected = before.available_slots(treatment, practitioner, day, day, now=now)[day]
    assert [(slot.start_at, slot.end_at, slot.room.name) for slot in found] == [
        (slot.start_at, slot.end_at, slot.room.name) for slot in expected
    ]
    assert {slot.room.name for slot in found} == {"A", "B"}  # each room gave some times, and none the others


def test_a_normal_day_after_dst_uses_the_new_offset(room):
    treatment = TreatmentFactory(duration_minutes=60)
    practitioner = practitioner_with_hours(treatment, spans=((9, 10),), weekday=0)
    monday = datetime.date(2027, 3, 29)
    slots = slots_on(monday, treatment, practitioner, now=datetime.datetime(2027, 3, 20, tzinfo=datetime.UTC))
    assert [slot.start_at for slot in slots] == [datetime.datetime(2027, 3, 29, 8, tzinfo=datetime.UTC)]


# --- cost ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 60])
def test_a_range_costs_the_same_few_queries_for_one_day_or_sixty(treatment, room, days, django_assert_max_num_queries):
    practitioners = [practitioner_with_hours(treatment, spans=((9, 12), (13, 17)), weekday=w) for w in range(5)]
    for offset in range(0, 60, 3):
        AppointmentFactory(
            practitioner=practitioners[offset % 5],
            treatment=treatment,
            room=room,
            start_at=at(MONDAY + datetime.timedelta(days=offset), 9),
        )
    TimeOffFactory(practitioner=practitioners[0], start_at=at(MONDAY, 13), end_at=at(MONDAY, 17))
    with django_assert_max_num_queries(6):
        days_found = available_slots(treatment, None, MONDAY, MONDAY + datetime.timedelta(days=days - 1), now=NOW)
    assert len(days_found) == days
    with django_assert_max_num_queries(6):
        available_slots(treatment, practitioners[1], MONDAY, MONDAY + datetime.timedelta(days=days - 1), now=NOW)


# --- courses ---------------------------------------------------------------------------------------------


def test_course_interval_explains_the_next_possible_day_either_side(treatment):
    patient = PatientFactory()
    AppointmentFactory(patient=patient, treatment=treatment, start_at=at(datetime.date(2027, 2, 12), 10))
    reason = why_day_unavailable(patient, treatment, datetime.date(2027, 3, 1))
    assert "your next session can be from 12 March 2027" in reason
    before = why_day_unavailable(patient, treatment, datetime.date(2027, 1, 20))  # too close before it
    assert "so this one can be up to 15 January 2027" in before
    assert why_day_unavailable(patient, treatment, datetime.date(2027, 3, 12)) == ""
    assert why_day_unavailable(patient, treatment, datetime.date(2027, 1, 15)) == ""
    assert why_day_unavailable(PatientFactory(), treatment, datetime.date(2027, 3, 1)) == ""


def test_cancelled_sessions_and_consultations_set_no_interval(treatment):
    patient = PatientFactory()
    AppointmentFactory(
        patient=patient, treatment=treatment, start_at=at(MONDAY, 10), status=Appointment.Status.CANCELLED
    )
    consultation = ConsultationFactory()
    AppointmentFactory(patient=patient, treatment=consultation, start_at=at(MONDAY, 12))
    assert course_blocks(patient, treatment) == []
    assert course_blocks(patient, consultation) == []


@pytest.mark.postgres
def test_the_busy_rows_written_in_sql_are_the_orms_rows(treatment, room):
    """bookings.availability.BUSY_SQL (PostgreSQL's, written once) gives exactly the rows of the ORM union it
    replaces: live appointments of the practitioners or in the rooms, overlapping the range (not cancelled
    ones, not one ending at its start), time off, an appointment to leave out."""
    from bookings.availability import busy_rows, busy_rows_orm

    asked, other = practitioner_with_hours(treatment), practitioner_with_hours(treatment)
    other_room = RoomFactory(name="B")
    kept = [
        AppointmentFactory(practitioner=asked, treatment=treatment, room=room, start_at=at(MONDAY, 9)),
        AppointmentFactory(practitioner=other, treatment=treatment, room=room, start_at=at(MONDAY, 11)),
        AppointmentFactory(practitioner=asked, treatment=treatment, room=other_room, start_at=at(MONDAY, 14)),
    ]
    AppointmentFactory(practitioner=other, treatment=treatment, room=other_room, start_at=at(MONDAY, 16))
    AppointmentFactory(
        practitioner=asked, treatment=treatment, room=room, start_at=at(MONDAY, 16), status=Appointment.Status.CANCELLED
    )
    AppointmentFactory(practitioner=asked, treatment=treatment, room=room, start_at=at(MONDAY, 7, 0))  # ends 08:15
    TimeOffFactory(practitioner=asked, start_at=at(MONDAY, 12), end_at=at(MONDAY, 13))
    TimeOffFactory(practitioner=other, start_at=at(MONDAY, 12), end_at=at(MONDAY, 13))
    TimeOffFactory(practitioner=asked, start_at=at(MONDAY, 6), end_at=at(MONDAY, 23))  # held inside the range
    start, end = at(MONDAY, 8, 15), at(MONDAY, 20)
    for ignore in (None, kept[0].pk):
        rows = busy_rows([asked.pk], [room.pk], start, end, ignore)
        assert sorted(rows, key=repr) == sorted(busy_rows_orm([asked.pk], [room.pk], start, end, ignore), key=repr)
        assert len(rows) == (5 if ignore is None else 4)
    # Instants are microseconds after the range's start, each held inside the range.
    rows, minute = busy_rows([asked.pk], [room.pk], start, end), 60 * 1_000_000
    assert (asked.pk, room.pk, room.site_id, 45 * minute, 120 * minute, False) in rows  # 09:00 to 10:15
    assert (asked.pk, None, None, 0, (end - start) // datetime.timedelta(microseconds=1), True) in rows
    assert list(busy_rows([], [], start, end)) == []
    # With the parameters' SQL text kept (`rendered`): each question its own text, the same rows.
    rendered = {}
    for ignore in (None, kept[0].pk, None):
        for practitioner_ids in ([asked.pk], [other.pk]):
            expected = sorted(busy_rows(practitioner_ids, [room.pk], start, end, ignore), key=repr)
            found = busy_rows(practitioner_ids, [room.pk], start, end, ignore, rendered=rendered)
            assert sorted(found, key=repr) == expected
    assert len(rendered) == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_busy_rows_statement_is_prepared_once_a_connection(treatment, room):
    """`busy_rows` prepares its statement the first time a connection runs it, then only executes it: after
    a rolled-back transaction too (PostgreSQL keeps it for the session), and prepares it again on a new
    connection."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from bookings.availability import busy_rows

    practitioner = practitioner_with_hours(treatment)
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=room, start_at=at(MONDAY, 9))

    def statement():
        with CaptureQueriesContext(connection) as captured:
            assert len(busy_rows([practitioner.pk], [room.pk], at(MONDAY, 8), at(MONDAY, 20))) == 1
        return captured[0]["sql"].split()[0]

    connection.close()
    assert statement() == "PREPARE"
    assert statement() == "EXECUTE"
    with transaction.atomic():
        assert statement() == "EXECUTE"
        transaction.set_rollback(True)
    assert statement() == "EXECUTE"
    connection.close()
    assert statement() == "PREPARE"
    assert statement() == "EXECUTE"
