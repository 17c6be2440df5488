"""Calendar files: the appointment .ics (right time on DST days, stable UID, who may download it) and a
practitioner's private feed (only theirs, first name + initial, revocable, flat query count)."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from bookings.ics import appointment_ics
from bookings.models import Appointment
from clinic import roles
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")


def london(year, month, day, hour, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=LONDON)


def appointment_at(start, **kwargs):
    kwargs.setdefault(
        "treatment", TreatmentFactory(name="Microneedling: thighs", pre_care="Avoid alcohol for 48 hours.")
    )
    kwargs.setdefault("practitioner", PractitionerFactory(user__first_name="Amelia", user__last_name="Hart"))
    return AppointmentFactory(start_at=start.astimezone(datetime.UTC), **kwargs)


def only_event(content: bytes):
    calendar = Calendar.from_ical(content)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def instant_by_embedded_timezone(calendar, prop):
    """What a client that trusts only the file's VTIMEZONE (no zone database) makes of a time."""
    (vtimezone,) = [tz for tz in calendar.walk("VTIMEZONE") if tz["TZID"] == prop.params["TZID"]]
    wall = prop.dt.replace(tzinfo=None)
    return wall.replace(tzinfo=vtimezone.to_tz()).astimezone(datetime.UTC)


@pytest.mark.parametrize(
    "start",
    [
        london(2027, 3, 28, 10),  # spring forward: 10:00 BST = 09:00 UTC
        london(2026, 10, 25, 10),  # fall back: 10:00 GMT = 10:00 UTC
        london(2027, 3, 27, 10),  # the day before the change: GMT
        london(2027, 10, 31, 9, 30),
    ],
)
def test_the_event_time_is_the_booked_time_across_daylight_saving_changes(settings, start):
    appointment = appointment_at(start)
    calendar, event = only_event(appointment_ics(appointment))
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART") == appointment.start_at
    assert event.decoded("DTEND") == appointment.end_at
    assert event["DTSTART"].dt.replace(tzinfo=None) == start.replace(tzinfo=None)  # the wall-clock time
    assert instant_by_embedded_timezone(calendar, event["DTSTART"]) == appointment.start_at
    assert instant_by_embedded_timezone(calendar, event["DTEND"]) == appointment.end_at


def test_the_event_says_what_with_whom_where_how_to_prepare_and_how_to_change(settings):
    settings.SITE_URL = "https://book.clinic.example"
    settings.CLINIC = {**settings.CLINIC, "PHONE": "020 7946 0000"}
    appointment = appointment_at(london(2027, 3, 28, 10))
    _, event = only_event(appointment_ics(appointment))
    assert str(event["SUMMARY"]) == "Microneedling: thighs with Amelia Hart"
    assert str(event["LOCATION"]) == f"{settings.CLINIC['NAME']}, {settings.CLINIC['ADDRESS']}"
    description = str(event["DESCRIPTION"])
    assert "Avoid alcohol for 48 hours." in description
    assert f"https://book.clinic.example/appointments/{appointment.pk}/" in description
    assert "020 7946 0000" in description
    assert str(event["STATUS"]) == "CONFIRMED"


def test_the_uid_is_stable_per_appointment_and_differs_between_appointments():
    first = appointment_at(london(2027, 3, 28, 10))
    second = appointment_at(london(2027, 3, 28, 12), practitioner=first.practitioner, treatment=first.treatment)
    uid = str(only_event(appointment_ics(first))[1]["UID"])
    first.start_at += datetime.timedelta(days=1)
    first.end_at += datetime.timedelta(days=1)
    first.busy_until += datetime.timedelta(days=1)
    first.save()
    assert str(only_event(appointment_ics(first))[1]["UID"]) == uid  # a moved appointment updates the same event
    assert str(only_event(appointment_ics(second))[1]["UID"]) != uid


def test_a_cancelled_appointment_gives_a_cancelled_event():
    appointment = appointment_at(london(2027, 3, 28, 10), status=Appointment.Status.CANCELLED)
    assert str(only_event(appointment_ics(appointment))[1]["STATUS"]) == "CANCELLED"


# --- the download ----------------------------------------------------------------------------------------


def test_the_patient_downloads_their_appointment_as_an_ics_file(client):
    appointment = appointment_at(london(2027, 3, 28, 10))
    client.force_login(appointment.patient.user)
    response = client.get(reverse("appointment_ics", args=[appointment.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"] == f'attachment; filename="appointment-2027-03-28-{appointment.pk}.ics"'
    _, event = only_event(response.content)
    assert event.decoded("DTSTART") == appointment.start_at
    page = client.get(reverse("appointment_detail", args=[appointment.pk])).content.decode()
    assert reverse("appointment_ics", args=[appointment.pk]) in page  # the confirmation offers it


@pytest.mark.clock
def test_only_the_patient_their_practitioner_and_the_desk_may_download_it(client, sign_in):
    appointment = appointment_at(london(2027, 3, 28, 10))
    url = reverse("appointment_ics", args=[appointment.pk])
    assert client.get(url).status_code == 302  # to sign in
    client.force_login(PatientFactory().user)
    assert client.get(url).status_code == 404
    client.force_login(PractitionerFactory().user)
    assert client.get(url).status_code == 404
    client.force_login(appointment.practitioner.user)
    assert client.get(url).status_code == 200
    client.force_login(staff_user(roles.FRONT_DESK))
    assert client.get(url).status_code == 200
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    assert client.get(url).status_code == 200
    assert client.get(reverse("appointment_ics", args=[appointment.pk + 1000])).status_code == 404


# --- the practitioner's feed -----------------------------------------------------------------------------


def tomorrow_at(hour):
    day = timezone.localdate() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=LONDON)


def feed_path(feed_url: str) -> str:
    return "/" + feed_url.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def practitioner():
    return PractitionerFactory(user__first_name="Amelia", user__last_name="Hart")


def test_the_feed_lists_the_practitioners_upcoming_live_appointments_only(client, practitioner):
    treatment = TreatmentFactory(name="Microneedling: thighs")
    room = RoomFactory(name="Room A")
    mine = appointment_at(
        tomorrow_at(10),
        practitioner=practitioner,
        treatment=treatment,
        room=room,
        patient=PatientFactory(user__first_name="Anna", user__last_name="Smith", user__email="anna@example.com"),
    )
    appointment_at(tomorrow_at(12), practitioner=practitioner, treatment=treatment, status="cancelled")
    appointment_at(tomorrow_at(10) - datetime.timedelta(days=3), practitioner=practitioner, treatment=treatment)
    appointment_at(tomorrow_at(14), treatment=treatment)  # another practitioner's
    client.force_login(practitioner.user)
    response = client.post(reverse("practitioner_calendar_settings", args=[practitioner.slug]), follow=True)
    url = feed_path(response.context["feed_url"])
    client.logout()

    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert [event.decoded("DTSTART") for event in events] == [mine.start_at]
    assert str(events[0]["SUMMARY"]) == "Microneedling: thighs: Anna S."
    assert "Room A" in str(events[0]["LOCATION"])
    assert b"Smith" not in response.content and b"anna@example.com" not in response.content
    assert calendar.walk("VTIMEZONE")


def test_resetting_the_link_revokes_the_old_one(client, practitioner):
    client.force_login(practitioner.user)
    settings_url = reverse("practitioner_calendar_settings", args=[practitioner.slug])
    old = feed_path(client.post(settings_url, follow=True).context["feed_url"])
    response = client.post(settings_url, follow=True)
    assert "The old link no longer works" in response.content.decode()
    new = feed_path(response.context["feed_url"])
    assert new != old
    client.logout()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    assert client.get("/calendar/not-a-token.ics").status_code == 404


def test_only_the_practitioner_and_an_admin_see_the_link_page(client, practitioner, sign_in):
    url = reverse("practitioner_calendar_settings", args=[practitioner.slug])
    client.force_login(PractitionerFactory().user)
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    client.force_login(PatientFactory().user)
    assert client.get(url).status_code == 403
    client.force_login(practitioner.user)
    assert "Create my calendar link" in client.get(url).content.decode()
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    assert client.get(url).status_code == 200
    edit_page = client.get(reverse("practitioner_edit", args=[practitioner.slug])).content.decode()
    assert url in edit_page


def test_the_feed_costs_the_same_queries_for_three_or_thirty_appointments(client, practitioner):
    client.force_login(practitioner.user)
    response = client.post(reverse("practitioner_calendar_settings", args=[practitioner.slug]), follow=True)
    url = feed_path(response.context["feed_url"])
    client.logout()
    treatment, room = TreatmentFactory(), RoomFactory()

    def queries_for_feed():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    for hour in range(3):
        appointment_at(tomorrow_at(9 + 2 * hour), practitioner=practitioner, treatment=treatment, room=room)
    with_three = queries_for_feed()
    for day in range(2, 29):
        appointment_at(tomorrow_at(10) + datetime.timedelta(days=day), practitioner=practitioner, treatment=treatment)
    assert len(Calendar.from_ical(client.get(url).content).walk("VEVENT")) == 30
    assert queries_for_feed() == with_three <= 2
