"""Writes for the clinic app: sign-up, practitioners' own profile pages, clinic closures."""

import logging
import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from .links import absolute_url
from .models import PLACEHOLDER_EMAIL_DOMAIN, Closure, Patient, User

logger = logging.getLogger(__name__)


@transaction.atomic
def register_patient(*, email, password, first_name, last_name, phone, date_of_birth, sms_opt_in=False) -> Patient:
    """A patient signing up online. The welcome email (next step: the health form) goes once the account
    is committed; a mail server that is down does not undo the sign-up (it is logged)."""
    user = User.objects.create_user(email=email, password=password, first_name=first_name, last_name=last_name)
    patient = Patient.objects.create(user=user, phone=phone, date_of_birth=date_of_birth, sms_opt_in=sms_opt_in)
    transaction.on_commit(lambda: _send_welcome(patient))
    return patient


def _send_welcome(patient: Patient) -> None:
    context = {
        "first_name": patient.user.first_name or "there",
        "clinic": settings.CLINIC,
        "health_form_url": absolute_url(reverse("intake_form")),
        "book_url": absolute_url(reverse("book_start")),
    }
    try:
        send_mail(
            subject=f"Welcome to {settings.CLINIC['NAME']}: your next step",
            message=render_to_string("clinic/email/welcome.txt", context).strip() + "\n",
            from_email=None,
            recipient_list=[patient.user.email],
        )
    except Exception:  # the account exists either way; the health form is linked from every page
        logger.exception("The welcome email to patient %s could not be sent", patient.pk)


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
def close_clinic(*, first_day, last_day, reason: str, by) -> Closure:
    """Close the whole clinic on these days (availability offers nothing then). Appointments already booked
    stay: the desk's closures page lists them to move (`bookings.selectors.upcoming_closures`)."""
    closure = Closure(first_day=first_day, last_day=last_day, reason=reason.strip(), created_by=by)
    closure.full_clean()
    closure.save()
    return closure


@transaction.atomic
def reopen_clinic(*, closure: Closure) -> None:
    closure.delete()
