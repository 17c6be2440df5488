"""The practitioner's review: queue, detail, decision; who may see what; the access log."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment
from clinic import roles
from consultations import selectors, services
from consultations.models import IntakeAccess, IntakeForm, Review
from tests.factories import AppointmentFactory, PatientFactory, PractitionerFactory, staff_user, submitted_intake

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]


@pytest.fixture
def practitioner():
    return PractitionerFactory()


@pytest.fixture
def practitioner_client(client, practitioner):
    client.force_login(practitioner.user)
    return client


def decide(client, intake, **data):
    return client.post(reverse("intake_review", args=[intake.pk]), data, follow=True)


def test_queue_lists_pending_forms_flagged_first_and_highlighted(practitioner_client, django_assert_max_num_queries):
    plain = submitted_intake()
    advised = submitted_intake(drinks_alcohol=True)
    reviewed = submitted_intake(pregnant_or_breastfeeding=True)
    blocked = submitted_intake(pregnant_or_breastfeeding=True)
    flagged = submitted_intake(keloid_scarring=True)
    services.record_review(reviewed, reviewer=PractitionerFactory().user, decision="declined")
    with django_assert_max_num_queries(14):  # session, user, roles, 2FA, then a fixed few for any length
        response = practitioner_client.get(reverse("review_queue"))
    rows = [intake for intake, _ in response.context["rows"]]
    assert rows == [blocked, flagged, advised, plain]
    page = response.content.decode()
    assert page.index(blocked.patient.full_name) < page.index(flagged.patient.full_name)
    assert 'class="table-danger" data-flag-rank="3"' in page
    assert 'class="table-warning" data-flag-rank="2"' in page
    assert "Block: Pregnant or breastfeeding" in page


def test_detail_shows_answers_and_flags_and_logs_the_access(practitioner_client, practitioner):
    intake = submitted_intake(anticoagulants=["rivaroxaban"], gp_name="Dr Quinn")
    page = practitioner_client.get(reverse("intake_review", args=[intake.pk])).content.decode()
    assert "Dr Quinn" in page and "Rivaroxaban (Xarelto)" in page
    assert "liaise with the prescriber" in page
    access = IntakeAccess.objects.get(view="intake_review")
    assert (access.user, access.intake) == (practitioner.user, intake)


def test_the_queue_logs_each_form_it_shows(practitioner_client, practitioner):
    first, second = submitted_intake(), submitted_intake()
    practitioner_client.get(reverse("review_queue"))
    assert set(IntakeAccess.objects.filter(user=practitioner.user).values_list("intake", flat=True)) == {
        first.pk,
        second.pk,
    }


@pytest.mark.clock
def test_clearing_records_reviewer_time_and_default_validity(practitioner_client, practitioner):
    intake = submitted_intake()
    response = decide(practitioner_client, intake, decision="cleared", notes="Fine.")
    assert "Decision recorded" in response.content.decode()
    review = Review.objects.get(intake=intake)
    expected = timezone.localdate() + datetime.timedelta(days=settings.CLINIC["CLEARANCE_VALID_DAYS"])
    assert (review.reviewer, review.valid_until, review.intake_version) == (practitioner.user, expected, 1)
    assert timezone.now() - review.decided_at < datetime.timedelta(minutes=1)
    intake.refresh_from_db()
    assert intake.status == "reviewed"
    assert selectors.screening_status(intake.patient) == selectors.CLEARED


@pytest.mark.parametrize("decision", ["cleared_with_conditions", "needs_information"])
def test_conditions_and_information_requests_need_a_message_for_the_patient(practitioner_client, decision):
    intake = submitted_intake()
    response = decide(practitioner_client, intake, decision=decision, message_to_patient="")
    assert "No decision recorded" in response.content.decode()
    assert not Review.objects.exists()


@pytest.mark.clock
def test_a_running_isotretinoin_washout_cannot_be_cleared(practitioner_client):
    intake = submitted_intake(took_isotretinoin=True, isotretinoin_last_dose=timezone.localdate())
    response = decide(practitioner_client, intake, decision="cleared")
    assert "washout runs until" in response.content.decode()
    assert not Review.objects.exists()


def test_the_patient_sees_status_and_message_but_never_the_notes(client, practitioner):
    intake = submitted_intake(metal_allergy=True)
    services.record_review(
        intake,
        reviewer=practitioner.user,
        decision="needs_information",
        message_to_patient="Which metals are you allergic to?",
        notes="SECRET-CLINICAL-NOTE",
    )
    client.force_login(intake.patient.user)
    page = client.get(reverse("intake_home")).content.decode()
    assert "Needs more information" in page
    assert "Which metals are you allergic to?" in page
    assert "needles are made of metal" in page  # the patient-facing text of the rule
    assert "SECRET-CLINICAL-NOTE" not in page
    assert "check needle cartridge material" not in page  # the practitioner-facing text


def test_another_patients_form_is_404_for_a_patient(client):
    other = submitted_intake()
    me = PatientFactory()
    client.force_login(me.user)
    assert client.get(reverse("intake_review", args=[other.pk])).status_code in (403, 404)
    assert client.get(reverse("review_queue")).status_code in (403, 404)
    assert not IntakeAccess.objects.exists()


def test_front_desk_sees_the_status_but_never_the_answers(client):
    intake = submitted_intake(pregnant_or_breastfeeding=True)
    desk = staff_user(roles.FRONT_DESK)
    client.force_login(desk)
    assert client.get(reverse("intake_review", args=[intake.pk])).status_code in (403, 404)
    assert client.get(reverse("review_queue")).status_code == 403
    assert not IntakeAccess.objects.exists()
    status = selectors.screening_status(intake.patient)
    assert status == selectors.FLAGGED
    assert "regnan" not in str(status)


def test_front_desk_has_no_admin_permission_on_health_forms():
    desk = staff_user(roles.FRONT_DESK)
    assert not any(desk.has_perm(f"consultations.view_{m}") for m in ("intakeform", "review", "screeningflag"))


def test_a_practitioner_sees_reviewed_forms_only_of_patients_booked_with_them(client, practitioner):
    intake = submitted_intake()
    services.record_review(intake, reviewer=PractitionerFactory().user, decision="cleared")
    client.force_login(practitioner.user)
    url = reverse("intake_review", args=[intake.pk])
    assert client.get(url).status_code == 404
    AppointmentFactory(patient=intake.patient, practitioner=practitioner, status=Appointment.Status.CANCELLED)
    assert client.get(url).status_code == 404
    AppointmentFactory(patient=intake.patient, practitioner=practitioner)
    assert client.get(url).status_code == 200


def test_an_unsent_draft_is_not_shown_to_staff(practitioner_client):
    draft = IntakeForm.objects.create(patient=PatientFactory(), gp_name="Dr Draft")
    assert practitioner_client.get(reverse("intake_review", args=[draft.pk])).status_code == 404
    assert practitioner_client.get(reverse("intake_review", args=[123456])).status_code == 404


def test_clinic_admin_may_read_but_only_practitioners_decide(client, sign_in):
    intake = submitted_intake()
    admin = staff_user(roles.CLINIC_ADMIN)
    sign_in(client, admin)
    response = client.get(reverse("intake_review", args=[intake.pk]))
    assert response.status_code == 200 and "Record decision" not in response.content.decode()
    assert client.post(reverse("intake_review", args=[intake.pk]), {"decision": "cleared"}).status_code == 403
    assert IntakeAccess.objects.filter(user=admin).count() == 1


def test_the_access_log_is_read_only_in_the_admin(client, practitioner_client, sign_in):
    intake = submitted_intake()
    practitioner_client.get(reverse("intake_review", args=[intake.pk]))
    admin = staff_user(roles.CLINIC_ADMIN)
    sign_in(client, admin)
    listing = client.get(reverse("admin:consultations_intakeaccess_changelist"))
    assert listing.status_code == 200
    assert "intake_review" in listing.content.decode()
    access = IntakeAccess.objects.get()
    assert client.get(reverse("admin:consultations_intakeaccess_add")).status_code == 403
    assert (
        client.post(reverse("admin:consultations_intakeaccess_delete", args=[access.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert IntakeAccess.objects.filter(pk=access.pk).exists()


def test_opening_a_form_in_the_admin_is_logged_too(client, sign_in):
    intake = submitted_intake()
    admin = staff_user(roles.CLINIC_ADMIN)
    sign_in(client, admin)
    assert client.get(reverse("admin:consultations_intakeform_change", args=[intake.pk])).status_code == 200
    assert IntakeAccess.objects.filter(user=admin, intake=intake, view="admin").exists()


def test_screening_rules_are_editable_in_the_admin(client, sign_in):
    from consultations.models import ScreeningRule

    admin = staff_user(roles.CLINIC_ADMIN)
    sign_in(client, admin)
    rule = ScreeningRule.objects.get(code="keloid")
    url = reverse("admin:consultations_screeningrule_change", args=[rule.pk])
    assert client.get(url).status_code == 200
    data = {
        "code": rule.code,
        "topic": rule.topic,
        "question": rule.question,
        "answers": "",
        "severity": "block",
        "patient_text": "Stop your medicines.",
        "practitioner_text": rule.practitioner_text,
        "washout_days": "",
        "active": "on",
        "display_order": rule.display_order,
    }
    assert client.post(url, data).status_code == 200  # refused: tells the patient to stop
    rule.refresh_from_db()
    assert rule.severity == "review"
    data["patient_text"] = "A practitioner reviews raised scars before you book."
    assert client.post(url, data).status_code == 302
    rule.refresh_from_db()
    assert rule.severity == "block"


def test_reads_of_a_form_also_go_to_the_patients_audit_trail(practitioner_client, practitioner):
    from clinic.audit import trail_for_patient

    intake = submitted_intake()
    practitioner_client.get(reverse("intake_review", args=[intake.pk]))
    (entry,) = trail_for_patient(intake.patient_id).filter(action=3)  # LogEntry.Action.ACCESS
    assert entry.actor == practitioner.user


def test_the_review_page_has_a_fixed_query_count(practitioner_client, django_assert_max_num_queries):
    intake = submitted_intake(anticoagulants=["warfarin"], diabetes=True, pregnant_or_breastfeeding=True)
    services.record_review(
        intake, reviewer=PractitionerFactory().user, decision="needs_information", message_to_patient="?"
    )
    services.submit_intake(intake.patient, {"diabetes": True, "declaration": True})
    with django_assert_max_num_queries(23):  # + the clinical alert banner (3)
        assert practitioner_client.get(reverse("intake_review", args=[intake.pk])).status_code == 200
