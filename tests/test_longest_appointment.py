"""An appointment lasts at most a day (clinic.models.LONGEST_APPOINTMENT), held by the database on the
treatment and on each appointment: availability, the desk and the booking checks read a range's appointments
by their start from a day before it, so a longer one would be missed there (its time offered, then refused).
The admin, where treatments and appointments are edited, says so and changes nothing."""

import datetime

import pytest
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from clinic import roles
from clinic.models import LONGEST_APPOINTMENT, Treatment
from tests.factories import AppointmentFactory, TreatmentFactory, staff_user

pytestmark = pytest.mark.django_db


def admin_form_data(client, url) -> dict:
    """The change form's values as a browser posts them, its inlines' rows included: a split date and time as
    its two inputs (ISO date, time), a ticked box as "on", an unticked one and an empty field left out."""
    page = client.get(url).context
    data = form_values(page["adminform"].form)
    for inline in page["inline_admin_formsets"]:
        formset = inline.formset
        data.update(
            {
                formset.management_form.add_prefix(name): str(value)
                for name, value in formset.management_form.initial.items()
            }
        )
        for form in formset.initial_forms:
            data.update(form_values(form))
    return data


def form_values(form) -> dict:
    data = {}
    for name, field in form.fields.items():
        value, key = form[name].value(), form.add_prefix(name)
        if isinstance(field.widget, AdminSplitDateTime):
            local = timezone.localtime(value)
            data[f"{key}_0"], data[f"{key}_1"] = local.date().isoformat(), local.time().isoformat()
        elif isinstance(value, bool):
            if value:
                data[key] = "on"
        elif isinstance(value, list):
            data[key] = [str(item) for item in value]
        elif value not in (None, ""):
            data[key] = str(value)
    return data


def test_the_treatment_admin_refuses_a_treatment_longer_than_a_day_and_saves_one_of_exactly_a_day(client, sign_in):
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=15)
    url = reverse("admin:clinic_treatment_change", args=[treatment.pk])
    data = admin_form_data(client, url)
    # The edit form saves unchanged.
    assert client.post(url, data).status_code == 302

    refused = client.post(url, {**data, "duration_minutes": "1400", "buffer_after_minutes": "41"})
    assert refused.status_code == 200
    assert "A treatment and the buffer after it last at most 24 hours" in refused.content.decode()
    treatment.refresh_from_db()
    assert (treatment.duration_minutes, treatment.buffer_after_minutes) == (60, 15)

    assert client.post(url, {**data, "duration_minutes": "1400", "buffer_after_minutes": "40"}).status_code == 302
    treatment.refresh_from_db()
    assert (treatment.duration_minutes, treatment.buffer_after_minutes) == (1400, 40)


def test_the_database_refuses_a_treatment_longer_than_a_day_whoever_writes_it():
    treatment = TreatmentFactory(duration_minutes=60, buffer_after_minutes=15)
    with pytest.raises(IntegrityError, match="treatment_fits_in_a_day"), transaction.atomic():
        Treatment.objects.filter(pk=treatment.pk).update(buffer_after_minutes=1381)
    treatment.refresh_from_db()
    assert treatment.buffer_after_minutes == 15


def test_the_database_refuses_an_appointment_busy_for_more_than_a_day_whoever_writes_it():
    appointment = AppointmentFactory()
    busy_until = appointment.busy_until
    with pytest.raises(IntegrityError, match="appointment_lasts_at_most_a_day"), transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(  # as a bulk write would: no travel time kept
            busy_until=appointment.start_at + LONGEST_APPOINTMENT + datetime.timedelta(microseconds=1),
            travel_until=None,
        )
    appointment.refresh_from_db()
    assert appointment.busy_until == busy_until
    # Exactly a day is allowed: it ends where the reads by start begin to look.
    longest = appointment.start_at + LONGEST_APPOINTMENT
    assert Appointment.objects.filter(pk=appointment.pk).update(busy_until=longest, travel_until=None) == 1


def test_the_appointment_admin_refuses_a_busy_time_past_a_day_with_a_message(client, sign_in):
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    appointment = AppointmentFactory()
    url = reverse("admin:bookings_appointment_change", args=[appointment.pk])
    data = admin_form_data(client, url)
    late = timezone.localtime(appointment.start_at + LONGEST_APPOINTMENT + datetime.timedelta(minutes=1))
    response = client.post(
        url, {**data, "busy_until_0": late.date().isoformat(), "busy_until_1": late.time().isoformat()}
    )
    assert response.status_code == 200
    assert "An appointment, with the buffer after it, lasts at most 24 hours." in response.content.decode()
    before = appointment.busy_until
    appointment.refresh_from_db()
    assert appointment.busy_until == before
    # The edit form saves unchanged.
    assert client.post(url, data).status_code == 302
