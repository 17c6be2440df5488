"""What a waitlist offer says and how it leaves: the reminders' email layout and SMS backend
(`bookings.reminders.messages` / `sms`), with the offer's own templates under templates/waitlist/."""

import logging
import re

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from clinic import clock
from clinic.links import absolute_url
from clinic.message_text import place
from clinic.sms import get_sms_backend

logger = logging.getLogger(__name__)


def context_for(offer) -> dict:
    entry = offer.entry
    site = getattr(offer, "site", None)  # the offer's site once offers name one (issue 17, stage 2)
    subject = f"An earlier time for {entry.treatment.name}: {clock.when_text(offer.start_at, site)}"
    return {
        "offer": offer,
        "patient": entry.patient,
        "first_name": entry.patient.user.first_name or "there",
        "treatment": entry.treatment,
        "practitioner": offer.practitioner,
        "when": clock.when_text(offer.start_at, site),
        "expires": f"{clock.local(offer.expires_at, site):%H:%M on %-d %B}",
        "clinic": place(site),
        "links": {
            "manage": absolute_url(reverse("waitlist_mine")),
            "confirm": absolute_url(reverse("waitlist_offer", args=[offer.pk])),
        },
        "subject": subject,
        "extra_text": "",
    }


def build_email(offer) -> EmailMultiAlternatives:
    context = context_for(offer)
    body = render_to_string("waitlist/email/offer.txt", context)
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "clinic.example"
    email = EmailMultiAlternatives(
        subject=f"{context['subject']} - {settings.CLINIC['NAME']}",
        body=re.sub(r"\n{3,}", "\n\n", body).strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[offer.entry.patient.user.email],
        reply_to=[settings.CLINIC["EMAIL"]],
        headers={"Message-ID": f"<waitlist-offer-{offer.pk}@{domain}>"},
    )
    email.attach_alternative(render_to_string("waitlist/email/offer.html", context), "text/html")
    return email


def send_offer_messages(offer) -> None:
    """Email (raises if not accepted: the offer stays unsent and a retry sends it); then a text message for
    patients who opted in, best effort (a failed SMS must not send the email twice)."""
    patient = offer.entry.patient
    if patient.user.has_real_email:
        build_email(offer).send(fail_silently=False)
    if patient.sms_opt_in and patient.phone:
        body = render_to_string("waitlist/sms/offer.txt", context_for(offer)).strip()
        try:
            get_sms_backend().send(patient.phone, body, reference=f"waitlist-offer-{offer.pk}")
        except Exception:  # noqa: BLE001 - the email carries the offer; the SMS is a nudge
            logger.warning("Text message for waitlist offer %s was not accepted", offer.pk)
