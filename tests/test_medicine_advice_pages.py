"""The medicine-advice rule where staff write what a patient reads, through the pages they use: the review
(refused, then recorded as the prescriber's advice and shown attributed), the desk's cancellation, the
practitioner's public profile, and the texts edited in the admin (treatments, reminders, screening rules)."""

import datetime

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment, TreatmentReminder
from clinic import roles
from clinic.audit import trail_for_patient
from consultations.models import Review
from tests.factories import AppointmentFactory, PractitionerFactory, TreatmentFactory, staff_user, submitted_intake

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]

STOP_APIXABAN = "Please stop taking your apixaban 48 hours before each session and restart the day after."


@pytest.fixture
def practitioner():
    return PractitionerFactory()


@pytest.fixture
def practitioner_client(client, practitioner):
    client.force_login(practitioner.user)
    return client


def decide(client, intake, **data):
    return client.post(reverse("intake_review", args=[intake.pk]), data, follow=True)


def test_a_review_message_telling_the_patient_to_stop_is_refused_with_a_suggested_wording(practitioner_client):
    intake = submitted_intake(anticoagulants=["apixaban"])
    response = decide(practitioner_client, intake, decision="cleared_with_conditions", message_to_patient=STOP_APIXABAN)
    page = response.content.decode()
    assert "No decision recorded" in page
    assert "Suggested wording" in page and "Do not stop or change your apixaban unless" in page
    assert "Advice from the patient&#x27;s prescriber" in page  # where a prescriber's advice can go
    assert not Review.objects.filter(intake=intake).exists()


def test_prescriber_advice_needs_who_gave_it_and_when(practitioner_client):
    intake = submitted_intake(anticoagulants=["apixaban"])
    response = decide(
        practitioner_client,
        intake,
        decision="cleared_with_conditions",
        message_to_patient="Needle depth at most 0.5 mm on the thighs.",
        prescriber_advice=STOP_APIXABAN,
        prescriber_name="Dr Shah",
    )
    page = response.content.decode()
    assert "Give the prescriber&#x27;s role" in page and "Give the date the prescriber gave this advice" in page
    assert not Review.objects.filter(intake=intake).exists()


def test_recorded_prescriber_advice_reaches_the_patient_attributed_and_is_audited(
    client, practitioner_client, practitioner
):
    intake = submitted_intake(anticoagulants=["apixaban"])
    advised_on = timezone.localdate() - datetime.timedelta(days=2)
    response = decide(
        practitioner_client,
        intake,
        decision="cleared_with_conditions",
        message_to_patient="Needle depth at most 0.5 mm on the thighs.",
        prescriber_advice=STOP_APIXABAN,
        prescriber_name="Dr Shah",
        prescriber_role="GP",
        prescriber_advised_on=advised_on.isoformat(),
    )
    assert "Decision recorded" in response.content.decode()
    review = Review.objects.get(intake=intake)
    assert (review.prescriber_name, review.prescriber_role, review.prescriber_advised_on) == (
        "Dr Shah",
        "GP",
        advised_on,
    )
    client.force_login(intake.patient.user)
    page = client.get(reverse("intake_home")).content.decode()
    assert f"Your prescriber, Dr Shah (GP), advised on {advised_on:%-d %B %Y}: {STOP_APIXABAN}" in page
    created = trail_for_patient(intake.patient.pk).filter(content_type__model="review").get()
    assert created.actor == practitioner.user
    assert "Dr Shah" in str(created.changes) and STOP_APIXABAN in str(created.changes)


def test_a_harmless_message_about_warfarin_passes_untouched(client, practitioner_client):
    intake = submitted_intake(anticoagulants=["warfarin"])
    message = "Do not stop your warfarin; bring your latest INR."
    decide(practitioner_client, intake, decision="cleared_with_conditions", message_to_patient=message)
    assert Review.objects.get(intake=intake).message_to_patient == message
    client.force_login(intake.patient.user)
    assert message in client.get(reverse("intake_home")).content.decode().replace("&#x27;", "'")


def test_the_desk_cannot_give_stop_advice_in_a_cancellation_reason(client):
    desk = staff_user(roles.FRONT_DESK)
    client.force_login(desk)
    appointment = AppointmentFactory(start_at=timezone.now() + datetime.timedelta(days=7))
    response = client.post(
        f"/desk/appointments/{appointment.pk}/cancel/", {"reason": "Rebook once you have come off Xarelto"}, follow=True
    )
    messages = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "stop or skip a blood thinner" in messages and "Suggested wording" in messages
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED and appointment.cancellation_reason == ""


def test_a_practitioner_profile_that_tells_visitors_to_stop_is_refused(client, practitioner_client, practitioner):
    url = reverse("practitioner_edit", args=[practitioner.slug])
    response = practitioner_client.post(
        url, {"title": "Nurse", "bio": "I ask every client to pause their blood thinners for a week.", "treatments": []}
    )
    assert response.status_code == 200 and "Suggested wording" in response.content.decode()
    practitioner.refresh_from_db()
    assert "blood thinners" not in practitioner.bio


@pytest.mark.parametrize("field", ["pre_care", "aftercare", "description", "summary"], ids=lambda f: f"treatment {f}")
def test_a_treatment_text_for_every_patient_cannot_tell_them_to_stop(field):
    treatment = TreatmentFactory()
    setattr(treatment, field, "Skip your Eliquis the morning of the session.")
    with pytest.raises(ValidationError) as refused:
        treatment.full_clean()
    assert "only with a practitioner's review" in refused.value.message_dict[field][0]


def test_a_reminder_text_edited_in_the_admin_cannot_tell_patients_to_stop():
    setting, _ = TreatmentReminder.objects.get_or_create(treatment=TreatmentFactory(), kind="pre_care")
    setting.extra_text = "Hold your DOAC 2 days before."
    with pytest.raises(ValidationError) as refused:
        setting.full_clean()
    assert "extra_text" in refused.value.message_dict
    setting.extra_text = "Do not stop your DOAC: tell us what your prescriber advises."
    setting.full_clean()


def test_the_treatment_admin_refuses_stop_advice_in_pre_care(client, sign_in):
    sign_in(client, staff_user(roles.CLINIC_ADMIN))
    treatment = TreatmentFactory(pre_care="Avoid alcohol for 48 hours.")
    url = reverse("admin:clinic_treatment_change", args=[treatment.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data["pre_care"] = "Stop your blood thinner three days before."
    for prefix in ("reminder_settings",):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    for key, value in list(data.items()):
        if isinstance(value, bool):
            data[key] = "on" if value else ""
    data = {k: v for k, v in data.items() if v != ""}
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Suggested wording" in response.content.decode()
    treatment.refresh_from_db()
    assert treatment.pre_care == "Avoid alcohol for 48 hours."
