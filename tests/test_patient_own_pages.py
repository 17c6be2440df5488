"""The patient's own pages the desk hears about (issue #15 part 9): a cancelled appointment leaves "Upcoming";
the move page opens on the first day the patient may book, with the next days that have free times; the times
list always says which day it shows."""

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Appointment
from tests.factories import (
    AppointmentFactory,
    ClearedPatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
)
from tests.helpers import at, book_online, open_every_day

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]


def in_days(days):
    return timezone.localdate() + datetime.timedelta(days=days)


@pytest.fixture
def clinic():
    treatment = TreatmentFactory(min_days_between_sessions=28)
    RoomFactory()
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    return treatment, practitioner


@pytest.fixture
def patient(client):
    patient = ClearedPatientFactory()
    client.force_login(patient.user)
    return patient


def test_a_cancelled_appointment_leaves_upcoming(client, patient, clinic):
    treatment, practitioner = clinic
    appointment = book_online(patient, treatment, practitioner, at(in_days(7), 10))
    services.cancel_appointment(appointment, by=patient.user)
    body = client.get(reverse("my_appointments")).content.decode()
    upcoming, past = body.split("Past and cancelled")
    assert "No upcoming appointments." in upcoming
    assert reverse("appointment_detail", args=[appointment.pk]) in past and "Cancelled" in past


def test_the_move_page_opens_on_the_first_day_the_patient_may_book(client, patient, clinic):
    treatment, practitioner = clinic
    AppointmentFactory(
        patient=patient,
        practitioner=practitioner,
        treatment=treatment,
        start_at=at(in_days(-10), 10),
        status=Appointment.Status.COMPLETED,
    )
    appointment = book_online(patient, treatment, practitioner, at(in_days(30), 10))
    body = client.get(reverse("appointment_reschedule", args=[appointment.pk])).content.decode()
    first = in_days(18)  # 28 days after the last session
    assert f"{first:%A} {first.day} {first:%B %Y}" in body  # the heading of the times list
    assert "your next session can be from" not in body
    assert "start=" in body  # that day's free times
    offered = list(dict.fromkeys(re.findall(r"day=(\d{4}-\d{2}-\d{2})", body.split("Days with free times")[1])))
    assert offered[:5] == [(first + datetime.timedelta(days=n)).isoformat() for n in range(1, 6)]


def test_the_booking_page_also_opens_on_the_first_day_the_patient_may_book(client, patient, clinic):
    treatment, practitioner = clinic
    AppointmentFactory(
        patient=patient,
        practitioner=practitioner,
        treatment=treatment,
        start_at=at(in_days(-20), 10),
        status=Appointment.Status.COMPLETED,
    )
    body = client.get(reverse("book_treatment", args=[treatment.slug])).content.decode()
    first = in_days(8)
    assert f"{first:%A} {first.day} {first:%B %Y}" in body and "start=" in body


def test_a_day_without_times_still_says_which_day_and_offers_the_next_ones(client, patient, clinic):
    treatment, practitioner = clinic
    day = in_days(5)
    for hour in range(9, 17, 2):  # the whole day taken
        AppointmentFactory(practitioner=practitioner, treatment=treatment, start_at=at(day, hour))
    body = client.get(reverse("book_times", args=[treatment.slug]), {"day": day.isoformat()}).content.decode()
    assert f"{day:%A} {day.day} {day:%B %Y}" in body and "No free times this day." in body
    assert (
        len(re.findall(r"day=\d{4}-\d{2}-\d{2}", body.split("Days with free times")[1])) == 10
    )  # 5 links, 2 urls each
