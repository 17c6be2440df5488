"""The patient's health form: drafts, submission, bad input, the pre-session confirmation and consent."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic import roles
from consultations.consent import CONSENT_TEXT, CONSENT_VERSION
from consultations.models import Consent, IntakeForm
from practice.models import IntakeConfirmation
from tests.factories import (
    INTAKE_ANSWERS_NO_FLAGS,
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    staff_user,
    submitted_intake,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("screening_rules")]


def post_data(**overrides) -> dict:
    """The form as a browser posts it: yes/no as True/False, lists as repeated keys, no None."""
    data = {}
    for name, value in {**INTAKE_ANSWERS_NO_FLAGS, **overrides}.items():
        if value is None:
            continue
        if isinstance(value, bool) and name == "declaration":
            if value:
                data[name] = "on"
        elif isinstance(value, bool):
            data[name] = str(value)
        elif isinstance(value, datetime.date):
            data[name] = value.isoformat()
        else:
            data[name] = value
    return data


@pytest.fixture
def patient_client(client):
    patient = PatientFactory()
    client.force_login(patient.user)
    client.patient = patient
    return client


def test_the_form_is_sectioned_and_lists_the_medicine_choices(patient_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        page = patient_client.get(reverse("intake_form")).content.decode()
    for section in ("Contact and GP", "Medical history", "Current medicines", "Pregnancy", "Allergies", "Declaration"):
        assert section in page
    for medicine in ("Warfarin", "Apixaban", "Rivaroxaban", "Edoxaban", "Dabigatran", "Clopidogrel", "aspirin"):
        assert medicine in page
    for supplement in ("Fish oil", "Vitamin E", "Ginkgo", "Garlic"):
        assert supplement in page


def test_a_draft_keeps_partial_answers_for_later(patient_client):
    response = patient_client.post(
        reverse("intake_form"), {"gp_name": "Dr Who", "diabetes": "False", "save_draft": "1"}, follow=True
    )
    assert "not sent yet" in response.content.decode()
    intake = IntakeForm.objects.get(patient=patient_client.patient)
    assert (intake.status, intake.version, intake.gp_name, intake.diabetes) == ("draft", 0, "Dr Who", False)
    assert intake.bleeding_disorder is None
    page = patient_client.get(reverse("intake_form")).content.decode()
    assert 'value="Dr Who"' in page


def test_an_incomplete_submission_keeps_what_was_entered_and_says_what_is_missing(patient_client):
    data = post_data(declaration=False, pregnant_or_breastfeeding=None, submit="1")
    response = patient_client.post(reverse("intake_form"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Still to do: Pregnancy, Declaration" in page
    assert "Tick the declaration" in page
    intake = IntakeForm.objects.get(patient=patient_client.patient)
    assert intake.status == "draft" and intake.version == 0 and intake.submitted_at is None
    assert intake.gp_practice == "Marylebone Health Centre"
    assert not intake.flags.exists()


def test_a_complete_submission_is_sent_for_review_and_screened(patient_client):
    response = patient_client.post(
        reverse("intake_form"), post_data(anticoagulants=["warfarin"], submit="1"), follow=True
    )
    page = response.content.decode()
    assert "your health form is sent" in page
    assert "Waiting for review" in page or "Flagged" in page
    assert "speak to your prescriber" in page.lower()
    intake = IntakeForm.objects.get(patient=patient_client.patient)
    assert (intake.status, intake.version, intake.anticoagulants) == ("awaiting_review", 1, ["warfarin"])
    assert list(intake.flags.values_list("rule__code", flat=True)) == ["anticoagulant"]


@pytest.mark.clock
def test_a_future_isotretinoin_date_is_refused_and_nothing_is_saved(patient_client):
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    for button in ("save_draft", "submit"):
        data = post_data(took_isotretinoin=True, isotretinoin_last_dose=tomorrow, **{button: "1"})
        response = patient_client.post(reverse("intake_form"), data)
        assert response.status_code == 200
        assert "in the future" in response.content.decode()
        assert "Nothing was saved" in response.content.decode()
    assert not IntakeForm.objects.filter(patient=patient_client.patient).exists()


def test_isotretinoin_needs_a_date_when_taken(patient_client):
    response = patient_client.post(reverse("intake_form"), post_data(took_isotretinoin=True, submit="1"))
    assert "Give the date of your last dose" in response.content.decode()
    assert not IntakeForm.objects.filter(patient=patient_client.patient, version__gt=0).exists()


def test_a_sent_form_only_changes_by_a_complete_submission(patient_client):
    intake = submitted_intake(patient_client.patient)
    response = patient_client.post(
        reverse("intake_form"), post_data(gp_name="Dr Changed", diabetes=None, save_draft="1")
    )
    assert "Nothing was saved" in response.content.decode()
    intake.refresh_from_db()
    assert (intake.gp_name, intake.diabetes, intake.version) == ("Dr Jones", False, 1)
    patient_client.post(reverse("intake_form"), post_data(gp_name="Dr Changed", submit="1"))
    intake.refresh_from_db()
    assert (intake.gp_name, intake.version) == ("Dr Changed", 2)


def test_staff_have_no_health_form_of_their_own(client):
    client.force_login(staff_user(roles.FRONT_DESK))
    assert client.get(reverse("intake_form")).status_code == 403  # a role that never has one (clinic.access)
    assert client.get(reverse("intake_home")).status_code == 403


def test_the_nav_links_patients_to_their_health_form(patient_client):
    assert reverse("intake_home") in patient_client.get(reverse("home")).content.decode()


# --- Before each session: nothing has changed ----------------------------------------------------


def test_confirm_page_records_that_nothing_has_changed(patient_client):
    intake = submitted_intake(patient_client.patient)
    appointment = AppointmentFactory(patient=patient_client.patient)
    url = reverse("intake_confirm", args=[appointment.pk])
    assert "Nothing has changed" in patient_client.get(url).content.decode()
    response = patient_client.post(url, follow=True)
    assert "you confirmed that nothing has changed" in response.content.decode()
    confirmation = IntakeConfirmation.objects.get(appointment=appointment)
    assert (confirmation.intake, confirmation.intake_version) == (intake, 1)


def test_confirm_page_of_another_patients_appointment_is_404(patient_client):
    appointment = AppointmentFactory()
    assert patient_client.get(reverse("intake_confirm", args=[appointment.pk])).status_code == 404
    assert patient_client.post(reverse("intake_confirm", args=[appointment.pk])).status_code == 404
    assert patient_client.get(reverse("intake_confirm", args=[999999])).status_code == 404
    assert not IntakeConfirmation.objects.exists()


def test_confirm_without_a_sent_form_sends_the_patient_to_the_form(patient_client):
    appointment = AppointmentFactory(patient=patient_client.patient)
    response = patient_client.post(reverse("intake_confirm", args=[appointment.pk]))
    assert response.url == reverse("intake_form")
    assert not IntakeConfirmation.objects.exists()


# --- Consent -------------------------------------------------------------------------------------


def test_consent_stores_the_name_time_and_exact_text_version(patient_client):
    page = patient_client.get(reverse("consent_sign")).content.decode()
    assert CONSENT_VERSION in page
    name = patient_client.patient.full_name
    response = patient_client.post(reverse("consent_sign"), {"signed_name": f"  {name.upper()} ", "agreed": "on"})
    assert response.status_code == 302
    consent = Consent.objects.get(patient=patient_client.patient)
    assert (consent.text_version, consent.text, consent.agreed) == (CONSENT_VERSION, CONSENT_TEXT, True)
    assert consent.signed_name == name.upper()


@pytest.mark.parametrize("data", [{"signed_name": "Somebody Else", "agreed": "on"}, {"signed_name": "x"}])
def test_consent_needs_the_patients_name_and_the_tick(patient_client, data):
    if data["signed_name"] == "x":
        data["signed_name"] = patient_client.patient.full_name
    response = patient_client.post(reverse("consent_sign"), data)
    assert response.status_code == 200
    assert not Consent.objects.exists()


def test_the_practitioner_sees_the_consent(client):
    intake = submitted_intake()
    Consent.objects.create(patient=intake.patient, text_version="v9", text="...", signed_name="Jo Bloggs", agreed=True)
    client.force_login(PractitionerFactory().user)
    page = client.get(reverse("intake_review", args=[intake.pk])).content.decode()
    assert "Jo Bloggs" in page and "text version v9" in page


def test_updating_a_cleared_form_says_whether_the_clearance_stands(patient_client):
    from tests.factories import clear_patient

    clear_patient(patient_client.patient)
    response = patient_client.post(reverse("intake_form"), post_data(drinks_alcohol=True, submit="1"), follow=True)
    assert "your clearance still stands" in response.content.decode()
    assert "Book a session" in response.content.decode()
    response = patient_client.post(reverse("intake_form"), post_data(diabetes=True, submit="1"), follow=True)
    page = response.content.decode()
    assert "needs a practitioner&#x27;s review before your next session" in page
    assert "Clearance suspended" in page


def test_the_patients_pages_have_a_fixed_query_count(patient_client, django_assert_max_num_queries):
    submitted_intake(patient_client.patient, anticoagulants=["warfarin"], diabetes=True, drinks_alcohol=True)
    with django_assert_max_num_queries(12):
        assert patient_client.get(reverse("intake_home")).status_code == 200
    with django_assert_max_num_queries(10):
        assert patient_client.get(reverse("intake_form")).status_code == 200
