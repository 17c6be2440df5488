"""Texts through Twilio's official library against a local stand-in of its API (tests/twilio_standin.py):
sending with status callbacks recorded on the outbox row, webhooks signed as Twilio signs them (a forged
signature is refused with 403 and changes nothing), an interrupted hand-over resolved from the provider's
record, two-way confirmation (C, R, STOP, anything else, unknown numbers), the desk's inbox, quiet hours."""

import datetime
import re
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from bookings.models import Appointment, InboundMessage, Reminder, SignedLink
from bookings.reminders import inbound as inbound_rules
from bookings.reminders import services, timing
from bookings.reminders.services import sync_reminders
from bookings.reminders.timing import Kind
from clinic import notices, roles, sms
from clinic.models import Notice
from tests import twilio_standin
from tests.factories import AppointmentFactory, PatientFactory, staff_user
from tests.helpers import at

pytestmark = pytest.mark.django_db
SITE = "https://book.clinic.example"
PHONE, PHONE_E164 = "07700 900123", "+447700900123"


@pytest.fixture
def twilio(settings, daytime):
    """Twilio's library against the stand-in, at noon (`daytime`): texts wait through the quiet hours, which
    the tests of quiet hours below set out with instants of their own."""
    with twilio_standin.TwilioStandIn() as standin:
        settings.SMS_BACKEND = "clinic.sms.TwilioSmsBackend"
        settings.TWILIO_ACCOUNT_SID = twilio_standin.ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = twilio_standin.AUTH_TOKEN
        settings.TWILIO_FROM_NUMBER = twilio_standin.FROM_NUMBER
        settings.TWILIO_API_BASE_URL = standin.base_url
        settings.SITE_URL = SITE
        yield standin


def texting_patient(**kwargs):
    return PatientFactory(phone=PHONE_E164, sms_opt_in=True, **kwargs)


def book(patient=None, start_at=None) -> Appointment:
    with transaction.atomic():
        appointment = AppointmentFactory(
            patient=patient or texting_patient(),
            **({"start_at": start_at} if start_at else {}),
        )
        sync_reminders(appointment)
    return appointment


def sms_row(appointment, kind=Kind.CONFIRMATION) -> Reminder:
    return appointment.reminders.get(kind=kind, channel="sms")


def send_due(django_capture_on_commit_callbacks, now=None) -> None:
    """One beat tick, with the send task run in-process."""
    with django_capture_on_commit_callbacks(execute=True):
        services.dispatch_due_reminders(enqueue=lambda pk: services.send_reminder(pk, now=now), now=now)


def twilio_post(client, url: str, params: dict, token: str = twilio_standin.AUTH_TOKEN):
    """A webhook request as Twilio makes it: form-encoded, signed over the public URL and the fields."""
    signature = RequestValidator(token).compute_signature(url, params)
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def inbound(client, body: str, sid: str, from_number: str = PHONE_E164, token: str = twilio_standin.AUTH_TOKEN):
    params = {"MessageSid": sid, "From": from_number, "To": twilio_standin.FROM_NUMBER, "Body": body}
    return twilio_post(client, SITE + reverse("sms_inbound"), params, token)


# --- sending and status callbacks ---------------------------------------------------------------------


def test_a_text_goes_through_twilio_with_a_status_callback_carrying_the_rows_reference(
    twilio, django_capture_on_commit_callbacks
):
    appointment = book()
    send_due(django_capture_on_commit_callbacks)
    [message] = twilio.messages
    row = sms_row(appointment)
    assert (message["to"], message["from"]) == (PHONE_E164, twilio_standin.FROM_NUMBER)
    assert "booked" in message["body"] and re.search(rf"{SITE}/l/\S+/", message["body"])
    assert message["status_callback"] == f"{SITE}{reverse('sms_status')}?ref={row.pk}"
    assert (row.status, row.provider_ref, row.attempt_started_at) == (Reminder.Status.SENT, message["sid"], None)


def test_status_callbacks_are_recorded_and_a_late_sent_never_overwrites_delivered(
    client, twilio, django_capture_on_commit_callbacks
):
    appointment = book()
    send_due(django_capture_on_commit_callbacks)
    [message] = twilio.messages
    for status in ("sent", "delivered", "sent"):
        response = twilio_post(
            client, message["status_callback"], {"MessageSid": message["sid"], "MessageStatus": status}
        )
        assert response.status_code == 204
    row = sms_row(appointment)
    assert row.provider_status == "delivered" and row.provider_status_at is not None


def test_an_undelivered_text_is_shown_with_the_providers_error(client, twilio, django_capture_on_commit_callbacks):
    appointment = book()
    send_due(django_capture_on_commit_callbacks)
    [message] = twilio.messages
    twilio_post(
        client,
        message["status_callback"],
        {"MessageSid": message["sid"], "MessageStatus": "undelivered", "ErrorCode": "30003"},
    )
    row = sms_row(appointment)
    assert row.provider_status == "undelivered"
    assert row.last_error == "The text service reports it undelivered (error 30003)"


@pytest.mark.parametrize("token", ["not-the-auth-token", None])
def test_a_forged_status_callback_is_refused_and_changes_nothing(
    client, twilio, django_capture_on_commit_callbacks, token
):
    appointment = book()
    send_due(django_capture_on_commit_callbacks)
    [message] = twilio.messages
    before = Reminder.objects.values().get(pk=sms_row(appointment).pk)
    params = {"MessageSid": message["sid"], "MessageStatus": "failed"}
    if token is None:  # no signature at all
        path = urlsplit(message["status_callback"])
        response = client.post(f"{path.path}?{path.query}", params)
    else:
        response = twilio_post(client, message["status_callback"], params, token=token)
    assert response.status_code == 403
    assert Reminder.objects.values().get(pk=before["id"]) == before


def test_a_text_twilio_refuses_is_retried_later_and_the_attempt_cleared(twilio, django_capture_on_commit_callbacks):
    twilio.refuse_next.append((429, 20429, "Too Many Requests"))
    appointment = book()
    send_due(django_capture_on_commit_callbacks)
    row = sms_row(appointment)
    assert row.status == Reminder.Status.PENDING and row.attempts == 1
    assert "Too Many Requests" in row.last_error and row.attempt_started_at is None
    assert twilio.messages == []


# --- an interrupted hand-over, resolved from evidence -------------------------------------------------


def interrupt_after_hand_over(row: Reminder, body_from=None):
    """What a worker killed after Twilio accepted the message leaves behind (tests/test_reminders_worker.py
    kills a real worker process for this): the committed attempt, the row still `sending`, its lease over."""
    past = timezone.now() - datetime.timedelta(minutes=10)
    Reminder.objects.filter(pk=row.pk).update(
        status=Reminder.Status.SENDING,
        attempt_started_at=past,
        attempt_digest=sms.body_digest(body_from or ""),
        next_attempt_at=past,
    )


def test_an_interrupted_text_found_at_twilio_is_marked_sent_not_sent_again(twilio, django_capture_on_commit_callbacks):
    appointment = book()
    row = sms_row(appointment)
    handed_over = sms.get_sms_backend().send(PHONE, "The confirmation text", reference=str(row.pk))
    interrupt_after_hand_over(row, "The confirmation text")
    send_due(django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert len(twilio.messages) == 1
    assert (row.status, row.provider_ref, row.attempts) == (Reminder.Status.SENT, handed_over, 1)


def test_an_interrupted_text_twilio_never_got_is_sent_once(twilio, django_capture_on_commit_callbacks):
    appointment = book()
    row = sms_row(appointment)
    interrupt_after_hand_over(row, "a message that never reached Twilio")
    send_due(django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert len(twilio.messages) == 1 and row.status == Reminder.Status.SENT
    assert "the provider has no such message, so it was sent again" in row.last_error


def test_a_status_callback_settles_an_interrupted_hand_over(client, twilio):
    appointment = book()
    row = sms_row(appointment)
    interrupt_after_hand_over(row, "anything")
    url = f"{SITE}{reverse('sms_status')}?ref={row.pk}"
    assert twilio_post(client, url, {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}).status_code == 204
    row.refresh_from_db()
    assert (row.status, row.provider_ref, row.provider_status) == (Reminder.Status.SENT, "SM" + "a" * 32, "delivered")


def test_without_evidence_the_desk_sees_delivery_uncertain_and_can_send_again(
    client, settings, django_capture_on_commit_callbacks, daytime
):
    settings.SMS_BACKEND = "clinic.sms.LocmemSmsBackend"  # keeps no record the app can ask
    sms.outbox.clear()
    appointment = book()
    row = sms_row(appointment)
    interrupt_after_hand_over(row, "anything")
    send_due(django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert row.status == Reminder.Status.UNCERTAIN and sms.outbox == []
    client.force_login(staff_user(roles.FRONT_DESK))
    page = client.get(reverse("desk:patient", args=[appointment.patient.pk])).content.decode()
    assert "Delivery uncertain" in page and "Send again" in page
    assert client.post(reverse("desk:reminder_send_again", args=[row.pk])).status_code == 302
    send_due(django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert row.status == Reminder.Status.SENT and len(sms.outbox) == 1


# --- replies: two-way confirmation -------------------------------------------------------------------------


def test_reply_c_confirms_the_next_appointment_once_even_when_delivered_twice(client, twilio):
    patient = texting_patient()
    later = book(patient, start_at=timezone.now() + datetime.timedelta(days=9))
    soon = book(patient, start_at=timezone.now() + datetime.timedelta(days=2))
    first = inbound(client, " c. ", "SM" + "1" * 32)
    again = inbound(client, " c. ", "SM" + "1" * 32)
    assert first.status_code == again.status_code == 200
    assert "you are confirmed for" in first.content.decode()
    assert "<Message>" not in again.content.decode()  # answered once
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.confirmed_at is not None and later.confirmed_at is None
    assert soon.events.filter(action="confirmed").count() == 1
    assert InboundMessage.objects.count() == 1


def test_reply_r_sends_a_reschedule_link_and_flags_the_desk(client, twilio):
    appointment = book()
    response = inbound(client, "R", "SM" + "2" * 32)
    url = re.search(rf"{SITE}/l/\S+/", response.content.decode()).group(0)
    link = SignedLink.objects.get(appointment=appointment)
    assert link.action == SignedLink.Action.RESCHEDULE and url
    message = InboundMessage.objects.get()
    assert (message.intent, message.needs_desk, message.appointment) == ("reschedule", True, appointment)
    # Only the link's hash is kept: the stored answer (shown in the desk's inbox) holds no token.
    assert url not in message.answer and inbound_rules.LINK_STORED_AS in message.answer
    client.force_login(staff_user(roles.FRONT_DESK))
    assert "/l/" not in client.get(reverse("desk:inbox")).content.decode()


def test_any_other_reply_goes_to_the_desks_inbox_which_marks_it_done_once(client, twilio):
    appointment = book()
    inbound(client, "Running 10 min late, sorry!", "SM" + "3" * 32)
    desk = staff_user(roles.FRONT_DESK, first_name="Dee")
    client.force_login(desk)
    page = client.get(reverse("desk:inbox")).content.decode()
    assert "Running 10 min late, sorry!" in page and appointment.patient.full_name in page
    message = InboundMessage.objects.get()
    assert client.post(reverse("desk:inbox_done", args=[message.pk])).status_code == 302
    message.refresh_from_db()
    assert message.handled_by == desk and message.handled_at is not None
    handled_at = message.handled_at
    client.post(reverse("desk:inbox_done", args=[message.pk]))
    message.refresh_from_db()
    assert message.handled_at == handled_at
    assert "Nothing waiting." in client.get(reverse("desk:inbox")).content.decode()


def test_an_unknown_number_gets_one_polite_answer(client, twilio):
    first = inbound(client, "Hello?", "SM" + "4" * 32, from_number="+447700900555")
    second = inbound(client, "Hello??", "SM" + "5" * 32, from_number="+447700900555")
    assert "We could not match this number" in first.content.decode()
    assert "<Message>" not in second.content.decode()
    assert InboundMessage.objects.filter(intent="unknown", needs_desk=True).count() == 2


def test_stop_stops_non_essential_texts_but_not_essential_ones(client, twilio, django_capture_on_commit_callbacks):
    patient = texting_patient()
    inbound(client, "STOP", "SM" + "6" * 32)
    patient.refresh_from_db()
    assert patient.texts_stopped_at is not None
    appointment = book(patient, start_at=timezone.now() + datetime.timedelta(days=10))
    texts = set(appointment.reminders.filter(channel="sms").values_list("kind", flat=True))
    assert texts == {Kind.CONFIRMATION, Kind.PRE_CARE_48H}  # the 24-hour reminder is not essential
    inbound(client, "start", "SM" + "7" * 32)
    patient.refresh_from_db()
    assert patient.texts_stopped_at is None


def test_a_forged_inbound_text_is_refused_and_changes_nothing(client, twilio):
    appointment = book()
    response = inbound(client, "C", "SM" + "8" * 32, token="forged")
    assert response.status_code == 403
    appointment.refresh_from_db()
    assert appointment.confirmed_at is None and not InboundMessage.objects.exists()


# --- quiet hours ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "evening, morning",
    [
        # Clocks go forward overnight (28 March 2027): 08:00 BST is 07:00 UTC.
        (at(datetime.date(2027, 3, 27), 22, 30), datetime.datetime(2027, 3, 28, 7, 0, tzinfo=datetime.UTC)),
        # Clocks go back overnight (31 October 2027): 08:00 GMT is 08:00 UTC.
        (at(datetime.date(2027, 10, 30), 22, 30), datetime.datetime(2027, 10, 31, 8, 0, tzinfo=datetime.UTC)),
        # Just after midnight: the same morning.
        (at(datetime.date(2027, 10, 31), 0, 30), datetime.datetime(2027, 10, 31, 8, 0, tzinfo=datetime.UTC)),
    ],
)
def test_a_text_due_in_quiet_hours_is_held_to_8am_clinic_time_across_a_clock_change(
    evening, morning, django_capture_on_commit_callbacks
):
    sms.outbox.clear()
    appointment = book(start_at=morning + datetime.timedelta(days=1, hours=3))
    row = appointment.reminders.get(kind=Kind.REMINDER_24H, channel="sms")
    Reminder.objects.filter(pk=row.pk).update(due_at=evening, next_attempt_at=evening)
    Reminder.objects.exclude(pk=row.pk).update(status=Reminder.Status.CANCELLED)  # this one text alone

    def texts():
        return [text for text in sms.outbox if text.reference == str(row.pk)]

    send_due(django_capture_on_commit_callbacks, now=evening)
    row.refresh_from_db()
    assert (row.status, row.next_attempt_at) == (Reminder.Status.PENDING, morning)  # held, not dropped
    assert texts() == []
    send_due(django_capture_on_commit_callbacks, now=morning - datetime.timedelta(minutes=1))
    assert texts() == []
    send_due(django_capture_on_commit_callbacks, now=morning)
    row.refresh_from_db()
    assert row.status == Reminder.Status.SENT and len(texts()) == 1


def test_a_confirmation_of_the_patients_own_night_booking_is_not_held(django_capture_on_commit_callbacks):
    sms.outbox.clear()
    night = at(datetime.date(2027, 3, 27), 23, 15)
    patient = texting_patient()
    own = book(patient, start_at=night + datetime.timedelta(days=3))
    Appointment.objects.filter(pk=own.pk).update(created_by=patient.user)
    desk_booked = book(start_at=night + datetime.timedelta(days=4))
    Reminder.objects.filter(kind=Kind.CONFIRMATION).update(due_at=night, next_attempt_at=night)
    send_due(django_capture_on_commit_callbacks, now=night)
    assert sms_row(own).status == Reminder.Status.SENT
    assert sms_row(desk_booked).status == Reminder.Status.PENDING
    assert timing.quiet_until(night) == datetime.datetime(2027, 3, 28, 7, 0, tzinfo=datetime.UTC)


# --- the desk's form link by text, through the notices' outbox --------------------------------------------


def send_form_link(client, patient):
    client.force_login(staff_user(roles.FRONT_DESK))
    return client.post(reverse("desk:patient_form_link", args=[patient.pk]), {"channel": "sms"}, follow=True)


def test_a_form_link_text_twilio_refuses_is_retried_by_the_outbox_and_keeps_no_token_once_sent(client, twilio):
    patient = PatientFactory(phone=PHONE_E164, user__email="phone-9@patients.invalid")
    twilio.refuse_next.append((429, 20429, "Too Many Requests"))
    page = send_form_link(client, patient).content.decode()
    assert "could not go yet" in page and "Too Many Requests" in page and "not sent yet" in page
    link = SignedLink.objects.get(patient=patient)
    notice = Notice.objects.get(kind="health_form_link")
    assert (link.notice, notice.status, notice.to) == (notice, Notice.Status.PENDING, [PHONE_E164])
    assert twilio.messages == []

    assert notices.send_due_notices(now=notice.next_attempt_at) == 1
    [text] = twilio.messages
    url = re.search(rf"{SITE}/l/\S+/", text["body"]).group(0)
    assert text["status_callback"] == f"{SITE}{reverse('sms_status')}?ref=notice-{notice.pk}"
    notice.refresh_from_db()
    assert (notice.status, notice.provider_ref) == (Notice.Status.SENT, text["sid"])
    assert url not in notice.body and "[the health form link]" in notice.body  # only the link's hash is kept
    page = client.get(reverse("desk:patient", args=[patient.pk])).content.decode()
    assert "not sent yet" not in page and "not opened yet" in page

    # Twilio's status callback for it lands on the notice, and the desk sees an undelivered text.
    params = {"MessageSid": text["sid"], "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert twilio_post(client, text["status_callback"], params).status_code == 204
    notice.refresh_from_db()
    assert notice.provider_status == "undelivered"
    page = client.get(reverse("desk:patient", args=[patient.pk])).content.decode()
    assert "The text service reports it undelivered (error 30003)" in page


def interrupt_notice(notice, body_sent):
    """A worker killed after the hand-over: the row still `sending`, the body (with its link) still on it."""
    past = timezone.now() - datetime.timedelta(minutes=10)
    Notice.objects.filter(pk=notice.pk).update(
        status=Notice.Status.SENDING,
        body=body_sent,
        attempt_started_at=past,
        attempt_digest=sms.body_digest(body_sent),
        next_attempt_at=past,
        sent_at=None,
    )


def test_an_interrupted_form_link_text_found_at_twilio_is_not_sent_again(client, twilio):
    patient = PatientFactory(phone=PHONE_E164)
    send_form_link(client, patient)
    notice = Notice.objects.get(kind="health_form_link")
    interrupt_notice(notice, twilio.messages[0]["body"])
    assert notices.send_due_notices() == 0  # resolved from evidence, nothing sent
    notice.refresh_from_db()
    assert len(twilio.messages) == 1 and notice.status == Notice.Status.SENT
    assert notice.provider_ref == twilio.messages[0]["sid"]


def test_an_interrupted_form_link_text_without_evidence_shows_delivery_uncertain_to_the_desk(client, settings):
    settings.SMS_BACKEND = "clinic.sms.LocmemSmsBackend"  # keeps no record the app can ask
    sms.outbox.clear()
    patient = PatientFactory(phone=PHONE_E164)
    send_form_link(client, patient)
    notice = Notice.objects.get(kind="health_form_link")
    interrupt_notice(notice, sms.outbox[0].body)
    assert notices.send_due_notices() == 0
    notice.refresh_from_db()
    assert notice.status == Notice.Status.UNCERTAIN and len(sms.outbox) == 1
    assert "[the health form link]" in notice.body  # the token is not kept
    page = client.get(reverse("desk:patient", args=[patient.pk])).content.decode()
    assert "Delivery uncertain" in page and "send a new link" in page
