"""What a reminder says and how it leaves: an email with plain-text and HTML parts (templates under
templates/reminders/), or a text message through the SMS backend. Times are shown in the clinic's zone."""

import re
import zoneinfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.formats import date_format

from bookings.ics import appointment_ics
from bookings.links import MessageLinks
from bookings.models import ReminderChannel
from bookings.reminders import timing
from bookings.reminders.sms import get_sms_backend


class PermanentDeliveryError(Exception):
    """Retrying cannot help (no address to send to): the reminder fails at once, with this reason."""


def clinic_time(value):
    return timezone.localtime(value, zoneinfo.ZoneInfo(settings.CLINIC_TIME_ZONE))


def when_text(value) -> str:
    """e.g. 'Sunday 28 March 2027 at 10:00', in the clinic's zone."""
    local = clinic_time(value)
    return f"{date_format(local, 'l j F Y')} at {local:%H:%M}"


def links_for(appointment) -> MessageLinks:
    return MessageLinks(appointment)


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
        "when": when_text(appointment.start_at),
        "ends": f"{clinic_time(appointment.end_at):%H:%M}",
        "clinic": settings.CLINIC,
        "links": links_for(appointment),
        "subject": subject,
        "extra_text": extra_text,
        "is_session": appointment.treatment.kind == appointment.treatment.Kind.SESSION,
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
    if reminder.kind in (timing.Kind.CONFIRMATION, timing.Kind.MOVED):
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


def deliver(reminder) -> None:
    """Hand the message to the backend; raises when it was not accepted."""
    if reminder.channel == ReminderChannel.SMS:
        phone = reminder.appointment.patient.phone
        if not phone:
            raise PermanentDeliveryError("the patient has no phone number")
        get_sms_backend().send(phone, build_sms(reminder), reference=str(reminder.pk))
        return
    build_email(reminder).send(fail_silently=False)
