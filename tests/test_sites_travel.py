"""Travel time per pair of sites (issue 17): two London sites a walk apart, Manchester a train ride away. The
clinic's one figure (`CLINIC_TRAVEL_MINUTES`) holds for a pair without its own (`clinic.models.SiteTravel`);
availability keeps each pair's time free, the database refuses less (bookings 0021), and a clinic admin sets
the figures in the admin."""

import datetime
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from bookings import services
from bookings.availability import available_slots, offered_slots
from bookings.models import Appointment
from clinic import roles
from clinic.models import SiteTravel, default_site
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    staff_user,
)
from tests.helpers import set_clock

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
NOW = datetime.datetime(2027, 2, 1, 8, tzinfo=datetime.UTC)  # a Monday
WEDNESDAY = datetime.date(2027, 2, 10)


def wall(hour, minute=0, day=WEDNESDAY):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON).astimezone(datetime.UTC)


def first_time(slots):
    return slots[0].start_at.astimezone(LONDON).strftime("%H:%M") if slots else None


@pytest.fixture
def three_sites(settings):
    """Harley Street (the default site), Soho 20 minutes away, Manchester 150 minutes away; Soho-Manchester
    has no figure of its own, so the clinic's one figure (an hour) holds there. A room at each; one
    practitioner offering a one-hour session, with no hours yet (each test gives them theirs)."""
    settings.CLINIC = {**settings.CLINIC, "TRAVEL_MINUTES": 60}
    harley = default_site()
    soho = SiteFactory(name="Soho", slug="soho")
    manchester = SiteFactory(name="Manchester", slug="manchester")
    SiteTravel.objects.create(from_site=soho, to_site=harley, minutes=20)  # either order: kept as a pair
    SiteTravel.objects.create(from_site=harley, to_site=manchester, minutes=150)
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=0, needs_cleared_intake=False)
    practitioner = PractitionerFactory(treatments=[treatment])
    sites = {"harley": harley, "soho": soho, "manchester": manchester}
    rooms = {key: RoomFactory(name=f"{site.name} 1", site=site) for key, site in sites.items()}
    return harley, soho, manchester, treatment, practitioner, rooms


def works(practitioner, site, opens, closes):
    WorkingHoursFactory(practitioner=practitioner, site=site, weekday=WEDNESDAY.weekday(), start=opens, end=closes)


def first_at(treatment, practitioner, site):
    return first_time(available_slots(treatment, practitioner, WEDNESDAY, WEDNESDAY, site=site, now=NOW)[WEDNESDAY])


@pytest.mark.parametrize(
    ("morning_at", "then_at", "first", "morning_ends"),
    [
        # 20 minutes: from 10:20, on the 15-minute grid 10:30 (the hour would give 11:00); the morning's
        # sessions end by 09:40
        ("harley", "soho", "10:30", "08:30"),
        # 150 minutes (the hour: 11:00); nothing in the morning ends 150 minutes before 10:00
        ("harley", "manchester", "12:30", None),
        ("soho", "manchester", "11:00", "08:00"),  # no figure of their own: the clinic's hour
    ],
)
def test_each_pair_of_sites_keeps_its_own_travel_time_free(three_sites, morning_at, then_at, first, morning_ends):
    """Morning at one site until 10:00, the rest of the day at another from 10:00: the second site's first
    time leaves that pair's travel time after the morning."""
    harley, soho, manchester, treatment, practitioner, rooms = three_sites
    sites = {"harley": harley, "soho": soho, "manchester": manchester}
    works(practitioner, sites[morning_at], datetime.time(8), datetime.time(10))
    works(practitioner, sites[then_at], datetime.time(10), datetime.time(18))
    assert first_at(treatment, practitioner, sites[then_at]) == first
    # And the morning's last session ends that long before the afternoon's span opens.
    morning = available_slots(treatment, practitioner, WEDNESDAY, WEDNESDAY, site=sites[morning_at], now=NOW)
    last = morning[WEDNESDAY][-1].start_at.astimezone(LONDON).strftime("%H:%M") if morning[WEDNESDAY] else None
    assert last == morning_ends


def test_an_appointment_at_another_site_keeps_the_pair_s_travel_time(three_sites):
    harley, soho, manchester, treatment, practitioner, rooms = three_sites
    works(practitioner, manchester, datetime.time(8), datetime.time(18))
    # Booked at Harley by the desk, where they have no hours that day (a visit, a cover): 150 minutes either side.
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=rooms["harley"], start_at=wall(8))
    assert first_at(treatment, practitioner, manchester) == "11:30"


def test_a_cached_answer_follows_a_change_of_travel_time(three_sites):
    harley, soho, manchester, treatment, practitioner, rooms = three_sites
    works(practitioner, harley, datetime.time(8), datetime.time(10))
    works(practitioner, manchester, datetime.time(10), datetime.time(18))

    def cached_first():
        return first_time(
            offered_slots(treatment, practitioner, WEDNESDAY, WEDNESDAY, site=manchester, now=NOW)[WEDNESDAY]
        )

    assert cached_first() == "12:30"
    pair = SiteTravel.objects.get(to_site=manchester)
    pair.minutes = 90
    pair.save()
    assert cached_first() == "11:30"


@pytest.mark.postgres
def test_the_database_keeps_each_pair_s_travel_time(three_sites):
    harley, soho, manchester, treatment, practitioner, rooms = three_sites
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=rooms["harley"], start_at=wall(9))
    # Soho 20 minutes after Harley ends: fine, though the clinic's one figure (an hour) would have refused it.
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=rooms["soho"], start_at=wall(10, 20))
    with pytest.raises(IntegrityError), transaction.atomic():  # Manchester 2 hours after Harley: 150 minutes needed
        AppointmentFactory(practitioner=practitioner, treatment=treatment, room=rooms["manchester"], start_at=wall(12))
    with pytest.raises(IntegrityError), transaction.atomic():  # and before it, either way round
        AppointmentFactory(practitioner=practitioner, treatment=treatment, room=rooms["manchester"], start_at=wall(6))
    # Harley ended 10:00 (150 minutes: 12:30), Soho 11:20 (no figure: the hour, 12:20).
    late = AppointmentFactory(
        practitioner=practitioner, treatment=treatment, room=rooms["manchester"], start_at=wall(12, 30)
    )
    # Moving a live appointment closer is refused; a cancelled one keeps nobody from travelling.
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.filter(pk=late.pk).update(
            start_at=wall(12, 15), end_at=wall(13, 15), busy_until=wall(13, 15)
        )
    Appointment.objects.filter(pk=late.pk).update(status=Appointment.Status.CANCELLED)
    AppointmentFactory(practitioner=practitioner, treatment=treatment, room=rooms["manchester"], start_at=wall(12, 30))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_writers_at_two_sites_check_one_after_the_other(three_sites):
    """Two transactions write appointments of one practitioner at Harley and Manchester, too close together.
    The first has written and not committed; the second must wait for it (the trigger's lock on the
    practitioner) instead of checking against a table that does not show the first yet, and is then refused.
    Without the lock both would commit: the wait below would never be seen and the test fails."""
    harley, soho, manchester, treatment, practitioner, rooms = three_sites
    written, release, outcome = threading.Event(), threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                AppointmentFactory(
                    practitioner=practitioner, treatment=treatment, room=rooms["harley"], start_at=wall(9)
                )
                written.set()
                release.wait(timeout=60)
            outcome["first"] = "committed"
        finally:
            connection.close()

    def second():
        try:
            written.wait(timeout=60)
            with transaction.atomic():
                AppointmentFactory(
                    practitioner=practitioner, treatment=treatment, room=rooms["manchester"], start_at=wall(11)
                )
            outcome["second"] = "committed"
        except IntegrityError:
            outcome["second"] = "refused"
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    try:
        assert waits_on_a_lock(within=datetime.timedelta(seconds=30)), "the second writer never waited"
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=60)
    assert outcome == {"first": "committed", "second": "refused"}
    assert Appointment.objects.filter(practitioner=practitioner).count() == 1


def waits_on_a_lock(*, within) -> bool:
    """Whether a backend of this database is seen waiting on a lock before `within` has passed (a bound, not
    a timing: the answer comes as soon as the wait is seen)."""
    give_up = time.monotonic() + within.total_seconds()
    with connection.cursor() as cursor:
        while time.monotonic() < give_up:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.01)
    return False


def test_a_clinic_admin_sets_a_pair_s_travel_time_in_the_admin(client, sign_in, three_sites):
    harley, soho, manchester, treatment, practitioner, rooms = three_sites
    sign_in(client, staff_user(roles.CLINIC_ADMIN, is_staff=True))
    add = reverse("admin:clinic_sitetravel_add")
    # The same pair the other way round is the same pair: refused with a message, nothing saved.
    response = client.post(add, {"from_site": manchester.pk, "to_site": harley.pk, "minutes": "120"})
    assert response.status_code == 200 and "already exists" in response.content.decode()
    response = client.post(add, {"from_site": soho.pk, "to_site": soho.pk, "minutes": "5"})
    assert response.status_code == 200 and "Choose two different sites." in response.content.decode()
    assert SiteTravel.objects.count() == 2
    response = client.post(add, {"from_site": manchester.pk, "to_site": soho.pk, "minutes": "170"})
    assert response.status_code == 302
    pair = SiteTravel.objects.get(minutes=170)
    assert (pair.from_site_id, pair.to_site_id) == SiteTravel.pair(manchester.pk, soho.pk)
    # The edit form saves unchanged.
    change = reverse("admin:clinic_sitetravel_change", args=[pair.pk])
    page = client.get(change)
    assert page.status_code == 200
    form = page.context["adminform"].form
    unchanged = {name: form[name].value() for name in ("from_site", "to_site", "minutes")}
    assert client.post(change, unchanged).status_code == 302
    pair.refresh_from_db()
    assert pair.minutes == 170
    # The front desk may read the figures, not change them.
    client.logout()
    sign_in(client, staff_user(roles.FRONT_DESK, is_staff=True))
    assert client.get(reverse("admin:clinic_sitetravel_changelist")).status_code == 200
    assert client.post(add, {"from_site": harley.pk, "to_site": soho.pk, "minutes": "1"}).status_code == 403


def test_the_booking_service_refuses_a_time_too_close_to_another_site(three_sites, monkeypatch):
    harley, soho, manchester, treatment, practitioner, rooms = three_sites
    works(practitioner, harley, datetime.time(8), datetime.time(10))
    works(practitioner, manchester, datetime.time(10), datetime.time(18))
    set_clock(monkeypatch, NOW)
    patient = ClearedPatientFactory()
    with pytest.raises(services.SlotNotOffered):
        services.book_appointment(
            patient=patient,
            treatment=treatment,
            practitioner=practitioner,
            start_at=wall(12),
            booked_by=patient.user,
            source=Appointment.Source.ONLINE,
            site=manchester,  # at Harley until 10:00, 150 minutes away
        )
    booked = services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=wall(12, 30),
        booked_by=patient.user,
        source=Appointment.Source.ONLINE,
        site=manchester,
    )
    assert booked.site == manchester
