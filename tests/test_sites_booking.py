"""Booking by site (issue 17, stage 2): availability and the booking service take a site (or any site); a
room is offered and booked only at its own site; a practitioner is never in two places at once and keeps the
travel time free between two sites; each site reads its own clock and closures. The database holds the
room's site and the travel time too."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction

from bookings import services
from bookings.availability import Verdict, available_slots, check_slot, offered_slots
from bookings.models import Appointment
from clinic.models import Closure, default_site
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    TreatmentFactory,
    WorkingHoursFactory,
)
from tests.helpers import set_clock

pytestmark = pytest.mark.django_db

LONDON, MADRID = ZoneInfo("Europe/London"), ZoneInfo("Europe/Madrid")
NOW = datetime.datetime(2027, 2, 1, 8, tzinfo=datetime.UTC)  # a Monday; every day below is ahead of it
WEDNESDAY = datetime.date(2027, 2, 10)


def wall(day, hour, minute=0, zone=LONDON):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=zone).astimezone(datetime.UTC)


def local_times(slots, zone=LONDON):
    return [slot.start_at.astimezone(zone).strftime("%H:%M") for slot in slots]


def times_at(treatment, practitioner, site):
    """The starts offered at the site on WEDNESDAY, on London's clock."""
    return local_times(available_slots(treatment, practitioner, WEDNESDAY, WEDNESDAY, site=site, now=NOW)[WEDNESDAY])


@pytest.fixture
def two_sites(settings):
    """London (the default site) and Manchester, a room each; one practitioner offering a one-hour session."""
    settings.CLINIC = {**settings.CLINIC, "TRAVEL_MINUTES": 60}
    london = default_site()
    manchester = SiteFactory(name="Manchester", slug="manchester", time_zone="Europe/London")
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=0, needs_cleared_intake=False)
    rooms = RoomFactory(name="Harley 1", site=london), RoomFactory(name="King St 1", site=manchester)
    practitioner = PractitionerFactory(treatments=[treatment])
    return london, manchester, treatment, practitioner, rooms


def test_a_room_at_one_site_is_never_offered_at_another(two_sites):
    london, manchester, treatment, practitioner, (harley, king_street) = two_sites
    WorkingHoursFactory(
        practitioner=practitioner, site=manchester, weekday=2, start=datetime.time(9), end=datetime.time(12)
    )
    at_manchester = available_slots(treatment, practitioner, WEDNESDAY, WEDNESDAY, site=manchester, now=NOW)[WEDNESDAY]
    assert local_times(at_manchester) == [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
        "10:30",
        "10:45",
        "11:00",
    ]
    assert {slot.room for slot in at_manchester} == {king_street}
    assert {slot.site for slot in at_manchester} == {manchester}
    # London has a room but nobody works there: nothing; and no London room is ever offered.
    assert available_slots(treatment, practitioner, WEDNESDAY, WEDNESDAY, site=london, now=NOW)[WEDNESDAY] == []
    any_site = available_slots(treatment, None, WEDNESDAY, WEDNESDAY, now=NOW)[WEDNESDAY]
    assert {slot.room for slot in any_site} == {king_street}
    # Asking for the London room at a Manchester time is refused, and the database refuses it too.
    start = wall(WEDNESDAY, 9)
    assert check_slot(treatment, practitioner, start, room=harley, now=NOW)[0] is Verdict.NOT_OFFERED
    assert check_slot(treatment, practitioner, start, room=king_street, now=NOW)[0] is Verdict.FREE


@pytest.mark.postgres
def test_the_database_never_lets_a_room_hold_an_appointment_recorded_at_another_site(two_sites):
    london, manchester, treatment, practitioner, (harley, king_street) = two_sites
    appointment = AppointmentFactory(practitioner=practitioner, treatment=treatment, room=harley)
    assert appointment.site == london
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(site=manchester)
    # A room that has held appointments stays at its site.
    harley.site = manchester
    with pytest.raises(Exception) as refused:
        harley.full_clean()
    assert "site" in str(refused.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(harley).objects.filter(pk=harley.pk).update(site=manchester)


def test_a_practitioner_on_two_sites_one_day_keeps_the_travel_time_free(two_sites, monkeypatch):
    """Mornings in London until 12:00, afternoons in Manchester from 13:00, an hour's travel: the last London
    session ends by 12:00 - the travel time before Manchester's first start, and a London booking at 11:00
    pushes the first Manchester start to 13:00 at the earliest (and a Manchester 13:00 booking the London
    ones back to end by 12:00)."""
    london, manchester, treatment, practitioner, rooms = two_sites
    WorkingHoursFactory(
        practitioner=practitioner, site=london, weekday=2, start=datetime.time(9), end=datetime.time(12)
    )
    WorkingHoursFactory(
        practitioner=practitioner, site=manchester, weekday=2, start=datetime.time(13), end=datetime.time(17)
    )
    at_london = times_at(treatment, practitioner, london)
    at_manchester = times_at(treatment, practitioner, manchester)
    # 13:00 Manchester span, an hour's travel: London sessions end by 12:00 (they do: the span ends then).
    assert at_london[0] == "09:00" and at_london[-1] == "11:00"
    # The London span ends at 12:00: Manchester starts from 13:00 (12:00 + 1 h), and it does.
    assert at_manchester[0] == "13:00" and at_manchester[-1] == "16:00"

    # A Manchester booking at 13:00 leaves London's 11:00 (it ends at 12:00, an hour before) and takes
    # nothing else there; at Manchester it is gone.
    set_clock(monkeypatch, NOW)
    patient = PatientFactory()
    services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=wall(WEDNESDAY, 13),
        booked_by=patient.user,
        source=Appointment.Source.ONLINE,
        site=manchester,
    )
    assert times_at(treatment, practitioner, london) == at_london
    assert times_at(treatment, practitioner, manchester)[:2] == ["14:00", "14:15"]


def test_spans_at_two_sites_with_no_gap_lose_the_travel_time_at_the_join(two_sites):
    """London 09:00-12:00 and Manchester 12:00-16:00, 60 minutes' travel: London's last session ends by
    11:00 and Manchester's first starts at 13:00. Both sides of the join keep the hour free."""
    london, manchester, treatment, practitioner, rooms = two_sites
    WorkingHoursFactory(
        practitioner=practitioner, site=london, weekday=2, start=datetime.time(9), end=datetime.time(12)
    )
    WorkingHoursFactory(
        practitioner=practitioner, site=manchester, weekday=2, start=datetime.time(12), end=datetime.time(16)
    )
    at_london = times_at(treatment, practitioner, london)
    at_manchester = times_at(treatment, practitioner, manchester)
    assert at_london[-1] == "10:00"  # 10:00-11:00, then an hour to reach Manchester by 12:00
    assert at_manchester[0] == "13:00"  # an hour after the London span's end


def test_an_appointment_at_another_site_keeps_the_travel_time_free_even_inside_the_spans(two_sites, monkeypatch):
    """A practitioner whose day has no fixed split (spans at both sites overlap, as a desk might set a
    flexible day): one booking at one site takes its hour plus the travel either side from the other."""
    london, manchester, treatment, practitioner, rooms = two_sites
    WorkingHoursFactory(
        practitioner=practitioner, site=london, weekday=2, start=datetime.time(9), end=datetime.time(17)
    )
    WorkingHoursFactory(
        practitioner=practitioner, site=manchester, weekday=3, start=datetime.time(9), end=datetime.time(17)
    )
    thursday = WEDNESDAY + datetime.timedelta(days=1)
    set_clock(monkeypatch, NOW)
    patient = PatientFactory()
    # A London appointment late on Wednesday does not reach Thursday morning in Manchester...
    services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=wall(WEDNESDAY, 15),
        booked_by=patient.user,
        source=Appointment.Source.ONLINE,
        site=london,
    )
    at_manchester = available_slots(treatment, practitioner, thursday, thursday, site=manchester, now=NOW)[thursday]
    assert local_times(at_manchester)[0] == "09:00"
    # ...but one recorded at London at 08:00 on Thursday (the desk, outside any span) keeps 09:00-10:00 free.
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=rooms[0], start_at=wall(thursday, 7, 30))
    at_manchester = available_slots(treatment, practitioner, thursday, thursday, site=manchester, now=NOW)[thursday]
    assert local_times(at_manchester)[0] == "09:30"  # 07:30-08:30 in London, an hour's travel


@pytest.mark.postgres
def test_the_database_keeps_the_travel_time_between_two_sites(two_sites):
    london, manchester, treatment, practitioner, (harley, king_street) = two_sites
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=harley, start_at=wall(WEDNESDAY, 9))
    with pytest.raises(IntegrityError), transaction.atomic():  # 10:00 ends London; 10:30 is 30 minutes later
        AppointmentFactory(
            practitioner=practitioner, treatment=treatment, room=king_street, start_at=wall(WEDNESDAY, 10, 30)
        )
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=king_street, start_at=wall(WEDNESDAY, 11))
    # At one site, back to back is fine.
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=harley, start_at=wall(WEDNESDAY, 8))


def test_closures_of_one_site_leave_the_other_bookable(two_sites, monkeypatch):
    london, manchester, treatment, practitioner, rooms = two_sites
    other = PractitionerFactory(treatments=[treatment])
    WorkingHoursFactory(
        practitioner=practitioner, site=london, weekday=2, start=datetime.time(9), end=datetime.time(12)
    )
    WorkingHoursFactory(practitioner=other, site=manchester, weekday=2, start=datetime.time(9), end=datetime.time(12))
    Closure.objects.create(first_day=WEDNESDAY, last_day=WEDNESDAY, reason="Refit", site=london)
    assert available_slots(treatment, None, WEDNESDAY, WEDNESDAY, site=london, now=NOW)[WEDNESDAY] == []
    at_manchester = available_slots(treatment, None, WEDNESDAY, WEDNESDAY, site=manchester, now=NOW)[WEDNESDAY]
    assert local_times(at_manchester)[0] == "09:00"
    anywhere = available_slots(treatment, None, WEDNESDAY, WEDNESDAY, now=NOW)[WEDNESDAY]
    assert {slot.site for slot in anywhere} == {manchester}
    set_clock(monkeypatch, NOW)
    patient = PatientFactory()
    with pytest.raises(services.SlotNotOffered):
        services.book_appointment(
            patient=patient,
            treatment=treatment,
            practitioner=practitioner,
            start_at=wall(WEDNESDAY, 9),
            booked_by=patient.user,
            source=Appointment.Source.ONLINE,
            site=london,
        )
    booked = services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=None,
        start_at=wall(WEDNESDAY, 9),
        booked_by=patient.user,
        source=Appointment.Source.ONLINE,
    )
    assert booked.site == manchester and booked.practitioner == other
    # A closure of every site closes both.
    Closure.objects.create(first_day=WEDNESDAY, last_day=WEDNESDAY, reason="Training")
    assert available_slots(treatment, None, WEDNESDAY, WEDNESDAY, now=NOW)[WEDNESDAY] == []


def test_a_treatment_limited_to_one_site_is_offered_only_there(two_sites):
    london, manchester, treatment, practitioner, rooms = two_sites
    for site in (london, manchester):
        WorkingHoursFactory(
            practitioner=practitioner,
            site=site,
            weekday=2 if site == london else 3,
            start=datetime.time(9),
            end=datetime.time(12),
        )
    treatment.sites.set([manchester])
    thursday = WEDNESDAY + datetime.timedelta(days=1)
    days = available_slots(treatment, practitioner, WEDNESDAY, thursday, now=NOW)
    assert days[WEDNESDAY] == [] and {slot.site for slot in days[thursday]} == {manchester}
    assert check_slot(treatment, practitioner, wall(WEDNESDAY, 9), now=NOW)[0] is Verdict.NOT_OFFERED


@pytest.mark.parametrize(
    "day, first_utc",
    [
        (datetime.date(2027, 3, 28), datetime.datetime(2027, 3, 28, 7, tzinfo=datetime.UTC)),  # CEST from 02:00
        (datetime.date(2027, 10, 31), datetime.datetime(2027, 10, 31, 8, tzinfo=datetime.UTC)),  # CET from 03:00
        (datetime.date(2027, 3, 27), datetime.datetime(2027, 3, 27, 8, tzinfo=datetime.UTC)),  # the day before
    ],
)
def test_a_madrid_site_shows_and_books_madrid_time_across_both_clock_changes(day, first_utc, settings, monkeypatch):
    """A Madrid site's 09:00 is 09:00 in Madrid on both clock-change days (Spain changes at 02:00 and 03:00
    local, an hour ahead of London): offered, shown and booked at the right instant."""
    madrid = SiteFactory(name="Madrid", slug="madrid", time_zone="Europe/Madrid", bank_holidays="ES-MD")
    room = RoomFactory(name="Serrano 1", site=madrid)
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=0, needs_cleared_intake=False)
    practitioner = PractitionerFactory(treatments=[treatment])
    WorkingHoursFactory(
        practitioner=practitioner, site=madrid, weekday=day.weekday(), start=datetime.time(9), end=datetime.time(12)
    )
    now = datetime.datetime.combine(day - datetime.timedelta(days=10), datetime.time(8), tzinfo=datetime.UTC)
    slots = available_slots(treatment, practitioner, day, day, site=madrid, now=now)[day]
    assert slots[0].start_at == first_utc
    assert slots[0].local_start.strftime("%H:%M") == "09:00" and slots[-1].local_start.strftime("%H:%M") == "11:00"
    assert slots[0].local_start.tzinfo.key == "Europe/Madrid"
    # Offered through the cache the same.
    set_clock(monkeypatch, now)
    cached = offered_slots(treatment, practitioner, day, day, site=madrid)[day]
    assert [slot.start_at for slot in cached] == [slot.start_at for slot in slots]
    patient = PatientFactory()
    appointment = services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=first_utc,
        booked_by=patient.user,
        source=Appointment.Source.ONLINE,
        site=madrid,
    )
    assert (appointment.site, appointment.room) == (madrid, room)
    assert appointment.start_at.astimezone(MADRID).strftime("%Y-%m-%d %H:%M") == f"{day.isoformat()} 09:00"
    from clinic import clock

    assert clock.time_text(appointment.start_at, appointment.site) == "09:00"


def test_moving_an_appointment_keeps_its_site_unless_another_is_asked_for(two_sites, monkeypatch):
    london, manchester, treatment, practitioner, (harley, king_street) = two_sites
    WorkingHoursFactory(
        practitioner=practitioner, site=london, weekday=2, start=datetime.time(9), end=datetime.time(12)
    )
    WorkingHoursFactory(
        practitioner=practitioner, site=manchester, weekday=3, start=datetime.time(9), end=datetime.time(12)
    )
    set_clock(monkeypatch, NOW)
    patient = PatientFactory()
    appointment = services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=wall(WEDNESDAY, 9),
        booked_by=patient.user,
        source=Appointment.Source.ONLINE,
    )
    assert appointment.site == london
    thursday = WEDNESDAY + datetime.timedelta(days=1)
    with pytest.raises(services.SlotNotOffered):  # Thursday is a Manchester day: not at London
        services.reschedule_appointment(appointment, new_start_at=wall(thursday, 9), by=patient.user)
    moved = services.reschedule_appointment(
        appointment, new_start_at=wall(thursday, 9), by=patient.user, site=manchester
    )
    moved.refresh_from_db()
    assert (moved.site, moved.room) == (manchester, king_street)


def test_the_api_offers_and_books_at_a_madrid_site_on_madrid_time(client, settings, monkeypatch):
    """`site` on the availability endpoint and the booking: Madrid's 09:00 on the spring-forward day is
    09:00+02:00, booked at that instant; the written-out answer is what the serializer gives."""
    from api import serializers as s
    from tests.factories import ClearedPatientFactory

    day = datetime.date(2027, 3, 28)
    madrid = SiteFactory(name="Madrid", slug="madrid", time_zone="Europe/Madrid")
    RoomFactory(name="Serrano 1", site=madrid)
    RoomFactory(name="Harley 1")  # London has a room, and nobody works there
    treatment = TreatmentFactory(slug="thighs-madrid", duration_minutes=60, buffer_after_minutes=0)
    practitioner = PractitionerFactory(treatments=[treatment])
    WorkingHoursFactory(
        practitioner=practitioner, site=madrid, weekday=day.weekday(), start=datetime.time(9), end=datetime.time(12)
    )
    set_clock(monkeypatch, datetime.datetime(2027, 3, 20, 8, tzinfo=datetime.UTC))
    query = {"treatment": treatment.slug, "site": "madrid", "from": day.isoformat(), "to": day.isoformat()}
    body = client.get("/api/v1/availability/", query).json()
    assert body["site"] == "madrid" and body["time_zone"] == "Europe/Madrid"
    first = body["days"][0]["slots"][0]
    assert first == {
        "start": "2027-03-28T09:00:00+02:00",
        "end": "2027-03-28T10:00:00+02:00",
        "practitioner": practitioner.slug,
        "site": "madrid",
    }
    assert client.get("/api/v1/availability/", {**query, "site": "nowhere"}).status_code == 400
    slots = available_slots(treatment, None, day, day, site=madrid)[day]
    payload = {"treatment": treatment.slug, "practitioner": None, "site": "madrid", "time_zone": "Europe/Madrid"}
    payload["days"] = [{"date": day, "unavailable_reason": "", "slots": slots}]
    assert s.availability_data(payload) == s.AvailabilitySerializer(payload).data

    patient = ClearedPatientFactory()
    client.force_login(patient.user)
    client.get("/api/v1/appointments/")  # the CSRF cookie
    response = client.post(
        "/api/v1/appointments/",
        {"treatment": treatment.slug, "site": "madrid", "start": first["start"]},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert response.status_code == 201, response.json()
    booked = response.json()
    assert (booked["site"], booked["start"]) == ("madrid", "2027-03-28T09:00:00+02:00")
    assert Appointment.objects.get(pk=booked["id"]).start_at == datetime.datetime(2027, 3, 28, 7, tzinfo=datetime.UTC)
