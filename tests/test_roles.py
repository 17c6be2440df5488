import datetime

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from clinic import roles
from tests.factories import AppointmentFactory, PatientFactory, PractitionerFactory, TimeOffFactory, staff_user

pytestmark = pytest.mark.django_db


def test_migrations_create_the_three_staff_roles_with_permissions():
    names = set(Group.objects.values_list("name", flat=True))
    assert {"Practitioner", "Front desk", "Clinic admin"} <= names
    desk = Group.objects.get(name="Front desk")
    assert desk.permissions.filter(codename="add_patient").exists()
    assert not Group.objects.get(name="Practitioner").permissions.filter(codename="add_treatment").exists()
    admin_perms = set(Group.objects.get(name="Clinic admin").permissions.values_list("codename", flat=True))
    assert {"add_treatment", "change_practitioner", "delete_room"} <= admin_perms


def test_role_checks_follow_group_membership():
    desk = staff_user(roles.FRONT_DESK)
    practitioner = PractitionerFactory()
    patient = PatientFactory()
    assert roles.is_front_desk(desk) and not roles.is_practitioner(desk)
    assert roles.is_practitioner(practitioner.user) and not roles.is_front_desk(practitioner.user)
    assert not roles.is_staff_member(patient.user)
    admin = staff_user(roles.CLINIC_ADMIN)
    assert roles.is_front_desk(admin) and roles.is_clinic_admin(admin)


def test_clinic_admins_can_read_the_audit_trail_and_unlock_accounts_but_not_edit_the_trail():
    perms = set(Group.objects.get(name="Clinic admin").permissions.values_list("codename", flat=True))
    assert {"view_logentry", "delete_accessattempt", "delete_totpdevice"} <= perms
    assert "change_logentry" not in perms and "delete_logentry" not in perms


def test_a_practitioner_using_the_admin_lists_and_opens_only_their_own_patients(client):
    """Staff with the admin flag use the Django admin for their role's models. A practitioner may view
    patients there, but only those with an appointment with them, as on the workspace pages."""
    own = AppointmentFactory().patient
    practitioner = own.appointments.get().practitioner
    cancelled = AppointmentFactory(practitioner=practitioner, status=Appointment.Status.CANCELLED).patient
    stranger = PatientFactory()
    practitioner.user.is_staff = True
    practitioner.user.save(update_fields=["is_staff"])
    client.force_login(practitioner.user)

    listing = client.get(reverse("admin:clinic_patient_changelist")).content.decode()
    assert own.user.email in listing
    assert stranger.user.email not in listing and cancelled.user.email not in listing
    opened = client.get(reverse("admin:clinic_patient_change", args=[stranger.pk]))
    assert opened.status_code == 302 and stranger.user.email not in opened.content.decode()
    assert client.get(reverse("admin:clinic_patient_change", args=[own.pk])).status_code == 200


def test_the_front_desk_using_the_admin_lists_every_patient(client):
    patients = [AppointmentFactory().patient, PatientFactory()]
    desk = staff_user(roles.FRONT_DESK, is_staff=True)
    client.force_login(desk)
    listing = client.get(reverse("admin:clinic_patient_changelist")).content.decode()
    assert all(patient.user.email in listing for patient in patients)


def admin_practitioner(client, **kwargs):
    practitioner = PractitionerFactory(**kwargs)
    practitioner.user.is_staff = True
    practitioner.user.save(update_fields=["is_staff"])
    client.force_login(practitioner.user)
    return practitioner


def test_a_practitioner_using_the_admin_changes_only_their_own_profile_and_time_off(client):
    own = admin_practitioner(client, user__first_name="Olivia", user__last_name="Own")
    other = PractitionerFactory(user__first_name="Colin", user__last_name="Colleague")
    start = timezone.now() + datetime.timedelta(days=3)
    TimeOffFactory(practitioner=other, start_at=start, end_at=start + datetime.timedelta(days=7), reason="Abroad")

    listing = client.get(reverse("admin:clinic_practitioner_changelist")).content.decode()
    assert str(own) in listing and str(other) not in listing
    assert client.get(reverse("admin:clinic_practitioner_change", args=[other.pk])).status_code == 302
    assert client.get(reverse("admin:clinic_practitioner_change", args=[own.pk])).status_code == 200
    assert "Abroad" not in client.get(reverse("admin:clinic_timeoff_changelist")).content.decode()


def test_a_practitioner_cannot_move_their_profile_to_another_account_in_the_admin(client):
    own = admin_practitioner(client)
    page = client.get(reverse("admin:clinic_practitioner_change", args=[own.pk])).content.decode()
    assert 'name="user"' not in page
