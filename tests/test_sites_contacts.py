"""The right site's phone and address in every text (issue 17): a Manchester patient told to call the clinic
is given Manchester's number, on the pages, in the API's refusal, in the answer to a text and in the messages
the desk sends, never London's (the main site's, `settings.CLINIC["PHONE"]`). A message about the patient
but no one appointment names the site of their next appointment, else their last, else the clinic's
settings (`bookings.selectors.patient_site`). A site's name and address are staff-written text that reaches
patients: they pass the medicine-advice rule."""

import datetime
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from bookings import links, selectors
from bookings.models import SignedLink
from bookings.reminders import inbound
from clinic import roles
from clinic.models import Notice, Site, default_site
from tests.factories import AppointmentFactory, PatientFactory, RoomFactory, SiteFactory, staff_user

pytestmark = pytest.mark.django_db

MANCHESTER_PHONE = "0161 496 0000"
MANCHESTER_ADDRESS = "1 King Street, Manchester M2 4LQ"
LONDON_PHONE = settings.CLINIC["PHONE"]


@pytest.fixture
def manchester():
    return SiteFactory(
        name="Manchester", slug="manchester", address=MANCHESTER_ADDRESS, phone=MANCHESTER_PHONE,
        email="manchester@clinic.example",
    )  # fmt: skip


@pytest.fixture
def patient():
    return PatientFactory(phone="+447700900123", sms_opt_in=True)


@pytest.fixture
def soon(manchester, patient):
    """A booked visit at Manchester in three hours: inside the cancellation window, so only a call moves it."""
    start = (timezone.now() + datetime.timedelta(hours=3)).replace(second=0, microsecond=0)
    return AppointmentFactory(patient=patient, room=RoomFactory(name="King 1", site=manchester), start_at=start)


def call_line(phone):
    return f"Please call the clinic on {phone}."


def test_a_manchester_patient_refused_online_is_told_to_call_manchester(client, patient, soon):
    client.force_login(patient.user)
    for name in ("appointment_detail", "appointment_cancel", "appointment_reschedule"):
        page = client.get(reverse(name, args=[soon.pk])).content.decode()
        assert call_line(MANCHESTER_PHONE) in page, name
        assert 'href="tel:01614960000"' in page, name
        assert call_line(LONDON_PHONE) not in page, name
    mine = client.get(reverse("my_appointments")).content.decode()
    assert f"call {MANCHESTER_PHONE} to change" in mine
    # A late cancellation posted anyway is refused with Manchester's number.
    response = client.post(reverse("appointment_cancel", args=[soon.pk]), {"reason": "Ill"}, follow=True)
    assert call_line(MANCHESTER_PHONE) in response.content.decode()


def test_the_api_s_refusal_gives_the_site_s_phone(patient, soon):
    api = APIClient()
    api.force_login(patient.user)
    response = api.post(f"/api/v1/appointments/{soon.pk}/cancel/", {}, format="json")
    assert response.status_code in (400, 409)
    assert call_line(MANCHESTER_PHONE) in str(response.json()) and LONDON_PHONE not in str(response.json())


def test_a_text_asking_to_rearrange_is_answered_with_the_site_s_phone(patient, soon):
    answer = inbound.receive(provider_ref="SM-manchester-1", from_number=patient.phone, body="R")
    assert f"call us on {MANCHESTER_PHONE}" in answer and LONDON_PHONE not in answer


def test_the_aftercare_check_in_page_gives_the_site_s_phone(client, patient, soon):
    client.force_login(patient.user)
    page = client.get(reverse("aftercare_check_in", args=[soon.pk])).content.decode()
    assert f"call us on\n{MANCHESTER_PHONE}." in page


def test_a_refused_link_gives_the_appointment_s_site_s_phone(client, patient, soon):
    url = urlsplit(links.make_link(patient=patient, action=SignedLink.Action.CONFIRM, appointment=soon)).path
    client.post(url)  # confirmed: the link is used
    client.logout()
    page = client.post(url).content.decode()
    assert f"or call us on {MANCHESTER_PHONE}." in page


def test_the_desk_s_health_form_link_names_the_patient_s_site(client, patient, manchester, soon):
    client.force_login(staff_user(roles.FRONT_DESK))
    patient.user.email = "mo@example.com"
    patient.user.save()
    client.post(reverse("desk:patient_form_link", args=[patient.pk]), {"channel": "email"})
    body = Notice.objects.get(kind="health_form_link").body
    assert MANCHESTER_PHONE in body and MANCHESTER_ADDRESS in body and LONDON_PHONE not in body


def test_the_patient_s_site_is_their_next_appointment_s_else_their_last_else_the_clinic_s(patient, manchester):
    london = default_site()
    assert selectors.patient_site(patient) is None  # no appointment: the clinic's settings (the main site)
    now = timezone.now()
    AppointmentFactory(patient=patient, room=RoomFactory(site=london), start_at=now - datetime.timedelta(days=30))
    assert selectors.patient_site(patient) == london
    later = AppointmentFactory(
        patient=patient, room=RoomFactory(site=manchester), start_at=now + datetime.timedelta(days=9)
    )
    assert selectors.patient_site(patient) == manchester
    AppointmentFactory(patient=patient, room=RoomFactory(site=london), start_at=now + datetime.timedelta(days=20))
    assert selectors.patient_site(patient) == manchester  # the next one, not the latest booked
    later.status = "cancelled"
    later.save()
    assert selectors.patient_site(patient) == london


def test_a_site_s_name_and_address_pass_the_medicine_advice_rule():
    site = Site(name="Leeds", slug="leeds", time_zone="Europe/London", address="Stop your warfarin 2 days before.")
    with pytest.raises(ValidationError) as refused:
        site.full_clean()
    assert "address" in refused.value.message_dict
    Site(name="Leeds", slug="leeds", time_zone="Europe/London", address="2 Park Row, Leeds LS1 5HD").full_clean()
