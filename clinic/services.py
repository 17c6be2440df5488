"""Writes for the clinic app: sign-up, practitioners' own profile pages, clinic closures."""

import uuid

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from .links import absolute_url
from .message_text import render_text
from .models import PLACEHOLDER_EMAIL_DOMAIN, Closure, Patient, User
from .notices import queue_notice


@transaction.atomic
def register_patient(*, email, password, first_name, last_name, phone, date_of_birth, sms_opt_in=False) -> Patient:
    """A patient signing up online. The welcome email (next step: the health form) is queued in the
    notices' outbox with the account, and goes once it is committed; a mail server that is down does not
    undo the sign-up: the outbox tries again (clinic/notices.py)."""
    user = User.objects.create_user(email=email, password=password, first_name=first_name, last_name=last_name)
    patient = Patient.objects.create(user=user, phone=phone, date_of_birth=date_of_birth, sms_opt_in=sms_opt_in)
    _queue_welcome(patient)
    return patient


def _queue_welcome(patient: Patient) -> None:
    context = {
        "first_name": patient.user.first_name or "there",
        "health_form_url": absolute_url(reverse("intake_form")),
        "book_url": absolute_url(reverse("book_start")),
    }
    queue_notice(
        kind="welcome",
        to=[patient.user.email],
        patient=patient,
        subject=f"Welcome to {settings.CLINIC['NAME']}: your next step",
        body=render_text("clinic/email/welcome.txt", context) + "\n",
    )


@transaction.atomic
def update_patient_profile(patient: Patient, *, first_name, last_name, **fields) -> Patient:
    patient.user.first_name, patient.user.last_name = first_name, last_name
    patient.user.save(update_fields=["first_name", "last_name"])
    for name, value in fields.items():
        setattr(patient, name, value)
    patient.save()
    return patient


def placeholder_email() -> str:
    """A unique address that can never receive mail (.invalid is reserved, RFC 2606), for a patient who
    booked by phone without giving one; the front desk can replace it later."""
    return f"no-email-{uuid.uuid4().hex[:12]}@{PLACEHOLDER_EMAIL_DOMAIN}"


@transaction.atomic
def register_phone_patient(*, first_name, last_name, phone, date_of_birth, email="", sms_opt_in=False) -> Patient:
    """A patient the front desk creates on the phone. They have no password until they reset one (with a
    real address); without an email they get a placeholder address."""
    user = User.objects.create_user(
        email=email or placeholder_email(), password=None, first_name=first_name, last_name=last_name
    )
    return Patient.objects.create(user=user, phone=phone, date_of_birth=date_of_birth, sms_opt_in=sms_opt_in)


@transaction.atomic
def close_clinic(*, first_day, last_day, reason: str, by, site=None) -> Closure:
    """Close the clinic on these days, every site or one (availability offers nothing there then).
    Appointments already booked stay: the desk's closures page lists them to move
    (`bookings.selectors.upcoming_closures`)."""
    closure = Closure(first_day=first_day, last_day=last_day, reason=reason.strip(), created_by=by, site=site)
    closure.full_clean()
    closure.save()
    return closure


@transaction.atomic
def reopen_clinic(*, closure: Closure) -> None:
    closure.delete()
