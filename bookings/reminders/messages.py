"""What a reminder says and how it leaves: an email with plain-text and HTML parts (templates under
templates/reminders/), or a text message through the SMS backend. Times are shown on the clock of the
appointment's site, and the place named is that site (`clinic.message_text.place`)."""

from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from bookings import hooks
from bookings.ics import appointment_ics
from bookings.links import MessageLinks
from bookings.models import ReminderChannel
from bookings.reminders import timing
from bookings.selectors import patient_site
from clinic import clock
from clinic.message_text import place, render_html, render_text
from clinic.notices import queue_notice
from clinic.sms import PermanentDeliveryError, body_digest, e164, get_sms_backend


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
    site = appointment.site
    return {
        "site": site,  # the appointment's address and contacts (`clinic.message_text.place`), its clock
        "reminder": reminder,
        "appointment": appointment,
        "patient": appointment.patient,
        "first_name": appointment.patient.user.first_name or "there",
        "treatment": appointment.treatment,
        "practitioner": appointment.practitioner,
        "when": clock.when_text(appointment.start_at, site),
        "ends": clock.time_text(appointment.end_at, site),
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
        body=render_text(f"reminders/email/{reminder.kind}.txt", context) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        reply_to=[place(context["site"])["EMAIL"]],
        headers={"Message-ID": message_id(reminder), "X-Clinic-Reminder": str(reminder.pk)},
    )
    email.attach_alternative(render_html(f"reminders/email/{reminder.kind}.html", context), "text/html")
    if reminder.kind in (timing.Kind.CONFIRMATION, timing.Kind.MOVED, timing.Kind.CANCELLED):
        attach_calendar_file(email, reminder.appointment)
    return email


def attach_calendar_file(email, appointment) -> None:
    """The .ics for the patient's calendar (`bookings.ics.appointment_ics`)."""
    email.attach("appointment.ics", appointment_ics(appointment), "text/calendar")


def build_sms(reminder) -> str:
    return render_text(f"reminders/sms/{reminder.kind}.txt", context_for(reminder))


FORM_LINK_KEPT_AS = "[the health form link]"


def form_link_address(patient, channel: str) -> str:
    """Where the desk's form link can go by this channel; raises PermanentDeliveryError when nowhere."""
    if channel == ReminderChannel.SMS:
        number = e164(patient.phone)
        if not number:
            raise PermanentDeliveryError("the patient has no phone number")
        return number
    if not patient.user.has_real_email:
        raise PermanentDeliveryError("the patient has no email address")
    return patient.user.email


def queue_form_link(patient, channel: str, url: str, *, to: str):
    """The desk's health form and consent link, by text or email, into the notices' outbox (retried, and
    exactly once across a crash as far as the channel allows). The row keeps the message without the
    link's token once it is out."""
    context = {
        "patient": patient,
        "first_name": patient.user.first_name or "there",
        "url": url,
        "site": patient_site(patient),  # the patient's site's address and phone (`bookings.selectors`)
    }
    kind = "sms" if channel == ReminderChannel.SMS else "email"
    body = render_text(f"reminders/{kind}/health_form.txt", context) + ("\n" if kind == "email" else "")
    return queue_notice(
        kind="health_form_link",
        channel=channel,
        to=[to],
        patient=patient,
        subject=f"Your health form before your visit - {settings.CLINIC['NAME']}",
        body=body,
        body_after_sending=body.replace(url, FORM_LINK_KEPT_AS),
        send_after_commit=False,  # the desk's service sends it once committed, to tell the desk at once
    )


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
    """Render the message (its signed links are made here, its words through `clinic.message_text`); raises
    PermanentDeliveryError with no address."""
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
