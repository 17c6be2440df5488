"""Races on PostgreSQL: many bookings for one time at once give one booking and clear 'just taken' answers.

Threads wait on a barrier so their transactions really overlap; each uses its own database connection.
Concurrent inserts checking one exclusion constraint can wait on each other; PostgreSQL breaks that with a
deadlock error after `deadlock_timeout` (1 s by default), which the service treats as a lost race and
looks again. The threads lower that timeout for their own sessions only, to keep the suite fast.
"""

import datetime
import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.utils import timezone

from bookings import services
from bookings.models import Appointment
from tests.factories import (
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
)
from tests.helpers import open_every_day

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
LONDON = ZoneInfo("Europe/London")


def start_at(hour, minute=0, days=7):
    day = timezone.localdate() + datetime.timedelta(days=days)
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON).astimezone(datetime.UTC)


def race(attempts):
    """Run the callables at the same moment, one thread each; return what each returned or raised."""
    barrier = threading.Barrier(len(attempts))
    results = [None] * len(attempts)

    def run(index, attempt):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET deadlock_timeout = '50ms'")
            barrier.wait(timeout=30)
            results[index] = attempt()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, attempt)) for i, attempt in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def booking_attempt(patient, treatment, practitioner, when):
    return lambda: services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=when,
        booked_by=patient.user,
        source=Appointment.Source.ONLINE,
    )


def overlapping_live_pairs() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM bookings_appointment a JOIN bookings_appointment b
              ON a.id < b.id AND (a.practitioner_id = b.practitioner_id OR a.room_id = b.room_id)
             AND tstzrange(a.start_at, a.busy_until, '[)') && tstzrange(b.start_at, b.busy_until, '[)')
            WHERE a.status IN ('awaiting_deposit', 'booked', 'checked_in', 'completed')
              AND b.status IN ('awaiting_deposit', 'booked', 'checked_in', 'completed')
            """
        )
        return cursor.fetchone()[0]


def outcomes(results):
    booked = [r for r in results if isinstance(r, Appointment)]
    taken = [r for r in results if isinstance(r, services.SlotTaken)]
    others = [r for r in results if not isinstance(r, Appointment | services.SlotTaken)]
    return booked, taken, others


@pytest.fixture
def treatment():
    return TreatmentFactory(duration_minutes=60, buffer_after_minutes=15)


def test_twenty_patients_booking_one_time_give_one_booking(treatment):
    RoomFactory(), RoomFactory()
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    patients = [ClearedPatientFactory() for _ in range(THREADS)]
    when = start_at(10)
    booked, taken, others = outcomes(race([booking_attempt(p, treatment, practitioner, when) for p in patients]))
    assert others == []
    assert len(booked) == 1 and len(taken) == THREADS - 1
    assert all("just taken" in error.message for error in taken)
    assert all(error.alternatives and when not in [s.start_at for s in error.alternatives] for error in taken)
    assert Appointment.objects.count() == 1
    assert overlapping_live_pairs() == 0


def test_overlapping_different_starts_never_overlap_in_the_table(treatment):
    RoomFactory(), RoomFactory(), RoomFactory()
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    patients = [ClearedPatientFactory() for _ in range(THREADS)]
    # 10:00, 10:15, ... 14:45: each overlaps its neighbours (a session with its buffer occupies 75 minutes).
    times = [start_at(10) + datetime.timedelta(minutes=15 * i) for i in range(THREADS)]
    results = race([booking_attempt(p, treatment, practitioner, t) for p, t in zip(patients, times, strict=True)])
    booked, taken, others = outcomes(results)
    assert others == []
    assert booked and taken
    assert overlapping_live_pairs() == 0
    assert Appointment.objects.count() == len(booked)


def test_two_practitioners_sharing_the_only_room_give_one_booking(treatment):
    RoomFactory(name="The only room")
    first = open_every_day(PractitionerFactory(treatments=[treatment]))
    second = open_every_day(PractitionerFactory(treatments=[treatment]))
    when = start_at(11)
    attempts = [
        booking_attempt(ClearedPatientFactory(), treatment, first if i % 2 else second, when) for i in range(THREADS)
    ]
    booked, taken, others = outcomes(race(attempts))
    assert others == []
    assert len(booked) == 1 and len(taken) == THREADS - 1
    assert overlapping_live_pairs() == 0


def test_two_practitioners_and_two_rooms_both_get_booked_in_different_rooms(treatment):
    """A booking that lost its room to a concurrent one takes the other free room instead of failing."""
    RoomFactory(name="A"), RoomFactory(name="B")
    first = open_every_day(PractitionerFactory(treatments=[treatment]))
    second = open_every_day(PractitionerFactory(treatments=[treatment]))
    when = start_at(12)
    attempts = [
        booking_attempt(ClearedPatientFactory(), treatment, first if i % 2 else second, when) for i in range(THREADS)
    ]
    booked, taken, others = outcomes(race(attempts))
    assert others == []
    assert len(booked) == 2
    assert {a.practitioner_id for a in booked} == {first.pk, second.pk}
    assert {a.room.name for a in booked} == {"A", "B"}
    assert overlapping_live_pairs() == 0


def test_twenty_patients_posting_one_time_through_the_page_give_one_booking(treatment):
    """Through the HTTP view: one booking; everyone else a 'just taken' page with other times, never a 500."""
    from django.test import Client
    from django.urls import reverse

    RoomFactory()
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    when = start_at(10)
    clients = []
    for _ in range(THREADS):
        client = Client()
        client.force_login(ClearedPatientFactory().user)
        clients.append(client)
    url = reverse("book_confirm", args=[treatment.slug])
    data = {"practitioner": practitioner.pk, "start": when.strftime("%Y-%m-%dT%H:%MZ")}
    responses = race([lambda client=client: client.post(url, data) for client in clients])
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [302] + [409] * (THREADS - 1)
    for response in responses:
        if response.status_code == 409:
            body = response.content.decode()
            assert "This time was just taken" in body and "Nearest free times" in body
    assert Appointment.objects.count() == 1
    assert overlapping_live_pairs() == 0


def test_one_practitioner_raced_at_two_sites_gets_one_booking_at_each_and_keeps_the_travel_time(settings):
    """A practitioner works London 09:00-12:00 and Manchester 13:00-17:00 (an hour's travel). Ten patients ask
    for London 11:00 and ten for Manchester 13:00, all at once: one booking at each site, the others 'just
    taken', and no two live appointments of the practitioner overlapping or at two sites closer than the
    travel time (issue 17; the exclusion constraints of bookings 0002 and 0019)."""
    from clinic.models import default_site
    from tests.factories import SiteFactory, WorkingHoursFactory

    settings.CLINIC = {**settings.CLINIC, "TRAVEL_MINUTES": 60}
    london, manchester = default_site(), SiteFactory(name="Manchester", slug="manchester")
    RoomFactory(name="Harley 1", site=london)
    RoomFactory(name="King St 1", site=manchester)
    treatment = TreatmentFactory(duration_minutes=30, buffer_after_minutes=0, needs_cleared_intake=False)
    practitioner = PractitionerFactory(treatments=[treatment])
    day = timezone.localdate() + datetime.timedelta(days=7)
    for site, opens, closes in ((london, 9, 12), (manchester, 13, 17)):
        WorkingHoursFactory(
            practitioner=practitioner,
            site=site,
            weekday=day.weekday(),
            start=datetime.time(opens),
            end=datetime.time(closes),
        )
    patients = ClearedPatientFactory.create_batch(THREADS)

    def attempt(patient, site, when):
        return lambda: services.book_appointment(
            patient=patient,
            treatment=treatment,
            practitioner=practitioner,
            start_at=when,
            booked_by=patient.user,
            source=Appointment.Source.ONLINE,
            site=site,
        )

    results = race(
        [
            attempt(patient, london if n % 2 else manchester, start_at(11) if n % 2 else start_at(13))
            for n, patient in enumerate(patients)
        ]
    )
    booked = [result for result in results if isinstance(result, Appointment)]
    refused = [result for result in results if isinstance(result, services.SlotTaken)]
    assert len(booked) == 2 and len(refused) == THREADS - 2, results
    assert {appointment.site for appointment in booked} == {london, manchester}
    assert overlapping_live_pairs() == 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM bookings_appointment a JOIN bookings_appointment b
              ON a.id < b.id AND a.practitioner_id = b.practitioner_id AND a.site_id <> b.site_id
             AND tstzrange(a.start_at, a.busy_until + interval '60 minutes', '[)')
                 && tstzrange(b.start_at, b.busy_until + interval '60 minutes', '[)')
            WHERE a.status IN ('awaiting_deposit', 'booked', 'checked_in', 'completed')
              AND b.status IN ('awaiting_deposit', 'booked', 'checked_in', 'completed')
            """
        )
        assert cursor.fetchone()[0] == 0
