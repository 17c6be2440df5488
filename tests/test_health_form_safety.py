"""Issue 14 part 5: the health form asks about implants (a screening rule reviews them), the reviewer must
read every free-text answer before deciding, and a suspended clearance is told to the patient's own
practitioners only while the form returns to everyone's queue. Through the pages a person uses."""

import pytest
from django.core import mail
from django.urls import reverse

from consultations import selectors, services
from consultations.models import Review, ScreeningFlag, ScreeningRule
from tests.factories import (
    INTAKE_ANSWERS_NO_FLAGS,
    AppointmentFactory,
    ClearedPatientFactory,
    PatientFactory,
    PractitionerFactory,
    submitted_intake,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]


def form_data(**answers):
    """The health form as a browser posts it (radio values 'True'/'False', lists repeated)."""
    data = {}
    for name, value in {**INTAKE_ANSWERS_NO_FLAGS, **answers}.items():
        if isinstance(value, bool):
            if name == "declaration":
                if value:
                    data[name] = "on"
            else:
                data[name] = str(value)
        elif isinstance(value, list):
            data[name] = value
        elif value is None:
            data[name] = ""
        else:
            data[name] = value
    data["submit"] = "Send my health form"
    return data


@pytest.mark.parametrize(
    ("answer", "rule"),
    [
        ({"implanted_electronic_device": True}, "implanted-electronic-device"),
        ({"metal_implant_in_area": True}, "metal-implant-in-area"),
    ],
)
def test_an_implant_is_asked_and_flagged_for_review(client, answer, rule):
    patient = PatientFactory()
    client.force_login(patient.user)
    page = client.get(reverse("intake_form")).content.decode()
    assert "pacemaker, a defibrillator (ICD)" in page and "metal implant in or near the area" in page
    response = client.post(reverse("intake_form"), form_data(**answer), follow=True)
    assert "Tell us which device or implant you have, and where." in response.content.decode()
    response = client.post(reverse("intake_form"), form_data(**answer, implant_details="Pacemaker, 2019"), follow=True)
    assert "your health form is sent" in response.content.decode()
    flag = ScreeningFlag.objects.get(intake__patient=patient)
    assert (flag.rule.code, flag.severity) == (rule, ScreeningRule.Severity.REVIEW)
    assert selectors.screening_status(patient) != selectors.CLEARED


def test_the_pacemaker_rule_tells_the_practitioner_no_radiofrequency():
    rule = ScreeningRule.objects.get(code="implanted-electronic-device")
    assert rule.severity == "review" and "no radiofrequency" in rule.practitioner_text


def test_free_text_answers_are_marked_read_this_and_need_a_tick_before_a_decision(client):
    practitioner = PractitionerFactory()
    client.force_login(practitioner.user)
    intake = submitted_intake(other_medicines="Apixaban 5 mg twice a day", goals="Smoother thighs")
    url = reverse("intake_review", args=[intake.pk])
    page = client.get(url).content.decode()
    assert page.count('<span class="badge text-bg-warning me-1">Read this</span>') == 2
    assert "Apixaban 5 mg twice a day" in page
    response = client.post(url, {"decision": "cleared"}, follow=True)
    assert "tick that you have, before recording a decision" in response.content.decode()
    assert not Review.objects.filter(intake=intake).exists()
    client.post(url, {"decision": "cleared", "free_text_read": "on"}, follow=True)
    assert Review.objects.get(intake=intake).free_text_read is True


def test_a_form_without_free_text_asks_for_no_tick(client):
    practitioner = PractitionerFactory()
    client.force_login(practitioner.user)
    intake = submitted_intake()
    url = reverse("intake_review", args=[intake.pk])
    assert "free_text_read" not in client.get(url).content.decode()
    client.post(url, {"decision": "cleared"})
    assert Review.objects.filter(intake=intake).exists()


def test_the_service_refuses_a_decision_on_unread_free_text():
    intake = submitted_intake(medical_history="Heart valve replaced in 2020")
    with pytest.raises(services.IntakeError, match="Read this"):
        services.record_review(intake, reviewer=PractitionerFactory().user, decision="cleared")
    assert not Review.objects.filter(intake=intake).exists()


def test_a_suspended_clearance_is_emailed_to_the_patients_own_practitioners_only(
    client, django_capture_on_commit_callbacks
):
    treating, past, unrelated = PractitionerFactory(), PractitionerFactory(), PractitionerFactory()
    patient = ClearedPatientFactory()
    reviewer = Review.objects.get(intake__patient=patient).reviewer
    AppointmentFactory(patient=patient, practitioner=treating)
    AppointmentFactory(patient=patient, practitioner=past, status="completed")
    AppointmentFactory(patient=patient, practitioner=unrelated, status="cancelled")
    mail.outbox.clear()
    client.force_login(patient.user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("intake_form"), form_data(implanted_electronic_device=True, implant_details="ICD"))
    (message,) = mail.outbox
    assert sorted(message.to) == sorted([treating.user.email, past.user.email, reviewer.email])
    assert "ICD" not in message.body and "defibrillator" not in message.body.lower()
    # Back in the queue, for every practitioner.
    client.force_login(unrelated.user)
    assert patient.full_name in client.get(reverse("review_queue")).content.decode()


def test_a_suspension_with_no_practitioner_of_the_patient_emails_nobody(django_capture_on_commit_callbacks):
    patient = ClearedPatientFactory()
    reviewer = Review.objects.get(intake__patient=patient).reviewer
    reviewer.practitioner.active = False
    reviewer.practitioner.save()
    PractitionerFactory()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.submit_intake(patient, {**INTAKE_ANSWERS_NO_FLAGS, "pregnant_or_breastfeeding": True})
    assert mail.outbox == []
    assert patient.intake in list(selectors.review_queue())
