"""Several sites (issue 17, stage 1): the model. A clinic's one address became the default site by a
migration that kept every row; rooms and working-hours spans belong to a site, treatments may be limited to
some, closures close one site or all, and clinic time reads a site's own clock."""

import datetime

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from clinic import clock, closures, roles
from clinic.models import Closure, OpeningHours, Room, Site, WorkingHours, default_site
from tests.factories import PractitionerFactory, RoomFactory, SiteFactory, TreatmentFactory, staff_user

pytestmark = pytest.mark.django_db

MADRID = "Europe/Madrid"


@pytest.fixture
def madrid():
    return SiteFactory(name="Madrid", slug="madrid", address="Calle de Serrano 1, 28001 Madrid", time_zone=MADRID)


def test_the_migration_made_the_clinic_s_one_address_the_default_site():
    site = default_site()
    assert (site.name, site.address, site.phone, site.email, site.time_zone) == (
        settings.CLINIC["NAME"],
        settings.CLINIC["ADDRESS"],
        settings.CLINIC["PHONE"],
        settings.CLINIC["EMAIL"],
        settings.CLINIC_TIME_ZONE,
    )
    assert site.active and Site.objects.count() == 1


def test_a_room_or_a_span_saved_without_a_site_joins_the_default_site():
    room = Room.objects.create(name="Rose")
    span = WorkingHours.objects.create(
        practitioner=PractitionerFactory(), weekday=0, start=datetime.time(9), end=datetime.time(17)
    )
    assert room.site == span.site == default_site()


def test_the_default_site_comes_back_from_the_settings_in_an_emptied_database():
    Site.objects.all().delete()
    site = default_site()
    assert (site.name, site.time_zone) == (settings.CLINIC["NAME"], settings.CLINIC_TIME_ZONE)
    assert default_site() == site  # made once


def test_two_sites_may_each_have_a_room_1_but_one_site_not_two(madrid):
    RoomFactory(name="Room 1")
    Room.objects.create(name="Room 1", site=madrid)
    with pytest.raises(IntegrityError), transaction.atomic():
        Room.objects.create(name="Room 1", site=madrid)


def test_a_site_with_rooms_cannot_be_deleted_only_made_inactive(madrid):
    Room.objects.create(name="Sol", site=madrid)
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        madrid.delete()


@pytest.mark.parametrize("zone", ["Mars/Olympus", "+01:00", "", "../etc/passwd"])
def test_a_site_s_time_zone_is_an_iana_name(zone, madrid):
    madrid.time_zone = zone
    with pytest.raises(ValidationError) as refused:
        madrid.full_clean()
    assert "time_zone" in refused.value.message_dict


def test_a_site_s_holiday_calendar_must_exist(madrid):
    madrid.bank_holidays = "ES-MD"
    madrid.full_clean()
    madrid.bank_holidays = "XX-YY"
    with pytest.raises(ValidationError) as refused:
        madrid.full_clean()
    assert "bank_holidays" in refused.value.message_dict


def test_opening_hours_close_after_they_open(madrid):
    hours = OpeningHours(site=madrid, weekday=0, opens=datetime.time(18), closes=datetime.time(9))
    with pytest.raises(ValidationError):
        hours.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        hours.save()


def test_a_treatment_without_sites_is_offered_everywhere_and_one_with_sites_only_there(madrid):
    everywhere = TreatmentFactory()
    madrid_only = TreatmentFactory()
    madrid_only.sites.set([madrid])
    london = default_site()
    assert everywhere.offered_at(london) and everywhere.offered_at(madrid)
    assert madrid_only.offered_at(madrid) and not madrid_only.offered_at(london)


def test_a_closure_of_one_site_leaves_the_other_open_and_one_without_a_site_closes_both(madrid):
    london = default_site()
    day, other_day = datetime.date(2027, 2, 3), datetime.date(2027, 2, 10)
    Closure.objects.create(first_day=day, last_day=day, reason="Refit", site=madrid)
    Closure.objects.create(first_day=other_day, last_day=other_day, reason="Training")
    assert closures.closed_on(day, site=madrid) == "Refit"
    assert closures.closed_on(day, site=london) == ""
    assert closures.closed_on(other_day, site=madrid) == closures.closed_on(other_day, site=london) == "Training"


def test_each_site_closes_on_its_own_bank_holidays(madrid, bank_holidays):
    madrid.bank_holidays = "ES-MD"
    madrid.save()
    london = default_site()
    spanish_holiday = datetime.date(2027, 10, 12)  # Fiesta Nacional de España
    boxing_day = datetime.date(2027, 12, 27)  # the substitute day in England (26 December is a Sunday)
    assert closures.closed_on(spanish_holiday, site=madrid)
    assert not closures.closed_on(spanish_holiday, site=london)
    assert closures.closed_on(boxing_day, site=london)
    assert not closures.closed_on(boxing_day, site=madrid)


def test_clinic_time_reads_the_site_s_clock_across_both_clock_changes(madrid):
    london = default_site()
    # Madrid is an hour ahead of London all year: both change on the last Sundays of March and October.
    for day in (datetime.date(2027, 3, 28), datetime.date(2027, 10, 31), datetime.date(2027, 7, 1)):
        ten_in_madrid = clock.local_to_utc(day, datetime.time(10), site=madrid)
        assert clock.time_text(ten_in_madrid, madrid) == "10:00"
        assert clock.time_text(ten_in_madrid, london) == "09:00"
        assert clock.local_day(ten_in_madrid, madrid) == day
    # 02:30 does not happen in Madrid on the spring-forward day.
    assert clock.local_to_utc(datetime.date(2027, 3, 28), datetime.time(2, 30), site=madrid) is None
    assert clock.zone() == clock.zone(london)


def test_a_clinic_admin_adds_a_site_in_the_admin_and_the_desk_may_only_look(client, sign_in):
    sign_in(client, staff_user(roles.CLINIC_ADMIN, is_staff=True))
    response = client.post(
        reverse("admin:clinic_site_add"),
        {
            "name": "Manchester",
            "slug": "manchester",
            "address": "1 King Street, Manchester M2 6AW",
            "phone": "0161 496 0000",
            "email": "manchester@clinic.example",
            "time_zone": "Europe/London",
            "bank_holidays": "GB-ENG",
            "active": "on",
            "display_order": "1",
            "opening_hours-TOTAL_FORMS": "1",
            "opening_hours-INITIAL_FORMS": "0",
            "opening_hours-0-weekday": "0",
            "opening_hours-0-opens": "09:00",
            "opening_hours-0-closes": "18:00",
            "rooms-TOTAL_FORMS": "1",
            "rooms-INITIAL_FORMS": "0",
            "rooms-0-name": "Room 1",
            "rooms-0-active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    site = Site.objects.get(slug="manchester")
    assert list(site.rooms.values_list("name", flat=True)) == ["Room 1"]
    assert site.opening_hours.get().closes == datetime.time(18)
    assert client.get(reverse("admin:clinic_site_change", args=[site.pk])).status_code == 200

    client.logout()
    sign_in(client, staff_user(roles.FRONT_DESK, is_staff=True))
    assert client.get(reverse("admin:clinic_site_changelist")).status_code == 200
    assert client.get(reverse("admin:clinic_site_change", args=[site.pk])).status_code == 200
    assert client.post(reverse("admin:clinic_site_add"), {"name": "X"}).status_code == 403
