"""Texts patients send us: the two-way confirmation, STOP, and the desk's inbox. One place for these rules.

A reply is matched to a patient by number (E.164), then to their next booked appointment:
- "C" confirms it (once: confirming twice changes nothing) and thanks them;
- "R" answers with a signed link to choose another time and puts the reply in the desk's inbox;
- STOP (and the usual synonyms) stops non-essential texts, START undoes it; essential ones (the
  confirmation, the 48-hour pre-care) still go, and Twilio answers STOP itself as carriers require;
- anything else goes to the desk's inbox, unanswered;
- an unknown number gets one polite answer (once per number) and lands in the inbox.
The same provider message delivered twice is recorded once (unique provider id) and answered once.
"""

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings import links, services
from bookings.models import Appointment, InboundMessage, SignedLink
from clinic import clock, locks
from clinic.message_text import place
from clinic.models import Patient
from clinic.sms import e164

Intent = InboundMessage.Intent
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "UNSTOP"}


def find_patient(number: str) -> Patient | None:
    """The patient with this number (stored in E.164, clinic/phones.py); of several sharing it, the one with
    the soonest booked appointment."""
    if not number:
        return None
    candidates = list(Patient.objects.select_related("user").filter(phone=number))
    if len(candidates) > 1:
        soonest = {
            a.patient_id: a.start_at
            for a in Appointment.objects.filter(
                patient__in=candidates, status=Appointment.Status.BOOKED, start_at__gt=timezone.now()
            ).order_by("-start_at")
        }
        far = timezone.now() + datetime.timedelta(days=36500)
        candidates.sort(key=lambda p: (soonest.get(p.pk, far), p.pk))
    return candidates[0] if candidates else None


def next_appointment(patient: Patient, now) -> Appointment | None:
    return (
        Appointment.objects.select_related("treatment", "practitioner__user", "room__site", "site")
        .filter(patient=patient, status=Appointment.Status.BOOKED, start_at__gt=now)
        .order_by("start_at")
        .first()
    )


def receive(*, provider_ref: str, from_number: str, body: str, now=None) -> str:
    """Record one inbound text and act on it; returns the answer to send back ("" for none)."""
    now = now or timezone.now()
    number = e164(from_number) or (from_number or "")[:32]
    patient = find_patient(number)
    try:
        with transaction.atomic():
            if patient is not None:
                locks.lock_patient(patient)  # lock order: the patient first (clinic.locks)
            message = InboundMessage.objects.create(
                provider_ref=provider_ref[:64],
                from_number=number,
                body=body[:1600],
                received_at=now,
                patient=patient,
                intent=Intent.OTHER,
            )
            answer = _act(message, now)
            message.save()
            return answer
    except IntegrityError:
        return ""  # the provider delivered this message before: it was handled then


LINK_STORED_AS = "[a link to choose another time]"


def _act(message: InboundMessage, now) -> str:
    """Set what the message means (and what the app answered) on the row; returns the answer to send. The
    row keeps the answer without a signed link's token (`LINK_STORED_AS`): only a link's hash is ever stored,
    and the desk who reads the inbox must not be able to open the patient's link."""
    word = message.body.strip().strip(".!").strip().upper()
    clinic = settings.CLINIC
    patient = message.patient
    if patient is None:
        message.intent, message.needs_desk = Intent.UNKNOWN, True
        earlier = InboundMessage.objects.filter(from_number=message.from_number, intent=Intent.UNKNOWN)
        already = earlier.exclude(pk=message.pk).exists()
        if not already:
            message.answer = (
                f"This is {clinic['NAME']}. We could not match this number to a patient, so we cannot act on "
                f"texts from it. Please call us on {clinic['PHONE']}. Thank you."
            )
        return message.answer
    if word in STOP_WORDS:
        message.intent = Intent.STOP
        Patient.objects.filter(pk=patient.pk).update(texts_stopped_at=now)
        return ""
    if word in START_WORDS:
        message.intent = Intent.START
        Patient.objects.filter(pk=patient.pk).update(texts_stopped_at=None)
        message.answer = f"{clinic['NAME']}: you will get our reminders by text again. Reply STOP to stop them."
        return message.answer
    appointment = next_appointment(patient, now)
    message.appointment = appointment
    if word in ("C", "R") and appointment is None:
        message.needs_desk = True
        message.answer = f"{clinic['NAME']}: we could not find an upcoming appointment for you. We will be in touch."
        message.intent = Intent.CONFIRM if word == "C" else Intent.RESCHEDULE
        return message.answer
    if word == "C":
        message.intent = Intent.CONFIRM
        try:
            services.confirm_appointment(appointment, by=patient.user, via="text")
        except services.BookingError:
            message.needs_desk = True
            return ""
        when = clock.when_text(appointment.start_at, appointment.site)
        message.answer = f"{clinic['NAME']}: thank you, you are confirmed for {when}."
        return message.answer
    if word == "R":
        message.intent, message.needs_desk = Intent.RESCHEDULE, True
        url = links.make_link(patient=patient, action=SignedLink.Action.RESCHEDULE, appointment=appointment, now=now)
        phone = place(appointment.site)["PHONE"]  # the appointment's site answers the phone for it
        answer = (
            f"{clinic['NAME']}: choose another time here: {url} - or call us on {phone}. "
            "We have also let the front desk know."
        )
        message.answer = answer.replace(url, LINK_STORED_AS)
        return answer
    message.intent, message.needs_desk = Intent.OTHER, True
    return ""


def mark_handled(message: InboundMessage, *, by) -> bool:
    """The desk dealt with it. Once: a second 'done' changes nothing."""
    return bool(
        InboundMessage.objects.filter(pk=message.pk, handled_at__isnull=True).update(
            handled_at=timezone.now(), handled_by=by
        )
    )


def open_inbox():
    """Replies that need a person, oldest first, with the patient and their next appointment."""
    messages = list(
        InboundMessage.objects.filter(needs_desk=True, handled_at__isnull=True)
        .select_related(
            "patient__user", "appointment__treatment", "appointment__practitioner__user", "appointment__site"
        )
        .order_by("received_at", "pk")
    )
    return messages


def recently_handled(limit: int = 20):
    return list(
        InboundMessage.objects.filter(needs_desk=True, handled_at__isnull=False)
        .select_related("patient__user", "handled_by")
        .order_by("-handled_at")[:limit]
    )
