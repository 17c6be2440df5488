"""Issue 14 part 3: the clinical alert banner (consultations.alerts), through the pages a practitioner and the
front desk click. Practitioners read it wherever they decide; the desk learns only that an alert exists; the
patient never reads a pinned alert."""

import datetime
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from clinic import roles
from consultations import services as intake_services
from consultations.models import PinnedAlert
from tests.factories import AppointmentFactory, PractitionerFactory, make_safe_to_record, staff_user, submitted_intake

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]

ALERT = "Pacemaker: no RF or electrical devices"
CONDITION_TEXT = "We will keep to a shallow depth and leave your buttocks for now."


def today_at(hour):
    """Today (clinic time) at this local hour: the pages show days, so the hour the tests run does not matter."""
    local = datetime.datetime.combine(timezone.localdate(), datetime.time(hour))
    return timezone.make_aware(local)


@pytest.fixture
def appointment():
    """Today's session of a patient on warfarin, cleared with conditions, consent signed."""
    appointment = AppointmentFactory(start_at=today_at(10), status=Appointment.Status.BOOKED)
    intake = submitted_intake(appointment.patient, anticoagulants=["warfarin"])
    intake_services.record_review(
        intake,
        reviewer=PractitionerFactory().user,
        decision="cleared_with_conditions",
        message_to_patient=CONDITION_TEXT,
        max_needle_depth_mm=Decimal("0.50"),
        excluded_areas=["buttocks"],
        free_text_read=True,
    )
    make_safe_to_record(appointment.patient)
    return appointment


def pin(client, patient, text=ALERT):
    return client.post(reverse("practice_pin_alert", args=[patient.pk]), {"text": text}, follow=True)


def practitioner_pages(appointment):
    patient = appointment.patient
    return {
        "patient page": reverse("practice_patient", args=[patient.pk]),
        "record form": reverse("practice_session_record", args=[appointment.pk]),
        "my day": reverse("my_day"),
        "review page": reverse("intake_review", args=[patient.intake.pk]),
    }


def desk_pages(appointment):
    day = timezone.localdate().isoformat()
    return {
        "calendar": reverse("desk:calendar") + f"?date={day}",
        "day sheet": reverse("desk:day_sheet", args=[appointment.practitioner_id]) + f"?date={day}",
        "patient": reverse("desk:patient", args=[appointment.patient_id]),
        "appointment": reverse("desk:appointment", args=[appointment.pk]),
        "calendar panel": reverse("desk:panel_appointment", args=[appointment.pk]),
    }


def test_a_pinned_alert_shows_wherever_the_practitioner_decides_with_the_conditions_and_flags(client, appointment):
    client.force_login(appointment.practitioner.user)
    page = pin(client, appointment.patient).content.decode()
    assert "Alert pinned" in page
    alert = PinnedAlert.objects.get(patient=appointment.patient)
    assert (alert.text, alert.pinned_by, alert.unpinned_at) == (ALERT, appointment.practitioner.user, None)

    for where, url in practitioner_pages(appointment).items():
        page = client.get(url).content.decode()
        assert 'data-testid="clinical-alerts"' in page, where
        assert ALERT in page, where
        assert "needle depth at most 0.50 mm; do not treat buttocks" in page, where  # structured conditions
        assert CONDITION_TEXT in page, where  # and the free text
        assert "Review: Anticoagulant or antiplatelet medicine" in page, where  # the screening flag


def test_my_day_shows_each_patients_own_banner(client, appointment):
    other = AppointmentFactory(practitioner=appointment.practitioner, start_at=today_at(14))
    make_safe_to_record(other.patient)
    intake_services.pin_alert(appointment.patient, by=appointment.practitioner.user, text=ALERT)
    client.force_login(appointment.practitioner.user)
    page = client.get(reverse("my_day")).content.decode()
    first, second = (
        page.split(f'data-appointment="{appointment.pk}"')[1],
        page.split(f'data-appointment="{other.pk}"')[1],
    )
    first_row, second_row = first.split("</tr>")[0], second.split("</tr>")[0]
    assert ALERT in first_row and "do not treat buttocks" in first_row
    assert "clinical-alerts" not in second_row  # a cleared patient with nothing to say has no banner


def test_a_running_washout_is_on_the_banner_with_its_end_date(client):
    appointment = AppointmentFactory(start_at=today_at(11))
    last_dose = timezone.localdate() - datetime.timedelta(days=90)
    intake = submitted_intake(appointment.patient, took_isotretinoin=True, isotretinoin_last_dose=last_dose)
    washout = intake.flags.get(until__isnull=False)
    client.force_login(appointment.practitioner.user)
    page = client.get(reverse("practice_patient", args=[appointment.patient_id])).content.decode()
    assert f"washout until <strong>{washout.until:%-d %b %Y}</strong>" in page


def test_the_desk_sees_that_an_alert_exists_never_its_text(client, appointment):
    intake_services.pin_alert(appointment.patient, by=appointment.practitioner.user, text=ALERT)
    client.force_login(staff_user(roles.FRONT_DESK))
    for where, url in desk_pages(appointment).items():
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200, where
        assert "Alert: see practitioner" in page, where
        for clinical in (ALERT, "Pacemaker", "needle depth at most", CONDITION_TEXT, "warfarin"):
            assert clinical not in page, (where, clinical)
    # pinned alerts are for practitioners: the desk may not pin or unpin one
    assert client.post(reverse("practice_pin_alert", args=[appointment.patient_id]), {"text": "x"}).status_code == 403
    assert PinnedAlert.objects.count() == 1


def test_the_desk_sees_no_alert_for_a_patient_without_one(client):
    appointment = AppointmentFactory(start_at=today_at(9))
    make_safe_to_record(appointment.patient)  # cleared, no conditions, no flags, nothing pinned
    client.force_login(staff_user(roles.FRONT_DESK))
    for where, url in desk_pages(appointment).items():
        assert "Alert: see practitioner" not in client.get(url).content.decode(), where


def test_the_patient_never_reads_a_pinned_alert(client, appointment):
    intake_services.pin_alert(appointment.patient, by=appointment.practitioner.user, text=ALERT)
    client.force_login(appointment.patient.user)
    for name in ("intake_home", "my_progress", "my_data", "my_data_json", "my_appointments"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert ALERT not in response.content.decode(), name


def test_unpinning_takes_it_off_the_banner_and_keeps_it_in_the_history_and_the_audit_trail(client, appointment):
    practitioner = appointment.practitioner.user
    client.force_login(practitioner)
    pin(client, appointment.patient)
    alert = PinnedAlert.objects.get()
    page = client.post(
        reverse("practice_unpin_alert", args=[appointment.patient_id, alert.pk]), follow=True
    ).content.decode()
    assert "Alert unpinned" in page
    banner = page.split('data-testid="clinical-alerts"')[1].split("</div>")[0]
    assert ALERT not in banner  # the conditions remain on the banner; the alert does not
    assert f"<s>{ALERT}</s>" in page  # the history: who pinned and who unpinned it, and when
    alert.refresh_from_db()
    assert alert.unpinned_by == practitioner and alert.unpinned_at is not None

    again = client.post(reverse("practice_unpin_alert", args=[appointment.patient_id, alert.pk]), follow=True)
    assert "is not pinned" in again.content.decode()
    alert_type = ContentType.objects.get_for_model(PinnedAlert)
    entries = LogEntry.objects.filter(content_type=alert_type, object_pk=str(alert.pk)).order_by("pk")
    assert [e.action for e in entries] == [LogEntry.Action.CREATE, LogEntry.Action.UPDATE]
    assert all(e.additional_data["patient_id"] == appointment.patient_id for e in entries)


def test_an_empty_alert_is_refused_with_a_message_and_nothing_is_pinned(client, appointment):
    client.force_login(appointment.practitioner.user)
    for text in ("", "   ", "x" * 201):
        response = client.post(reverse("practice_pin_alert", args=[appointment.patient_id]), {"text": text})
        assert response.status_code == 200
        assert "No alert was pinned" in response.content.decode()
    assert not PinnedAlert.objects.exists()


def test_only_the_patients_own_practitioners_and_admins_pin(client, sign_in, appointment):
    client.force_login(PractitionerFactory().user)  # never saw the patient
    assert pin(client, appointment.patient).status_code == 404
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    assert "Alert pinned" in pin(client, appointment.patient).content.decode()
    assert PinnedAlert.objects.get().pinned_by.groups.filter(name=roles.CLINIC_ADMIN).exists()


def test_the_desks_one_read_gives_the_same_statuses_and_alerts_as_the_two_rules(appointment):
    """`screening_and_alerts` (the desk's calendars) reads the forms, flags and reviews once for the screening
    status and the alert banner: the same answers as `screening_statuses` and `patients_with_alerts`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from consultations.alerts import patients_with_alerts
    from consultations.selectors import screening_and_alerts, screening_statuses
    from tests.factories import PatientFactory, clear_patient

    pinned = clear_patient()
    intake_services.pin_alert(pinned, by=PractitionerFactory().user, text=ALERT)
    washout = submitted_intake(took_isotretinoin=True, isotretinoin_last_dose=timezone.localdate()).patient
    patients = [
        appointment.patient,  # cleared with conditions (warfarin)
        pinned,  # cleared, with a pinned alert
        washout,  # waiting for review, a washout running
        submitted_intake(anticoagulants=["warfarin"]).patient,  # flagged, waiting
        submitted_intake().patient,  # waiting for review
        clear_patient(),  # cleared, nothing to say
        PatientFactory(),  # no form
    ]
    ids = {p.pk for p in patients}
    with CaptureQueriesContext(connection) as read:
        statuses, alerted = screening_and_alerts(ids)
    assert statuses == screening_statuses(patients)
    assert alerted == patients_with_alerts(ids) and {appointment.patient.pk, pinned.pk, washout.pk} <= alerted
    assert len(read) <= 4
    fresh = PatientFactory()
    with CaptureQueriesContext(connection) as read:
        assert screening_and_alerts({fresh.pk}) == ({fresh.pk: statuses[patients[-1].pk]}, set())
    assert len(read) == 2  # no form: the forms and the pinned alerts only
    assert screening_and_alerts(set()) == ({}, set())
