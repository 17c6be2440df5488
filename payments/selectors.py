"""Reads for the money pages: what is due, paid, refunded and kept, per appointment and per patient."""

from decimal import Decimal

from django.conf import settings

from .models import Document, Package, PatientPackage, Payment, Redemption, Refund
from .money import format_money
from .providers import stripe_configured


def pending_deposit(appointment) -> Payment | None:
    """The deposit an appointment awaiting it still waits for, if any."""
    return Payment.objects.filter(
        appointment=appointment, purpose=Payment.Purpose.DEPOSIT, status=Payment.Status.PENDING
    ).first()


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


def patient_data_section(sender, *, patient, **kwargs) -> dict:
    """Payments' part of the patient's copy of their data (`clinic.extensions.PATIENT_DATA`): every payment,
    refund, receipt and invoice, and course package, as plain values. Five queries however many rows.
    Amounts are strings ("50.00") with their currency beside them; times in the clinic's zone."""
    from clinic import clock

    def when(moment):
        return clock.local(moment) if moment else None

    payments = list(Payment.objects.filter(patient=patient).order_by("created_at", "pk"))
    refunds = list(Refund.objects.filter(payment__patient=patient).order_by("created_at", "pk"))
    documents = list(Document.objects.filter(patient=patient).order_by("issued_at", "pk"))
    packages = list(
        PatientPackage.objects.filter(patient=patient)
        .select_related("package", "treatment")
        .prefetch_related("redemptions")
        .order_by("purchased_at", "pk")
    )
    return {
        "payments": {
            "payments": [
                {
                    "id": p.pk,
                    "created": when(p.created_at),
                    "for": p.get_purpose_display(),
                    "appointment": p.appointment_id,
                    "method": p.get_method_display(),
                    "status": p.get_status_display(),
                    "amount": str(p.amount),
                    "currency": p.currency,
                    "paid": when(p.paid_at),
                    "deposit": p.get_deposit_outcome_display() if p.deposit_outcome else "",
                    "note": p.note,
                }
                for p in payments
            ],
            "refunds": [
                {
                    "payment": r.payment_id,
                    "created": when(r.created_at),
                    "amount": str(r.amount),
                    "currency": r.currency,
                    "status": r.get_status_display(),
                    "reason": r.reason,
                    "refunded": when(r.succeeded_at),
                }
                for r in refunds
            ],
            "receipts_and_invoices": [
                {
                    "number": d.number,
                    "kind": d.get_kind_display(),
                    "issued": when(d.issued_at),
                    "total": str(d.total),
                    "currency": d.currency,
                    "payment": d.payment_id,
                    "refund": d.refund_id,
                    "appointment": d.appointment_id,
                    "emailed": when(d.emailed_at),
                }
                for d in documents
            ],
            "course_packages": [
                {
                    "name": k.package.name,
                    "treatment": k.treatment.name,
                    "bought": when(k.purchased_at),
                    "expires": when(k.expires_at),
                    "price_paid": str(k.price_paid),
                    "currency": k.currency,
                    "sessions": k.sessions_total,
                    "used": k.sessions_used,
                    "left": k.balance,
                    "status": k.get_status_display(),
                    "used_for_appointments": ", ".join(str(r.appointment_id) for r in k.redemptions.all()),
                }
                for k in packages
            ],
        }
    }
