"""The reports' hours on each site's clock (issue 17): an appointment or a working span at a Madrid site is
counted in Madrid's hour, weekday and day, as Madrid's working hours are written, not London's (an hour
behind). Exact figures through the pages, over the week of the spring clock change (Sunday 29 March 2026,
when London and Madrid both go forward)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from bookings.models import Appointment
from clinic import roles
from clinic.models import TimeOff, default_site
from tests.factories import (
    AppointmentFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    TreatmentFactory,
    WorkingHoursFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db

MADRID, LONDON = ZoneInfo("Europe/Madrid"), ZoneInfo("Europe/London")
MONDAY, SUNDAY = datetime.date(2026, 3, 23), datetime.date(2026, 3, 29)
S = Appointment.Status


def at(day, hour, minute, zone):
    return datetime.datetime.combine(day, datetime.time(hour, minute), zone).astimezone(datetime.UTC)


def visit(practitioner, start, room, status=S.COMPLETED):
    return AppointmentFactory(
        practitioner=practitioner,
        treatment=TreatmentFactory(slug="microneedling-thighs", name="Microneedling: thighs"),
        room=room,
        start_at=start,
        end_at=start + datetime.timedelta(hours=1),
        busy_until=start + datetime.timedelta(hours=1),
        status=status,
    )


@pytest.fixture
def admin(client, sign_in):
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    return client


@pytest.fixture
def clinic():
    """Ada works Mondays 09-13 in London; Pilar Mondays 09-11 and Sundays 09-13 in Madrid (Madrid time), with
    time off on Sunday 12:00-13:00 Madrid time (11:00-12:00 in London). Booked: Ada Monday 10:00 London,
    Pilar Monday 09:00 and Sunday 10:00 Madrid, and Pilar at 00:30 on Monday 30 March in Madrid, which is
    still Sunday 23:30 in London but the next week in Madrid."""
    london = default_site()
    madrid = SiteFactory(name="Madrid", slug="madrid", time_zone="Europe/Madrid")
    ada = PractitionerFactory(user__first_name="Ada", user__last_name="One")
    pilar = PractitionerFactory(user__first_name="Pilar", user__last_name="Ruiz")
    WorkingHoursFactory(practitioner=ada, weekday=0, start=datetime.time(9), end=datetime.time(13), site=london)
    WorkingHoursFactory(practitioner=pilar, weekday=0, start=datetime.time(9), end=datetime.time(11), site=madrid)
    WorkingHoursFactory(practitioner=pilar, weekday=6, start=datetime.time(9), end=datetime.time(13), site=madrid)
    TimeOff.objects.create(practitioner=pilar, start_at=at(SUNDAY, 12, 0, MADRID), end_at=at(SUNDAY, 13, 0, MADRID))
    harley, serrano = RoomFactory(name="Harley", site=london), RoomFactory(name="Serrano", site=madrid)
    visit(ada, at(MONDAY, 10, 0, LONDON), harley)
    visit(pilar, at(MONDAY, 9, 0, MADRID), serrano)
    visit(pilar, at(SUNDAY, 10, 0, MADRID), serrano)
    visit(pilar, at(SUNDAY + datetime.timedelta(days=1), 0, 30, MADRID), serrano, status=S.NO_SHOW)
    return {"madrid": madrid, "london": london}


def rows(response, key):
    assert response.status_code == 200
    return {row[0]: row[1:] for row in response.context["report"].table(key).rows}


def report(client, name, **query):
    return client.get(reverse(f"reports:{name}"), {"start": MONDAY.isoformat(), "end": SUNDAY.isoformat(), **query})


def test_utilisation_counts_each_site_s_hours_on_its_own_clock(admin, clinic):
    response = report(admin, "utilisation")
    # Pilar: Monday 2 hours + Sunday 4 less the hour off = 5 working hours; 2 booked (Monday 29's 00:30 in
    # Madrid is next week there).
    assert rows(response, "practitioners") == {
        "Ada One": ["1", "1.0", "4.0", "25.0", "0.0"],
        "Pilar Ruiz": ["2", "2.0", "5.0", "40.0", "0.0"],
    }
    # Monday 09:00 has Ada's and Pilar's hours (2), Pilar's 09:00 booked; 10:00 likewise with Ada's booked.
    # Sunday: Pilar's 10:00 in Madrid's 10:00, her hour off in Madrid's 12:00.
    heat = rows(response, "heat-map")
    assert response.context["report"].table("heat-map").columns == ["Weekday", "09:00", "10:00", "11:00", "12:00"]
    assert heat == {
        "Monday": ["50.0", "50.0", "0.0", "0.0"],
        "Sunday": ["0.0", "100.0", "0.0", "closed"],
    }
    # Madrid alone: the same on its clock.
    madrid = report(admin, "utilisation", site=clinic["madrid"].pk)
    assert rows(madrid, "heat-map") == {"Monday": ["100.0", "0.0", "closed"], "Sunday": ["0.0", "100.0", "0.0"]}
    # The room is open while anyone works at Madrid (time off closes no room): 2 + 4 hours.
    assert rows(madrid, "rooms") == {"Serrano": ["2", "2.0", "6.0", "33.3"]}


def test_attendance_counts_each_appointment_on_its_site_s_weekday_and_days(admin, clinic):
    weekdays = rows(report(admin, "attendance"), "weekdays")
    assert {day: row[0] for day, row in weekdays.items()} == {"Monday": "2", "Sunday": "1"}
    # The week after in Madrid starts with Pilar's 00:30 no-show, on Madrid's Monday.
    after = rows(report(admin, "attendance", start="2026-03-30", end="2026-03-30"), "weekdays")
    assert after == {"Monday": ["1", "0", "1", "100.0", "0", "0.0", "0"]}
