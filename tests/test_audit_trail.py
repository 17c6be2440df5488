"""The audit trail: every change to patients, appointments, health forms and reviews, every recorded read,
per patient and per user."""

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Appointment
from clinic import roles
from clinic.audit import record_access, register_audited_models, trail_for_patient
from clinic.models import Patient
from tests.factories import AppointmentFactory, PatientFactory, staff_user, submitted_intake

pytestmark = pytest.mark.django_db


def test_a_profile_change_is_logged_with_its_actor_and_patient_and_no_password(client):
    patient = PatientFactory(phone="07700 900001")
    client.force_login(patient.user)
    client.post(
        reverse("profile"),
        {"first_name": "New", "last_name": "Name", "phone": "07700 900999", "date_of_birth": "1985-02-03"},
    )
    update = LogEntry.objects.get(content_type__model="patient", action=LogEntry.Action.UPDATE)
    assert update.actor == patient.user
    assert update.changes_dict["phone"] == ["+447700900001", "+447700900999"]
    assert update.additional_data["patient_id"] == patient.pk
    assert not LogEntry.objects.filter(changes__icontains="password").exists()


def test_appointment_changes_land_in_the_patients_trail():
    appointment = AppointmentFactory()
    appointment.status = "cancelled"
    appointment.save()
    actions = list(
        trail_for_patient(appointment.patient_id)
        .filter(content_type__model="appointment")
        .values_list("action", flat=True)
    )
    assert sorted(actions) == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    other = PatientFactory()
    assert not trail_for_patient(other.pk).filter(content_type__model="appointment").exists()


def test_a_creation_and_a_deletion_record_the_rows_own_columns_only():
    """No reverse relation (an appointment's reminders, a patient's appointments) in the entries: they are
    not the row's, and django-auditlog wrote a related manager's name for them."""
    appointment = AppointmentFactory()
    patient = appointment.patient
    created = LogEntry.objects.get(content_type__model="appointment", action=LogEntry.Action.CREATE)
    columns = {field.name for field in Appointment._meta.concrete_fields} - {"updated_at"}
    assert set(created.changes_dict) <= columns
    assert {"start_at", "status", "patient", "practitioner", "room"} <= set(created.changes_dict)
    assert "reminders" not in created.changes_dict and "None" not in created.changes
    patient_entry = LogEntry.objects.get(content_type__model="patient", action=LogEntry.Action.CREATE)
    assert set(patient_entry.changes_dict) <= {field.name for field in Patient._meta.concrete_fields}
    appointment.delete()
    deleted = LogEntry.objects.get(content_type__model="appointment", action=LogEntry.Action.DELETE)
    assert set(deleted.changes_dict) <= columns
    assert deleted.additional_data["patient_id"] == patient.pk


def test_health_form_and_review_changes_land_in_the_patients_trail_with_who_made_them(screening_rules):
    from auditlog.context import set_actor

    from consultations import services

    patient = PatientFactory()
    nurse = staff_user(roles.PRACTITIONER)
    with set_actor(patient.user):
        intake = submitted_intake(patient)
    with set_actor(nurse):
        services.record_review(intake, reviewer=nurse, decision="cleared")
    trail = trail_for_patient(patient.pk)
    form = list(trail.filter(content_type__model="intakeform").order_by("timestamp", "pk"))
    assert [entry.actor for entry in form] == [patient.user, patient.user, nurse]  # created, sent, reviewed
    assert form[-1].changes_dict["status"][1] == "reviewed"
    (review,) = trail.filter(content_type__model="review")
    assert review.action == LogEntry.Action.CREATE and review.actor == nurse
    assert review.changes_dict["decision"][1] == "cleared"


def test_a_recorded_read_names_who_read_what():
    patient = PatientFactory()
    nurse = staff_user(roles.PRACTITIONER)
    record_access(nurse, patient, what="intake answers")
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS)
    assert entry.actor == nurse and entry.additional_data["patient_id"] == patient.pk


def test_admin_lists_a_patients_trail_and_cannot_change_or_delete_it(client, sign_in):
    patient, other = PatientFactory(user__last_name="Traced"), PatientFactory(user__last_name="Elsewhere")
    record_access(staff_user(roles.FRONT_DESK), patient)
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    url = reverse("admin:auditlog_logentry_changelist")
    page = client.get(url, {"patient": patient.pk}).content.decode()
    assert "Traced" in page and "Elsewhere" not in page
    entry = trail_for_patient(patient.pk).first()
    assert client.post(reverse("admin:auditlog_logentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert client.post(reverse("admin:auditlog_logentry_change", args=[entry.pk]), {}).status_code == 403
    assert LogEntry.objects.filter(pk=entry.pk).exists()
    assert other  # present in the database, absent from the filtered page


def test_an_audited_write_inserts_its_entry_with_the_patient_and_never_updates_it():
    """The patient goes into the entry as it is inserted: one INSERT a change, not an INSERT and an UPDATE."""
    appointment = AppointmentFactory()
    appointment.status = "cancelled"
    with CaptureQueriesContext(connection) as queries:
        appointment.save()
    audit_writes = [q["sql"].split(" ", 1)[0] for q in queries.captured_queries if '"auditlog_logentry"' in q["sql"]]
    assert audit_writes == ["INSERT"]
    update = LogEntry.objects.get(content_type__model="appointment", action=LogEntry.Action.UPDATE)
    assert update.additional_data == {"patient_id": appointment.patient_id}


def test_an_audited_model_with_additional_data_of_its_own_is_refused_at_start(monkeypatch):
    """The patient comes from `get_additional_data`: a model's own would silently drop it from every entry."""
    monkeypatch.setattr(Patient, "get_additional_data", lambda self: {"source": "form"}, raising=False)
    with pytest.raises(ImproperlyConfigured, match="clinic.Patient"):
        register_audited_models()
