"""The desk's day views on each site's clock (issue 17): a Madrid site's day starts at Madrid's midnight, an
hour before London's, and its times read on Madrid's clock, on both clock-change days (the last Sundays of
March and October, when London and Madrid change together). A view mixing the two zones writes each time
on its own site's clock with its zone's abbreviation.

Each day below has three appointments at Madrid: 00:30 on the day (23:30 the day before in London: the
clinic's clock put it on the wrong day), 10:00 (09:00 in London) and 00:30 the next day (23:30 the day
itself in London: the clinic's clock put it on this day), and one at London at 11:00 London time."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from bookings import selectors, states
from clinic import roles
from clinic.models import default_site
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db

MADRID, LONDON = ZoneInfo("Europe/Madrid"), ZoneInfo("Europe/London")
SPRING, AUTUMN = datetime.date(2027, 3, 28), datetime.date(2027, 10, 31)  # both Sundays
ONE_DAY = datetime.timedelta(days=1)


def at(day, hour, minute, zone):
    return datetime.datetime.combine(day, datetime.time(hour, minute), zone).astimezone(datetime.UTC)


@pytest.fixture(params=[SPRING, AUTUMN], ids=["spring", "autumn"])
def day(request):
    return request.param


@pytest.fixture
def clinic(day):
    london = default_site()
    madrid = SiteFactory(name="Madrid", slug="madrid", address="Calle de Serrano 1, 28001 Madrid",
                         time_zone="Europe/Madrid")  # fmt: skip
    pilar = PractitionerFactory(user__first_name="Pilar", user__last_name="Ruiz")
    # Pilar works in Madrid on Sundays and Mondays, 09:00-13:00 Madrid time.
    for weekday in (day.weekday(), (day + ONE_DAY).weekday()):
        WorkingHoursFactory(practitioner=pilar, weekday=weekday, site=madrid,
                            start=datetime.time(9), end=datetime.time(13))  # fmt: skip
    treatment = TreatmentFactory(
        name="Consultation", kind="consultation", duration_minutes=45, needs_cleared_intake=False
    )
    pilar.treatments.add(treatment)
    serrano, harley = RoomFactory(name="Serrano 1", site=madrid), RoomFactory(name="Harley 1", site=london)

    def book(first, last, when, room):
        return AppointmentFactory(practitioner=pilar, treatment=treatment, room=room, start_at=when,
                                  patient=PatientFactory(user__first_name=first, user__last_name=last))  # fmt: skip

    return {
        "london": london,
        "madrid": madrid,
        "pilar": pilar,
        "early": book("Alba", "Early", at(day, 0, 30, MADRID), serrano),
        "ten": book("Carmen", "Ten", at(day, 10, 0, MADRID), serrano),
        "next": book("Nuria", "Next", at(day + ONE_DAY, 0, 30, MADRID), serrano),
        "london_visit": book("Lola", "London", at(day, 17, 0, LONDON), harley),
    }


@pytest.fixture
def desk(client):
    user = staff_user(roles.FRONT_DESK)
    client.force_login(user)
    return user


def page(client, name, *args, **query):
    response = client.get(reverse(name, args=args), query)
    assert response.status_code == 200
    return response.content.decode()


def test_a_madrid_desk_s_day_is_madrid_s_day_on_madrid_s_clock(client, desk, clinic, day):
    clinic["madrid"].staff.add(desk)
    for view in ("rooms", ""):
        body = page(client, "desk:calendar", date=day.isoformat(), view=view)
        assert "Alba Early" in body and "Carmen Ten" in body
        assert "Nuria Next" not in body and "Lola London" not in body
        assert '<span class="cal-time">00:30–01:15</span>' in body
        assert '<span class="cal-time">10:00–10:45</span>' in body
    # The day before holds none of them; the day after holds Nuria's 00:30.
    before = page(client, "desk:calendar", date=(day - ONE_DAY).isoformat())
    assert "Alba Early" not in before
    after = page(client, "desk:calendar", date=(day + ONE_DAY).isoformat())
    assert "Nuria Next" in after and '<span class="cal-time">00:30–01:15</span>' in after
    # The bookable cells of Pilar's Madrid span read Madrid's clock: 09:00 is the first.
    assert 'aria-label="Book Sun ' in body and '">09:00</button>' in body


def test_all_sites_show_each_time_on_its_own_site_s_clock_labelled_with_its_zone(client, desk, clinic, day):
    body = page(client, "desk:calendar", date=day.isoformat(), site="all")
    madrid_summer = day == SPRING  # on 28 March Madrid is on summer time from 02:00; on 31 October, winter from 03:00
    assert "Alba Early" in body and "Carmen Ten" in body and "Lola London" in body
    assert "Nuria Next" not in body  # Madrid's Monday, though still Sunday in London
    ten_zone = "CEST" if madrid_summer else "CET"
    early_zone = "CET" if madrid_summer else "CEST"  # 00:30 is before either change
    london_zone = "BST" if madrid_summer else "GMT"
    assert f'<span class="cal-time">10:00–10:45 {ten_zone}</span>' in body
    assert f'<span class="cal-time">00:30–01:15 {early_zone}</span>' in body
    assert f'<span class="cal-time">17:00–17:45 {london_zone}</span>' in body
    assert 'class="cal-site small">Madrid<' in body
    # The axis is the clinic's clock, and says so.
    assert f">09:00 {london_zone}<" in body


def test_the_desk_s_week_views_put_each_appointment_on_its_site_s_day(client, desk, clinic, day):
    clinic["madrid"].staff.add(desk)
    week = page(client, "desk:week_all", date=day.isoformat())
    assert "Alba Early" in week and "Carmen Ten" in week and "Nuria Next" not in week  # Nuria: Monday, next week
    assert '<span class="week-chip-time">00:30</span>' in week
    mine = page(client, "desk:week", clinic["pilar"].pk, date=day.isoformat())
    assert "Alba Early" in mine and "Carmen Ten" in mine and "Nuria Next" not in mine
    # Her week mixes London and Madrid: each card says its zone.
    assert "00:30–01:15 CE" in mine and "10:00–10:45 CE" in mine


def test_the_day_sheet_and_the_practitioner_s_own_day_are_each_site_s_day(client, desk, clinic, day):
    sheet = page(client, "desk:day_sheet", clinic["pilar"].pk, date=day.isoformat())
    assert "Alba Early" in sheet and "Carmen Ten" in sheet and "Lola London" in sheet
    assert "Nuria Next" not in sheet
    assert "00:30–01:15 CE" in sheet and "10:00–10:45 CE" in sheet and "17:00–17:45" in sheet
    client.force_login(clinic["pilar"].user)
    mine = page(client, "my_day", day=day.isoformat())
    assert "Alba Early" in mine and "Carmen Ten" in mine and "Nuria Next" not in mine
    assert "00:30&ndash;01:15 CE" in mine and "10:00&ndash;10:45 CE" in mine
    # Madrid alone that day: no zones written.
    clinic["london_visit"].delete()
    alone = page(client, "my_day", day=day.isoformat())
    assert "10:00&ndash;10:45<br>" in alone


def test_today_and_check_in_follow_the_site_s_clock(client, desk, clinic, day, time_machine):
    # 00:10 in Madrid on the day: still the evening before in London.
    now = at(day, 0, 10, MADRID)
    time_machine.move_to(now, tick=False)
    client.force_login(desk)  # a new session, at the new time
    todays, _ = selectors.todays_and_recent_patients(now)
    assert [p.full_name for p in todays] == ["Alba Early", "Carmen Ten"]
    assert todays[0].first_start_text == "00:30"
    # Madrid's patients of today may be checked in; Nuria (tomorrow in Madrid) may not, though it is
    # London's today for her too.
    assert states.refusal(states.CHECK_IN, clinic["early"], now) is None
    assert "only on the day" in states.refusal(states.CHECK_IN, clinic["next"], now)
    clinic["madrid"].staff.add(desk)
    body = page(client, "desk:calendar")
    assert "Alba Early" in body and "Nuria Next" not in body
    search = page(client, "desk:patients")
    assert "Alba Early" in search and ">00:30<" in search
    panel = page(client, "desk:panel_appointment", clinic["early"].pk)
    assert "Check in" in panel and "(Madrid time)" in panel


def test_the_month_counts_each_appointment_on_its_site_s_day(clinic, day):
    counts = selectors.counts_by_day(day - ONE_DAY, day + ONE_DAY)
    booked = "booked"
    assert counts[day][booked] == 3  # Alba, Carmen, Lola
    assert counts[day + ONE_DAY][booked] == 1  # Nuria
    assert day - ONE_DAY not in counts


def test_a_move_typed_at_the_desk_is_on_the_appointment_s_site_s_clock(client, desk, clinic, day, time_machine):
    time_machine.move_to(day - 7 * ONE_DAY, tick=False)  # within the booking horizon
    client.force_login(desk)
    carmen = clinic["ten"]
    form = page(client, "desk:move", carmen.pk)
    assert 'value="10:00"' in form
    response = client.post(
        reverse("desk:move", args=[carmen.pk]), {"date": day.isoformat(), "time": "11:00", "reason": ""}, follow=True
    )
    assert "Moved Carmen Ten" in response.content.decode(), [str(m) for m in response.context["messages"]]
    carmen.refresh_from_db()
    assert carmen.start_at == at(day, 11, 0, MADRID)
    # Its history says where it went on the same clock.
    history = page(client, "desk:appointment", carmen.pk)
    assert f" to {day.day} {day:%b} 11:00" in history


def test_the_patient_page_lists_each_appointment_on_its_site_s_clock(client, desk, clinic, day):
    """The desk's patient page: Carmen's Madrid 10:00 reads 10:00 (Madrid time), not London's 09:00; a London
    appointment carries no label."""
    carmen = clinic["ten"]
    html = page(client, "desk:patient", carmen.patient.pk)
    label = '<span class="small text-body-secondary">(Madrid time)</span>'
    assert f"{day:%a} {day.day} {day:%b %Y} 10:00</a> {label}" in html
    assert "09:00" not in html
    lola = clinic["london_visit"]
    html = page(client, "desk:patient", lola.patient.pk)
    assert f"{day:%a} {day.day} {day:%b %Y} 17:00</a></td>" in html
