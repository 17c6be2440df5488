"""Every message, calendar file, receipt and page that names a place names the appointment's site, and shows
its time on that site's clock (issue 17): an appointment at a Madrid site (Europe/Madrid) reads Madrid's
address, phone and local time; one at the first site reads as the one-site clinic always did."""

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from icalendar import Calendar

from bookings.ics import appointment_ics
from bookings.models import Reminder
from bookings.reminders.messages import build_email, build_sms
from clinic import roles
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SiteFactory,
    TreatmentFactory,
    staff_user,
)

pytestmark = pytest.mark.django_db

MADRID = ZoneInfo("Europe/Madrid")
ADDRESS = "Calle de Serrano 1, 28001 Madrid"


@pytest.fixture
def madrid():
    return SiteFactory(
        name="Madrid", slug="madrid", address=ADDRESS, phone="+34 910 000 000", email="madrid@clinic.example",
        time_zone="Europe/Madrid", bank_holidays="ES-MD",
    )  # fmt: skip


@pytest.fixture
def appointment(madrid):
    """11:00 in Madrid on a summer day and on a winter day differ by an hour in UTC: the summer one here."""
    patient = PatientFactory(user__first_name="Lucía", user__email="lucia@example.com", phone="+447700900123")
    return AppointmentFactory(
        patient=patient,
        treatment=TreatmentFactory(name="Microneedling: thighs"),
        practitioner=PractitionerFactory(user__first_name="Amelia", user__last_name="Hart"),
        room=RoomFactory(name="Sala 1", site=madrid),
        start_at=datetime.datetime(2030, 7, 9, 11, 0, tzinfo=MADRID).astimezone(datetime.UTC),
    )


def reminder(appointment, kind="confirmation", channel="email"):
    return Reminder.objects.create(
        appointment=appointment,
        kind=kind,
        channel=channel,
        due_at=appointment.start_at,
        next_attempt_at=appointment.start_at,
    )


@pytest.mark.parametrize("kind", ["confirmation", "moved", "reminder_24h"])
def test_a_madrid_appointment_s_email_names_madrid_and_its_local_time(appointment, kind):
    email = build_email(reminder(appointment, kind))
    html = email.alternatives[0][0]
    for part in (email.body, html):
        assert ADDRESS in part and "Smooth Skin Clinic Madrid" in part or ADDRESS in part
        assert "11:00" in part and "10:00" not in part  # 09:00 UTC is 11:00 in Madrid (CEST), 10:00 in London
        assert "12 Harley Street" not in part
    assert "+34 910 000 000" in email.body
    assert email.reply_to == ["madrid@clinic.example"]


@pytest.mark.parametrize("kind", ["confirmation", "moved"])
def test_a_madrid_appointment_s_text_names_madrid_and_its_local_time(appointment, kind):
    body = build_sms(reminder(appointment, kind, channel="sms"))
    assert ADDRESS in body and "11:00" in body and "Harley" not in body


def test_the_calendar_file_is_in_madrid_s_zone_at_madrid_s_address(appointment):
    calendar = Calendar.from_ical(appointment_ics(appointment))
    (event,) = calendar.walk("VEVENT")
    assert event["DTSTART"].params["TZID"] == "Europe/Madrid"
    assert event["DTSTART"].dt.replace(tzinfo=None) == datetime.datetime(2030, 7, 9, 11, 0)
    assert event["DTSTART"].dt.astimezone(datetime.UTC) == appointment.start_at
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Madrid"]
    assert str(event["LOCATION"]) == f"Smooth Skin Clinic Madrid, {ADDRESS}"
    assert "+34 910 000 000" in str(event["DESCRIPTION"])


def test_the_first_site_reads_as_the_one_site_clinic_always_did(settings):
    """The first site was made from the settings: no site name is added before its address."""
    first = AppointmentFactory(start_at=datetime.datetime(2030, 7, 9, 9, 0, tzinfo=datetime.UTC))
    email = build_email(reminder(first))
    assert f"Where: {settings.CLINIC['NAME']}, {first.site.address}" in email.body
    (event,) = Calendar.from_ical(appointment_ics(first)).walk("VEVENT")
    assert event["DTSTART"].params["TZID"] == "Europe/London" and "10:00" in email.body


def test_the_patient_s_appointment_page_shows_madrid_s_address_contacts_and_local_time(client, appointment):
    client.force_login(appointment.patient.user)
    page = client.get(reverse("appointment_detail", args=[appointment.pk])).content.decode()
    assert ADDRESS in page and "Sala 1, Smooth Skin Clinic Madrid" in page
    assert 'href="tel:+34910000000"' in page and "madrid@clinic.example" in page
    assert "11:00 to 12:00" in page and "(CEST, Madrid time)" in page
    assert "12 Harley Street, London" not in page.split("<footer")[0]
    cancel = client.get(reverse("appointment_cancel", args=[appointment.pk])).content.decode()
    assert ADDRESS in cancel and "(CEST, Madrid time)" in cancel


def test_the_day_sheet_heads_with_the_site_and_gives_its_local_times(client, appointment):
    desk = staff_user(roles.FRONT_DESK)
    client.force_login(desk)
    url = reverse("desk:day_sheet", args=[appointment.practitioner.pk])
    page = client.get(url, {"date": "2030-07-09"}).content.decode()
    assert ADDRESS in page and "Madrid time" in page
    assert "11:00–12:00" in page and "Sala 1" in page


def test_a_receipt_for_a_madrid_visit_is_headed_with_madrid_and_its_local_time(appointment):
    from payments import services
    from payments.documents import document_context, render_pdf

    desk = staff_user(roles.FRONT_DESK)
    payment = services.take_desk_payment(
        patient=appointment.patient, amount=Decimal("80"), method="cash", by=desk, appointment=appointment
    )
    document = payment.documents.get()
    context = document_context(document)
    assert context["clinic"]["ADDRESS"] == ADDRESS and context["clinic"]["PLACE"] == "Smooth Skin Clinic Madrid"
    assert "09 Jul 2030 11:00" in context["line"]
    assert render_pdf(document)[:5] == b"%PDF-"
