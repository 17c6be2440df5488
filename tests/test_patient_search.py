"""Patient search and the staff patient page of the front desk."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Appointment, Reminder, ReminderChannel, ReminderKind
from clinic import roles
from tests.factories import AppointmentFactory, PatientFactory, PractitionerFactory, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client):
    user = staff_user(roles.FRONT_DESK)
    client.force_login(user)
    return user


@pytest.fixture
def jo():
    return PatientFactory(
        user__first_name="Jo",
        user__last_name="Bloggs",
        user__email="jo.bloggs@example.com",
        phone="07700 900123",
        date_of_birth=datetime.date(1990, 1, 31),
    )


@pytest.fixture
def others():
    return [
        PatientFactory(user__first_name="Sam", user__last_name="Smith", phone="020 7946 0001"),
        PatientFactory(
            user__first_name="Joanna",
            user__last_name="Lumley",
            phone="07700 111222",
            date_of_birth=datetime.date(1970, 5, 1),
        ),
    ]


def found(client, query):
    html = client.get("/desk/patients/", {"q": query}).content.decode()
    return {name for name in ("Jo Bloggs", "Sam Smith", "Joanna Lumley") if f">{name}</a>" in html}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("bloggs", {"Jo Bloggs"}),
        ("JO", {"Jo Bloggs", "Joanna Lumley"}),
        ("jo bloggs", {"Jo Bloggs"}),
        ("JO.BLOGGS@EXAMPLE", {"Jo Bloggs"}),
        ("07700900123", {"Jo Bloggs"}),
        ("07700 900123", {"Jo Bloggs"}),
        ("+44 7700 900123", {"Jo Bloggs"}),
        ("+447700900123", {"Jo Bloggs"}),
        ("0044 7700 900123", {"Jo Bloggs"}),
        ("(07700) 900-123", {"Jo Bloggs"}),
        ("+44 7700", {"Jo Bloggs", "Joanna Lumley"}),
        ("900 123", {"Jo Bloggs"}),
        ("07700", {"Jo Bloggs", "Joanna Lumley"}),
        ("020 7946", {"Sam Smith"}),
        ("+33 7700 900123", set()),
        ("1990-01-31", {"Jo Bloggs"}),
        ("31/01/1990", {"Jo Bloggs"}),
        ("nobody", set()),
    ],
)
def test_search_by_name_email_phone_or_date_of_birth(client, desk, jo, others, query, expected):
    assert found(client, query) == expected


def test_results_are_paginated_in_a_fixed_number_of_queries(client, desk, django_assert_max_num_queries):
    for n in range(3):
        PatientFactory(user__last_name=f"Tester{n:02d}")
    with CaptureQueriesContext(connection) as few:
        client.get("/desk/patients/", {"q": "tester"})
    for n in range(3, 30):
        AppointmentFactory(patient=PatientFactory(user__last_name=f"Tester{n:02d}"), status=Appointment.Status.NO_SHOW)
    with django_assert_max_num_queries(len(few.captured_queries)):
        first = client.get("/desk/patients/", {"q": "tester"}).content.decode()
    assert "30 patients found." in first and "Page 1 of 2" in first
    assert "Tester00" in first and "Tester25" not in first
    second = client.get("/desk/patients/", {"q": "tester", "page": 2}).content.decode()
    assert "Tester25" in second and "Tester00" not in second
    assert client.get("/desk/patients/", {"q": "tester", "page": "999"}).status_code == 200


def test_the_patient_page_shows_contact_appointments_messages_and_no_shows(client, desk, jo):
    now = timezone.now()
    practitioner = PractitionerFactory(user__first_name="Amelia", user__last_name="Hart")
    upcoming = AppointmentFactory(patient=jo, practitioner=practitioner, start_at=now + datetime.timedelta(days=3))
    AppointmentFactory(patient=jo, start_at=now - datetime.timedelta(days=30), status=Appointment.Status.NO_SHOW)
    AppointmentFactory(patient=jo, start_at=now - datetime.timedelta(days=60), status=Appointment.Status.COMPLETED)
    Reminder.objects.create(
        appointment=upcoming,
        kind=ReminderKind.CONFIRMATION,
        channel=ReminderChannel.EMAIL,
        due_at=now - datetime.timedelta(days=1),
        next_attempt_at=now,
        status=Reminder.Status.SENT,
        sent_at=now - datetime.timedelta(days=1),
        attempts=1,
    )
    Reminder.objects.create(
        appointment=upcoming,
        kind=ReminderKind.REMINDER_24H,
        channel=ReminderChannel.SMS,
        due_at=now + datetime.timedelta(days=2),
        next_attempt_at=now,
        status=Reminder.Status.FAILED,
        attempts=5,
        last_error="SMS gateway said: number unreachable",
    )
    AppointmentFactory(start_at=now + datetime.timedelta(days=3))  # someone else's

    html = client.get(f"/desk/patients/{jo.pk}/").content.decode()

    assert "jo.bloggs@example.com" in html and "07700 900123" in html and "31 January 1990" in html
    assert html.count('href="/desk/appointments/') == 3
    assert "No-show" in html and "Completed" in html and "Booked" in html
    assert "Booking confirmation" in html and "Sent" in html
    assert "Failed (5 attempts)" in html and "number unreachable" in html
    assert "Text message" in html
    assert '>No-shows</dt><dd class="col-sm-9">1</dd>' in html
    assert "Screening" in html


def test_the_patient_page_hides_a_placeholder_email_and_costs_fixed_queries(
    client, desk, django_assert_max_num_queries
):
    patient = PatientFactory(user__email="no-email-abc@patients.invalid")
    with CaptureQueriesContext(connection) as few:
        html = client.get(f"/desk/patients/{patient.pk}/").content.decode()
    assert "none given" in html and "patients.invalid" not in html
    for _ in range(10):
        AppointmentFactory(patient=patient)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"/desk/patients/{patient.pk}/")


def test_patient_pages_are_for_the_desk_only(client, jo):
    client.force_login(jo.user)
    assert client.get(f"/desk/patients/{jo.pk}/").status_code == 403
    assert client.get("/desk/patients/", {"q": "jo"}).status_code == 403
    client.force_login(staff_user(roles.FRONT_DESK))
    assert client.get("/desk/patients/999999/").status_code == 404


def test_a_nul_character_is_refused_with_a_message(client, desk, jo):
    """Found by tests/test_hostile_input.py: PostgreSQL takes no NUL in a query, and the search was a 500."""
    response = client.get("/desk/patients/", {"q": "jo\x00"})
    assert response.status_code == 200
    assert "Search not done: Null characters are not allowed." in response.content.decode()
    assert found(client, "jo") == {"Jo Bloggs"}


def test_an_empty_search_shows_todays_patients_by_time_then_recent_ones(client, desk):
    from tests.helpers import at

    today = timezone.localdate()
    later = PatientFactory(user__first_name="Late", user__last_name="Today")
    early = PatientFactory(user__first_name="Early", user__last_name="Today")
    cancelled = PatientFactory(user__first_name="Cancelled", user__last_name="Today")
    AppointmentFactory(patient=later, start_at=at(today, 16))
    AppointmentFactory(patient=early, start_at=at(today, 9))
    AppointmentFactory(patient=early, start_at=at(today, 15))
    AppointmentFactory(patient=cancelled, start_at=at(today, 11), status=Appointment.Status.CANCELLED)
    booked_next_week = PatientFactory(user__first_name="Next", user__last_name="Week")
    AppointmentFactory(patient=booked_next_week, start_at=at(today + datetime.timedelta(days=7), 10))

    html = client.get("/desk/patients/").content.decode()

    todays, recent = html.split("Recent patients")
    assert todays.index("Early Today") < todays.index("Late Today")
    assert "09:00" in todays and todays.count(">Early Today</a>") == 1
    assert "Cancelled Today" not in todays and "Next Week" not in todays
    assert "Next Week" in recent and "Cancelled Today" in recent
    assert "07700 900123" in todays  # shown in the national format


def test_an_empty_search_costs_a_fixed_number_of_queries(client, desk, django_assert_max_num_queries):
    from tests.helpers import at

    AppointmentFactory(start_at=at(timezone.localdate(), 10))
    with CaptureQueriesContext(connection) as few:
        client.get("/desk/patients/")
    for hour in range(11, 17):
        AppointmentFactory(start_at=at(timezone.localdate(), hour))
        PatientFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/desk/patients/")
