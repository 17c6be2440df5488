"""Messages that read right: the welcome email after sign-up, the cancellation confirmation, aftercare per
body area with no advice given twice, and the From name."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from bookings.models import Reminder
from bookings.reminders import services
from bookings.reminders.timing import Kind
from clinic import sms
from clinic.models import BodyArea
from operations.management.commands.seed_demo import AFTERCARE, SESSION_DEFAULTS
from tests.factories import AppointmentFactory, PatientFactory, TreatmentFactory, staff_user
from tests.test_reminders import attended, book, hours_from_now, send_now

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_sms_outbox():
    sms.outbox.clear()


def test_sign_up_sends_a_welcome_email_whose_next_step_is_the_health_form(
    client, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "http://127.0.0.1:8765"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("signup"),
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "phone": "07700 900123",
                "date_of_birth": "1990-01-31",
                "password1": "A-long-enough-passphrase-2026",
                "password2": "A-long-enough-passphrase-2026",
            },
        )
    assert response.status_code == 302
    [welcome] = mail.outbox
    assert welcome.to == ["ada@example.com"]
    assert welcome.from_email == f"{settings.CLINIC['NAME']} <bookings@clinic.example>"
    assert welcome.subject == f"Welcome to {settings.CLINIC['NAME']}: your next step"
    assert f"http://127.0.0.1:8765{reverse('intake_form')}" in welcome.body
    assert "Dear Ada" in welcome.body


def test_a_cancellation_is_confirmed_by_email_with_the_cancelled_calendar_event_and_by_text(
    settings, django_capture_on_commit_callbacks, daytime
):
    patient = PatientFactory(phone="+447700900123", sms_opt_in=True)
    appointment = AppointmentFactory(patient=patient, start_at=hours_from_now(24 * 5))
    desk = staff_user("Front desk")
    from bookings.services import cancel_appointment

    cancel_appointment(appointment, by=desk, reason="patient phoned")
    rows = {r.channel: r for r in Reminder.objects.filter(appointment=appointment, kind=Kind.CANCELLED)}
    assert set(rows) == {"email", "sms"}
    with django_capture_on_commit_callbacks(execute=True):
        services.dispatch_due_reminders(enqueue=services.send_reminder)
    [email] = [m for m in mail.outbox if m.extra_headers.get("X-Clinic-Reminder") == str(rows["email"].pk)]
    assert "Your appointment is cancelled" in email.subject and appointment.treatment.name in email.body
    [(name, content, _)] = email.attachments
    assert name == "appointment.ics" and "STATUS:CANCELLED" in (
        content.decode() if isinstance(content, bytes) else content
    )
    [text] = [t for t in sms.outbox if t.reference == str(rows["sms"].pk)]
    assert text.body.startswith(f"{settings.CLINIC['NAME']}: cancelled - {appointment.treatment.name}")
    # Sent once: the next tick finds nothing more to send.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.dispatch_due_reminders(enqueue=services.send_reminder) == 0


@pytest.mark.parametrize("area", BodyArea.values)
def test_aftercare_has_advice_for_the_body_area_and_no_line_twice(area):
    treatment = TreatmentFactory(body_areas=[area], **{**SESSION_DEFAULTS, "aftercare": AFTERCARE})
    appointment = attended(book(hours_from_now(1), treatment=treatment))
    message = send_now(appointment, Kind.AFTERCARE)
    body = message.body
    assert f"- {BodyArea(area).label}:" in body
    assert [other for other in BodyArea.labels if f"- {other}:" in body] == [BodyArea(area).label]
    assert "make-up" not in body.lower()
    sentences = [s.strip().lower() for s in re.split(r"[.\n]", body) if len(s.strip()) > 20]
    assert len(sentences) == len(set(sentences)), "a sentence is repeated"
    for topic in ("moisturiser", "strenuous exercise", "signs of infection"):
        assert body.lower().count(topic) == 1, topic


def test_aftercare_for_every_area_at_once_says_each_area_once_and_nothing_twice_in_both_parts():
    """A treatment of all four areas: one line per area, the standard advice once, in the text and HTML parts."""
    treatment = TreatmentFactory(
        body_areas=[*BodyArea.values, BodyArea.values[0]], **{**SESSION_DEFAULTS, "aftercare": AFTERCARE}
    )
    appointment = attended(book(hours_from_now(1), treatment=treatment))
    message = send_now(appointment, Kind.AFTERCARE)
    [(html, _)] = message.alternatives
    html_text = re.sub(r"<[^>]+>", "", html)
    for body in (message.body, html_text):
        for label in BodyArea.labels:
            assert body.count(f"{label}:") == 1, label
        assert "make-up" not in body.lower()
        for topic in ("moisturiser", "strenuous exercise", "signs of infection", "four weeks from today"):
            assert body.lower().count(topic) == 1, topic
    sentences = [s.strip().lower() for s in re.split(r"[.\n]", message.body) if len(s.strip()) > 20]
    assert len(sentences) == len(set(sentences)), "a sentence is repeated"
