"""What a waitlist offer says and how it leaves: the offer's own templates under templates/waitlist/, sent
through the notices' outbox (`clinic.notices`) like every message that is not an appointment's reminder."""

import re

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from clinic import clock
from clinic.links import absolute_url
from clinic.message_text import place
from clinic.models import Notice
from clinic.notices import queue_notice

NOTICE_KIND = "waitlist_offer"


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


def queue_offer_messages(offer) -> None:
    """Owe the patient the offer by email and, if they opted in, by text: rows of the notices' outbox
    (`clinic.notices`), written in the transaction that marks the offer sent and handed over after it commits.
    The outbox records each attempt before the hand-over and resolves an interrupted one from evidence, so a
    worker killed mid-send neither loses the offer nor sends it blindly again (docs/messages.md, 'Guarantees');
    a refused send is retried with the reminders' backoff."""
    patient = offer.entry.patient
    context = context_for(offer)
    if patient.user.has_real_email:
        body = render_to_string("waitlist/email/offer.txt", context)
        queue_notice(
            kind=NOTICE_KIND,
            to=[patient.user.email],
            subject=f"{context['subject']} - {settings.CLINIC['NAME']}",
            body=re.sub(r"\n{3,}", "\n\n", body).strip() + "\n",
            patient=patient,
        )
    if patient.sms_opt_in and patient.phone:
        queue_notice(
            kind=NOTICE_KIND,
            channel=Notice.Channel.SMS,
            to=[patient.phone],
            subject=context["subject"],
            body=render_to_string("waitlist/sms/offer.txt", context).strip(),
            patient=patient,
        )
