"""Payments' answers to the booking pages' questions (bookings/hooks.py)."""

from django.template.loader import render_to_string
from django.urls import reverse

from bookings.hooks import BookingSteps
from bookings.models import Appointment
from clinic import roles

from . import selectors, services
from .money import format_money


class PaymentSteps(BookingSteps):
    def needs_deposit(self, patient, treatment, start_at) -> bool:
        return services.needs_deposit(patient, treatment, start_at)

    def deposit_due(self, appointment) -> dict:
        payment = selectors.pending_deposit(appointment)
        if payment is None:
            return {}
        return {
            "amount": str(payment.amount),
            "currency": payment.currency,
            "pay_by": payment.hold_expires_at,
            "terms": services.policy_text(),
        }

    def next_url(self, appointment) -> str:
        if appointment.status == Appointment.Status.AWAITING_DEPOSIT:
            return reverse("payments:deposit", args=[appointment.pk])
        return ""

    def late_cancellation_terms(self, appointment) -> str:
        deposit = selectors.held_deposit(appointment)
        if deposit is None:
            return ""
        return (
            f"It is less than the cancellation window before your appointment: if you cancel now, your deposit "
            f"of {format_money(deposit.amount, deposit.currency)} is kept as a late-cancellation fee."
        )

    def booking_terms(self, appointment) -> str:
        deposit = selectors.held_deposit(appointment)
        if deposit is None:
            return ""
        return f"Deposit paid: {format_money(deposit.amount, deposit.currency)}. {services.policy_text()}"

    def desk_appointment_panels(self, request, appointment) -> list[str]:
        context = selectors.till_for_appointment(appointment)
        return [render_to_string("payments/desk/_appointment_till.html", context, request=request)]

    def desk_patient_panels(self, request, patient) -> list[str]:
        context = selectors.till_for_patient(patient)
        context["may_refund_packages"] = roles.is_clinic_admin(request.user)
        return [render_to_string("payments/desk/_patient_till.html", context, request=request)]
