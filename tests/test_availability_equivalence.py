"""The availability computation on integers (issue #16's fifth pass) gives exactly the answers of the one it
replaced (datetimes all the way, kept in tests/availability_before.py), on seeded random clinics: several
sites on their own clocks (London, Madrid, New York, Sydney) with travel times between them, practitioners
working at more than one site, some with the same hours as another (first available's shared grids), spans
over the hours the clocks skip or repeat, time off and appointments at odd seconds and microseconds,
closures, cancelled appointments, and "now" anywhere around both clock changes (minimum notice, horizon).
Every offered time (when, until when, with whom, in which room) and the verdict on single starts (the
booking service's re-check, with and without a room, moving an appointment) must agree."""

import datetime
import random
from zoneinfo import ZoneInfo

import pytest
from django.db import DatabaseError, transaction

from bookings import availability
from bookings.models import Appointment
from clinic.models import Closure, Room, Site, SiteTravel, TimeOff, WorkingHours, default_site
from tests import availability_before as before
from tests.factories import PatientFactory, PractitionerFactory, RoomFactory, SiteFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
ZONES = ["Europe/Madrid", "America/New_York", "Australia/Sydney", "Europe/London"]
# Local date ranges around clock changes: Europe's and Sydney's spring and autumn of 2027 (28 March, 4 April;
# 31 October, 3 October), New York's (14 March, 7 November).
WINDOWS = [
    (datetime.date(2027, 3, 26), datetime.date(2027, 4, 5)),
    (datetime.date(2027, 10, 29), datetime.date(2027, 11, 8)),
    (datetime.date(2027, 3, 12), datetime.date(2027, 3, 15)),
    (datetime.date(2027, 10, 1), datetime.date(2027, 10, 4)),
]


def odd_instant(rng, moment):
    """Mostly on a 5-minute mark; now and then at odd seconds and microseconds."""
    if rng.random() < 0.15:
        return moment + datetime.timedelta(seconds=rng.randrange(60), microseconds=rng.randrange(1_000_000))
    return moment


def random_clinic(seed):
    """A clinic drawn from `seed`: what the computation reads, nothing more."""
    rng = random.Random(seed)
    sites = [default_site()]
    for n in range(rng.randint(1, 2)):
        sites.append(SiteFactory(name=f"Site {seed}-{n}", slug=f"site-{seed}-{n}", time_zone=rng.choice(ZONES)))
    for index, site in enumerate(sites):
        for other in sites[index + 1 :]:
            if rng.random() < 0.6:
                SiteTravel.objects.create(from_site=site, to_site=other, minutes=rng.choice([0, 20, 45, 150]))
    rooms = []
    for site in sites:
        for n in range(rng.randint(1, 3)):
            rooms.append(RoomFactory(name=f"Room {seed}-{site.pk}-{n}", site=site, active=rng.random() > 0.1))
    treatments = [
        TreatmentFactory(
            slug=f"treatment-{seed}-{n}",
            duration_minutes=rng.choice([30, 45, 60, 75]),
            buffer_after_minutes=rng.choice([0, 10, 15]),
            needs_cleared_intake=False,
        )
        for n in range(2)
    ]
    if rng.random() < 0.5:  # offered at some sites only
        treatments[1].sites.set(rng.sample(sites, k=1))
    practitioners = []
    for n in range(rng.randint(2, 4)):
        practitioner = PractitionerFactory(
            slug=f"practitioner-{seed}-{n}", treatments=rng.sample(treatments, k=rng.randint(1, 2))
        )
        practitioners.append(practitioner)
        if n and rng.random() < 0.5:  # the same hours as the one before: first available shares their grid
            for span in WorkingHours.objects.filter(practitioner=practitioners[n - 1]):
                WorkingHours.objects.create(
                    practitioner=practitioner, site=span.site, weekday=span.weekday, start=span.start, end=span.end
                )
            continue
        for weekday in range(7):
            if rng.random() < 0.25:
                continue
            site = rng.choice(sites)
            starts = sorted(rng.sample(range(0, 23 * 4), k=rng.choice([1, 2])))
            for quarter in starts:  # spans from midnight on: the skipped and repeated hours are among them
                start = datetime.time(quarter // 4, 15 * (quarter % 4))
                end_quarter = min(quarter + rng.randint(4, 28), 24 * 4 - 1)
                end = datetime.time(end_quarter // 4, 15 * (end_quarter % 4))
                WorkingHours.objects.create(practitioner=practitioner, site=site, weekday=weekday, start=start, end=end)
    patients = [PatientFactory() for _ in range(3)]
    for first, last in WINDOWS:
        start = datetime.datetime.combine(first, datetime.time(), tzinfo=UTC) - datetime.timedelta(days=1)
        minutes = int((last - first).days + 3) * 24 * 60
        for _ in range(rng.randint(0, 3)):
            begins = odd_instant(rng, start + datetime.timedelta(minutes=rng.randrange(0, minutes, 5)))
            TimeOff.objects.create(
                practitioner=rng.choice(practitioners),
                start_at=begins,
                end_at=begins + datetime.timedelta(minutes=rng.randrange(5, 3 * 24 * 60)),
            )
        for _ in range(rng.randint(20, 45)):
            treatment = rng.choice(treatments)
            begins = odd_instant(rng, start + datetime.timedelta(minutes=rng.randrange(0, minutes, 5)))
            status = rng.choice([Appointment.Status.BOOKED] * 5 + [Appointment.Status.CANCELLED])
            try:
                with transaction.atomic():  # the database refuses overlaps and travel: drawn again
                    Appointment.objects.create(
                        patient=rng.choice(patients),
                        practitioner=rng.choice(practitioners),
                        treatment=treatment,
                        room=rng.choice(rooms),
                        start_at=begins,
                        end_at=begins + treatment.duration,
                        busy_until=begins + treatment.duration + treatment.buffer_after,
                        status=status,
                        source=Appointment.Source.FRONT_DESK,
                    )
            except DatabaseError:
                pass
        for _ in range(rng.randint(0, 2)):
            day = first + datetime.timedelta(days=rng.randrange((last - first).days + 1))
            Closure.objects.create(site=rng.choice([None, *sites]), first_day=day, last_day=day, reason="Training")
    return rng, treatments, practitioners


def offered(days):
    return {
        day: [(s.start_at, s.end_at, s.busy_until, s.practitioner.pk, s.room.pk, s.room.site_id) for s in slots]
        for day, slots in days.items()
    }


def verdict(answer):
    found, slot = answer
    return found, slot and (slot.start_at, slot.end_at, slot.busy_until, slot.practitioner.pk, slot.room.pk)


@pytest.mark.parametrize("seed", range(5))
def test_the_integer_computation_answers_as_the_datetime_one_did(seed):
    rng, treatments, practitioners = random_clinic(seed)
    known = availability.catalogue()  # the set-up as cached answers read it: one query an answer
    sites = list(Site.objects.order_by("pk"))
    appointments = list(Appointment.objects.filter(status=Appointment.Status.BOOKED))
    rooms = list(Room.objects.select_related("site"))  # inactive ones, and ones the treatment cannot use, too
    compared = 0
    for first, last in WINDOWS:
        window_start = datetime.datetime.combine(first, datetime.time(), tzinfo=UTC)
        # "now": days before, inside the range (the notice cuts a day in two), or so early that the horizon
        # cuts its end.
        nows = [
            window_start - datetime.timedelta(days=rng.randint(1, 5), minutes=rng.randrange(0, 24 * 60, 5)),
            window_start + datetime.timedelta(days=rng.randint(0, 3), minutes=rng.randrange(0, 24 * 60)),
            window_start - datetime.timedelta(days=89, hours=rng.randint(0, 30)),
        ]
        for now in rng.sample(nows, k=1):
            for treatment in treatments:
                for practitioner in [None, *rng.sample(practitioners, k=2)]:
                    for site in [None, *sites]:
                        asked = (treatment, practitioner, first, last)
                        new = availability.available_slots(*asked, site=site, now=now, catalogue=known)
                        old = before.available_slots(*asked, site=site, now=now, catalogue=known)
                        assert offered(new) == offered(old), (seed, treatment, practitioner, site, now)
                        compared += sum(len(slots) for slots in new.values())
                # Straight from the database (the booking pages' re-check) and on single starts (the booking
                # service's): offered ones, and others around them, with and without a room.
                site = rng.choice([None, *sites])
                asked = (treatment, rng.choice([None, *practitioners]), first, last)
                new = availability.available_slots(*asked, site=site, now=now)
                assert offered(new) == offered(before.available_slots(*asked, site=site, now=now))
                starts = [slot.start_at for slots in new.values() for slot in slots]
                starts = rng.sample(starts, k=min(len(starts), 3))
                starts += [
                    window_start + datetime.timedelta(minutes=rng.randrange(0, 4 * 24 * 60, 15)) for _ in range(3)
                ]
                for start_at in starts:
                    practitioner = rng.choice([None, *practitioners])
                    kwargs = {
                        "room": rng.choice([None, None, *rooms]),
                        "now": now,
                        "ignore_appointment": rng.choice([None, *appointments]),
                        "notice": rng.choice([None, datetime.timedelta(0)]),
                    }
                    assert verdict(availability.check_slot(treatment, practitioner, start_at, **kwargs)) == verdict(
                        before.check_slot(treatment, practitioner, start_at, **kwargs)
                    ), (seed, treatment, practitioner, start_at, kwargs)
    assert compared > 0  # the clinic drawn offers something


def test_instants_keep_their_microseconds():
    """A time off ending a microsecond after a start keeps that start from being offered: the busy rows
    come back to the microsecond, whatever their offset from the range's start."""
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=0, needs_cleared_intake=False)
    practitioner = PractitionerFactory(treatments=[treatment])
    RoomFactory(name="Room µ")
    day = datetime.date(2027, 3, 31)
    WorkingHours.objects.create(
        practitioner=practitioner,
        site=default_site(),
        weekday=day.weekday(),
        start=datetime.time(9),
        end=datetime.time(12),
    )
    nine = datetime.datetime.combine(day, datetime.time(9), tzinfo=ZoneInfo("Europe/London"))
    TimeOff.objects.create(
        practitioner=practitioner,
        start_at=nine - datetime.timedelta(hours=1),
        end_at=nine + datetime.timedelta(microseconds=1),
    )
    now = datetime.datetime(2027, 3, 1, tzinfo=UTC)
    slots = availability.available_slots(treatment, practitioner, day, day, now=now)[day]
    assert [slot.start_at.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M") for slot in slots][:2] == [
        "09:15",
        "09:30",
    ]
    assert availability.check_slot(treatment, practitioner, nine, now=now)[0] is availability.Verdict.NOT_OFFERED
    TimeOff.objects.update(end_at=nine)
    assert availability.check_slot(treatment, practitioner, nine, now=now)[0] is availability.Verdict.FREE
