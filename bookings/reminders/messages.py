"""What a reminder says and how it leaves: an email with plain-text and HTML parts (templates under
templates/reminders/), or a text message through the SMS backend. Times are shown in the clinic's zone."""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from bookings import hooks
from bookings.ics import appointment_ics
from bookings.links import MessageLinks
from bookings.models import ReminderChannel
from bookings.reminders import timing
from bookings.reminders.sms import PermanentDeliveryError, body_digest, get_sms_backend
from clinic import clock


def links_for(appointment) -> MessageLinks:
    return MessageLinks(appointment)


# Aftercare that depends on where the needles went; one line per area, in the treatment's order.
AREA_AFTERCARE = {
    "thighs": "Thighs: loose trousers or a skirt for 24 hours; no tight jeans, leggings or shapewear.",
    "buttocks": "Buttocks: loose underwear for 24 hours; sit on a soft cushion and no cycling or spinning.",
    "abdomen": "Abdomen: loose waistbands for 24 hours; no tight belts or shapewear.",
    "arms": "Upper arms: loose sleeves for 24 hours; keep deodorant off the treated skin.",
}


def area_aftercare(treatment) -> list[str]:
    seen, lines = set(), []
    for area in treatment.body_areas or []:
        line = AREA_AFTERCARE.get(area)
        if line and line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


def context_for(reminder) -> dict:
    appointment = reminder.appointment
    subject, extra_text = timing.texts_for(appointment, reminder.kind)
    return {
        "reminder": reminder,
        "appointment": appointment,
        "patient": appointment.patient,
        "first_name": appointment.patient.user.first_name or "there",
        "treatment": appointment.treatment,
        "practitioner": appointment.practitioner,
        "when": clock.when_text(appointment.start_at),
        "ends": clock.time_text(appointment.end_at),
        "clinic": settings.CLINIC,
        "links": links_for(appointment),
        "subject": subject,
        "extra_text": extra_text,
        "is_session": appointment.treatment.kind == appointment.treatment.Kind.SESSION,
        "area_aftercare": area_aftercare(appointment.treatment) if reminder.kind == timing.Kind.AFTERCARE else [],
        # What was paid and the cancellation policy (payments answers, through bookings' hooks).
        "booking_terms": hooks.steps().booking_terms(appointment) if reminder.kind == "confirmation" else "",
    }


def message_id(reminder) -> str:
    """The same Message-ID on every try of one reminder: mail clients fold a rare duplicate into one."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "clinic.example"
    return f"<reminder-{reminder.pk}-{reminder.kind}@{domain}>"


def build_email(reminder) -> EmailMultiAlternatives:
    context = context_for(reminder)
    address = reminder.appointment.patient.user.email
    if not address:
        raise PermanentDeliveryError("the patient has no email address")
    email = EmailMultiAlternatives(
        subject=f"{context['subject']} - {settings.CLINIC['NAME']}",
        body=re.sub(r"\n{3,}", "\n\n", render_to_string(f"reminders/email/{reminder.kind}.txt", context)).strip()
        + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        reply_to=[settings.CLINIC["EMAIL"]],
        headers={"Message-ID": message_id(reminder), "X-Clinic-Reminder": str(reminder.pk)},
    )
    email.attach_alternative(render_to_string(f"reminders/email/{reminder.kind}.html", context), "text/html")
    if reminder.kind in (timing.Kind.CONFIRMATION, timing.Kind.MOVED, timing.Kind.CANCELLED):
        attach_calendar_file(email, reminder.appointment)
    return email


def attach_calendar_file(email, appointment) -> None:
    """The .ics for the patient's calendar (`bookings.ics.appointment_ics`)."""
    email.attach("appointment.ics", appointment_ics(appointment), "text/calendar")


def build_sms(reminder) -> str:
    return render_to_string(f"reminders/sms/{reminder.kind}.txt", context_for(reminder)).strip()


def deliver_form_link(patient, channel: str, url: str) -> None:
    """The desk's health form and consent link, by text or email; raises when it cannot go."""
    context = {"patient": patient, "first_name": patient.user.first_name or "there", "clinic": settings.CLINIC}
    context["url"] = url
    if channel == ReminderChannel.SMS:
        if not patient.phone:
            raise PermanentDeliveryError("the patient has no phone number")
        body = render_to_string("reminders/sms/health_form.txt", context).strip()
        get_sms_backend().send(patient.phone, body, reference="")
        return
    if not patient.user.has_real_email:
        raise PermanentDeliveryError("the patient has no email address")
    email = EmailMultiAlternatives(
        subject=f"Your health form before your visit - {settings.CLINIC['NAME']}",
        body=render_to_string("reminders/email/health_form.txt", context).strip() + "\n",
        to=[patient.user.email],
        reply_to=[settings.CLINIC["EMAIL"]],
    )
    email.send(fail_silently=False)


@dataclass
class Outgoing:
    """One reminder's message, rendered and ready to hand over; `digest` recognises it at the provider."""

    channel: str
    to: str
    reference: str
    sms_body: str = ""
    email: EmailMultiAlternatives | None = None

    @property
    def digest(self) -> str:
        if self.email is not None:
            return body_digest(f"{self.email.extra_headers['Message-ID']}\n{self.email.body}")
        return body_digest(self.sms_body)


def prepare(reminder) -> Outgoing:
    """Render the message (its signed links are made here); raises PermanentDeliveryError with no address."""
    if reminder.channel == ReminderChannel.SMS:
        phone = reminder.appointment.patient.phone
        if not phone:
            raise PermanentDeliveryError("the patient has no phone number")
        return Outgoing(ReminderChannel.SMS, phone, str(reminder.pk), sms_body=build_sms(reminder))
    email = build_email(reminder)
    return Outgoing(ReminderChannel.EMAIL, email.to[0], str(reminder.pk), email=email)


def hand_over(outgoing: Outgoing) -> str:
    """Give the message to the backend; returns the provider's id for it ("" if it gives none). Raises when
    the message was not accepted."""
    if outgoing.channel == ReminderChannel.SMS:
        return get_sms_backend().send(outgoing.to, outgoing.sms_body, reference=outgoing.reference) or ""
    outgoing.email.send(fail_silently=False)
    return ""


def deliver(reminder) -> str:
    """Render and hand over in one go (for callers without an outbox row to record the attempt on)."""
    return hand_over(prepare(reminder))
