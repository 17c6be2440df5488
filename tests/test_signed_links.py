"""Signed links in messages (bookings/links.py): one patient, one action, expiring, used once; a forged, expired
or reused link gets a clear page and changes nothing. Driven through the pages, as a patient's browser does."""

import datetime
import re
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings import links
from bookings.models import Appointment, AppointmentEvent, SignedLink
from clinic import roles, sms
from consultations.models import Consent, IntakeForm
from tests.factories import AppointmentFactory, PatientFactory, staff_user
from tests.test_intake import post_data

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    sms.outbox.clear()


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def state(appointment) -> tuple:
    appointment.refresh_from_db()
    return appointment.status, appointment.confirmed_at, appointment.events.count(), SignedLink.objects.count()


def test_a_link_page_says_who_it_is_for_and_a_get_changes_nothing(client):
    appointment = AppointmentFactory(patient__user__first_name="Nora", patient__user__last_name="Quill")
    url = links.make_link(patient=appointment.patient, action=SignedLink.Action.CONFIRM, appointment=appointment)
    before = state(appointment)
    page = client.get(path_of(url))
    assert page.status_code == 200
    assert "This link is for <strong>Nora Q.</strong>" in page.content.decode()
    assert "Yes, I am coming" in page.content.decode()
    assert state(appointment) == before
    assert SignedLink.objects.get().used_at is None


def test_links_are_built_from_site_url(settings):
    settings.SITE_URL = "https://book.clinic.example:8443"
    appointment = AppointmentFactory()
    url = links.make_link(patient=appointment.patient, action=SignedLink.Action.CANCEL, appointment=appointment)
    assert re.fullmatch(r"https://book\.clinic\.example:8443/l/[\w-]{43}/", url)


def test_the_confirm_link_confirms_once_and_a_reused_link_changes_nothing(client):
    appointment = AppointmentFactory()
    url = path_of(
        links.make_link(patient=appointment.patient, action=SignedLink.Action.CONFIRM, appointment=appointment)
    )
    done = client.post(url)
    assert done.status_code == 200 and "you are confirmed" in done.content.decode()
    appointment.refresh_from_db()
    assert appointment.confirmed_at is not None
    assert appointment.events.get().action == AppointmentEvent.Action.CONFIRMED
    before = state(appointment)
    again = client.post(url)
    assert again.status_code == 410
    assert "already been used" in again.content.decode() and "Nothing more has been changed" in again.content.decode()
    assert state(appointment) == before


@pytest.mark.parametrize("token", ["forged-token-0123456789", "x" * 5000, "A" * 43])
def test_a_forged_link_gets_a_clear_page_and_changes_nothing(client, token):
    appointment = AppointmentFactory()
    links.make_link(patient=appointment.patient, action=SignedLink.Action.CANCEL, appointment=appointment)
    before = state(appointment)
    for response in (client.get(f"/l/{token}/"), client.post(f"/l/{token}/")):
        assert response.status_code == 404
        assert "This link is not valid" in response.content.decode()
    assert state(appointment) == before
    assert SignedLink.objects.get().used_at is None


def test_an_expired_link_gets_a_clear_page_and_changes_nothing(client):
    patient = PatientFactory()
    eight_days_ago = timezone.now() - datetime.timedelta(days=8)
    url = path_of(links.make_link(patient=patient, action=SignedLink.Action.HEALTH_FORM, now=eight_days_ago))
    response = client.post(url)
    assert response.status_code == 410 and "This link has expired" in response.content.decode()
    assert SignedLink.objects.get().used_at is None
    assert "_auth_user_id" not in client.session  # not signed in


def test_an_appointment_link_expires_at_the_appointment():
    appointment = AppointmentFactory()
    links.make_link(patient=appointment.patient, action=SignedLink.Action.RESCHEDULE, appointment=appointment)
    assert SignedLink.objects.get().expires_at == appointment.start_at


def test_a_link_is_only_for_the_appointments_own_patient():
    appointment = AppointmentFactory()
    with pytest.raises(ValueError):
        links.make_link(patient=PatientFactory(), action=SignedLink.Action.CANCEL, appointment=appointment)


def test_the_cancel_link_cancels_and_a_refused_cancel_leaves_the_link_unused(client, settings):
    appointment = AppointmentFactory()
    url = path_of(
        links.make_link(patient=appointment.patient, action=SignedLink.Action.CANCEL, appointment=appointment)
    )
    assert client.post(url).status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED

    soon = AppointmentFactory(start_at=timezone.now() + datetime.timedelta(hours=3))  # inside the 24 h window
    url = path_of(links.make_link(patient=soon.patient, action=SignedLink.Action.CANCEL, appointment=soon))
    before = state(soon)
    refused = client.post(url)
    assert refused.status_code == 409 and "Nothing has been changed" in refused.content.decode()
    assert state(soon) == before
    assert SignedLink.objects.get(appointment=soon).used_at is None


def test_a_link_for_a_cancelled_appointment_changes_nothing(client):
    appointment = AppointmentFactory(status=Appointment.Status.CANCELLED)
    url = path_of(
        links.make_link(patient=appointment.patient, action=SignedLink.Action.CONFIRM, appointment=appointment)
    )
    response = client.post(url)
    assert response.status_code == 410 and "no longer booked" in response.content.decode()
    assert state(appointment)[1] is None


@pytest.mark.usefixtures("screening_rules")
def test_the_health_form_link_signs_in_a_patient_with_no_password_who_fills_in_both_and_sets_one():
    patient = PatientFactory(user__first_name="Pat")
    patient.user.set_unusable_password()
    patient.user.save()
    browser = Client()  # a fresh browser
    url = path_of(links.make_link(patient=patient, action=SignedLink.Action.HEALTH_FORM))
    assert "Continue as Pat" in browser.get(url).content.decode()
    opened = browser.post(url)
    assert opened.status_code == 302 and opened["Location"] == reverse("intake_form")
    assert browser.post(reverse("intake_form"), {**post_data(), "submit": "1"}).status_code == 302
    assert IntakeForm.objects.get(patient=patient).is_submitted
    signed = browser.post(reverse("consent_sign"), {"signed_name": patient.full_name, "agreed": "on"})
    assert signed.status_code == 302 and Consent.objects.filter(patient=patient).exists()
    # Opened again in the same browser: it simply goes on; in another browser: used.
    assert browser.post(url)["Location"] == reverse("intake_form")
    assert Client().post(url).status_code == 410
    assert "Choose a password" in browser.get(reverse("intake_home")).content.decode()
    password = "A-long-enough-passphrase-2026"
    assert (
        browser.post(reverse("link_set_password"), {"new_password1": password, "new_password2": password}).status_code
        == 302
    )
    patient.user.refresh_from_db()
    assert patient.user.check_password(password)


def test_set_password_without_a_link_session_is_not_offered(client):
    patient = PatientFactory()
    client.force_login(patient.user)
    assert client.get(reverse("link_set_password")).status_code == 404


def test_a_link_never_signs_in_a_staff_account(client):
    desk = staff_user(roles.FRONT_DESK)
    patient = PatientFactory(user=desk)
    url = path_of(links.make_link(patient=patient, action=SignedLink.Action.HEALTH_FORM))
    response = client.post(url)
    assert response.status_code == 409
    assert "_auth_user_id" not in client.session
    assert SignedLink.objects.get().used_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_presses_at_once_confirm_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's row locks")
    appointment = AppointmentFactory()
    url = path_of(
        links.make_link(patient=appointment.patient, action=SignedLink.Action.CONFIRM, appointment=appointment)
    )
    barrier, codes = threading.Barrier(2), []

    def press():
        try:
            barrier.wait()
            codes.append(Client().post(url).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 410]
    assert appointment.events.filter(action=AppointmentEvent.Action.CONFIRMED).count() == 1


# --- the desk's "send the health form and consent link" ---------------------------------------------


@pytest.fixture
def desk_client(client):
    client.force_login(staff_user(roles.FRONT_DESK))
    return client


def test_the_desk_sends_the_form_link_by_text_and_sees_it_sent(desk_client):
    patient = PatientFactory(user__email="phone-1@patients.invalid", phone="+447700900123")
    response = desk_client.post(reverse("desk:patient_form_link", args=[patient.pk]), {"channel": "sms"})
    assert response.status_code == 302
    [text] = sms.outbox
    assert text.to == "+447700900123"
    url = re.search(r"https?://\S+/l/\S+/", text.body).group(0)
    link = SignedLink.objects.get()
    assert (link.action, link.patient, link.channel) == (SignedLink.Action.HEALTH_FORM, patient, "sms")
    assert Client().get(path_of(url)).status_code == 200
    page = desk_client.get(reverse("desk:patient", args=[patient.pk])).content.decode()
    assert "Form links sent" in page and "not opened yet" in page


def test_the_desk_cannot_email_a_patient_without_an_address_and_nothing_is_made(desk_client):
    patient = PatientFactory(user__email="phone-2@patients.invalid")
    response = desk_client.post(reverse("desk:patient_form_link", args=[patient.pk]), {"channel": "email"}, follow=True)
    assert "The link was not sent: the patient has no email address" in response.content.decode()
    assert not SignedLink.objects.exists()


def test_the_desk_must_choose_a_channel(desk_client):
    patient = PatientFactory()
    response = desk_client.post(reverse("desk:patient_form_link", args=[patient.pk]), {"channel": "fax"}, follow=True)
    assert "nothing was sent" in response.content.decode()
    assert not SignedLink.objects.exists()
