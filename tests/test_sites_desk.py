"""Staff by site (issue 17): a desk user works at one or more sites and the desk's calendars open on those
sites; the site switcher changes it in one click (and "All sites"), and the choice holds for the next pages;
a desk user of one site may look at another's (clinic policy, clinic.access); admins and a desk user with no
site see every site; a practitioner's day and week show every site they work at, each card naming its site."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from clinic import roles
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    WorkingHoursFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
DAY = datetime.date(2030, 7, 9)  # a Tuesday


@pytest.fixture
def two_sites():
    from clinic.models import default_site

    london = default_site()
    manchester = SiteFactory(name="Manchester", slug="manchester", address="1 King Street, Manchester M2 4LQ")
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart")
    # Mornings in London, afternoons in Manchester.
    WorkingHoursFactory(practitioner=practitioner, weekday=DAY.weekday(), site=london,
                        start=datetime.time(9), end=datetime.time(12))  # fmt: skip
    WorkingHoursFactory(practitioner=practitioner, weekday=DAY.weekday(), site=manchester,
                        start=datetime.time(14), end=datetime.time(18))  # fmt: skip
    at = lambda hour: datetime.datetime.combine(DAY, datetime.time(hour), LONDON).astimezone(datetime.UTC)  # noqa: E731
    in_london = AppointmentFactory(
        practitioner=practitioner, patient=PatientFactory(user__first_name="Lola", user__last_name="London"),
        room=RoomFactory(name="Harley 1", site=london), start_at=at(10),
    )  # fmt: skip
    in_manchester = AppointmentFactory(
        practitioner=practitioner, patient=PatientFactory(user__first_name="Mo", user__last_name="Manchester"),
        room=RoomFactory(name="King 1", site=manchester), start_at=at(15),
    )  # fmt: skip
    return london, manchester, practitioner, in_london, in_manchester


def calendar(client, **query):
    return client.get(reverse("desk:calendar"), {"date": DAY.isoformat(), **query}).content.decode()


def test_a_desk_user_sees_their_own_site_by_default_and_switches_in_one_click(client, two_sites):
    london, manchester, *_ = two_sites
    desk = staff_user(roles.FRONT_DESK)
    manchester.staff.add(desk)
    client.force_login(desk)
    page = calendar(client)
    assert "Mo Manchester" in page and "Lola London" not in page
    assert 'aria-label="Sites"' in page and "All sites" in page
    # Another site's calendar: allowed (clinic policy), one click, and it holds for the next page.
    page = calendar(client, site=london.slug)
    assert "Lola London" in page and "Mo Manchester" not in page
    assert "Lola London" in calendar(client)
    both = calendar(client, site="all")
    assert "Lola London" in both and "Mo Manchester" in both
    rooms = calendar(client, site=manchester.slug, view="rooms")
    assert "King 1" in rooms and "Harley 1" not in rooms
    week = client.get(reverse("desk:week_all"), {"date": DAY.isoformat()}).content.decode()
    assert "Mo Manchester" in week and "Lola London" not in week


def test_an_unknown_site_changes_nothing(client, two_sites):
    *_, in_london, in_manchester = two_sites
    desk = staff_user(roles.FRONT_DESK)
    in_manchester.room.site.staff.add(desk)
    client.force_login(desk)
    response = client.get(reverse("desk:calendar"), {"date": DAY.isoformat(), "site": "nowhere"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Mo Manchester" in page and "Lola London" not in page


@pytest.mark.parametrize("who", ["admin", "desk without a site"])
def test_admins_and_a_desk_user_with_no_site_see_every_site(client, sign_in, two_sites, who):
    user = staff_user(roles.CLINIC_ADMIN if who == "admin" else roles.FRONT_DESK)
    sign_in(client, user)
    page = calendar(client)
    assert "Lola London" in page and "Mo Manchester" in page
    # "All sites": each card names its site.
    assert 'class="cal-site small">Manchester<' in page


def test_a_practitioner_sees_their_day_across_sites_each_row_naming_its_site(client, two_sites):
    london, manchester, practitioner, *_ = two_sites
    client.force_login(practitioner.user)
    page = client.get(reverse("my_day"), {"day": DAY.isoformat()}).content.decode()
    assert "Lola London" in page and "Mo Manchester" in page
    assert f"Harley 1 &middot; {london.name}" in page and "King 1 &middot; Manchester" in page


def test_the_desk_s_week_of_a_practitioner_shows_both_sites(client, two_sites):
    *_, practitioner, _, _ = two_sites
    desk = staff_user(roles.FRONT_DESK)
    client.force_login(desk)
    page = client.get(reverse("desk:week", args=[practitioner.pk]), {"date": DAY.isoformat()}).content.decode()
    assert "Lola London" in page and "Mo Manchester" in page and 'class="cal-site small">Manchester<' in page


def test_the_desks_sites_are_those_the_orm_reads_in_its_order_each_with_whether_it_is_the_users(client, two_sites):
    """`sites_for_desk` writes its SQL once from the model (clinic/selectors.py): the same sites, order and
    `mine` as the ORM's query, for a user of one site, of none, and for nobody signed in; as the switcher shows."""
    from django.contrib.auth.models import AnonymousUser
    from django.db.models import Exists, OuterRef

    from clinic.models import Site
    from clinic.selectors import sites_for_desk

    london, manchester, *_ = two_sites
    SiteFactory(name="Aberdeen", slug="aberdeen", display_order=5)
    SiteFactory(name="Closed", slug="closed", active=False)
    desk = staff_user(roles.FRONT_DESK)
    manchester.staff.add(desk)
    for user in (desk, staff_user(roles.FRONT_DESK), AnonymousUser()):
        works_here = Site.staff.through.objects.filter(site_id=OuterRef("pk"), user_id=user.pk)
        expected = [
            (s.pk, s.name, s.slug, s.time_zone, s.mine) for s in Site.objects.active().annotate(mine=Exists(works_here))
        ]
        assert [(s.pk, s.name, s.slug, s.time_zone, s.mine) for s in sites_for_desk(user)] == expected
    client.force_login(desk)
    switcher = calendar(client, site="all").split('aria-label="Sites"')[1].split("</nav>")[0]
    assert 'Manchester <span class="visually-hidden">(your site)</span>' in switcher and "Closed" not in switcher
