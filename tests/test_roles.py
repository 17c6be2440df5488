import pytest
from django.contrib.auth.models import Group

from clinic import roles
from tests.factories import PatientFactory, PractitionerFactory, staff_user

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
