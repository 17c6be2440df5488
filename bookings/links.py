"""Signed links: the one module that makes, checks and uses the links in messages.

A link lets one patient do one thing (`SignedLink.Action`) without a password:
- confirm or cancel one appointment: done on the link's page, after the patient presses the button (a GET
  never changes anything, so mail scanners that open links use nothing up);
- choose another time, fill in the health form and sign the consent, answer the aftercare check-in: the
  button signs the patient in and opens the page; they may set a password afterwards.

Every link is scoped to its patient (and appointment), expires (appointment links at the appointment's
start, the health form and check-in after 7 days), and is used once: the conditional update of `used_at`
runs in the same transaction as the action, after the patient's row lock (the project's lock order), so
two presses at once act once. The token is 256 random bits; only its SHA-256 is stored.
"""

import datetime
import hashlib
import secrets

from django.urls import reverse
from django.utils import timezone

from bookings.models import Appointment, SignedLink
from clinic.links import absolute_url
from clinic.models import Patient

Action = SignedLink.Action
FORM_LINK_DAYS = 7
# Links whose button signs the patient in and opens a page (the page then does the work, with its own rules).
SIGN_IN_ACTIONS = {
    Action.RESCHEDULE: lambda link: reverse("appointment_reschedule", args=[link.appointment_id]),
    # From a pre-care message: "nothing has changed" for that appointment; from the desk: the form itself.
    Action.HEALTH_FORM: lambda link: (
        reverse("intake_confirm", args=[link.appointment_id]) if link.appointment_id else reverse("intake_form")
    ),
    Action.CHECK_IN: lambda link: reverse("aftercare_check_in", args=[link.appointment_id]),
}


class LinkRefused(Exception):
    """The link cannot be used; `reason` is one of: unknown, expired, used, gone, refused."""

    def __init__(self, reason: str, message: str, link: SignedLink | None = None):
        super().__init__(message)
        self.reason, self.message, self.link = reason, message, link


MESSAGES = {
    "unknown": "This link is not valid. It may have been copied incompletely. Nothing has been changed.",
    "expired": "This link has expired. Nothing has been changed.",
    "used": "This link has already been used, and each link works once. Nothing more has been changed.",
    "gone": "This appointment is no longer booked, so there is nothing to do here. Nothing has been changed.",
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def expiry_for(action: str, appointment: Appointment | None, now: datetime.datetime) -> datetime.datetime:
    if action in (Action.HEALTH_FORM, Action.CHECK_IN):
        return now + datetime.timedelta(days=FORM_LINK_DAYS)
    return appointment.start_at


def make_link(
    *, patient: Patient, action: str, appointment: Appointment | None = None, now=None, sent_by=None, channel=""
) -> str:
    """A new link (absolute URL) for this patient to do this one thing."""
    return new_link(patient=patient, action=action, appointment=appointment, now=now, sent_by=sent_by, channel=channel)[
        1
    ]


def new_link(
    *, patient: Patient, action: str, appointment: Appointment | None = None, now=None, sent_by=None, channel=""
) -> tuple[SignedLink, str]:
    """A new link: the row (for a caller that records more on it) and its absolute URL."""
    if appointment is None and action != Action.HEALTH_FORM:
        raise ValueError(f"A {action} link needs an appointment.")
    if appointment is not None and appointment.patient_id != patient.pk:
        raise ValueError("A link is for the appointment's own patient only.")
    now = now or timezone.now()
    token = secrets.token_urlsafe(32)
    link = SignedLink.objects.create(
        token_hash=_hash(token),
        patient=patient,
        appointment=appointment,
        action=action,
        expires_at=expiry_for(action, appointment, now),
        sent_by=sent_by,
        channel=channel,
    )
    return link, absolute_url(reverse("signed_link", args=[token]))


def check_link(token: str, now=None) -> SignedLink:
    """The link behind a token, if it may still be used; raises LinkRefused with the reason. Reads only."""
    now = now or timezone.now()
    link = (
        SignedLink.objects.select_related("patient__user", "appointment__treatment", "appointment__practitioner__user")
        .filter(token_hash=_hash(token))
        .first()
        if len(token) < 100
        else None
    )
    if link is None:
        raise LinkRefused("unknown", MESSAGES["unknown"])
    if link.used_at is not None:
        raise LinkRefused("used", MESSAGES["used"], link)
    if link.expires_at <= now:
        raise LinkRefused("expired", MESSAGES["expired"], link)
    about_booking = link.action in (Action.CONFIRM, Action.CANCEL, Action.RESCHEDULE)
    if about_booking and link.appointment.status != Appointment.Status.BOOKED:
        raise LinkRefused("gone", MESSAGES["gone"], link)
    return link


def destination(link: SignedLink) -> str:
    """Where a sign-in link takes the patient once signed in."""
    return SIGN_IN_ACTIONS[link.action](link)


class MessageLinks(dict):
    """The links a message may show. Signed ones are made only when its template uses them (a text with one
    link makes one row): confirm, cancel, reschedule, check_in, intake_confirm (the health form, for this
    appointment). Plain pages that change nothing: manage (the appointment, after signing in), book_next."""

    SIGNED = {
        "confirm": Action.CONFIRM,
        "cancel": Action.CANCEL,
        "reschedule": Action.RESCHEDULE,
        "check_in": Action.CHECK_IN,
        "intake_confirm": Action.HEALTH_FORM,
    }

    def __init__(self, appointment: Appointment):
        super().__init__(
            manage=absolute_url(reverse("appointment_detail", args=[appointment.pk])),
            book_next=absolute_url(reverse("book_treatment", args=[appointment.treatment.slug])),
        )
        self.appointment = appointment

    def __missing__(self, key):
        if key not in self.SIGNED:
            raise KeyError(key)
        self[key] = make_link(patient=self.appointment.patient, action=self.SIGNED[key], appointment=self.appointment)
        return self[key]
