import datetime

import pytest
from django.core.management import call_command
from django.urls import reverse

from clinic.models import Practitioner, Treatment, User, WorkingHours
from tests.factories import (
    PractitionerFactory,
    TreatmentFactory,
    UserFactory,
    WorkingHoursFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db


def test_home_lists_treatments_and_practitioners_with_a_book_button(client):
    TreatmentFactory(name="Microneedling for cellulite: thighs")
    PractitionerFactory(user__first_name="Amelia", user__last_name="Hart")
    body = client.get(reverse("home")).content.decode()
    assert "Microneedling for cellulite: thighs" in body
    assert "Amelia Hart" in body
    assert ">Book</a>" in body


def test_treatment_page_shows_before_and_after_texts(client):
    treatment = TreatmentFactory(pre_care="Avoid alcohol for 48 hours.", aftercare="No sun for 24 hours.")
    body = client.get(treatment.get_absolute_url()).content.decode()
    assert "Before your session" in body and "Avoid alcohol for 48 hours." in body
    assert "After your session" in body and "No sun for 24 hours." in body


def test_unknown_slugs_answer_404_in_the_sites_style(client):
    for url in [
        "/treatments/nope/",
        "/practitioners/nobody/",
        "/practitioners/nobody/edit/",
        "/no-such-page/",
    ]:
        response = client.get(url)
        assert response.status_code == 404 if "edit" not in url else response.status_code in (302, 404)
    response = client.get("/treatments/nope/")
    assert "Page not found" in response.content.decode()


def test_inactive_treatments_and_practitioners_are_not_public(client):
    treatment = TreatmentFactory(active=False)
    practitioner = PractitionerFactory(active=False)
    assert client.get(treatment.get_absolute_url()).status_code == 404
    assert client.get(practitioner.get_absolute_url()).status_code == 404


def test_directory_and_profile_page(client):
    practitioner = PractitionerFactory(user__first_name="David", user__last_name="Okafor", title="Aesthetic doctor")
    WorkingHoursFactory(practitioner=practitioner, weekday=1, start=datetime.time(12), end=datetime.time(20))
    assert "David Okafor" in client.get(reverse("practitioner_list")).content.decode()
    body = client.get(practitioner.get_absolute_url()).content.decode()
    assert "Aesthetic doctor" in body and "Tuesday 12:00-20:00" in body


def hours_post(practitioner, rows, **profile):
    data = {
        "title": practitioner.title,
        "bio": "",
        "qualifications": "",
        "registration_number": "",
        "hours-TOTAL_FORMS": str(len(rows)),
        "hours-INITIAL_FORMS": "0",
        "hours-MIN_NUM_FORMS": "0",
        "hours-MAX_NUM_FORMS": "1000",
        **profile,
    }
    for i, (day, start, end) in enumerate(rows):
        data.update({f"hours-{i}-weekday": day, f"hours-{i}-start": start, f"hours-{i}-end": end})
    return data


def test_a_practitioner_edits_their_own_profile_and_hours(client):
    practitioner = PractitionerFactory()
    client.force_login(practitioner.user)
    url = reverse("practitioner_edit", args=[practitioner.slug])
    response = client.post(
        url,
        hours_post(practitioner, [(0, "09:00", "12:00"), (0, "13:00", "17:00")], bio="Ten years of skin care."),
        follow=True,
    )
    assert "Your profile and working hours are saved." in response.content.decode()
    practitioner.refresh_from_db()
    assert practitioner.bio == "Ten years of skin care."
    assert practitioner.working_hours.count() == 2


def test_overlapping_or_backwards_hours_are_refused_and_nothing_is_saved(client):
    practitioner = PractitionerFactory(bio="Old bio")
    client.force_login(practitioner.user)
    url = reverse("practitioner_edit", args=[practitioner.slug])
    response = client.post(url, hours_post(practitioner, [(0, "09:00", "13:00"), (0, "12:00", "17:00")], bio="New"))
    assert "These hours overlap another span" in response.content.decode()
    response = client.post(url, hours_post(practitioner, [(2, "17:00", "09:00")], bio="New"))
    assert "The end must be after the start." in response.content.decode()
    practitioner.refresh_from_db()
    assert practitioner.bio == "Old bio" and not WorkingHours.objects.exists()


def test_a_practitioner_cannot_edit_another_practitioners_profile(client):
    mine, theirs = PractitionerFactory(), PractitionerFactory(bio="Theirs")
    client.force_login(mine.user)
    url = reverse("practitioner_edit", args=[theirs.slug])
    assert client.get(url).status_code == 403
    assert client.post(url, hours_post(theirs, [], bio="Hacked")).status_code == 403
    theirs.refresh_from_db()
    assert theirs.bio == "Theirs"


def test_patients_and_front_desk_cannot_edit_profiles_but_a_clinic_admin_can(client, sign_in):
    practitioner = PractitionerFactory()
    url = reverse("practitioner_edit", args=[practitioner.slug])
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403
    client.force_login(staff_user("Front desk"))
    assert client.get(url).status_code == 403
    sign_in(client, staff_user("Clinic admin"))
    assert client.get(url).status_code == 200


def test_seed_demo_loads_the_clinic_and_can_run_twice(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert Practitioner.objects.count() == 3
    assert Treatment.objects.filter(kind="session", min_days_between_sessions=28).count() == 3
    consultation = Treatment.objects.get(slug="consultation")
    assert consultation.duration_minutes == 30 and consultation.price == 0
    assert User.objects.filter(email="patient@clinic.example", patient__isnull=False).exists()
    out = capsys.readouterr().out
    assert "frontdesk@clinic.example" in out and "password:" in out
