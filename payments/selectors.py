"""Reads for the money pages: what is due, paid, refunded and kept, per appointment and per patient."""

from decimal import Decimal

from django.conf import settings

from .models import Document, Package, PatientPackage, Payment, Redemption, Refund
from .money import format_money
from .providers import stripe_configured


def held_deposit(appointment) -> Payment | None:
    """The paid deposit still held for an upcoming appointment, if any."""
    return (
        Payment.objects.filter(
            appointment=appointment,
            purpose=Payment.Purpose.DEPOSIT,
            status=Payment.Status.PAID,
            deposit_outcome=Payment.DepositOutcome.HELD,
        )
        .only("amount", "currency")
        .first()
    )


def _sum(values) -> Decimal:
    return sum(values, start=Decimal("0"))


def _totals(payments: list[Payment]) -> dict:
    currency = settings.PAYMENTS["CURRENCY"]
    paid = [p for p in payments if p.status == Payment.Status.PAID]
    refunds = [r for p in paid for r in p.refunds.all() if r.status != Refund.Status.FAILED]
    kept = [p for p in paid if p.deposit_outcome == Payment.DepositOutcome.KEPT]
    waived = [p for p in payments if p.status == Payment.Status.WAIVED]
    pending = [p for p in payments if p.status == Payment.Status.PENDING]
    return {
        "paid": format_money(_sum(p.amount for p in paid), currency),
        "refunded": format_money(_sum(r.amount for r in refunds), currency),
        "kept": format_money(_sum(p.amount for p in kept), currency),
        "waived": format_money(_sum(p.amount for p in waived), currency),
        "pending": format_money(_sum(p.amount for p in pending), currency),
    }


def _payments(**filters) -> list[Payment]:
    return list(
        Payment.objects.filter(**filters)
        .select_related("patient_package__package")
        .prefetch_related("refunds", "documents")
        .order_by("-created_at", "-pk")
    )


def patient_payments(patient) -> list[Payment]:
    return _payments(patient=patient)


def till_for_appointment(appointment) -> dict:
    payments = _payments(appointment=appointment)
    treatment = appointment.treatment
    paid_total = _sum(p.amount for p in payments if p.status == Payment.Status.PAID)
    redemption = Redemption.objects.filter(appointment=appointment).select_related("patient_package__package").first()
    return {
        "appointment": appointment,
        "payments": payments,
        "totals": _totals(payments),
        "price": format_money(treatment.price, settings.PAYMENTS["CURRENCY"]),
        "due": format_money(max(treatment.price - paid_total, Decimal("0")), settings.PAYMENTS["CURRENCY"]),
        "redemption": redemption,
        "invoice": Document.objects.filter(kind=Document.Kind.INVOICE, appointment=appointment).first(),
    }


def till_for_patient(patient) -> dict:
    payments = _payments(patient=patient)
    return {
        "patient": patient,
        "payments": payments,
        "totals": _totals(payments),
        "packages": patient_packages(patient),
        "packages_for_sale": list(Package.objects.filter(active=True).select_related("treatment")),
    }


def patient_packages(patient) -> list[PatientPackage]:
    return list(PatientPackage.objects.filter(patient=patient).select_related("package", "treatment"))


def patient_documents(patient) -> list[Document]:
    return list(Document.objects.filter(patient=patient).order_by("-issued_at", "-pk"))


def online_payments_on() -> bool:
    return stripe_configured()
