"""Phone numbers in E.164 with libphonenumber (`clinic.phones`; issue #15 part 5): every form that takes one
accepts any common format and stores one spelling; pages show the national format; nonsense is refused with a
message; the data migration converts the numbers stored before."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.urls import reverse

from clinic import phones, roles
from clinic.models import Patient
from tests.factories import PatientFactory, staff_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("07700 900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("(07700) 900-123", "+447700900123"),
        ("020 7946 0018", "+442079460018"),
        ("07911 123456", "+447911123456"),
        ("+33 6 12 34 56 78", "+33612345678"),
    ],
)
def test_common_formats_are_stored_in_e164(typed, stored):
    assert phones.to_e164(typed) == stored


@pytest.mark.parametrize("typed", ["call me", "0770", "07700 900123 ext 4", "+44 1234", "0" * 30, "+999 123456789"])
def test_what_is_no_number_is_refused(typed):
    assert phones.to_e164(typed) is None


def test_display_is_national_at_home_and_international_abroad():
    assert phones.display("+447700900123") == "07700 900123"
    assert phones.display("+442079460018") == "020 7946 0018"
    assert phones.display("+33612345678") == "+33 6 12 34 56 78"
    assert phones.display("07700 legacy") == "07700 legacy"


def test_the_desk_creates_a_patient_with_a_number_in_any_format(client):
    client.force_login(staff_user(roles.FRONT_DESK))
    client.post(
        reverse("desk:patient_new"),
        {"first_name": "Pat", "last_name": "Caller", "phone": "+44 (0)7700 900777", "date_of_birth": "1985-06-01"},
    )
    assert Patient.objects.get(user__last_name="Caller").phone == "+447700900777"


def test_a_bad_number_is_refused_with_a_message_and_nothing_changes(client):
    patient = PatientFactory(phone="07700 900123")
    client.force_login(patient.user)
    response = client.post(
        reverse("profile"),
        {"first_name": "A", "last_name": "B", "phone": "ring the bell", "date_of_birth": "1990-01-15"},
    )
    assert phones.INVALID in response.content.decode()
    patient.refresh_from_db()
    assert patient.phone == "+447700900123"


def test_my_details_shows_the_number_in_the_national_format(client):
    patient = PatientFactory(phone="+447700900123")
    client.force_login(patient.user)
    assert 'value="07700 900123"' in client.get(reverse("profile")).content.decode()


def test_the_migration_converts_stored_numbers_and_leaves_unreadable_ones(capsys):
    jo = PatientFactory(date_of_birth=datetime.date(1990, 1, 1))
    sam = PatientFactory(date_of_birth=datetime.date(1990, 1, 1))
    odd = PatientFactory(date_of_birth=datetime.date(1990, 1, 1))
    Patient.objects.filter(pk=jo.pk).update(phone="07700 900123")  # as the old forms stored them
    Patient.objects.filter(pk=sam.pk).update(phone="+44 (0)20 7946 0018")
    Patient.objects.filter(pk=odd.pk).update(phone="12-34-56-78-90-12-34-56-78")

    migration = importlib.import_module("clinic.migrations.0004_patient_phone_e164")
    migration.numbers_to_e164(apps, None)

    stored = dict(Patient.objects.values_list("pk", "phone"))
    assert (stored[jo.pk], stored[sam.pk]) == ("+447700900123", "+442079460018")
    assert stored[odd.pk] == "12-34-56-78-90-12-34-56-78"
    assert str(odd.pk) in capsys.readouterr().out
