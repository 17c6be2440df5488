"""Writes to money: deposits and their holds, desk payments, waivers, refunds, packages, receipts.

Every write runs in one transaction that locks the patient's row first (the booking service's lock order),
then the payment or package rows it changes, with a lock timeout. Anything that talks to the provider
happens after commit (`transaction.on_commit`): a refund is written `pending` with its idempotency key,
then sent; a refund the provider could not take stays pending and the beat task sends it again.

The cancellation policy lives here (`on_appointment_changed`), reached through bookings' signal:
- cancelled outside the window: a paid deposit is refunded in full, automatically;
- cancelled inside the window, or a no-show: the deposit is kept as a fee; the desk may waive it with a
  reason, which refunds it;
- moved: nothing happens, the deposit stays with the appointment;
- completed: the deposit counts towards the session, and a package covering the treatment is redeemed.
"""

import datetime
import logging
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Appointment, AppointmentEvent
from clinic import locks, roles
from clinic.models import Patient

from . import documents, numbering
from .models import DepositPolicy, Document, Package, PatientPackage, Payment, Redemption, Refund
from .money import format_money, quantize, share
from .providers import DeskProvider, ProviderError, StripeProvider, provider_for, stripe_configured

logger = logging.getLogger(__name__)
Status = Payment.Status
Outcome = Payment.DepositOutcome


class PaymentError(Exception):
    """A refusal with a message for the patient or the desk; nothing was written."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _lock_patient(patient_id: int) -> Patient:
    """The clinic's one patient lock (`clinic.locks`: patient first, with its lock timeout), by id."""
    return locks.lock_patient(Patient(pk=patient_id))


def _ensure_desk(user) -> None:
    if not roles.is_front_desk(user):
        raise PaymentError("Only the front desk and clinic admins take payments and give refunds.")


def _ensure_admin(user) -> None:
    if not roles.is_clinic_admin(user):
        raise PaymentError("Only a clinic admin can refund a package.")


def hold_minutes() -> int:
    return settings.PAYMENTS["DEPOSIT_HOLD_MINUTES"]


# --- what is asked ---------------------------------------------------------------------------------


def deposit_amount(treatment) -> Decimal:
    """The deposit the treatment's policy asks for; 0 for none."""
    policy = DepositPolicy.objects.filter(treatment=treatment).first()
    if policy is None or policy.kind == DepositPolicy.Kind.NONE:
        return Decimal("0")
    if policy.kind == DepositPolicy.Kind.FIXED:
        return min(quantize(policy.amount), quantize(treatment.price)) if treatment.price else quantize(policy.amount)
    return share(treatment.price * policy.percent, 1, 100)


def covering_package(patient, treatment, *, now=None):
    """The patient's oldest active, unexpired package for this treatment with sessions left, or None.
    What a completed session redeems (`redeem_package_session`)."""
    now = now or timezone.now()
    return (
        PatientPackage.objects.filter(
            patient=patient, treatment=treatment, status=PatientPackage.Status.ACTIVE, expires_at__gt=now
        )
        .filter(sessions_used__lt=F("sessions_total"))
        .order_by("expires_at", "pk")
        .first()
    )


# Appointments that will redeem a package session when completed: live, not yet completed (a completed one
# has redeemed already, `Redemption`).
RESERVING_STATUSES = (
    Appointment.Status.AWAITING_DEPOSIT,
    Appointment.Status.BOOKED,
    Appointment.Status.CHECKED_IN,
)


def package_covers(patient, treatment, start_at) -> bool:
    """Does a package of the patient's still have a session free for a new booking at `start_at`, once the
    sessions already reserved by their live, not yet completed bookings of the treatment are counted?

    Locks the patient's active packages of the treatment (`clinic.locks.lock_objects`: after the patient's
    row, the one lock order), so a sale, a redemption or a refund of them waits for this booking. The
    caller (the booking service) holds the patient's lock: two bookings by one patient queue, and the
    second counts the first. Reservations use the soonest-expiring package valid at their time, as
    redemption will."""
    packages = locks.lock_objects(
        PatientPackage.objects.filter(
            patient=patient, treatment=treatment, status=PatientPackage.Status.ACTIVE, expires_at__gt=timezone.now()
        )
    )
    free = {package.pk: package.balance for package in packages}
    by_expiry = sorted(packages, key=lambda package: (package.expires_at, package.pk))
    reserved = (
        Appointment.objects.filter(patient=patient, treatment=treatment, status__in=RESERVING_STATUSES)
        .filter(redemption__isnull=True)
        .order_by("start_at")
        .values_list("start_at", flat=True)
    )
    for reserved_at in reserved if packages else ():
        usable = next((p for p in by_expiry if free[p.pk] > 0 and p.expires_at > reserved_at), None)
        if usable is not None:
            free[usable.pk] -= 1
    return any(free[p.pk] > 0 and p.expires_at > start_at for p in by_expiry)


def needs_deposit(patient, treatment, start_at) -> bool:
    """Online bookings pay a deposit only when Stripe is configured, the treatment asks for one, and no
    package of the patient's has a session left for it (`package_covers`). Asked by the booking service
    under the patient's lock, for the patient's pages and the API alike."""
    if not stripe_configured() or deposit_amount(treatment) <= 0:
        return False
    return not package_covers(patient, treatment, start_at)


def policy_text(treatment=None) -> str:
    hours = settings.CLINIC["CANCELLATION_WINDOW_HOURS"]
    return (
        f"Cancel or move more than {hours} hours before and your deposit is refunded in full. If you cancel "
        f"later than that, or do not come, the deposit is kept as a fee."
    )


# --- the deposit's life -------------------------------------------------------------------------------


def on_appointment_changed(sender, *, appointment, action, by, old_start_at=None, inside_window=False, **kwargs):
    """Bookings' signal, received inside its transaction (the patient is locked): money follows the change."""
    Action = AppointmentEvent.Action
    if action == Action.BOOKED and appointment.status == Appointment.Status.AWAITING_DEPOSIT:
        _ask_deposit(appointment, by)
    elif action == Action.CANCELLED:
        _after_cancel(appointment, by, inside_window)
    elif action == Action.NO_SHOW:
        _keep_deposit(appointment)
    elif action == Action.COMPLETED:
        _after_completion(appointment)
    elif action == Action.COMPLETION_UNDONE:
        _undo_completion(appointment)


def _live_deposit(appointment):
    return (
        Payment.objects.select_for_update()
        .filter(appointment=appointment, purpose=Payment.Purpose.DEPOSIT, status__in=(Status.PENDING, Status.PAID))
        .first()
    )


def _ask_deposit(appointment, by) -> Payment:
    amount = deposit_amount(appointment.treatment)
    return Payment.objects.create(
        patient=appointment.patient,
        appointment=appointment,
        purpose=Payment.Purpose.DEPOSIT,
        method=Payment.Method.CARD_ONLINE,
        amount=amount,
        currency=settings.PAYMENTS["CURRENCY"],
        hold_expires_at=timezone.now() + datetime.timedelta(minutes=hold_minutes()),
        created_by=by,
    )


def _after_cancel(appointment, by, inside_window: bool) -> None:
    deposit = _live_deposit(appointment)
    if deposit is None:
        return
    if deposit.status == Status.PENDING:  # the hold was let go or lapsed before payment
        deposit.status = Status.EXPIRED
        deposit.save(update_fields=["status", "updated_at"])
        transaction.on_commit(lambda: StripeProvider().expire_checkout(deposit))
        return
    if deposit.deposit_outcome != Outcome.HELD:
        return
    if inside_window:
        _keep_deposit(appointment)
        return
    deposit.deposit_outcome = Outcome.REFUNDED
    deposit.save(update_fields=["deposit_outcome", "updated_at"])
    _queue_refund(deposit, deposit.amount, "Cancelled in time: the deposit is refunded in full.", by)


def _keep_deposit(appointment) -> None:
    deposit = _live_deposit(appointment)
    if deposit is not None and deposit.status == Status.PAID and deposit.deposit_outcome == Outcome.HELD:
        deposit.deposit_outcome = Outcome.KEPT
        deposit.save(update_fields=["deposit_outcome", "updated_at"])


def _after_completion(appointment) -> None:
    deposit = _live_deposit(appointment)
    if deposit is not None and deposit.status == Status.PAID and deposit.deposit_outcome == Outcome.HELD:
        deposit.deposit_outcome = Outcome.APPLIED
        deposit.save(update_fields=["deposit_outcome", "updated_at"])
    redeem_package_session(appointment)


def _undo_completion(appointment) -> None:
    """A completion undone by the desk: the package session comes back, the deposit is held again."""
    redemption = Redemption.objects.select_related("patient_package").filter(appointment=appointment).first()
    if redemption is not None:
        package = PatientPackage.objects.select_for_update().get(pk=redemption.patient_package_id)
        redemption.delete()
        package.sessions_used -= 1
        package.save(update_fields=["sessions_used"])
    Payment.objects.filter(
        appointment=appointment, purpose=Payment.Purpose.DEPOSIT, deposit_outcome=Outcome.APPLIED
    ).update(deposit_outcome=Outcome.HELD, updated_at=timezone.now())


def redeem_package_session(appointment) -> Redemption | None:
    """A completed session of a treatment the patient has a package for uses one of its sessions, once."""
    if Redemption.objects.filter(appointment=appointment).exists():
        return None
    package = covering_package(appointment.patient, appointment.treatment, now=appointment.start_at)
    if package is None:
        return None
    package = PatientPackage.objects.select_for_update().get(pk=package.pk)
    if package.balance <= 0:
        return None
    package.sessions_used += 1
    package.save(update_fields=["sessions_used"])
    return Redemption.objects.create(patient_package=package, appointment=appointment)


def record_checkout_started(payment_id: int, *, session_id: str, url: str) -> None:
    Payment.objects.filter(pk=payment_id, provider_session_id__isnull=True).update(
        provider_session_id=session_id, checkout_url=url, updated_at=timezone.now()
    )


def checkout_url_for(appointment, *, success_url: str, cancel_url: str) -> str:
    """The Stripe page where the patient pays this appointment's deposit. Called outside any transaction;
    a second call (a reload, a second tab) gets the same session back (idempotency key per payment)."""
    payment = Payment.objects.filter(
        appointment=appointment, purpose=Payment.Purpose.DEPOSIT, status=Status.PENDING
    ).first()
    if payment is None:
        raise PaymentError("There is no deposit waiting to be paid for this appointment.")
    if payment.hold_expires_at and payment.hold_expires_at <= timezone.now():
        raise PaymentError("The time held for you has run out. Please choose a time again.")
    if payment.checkout_url:
        return payment.checkout_url
    description = f"Deposit: {appointment.treatment.name}, {timezone.localtime(appointment.start_at):%d %b %Y %H:%M}"
    try:
        session_id, url = StripeProvider().start_checkout(
            payment, success_url=success_url, cancel_url=cancel_url, description=description
        )
    except ProviderError as error:
        raise PaymentError(str(error)) from error
    record_checkout_started(payment.pk, session_id=session_id, url=url)
    return url


def lapse_hold(payment_id: int, *, now=None) -> bool:
    """Release one unpaid hold whose time has run out: the deposit is marked not paid in time, the
    appointment cancelled and its time freed (the waitlist hears of it). Locks the patient first, so a
    payment webhook for the same deposit either comes before (and the hold is confirmed, nothing lapses) or
    after (and finds the hold released: it refunds)."""
    now = now or timezone.now()
    payment = Payment.objects.filter(pk=payment_id).only("patient_id").first()
    if payment is None:
        return False
    with transaction.atomic():
        _lock_patient(payment.patient_id)
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != Status.PENDING or payment.hold_expires_at is None or payment.hold_expires_at > now:
            return False
        booking_services.release_deposit_hold(
            payment.appointment,
            reason=f"The deposit was not paid within {hold_minutes()} minutes: the time is free again.",
        )
        # The signal marked the deposit expired; make sure even if the appointment had already moved on.
        Payment.objects.filter(pk=payment.pk, status=Status.PENDING).update(status=Status.EXPIRED, updated_at=now)
    return True


def release_lapsed_holds(*, now=None) -> int:
    now = now or timezone.now()
    due = Payment.objects.filter(
        purpose=Payment.Purpose.DEPOSIT, status=Status.PENDING, hold_expires_at__lte=now
    ).values_list("pk", flat=True)
    return sum(lapse_hold(pk, now=now) for pk in list(due[:500]))


# --- the provider's verdicts (called by payments.webhooks inside the event's transaction) ----------------


def mark_paid(payment: Payment, *, provider_payment_id: str) -> str:
    """The provider says the payment succeeded (amount and currency already checked). Confirms the held
    appointment; a payment that arrives after its hold was released is refunded in full."""
    _lock_patient(payment.patient_id)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == Status.PAID:
        return "already paid"
    lapsed = payment.status in (Status.EXPIRED, Status.FAILED)
    payment.status = Status.PAID
    payment.paid_at = timezone.now()
    payment.provider_payment_id = provider_payment_id
    payment.deposit_outcome = Outcome.HELD if payment.purpose == Payment.Purpose.DEPOSIT else ""
    payment.save(update_fields=["status", "paid_at", "provider_payment_id", "deposit_outcome", "updated_at"])
    issue_receipt(payment)
    if payment.purpose != Payment.Purpose.DEPOSIT or payment.appointment is None:
        return "paid"
    confirmed = not lapsed and booking_services.confirm_awaited_deposit(payment.appointment)
    if confirmed:
        return "paid: appointment confirmed"
    payment.deposit_outcome = Outcome.REFUNDED
    payment.save(update_fields=["deposit_outcome", "updated_at"])
    _queue_refund(payment, payment.amount, "Paid after the time held had been released: refunded in full.", None)
    return "paid after the hold was released: refunded"


def mark_unpaid(payment: Payment, *, status: str, reason: str) -> str:
    """The checkout expired or the payment failed: the hold is released at once."""
    _lock_patient(payment.patient_id)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != Status.PENDING:
        return f"nothing to do: the payment is {payment.get_status_display().lower()}"
    payment.status = status
    payment.save(update_fields=["status", "updated_at"])
    if payment.appointment_id:
        booking_services.release_deposit_hold(payment.appointment, reason=reason)
    return f"marked {status}; hold released"


def mark_refund_succeeded(refund: Refund, *, provider_refund_id: str = "") -> None:
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.status == Refund.Status.SUCCEEDED:
        return
    refund.status = Refund.Status.SUCCEEDED
    refund.succeeded_at = timezone.now()
    refund.last_error = ""
    if provider_refund_id:
        refund.provider_refund_id = provider_refund_id
    refund.save(update_fields=["status", "succeeded_at", "last_error", "provider_refund_id"])
    issue_refund_receipt(refund)


def record_provider_refund(payment: Payment, *, refunded_total: Decimal, key: str, provider_refund_id: str) -> str:
    """The provider says `refunded_total` of this payment has been given back in all (a refund made in
    Stripe's dashboard). Records the part our refunds do not account for as one succeeded refund, with its
    receipt; nothing when they already do. Called inside the webhook event's transaction."""
    _lock_patient(payment.patient_id)
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != Status.PAID:
        return f"refused: payment {payment.pk} is {payment.get_status_display().lower()}, not paid"
    ours = sum((r.amount for r in payment.refunds.exclude(status=Refund.Status.FAILED)), start=Decimal("0"))
    extra = quantize(refunded_total) - ours
    if extra <= 0 or Refund.objects.filter(idempotency_key=key).exists():
        return "refund already recorded"
    refund = Refund.objects.create(
        payment=payment,
        amount=extra,
        currency=payment.currency,
        reason="Refunded in Stripe's dashboard.",
        idempotency_key=key[:80],
        provider_refund_id=provider_refund_id or None,
    )
    mark_refund_succeeded(refund, provider_refund_id=provider_refund_id)
    if payment.deposit_outcome in (Outcome.HELD, Outcome.KEPT) and refundable(payment) <= 0:
        payment.deposit_outcome = Outcome.REFUNDED
        payment.save(update_fields=["deposit_outcome", "updated_at"])
    logger.warning("Payment %s: %s refunded outside the app (in Stripe) recorded", payment.pk, extra)
    return f"refunded in Stripe: {format_money(extra, payment.currency)} recorded"


# --- refunds -------------------------------------------------------------------------------------------


def refundable(payment: Payment) -> Decimal:
    given_back = sum((r.amount for r in payment.refunds.exclude(status=Refund.Status.FAILED)), start=Decimal("0"))
    return payment.amount - given_back if payment.status == Status.PAID else Decimal("0")


def _queue_refund(payment: Payment, amount: Decimal, reason: str, by) -> Refund:
    amount = quantize(amount)
    if amount <= 0 or amount > refundable(payment):
        raise PaymentError(f"At most {format_money(refundable(payment), payment.currency)} can be refunded.")
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        currency=payment.currency,
        reason=reason[:300],
        created_by=by,
        idempotency_key=f"refund-{payment.pk}-{uuid.uuid4().hex}",
    )
    if isinstance(provider_for(payment), DeskProvider):
        mark_refund_succeeded(refund)  # handed back at the desk: done as it is written
        refund.refresh_from_db()
    else:
        transaction.on_commit(lambda: send_refund(refund.pk))
    return refund


def send_refund(refund_id: int) -> bool:
    """Ask the provider for one pending refund; safe to run twice (idempotency key). Outside transactions."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return False
    try:
        provider_refund_id = provider_for(refund.payment).refund(refund)
    except ProviderError as error:
        Refund.objects.filter(pk=refund_id).update(last_error=str(error)[:1000], attempts=refund.attempts + 1)
        logger.warning("Refund %s not accepted yet: %s", refund_id, error)
        return False
    with transaction.atomic():
        _lock_patient(refund.payment.patient_id)
        mark_refund_succeeded(refund, provider_refund_id=provider_refund_id)
    return True


def send_pending_refunds() -> int:
    pending = Refund.objects.filter(status=Refund.Status.PENDING).values_list("pk", flat=True)
    return sum(send_refund(pk) for pk in list(pending[:200]))


def refund_payment(*, payment: Payment, amount: Decimal, by, reason: str) -> Refund:
    """The desk gives money back (card online through Stripe, terminal or cash in person)."""
    _ensure_desk(by)
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError("Give a reason for the refund: nothing was refunded.")
    with transaction.atomic():
        _lock_patient(payment.patient_id)
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != Status.PAID:
            raise PaymentError("Only a paid payment can be refunded.")
        refund = _queue_refund(payment, amount, reason, by)
        if payment.deposit_outcome in (Outcome.HELD, Outcome.KEPT) and refundable(payment) <= 0:
            payment.deposit_outcome = Outcome.REFUNDED
            payment.save(update_fields=["deposit_outcome", "updated_at"])
    return refund


def waive_fee(*, payment: Payment, by, reason: str) -> Refund:
    """The desk waives a kept late-cancellation or no-show fee: the deposit is refunded in full."""
    _ensure_desk(by)
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError("Give a reason for waiving the fee: nothing was changed.")
    with transaction.atomic():
        _lock_patient(payment.patient_id)
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.deposit_outcome != Outcome.KEPT:
            raise PaymentError("There is no kept fee to waive on this payment.")
        payment.deposit_outcome = Outcome.FEE_WAIVED
        payment.note = f"Fee waived: {reason}"[:300]
        payment.save(update_fields=["deposit_outcome", "note", "updated_at"])
        return _queue_refund(payment, refundable(payment), f"Fee waived by the desk: {reason}", by)


# --- the desk's till ----------------------------------------------------------------------------------


DESK_METHODS = (Payment.Method.CARD_TERMINAL, Payment.Method.CASH)


def take_desk_payment(*, patient, amount: Decimal, method: str, by, appointment=None, note: str = "") -> Payment:
    """A card-terminal or cash payment at the desk: paid as recorded, with its receipt."""
    _ensure_desk(by)
    if method not in DESK_METHODS:
        raise PaymentError("Choose card terminal or cash.")
    amount = quantize(amount)
    if amount <= 0:
        raise PaymentError("The amount must be more than zero.")
    if appointment is not None and appointment.patient_id != patient.pk:
        raise PaymentError("That appointment is another patient's.")
    with transaction.atomic():
        _lock_patient(patient.pk)
        payment = Payment.objects.create(
            patient=patient,
            appointment=appointment,
            purpose=Payment.Purpose.SESSION,
            method=method,
            status=Status.PAID,
            amount=amount,
            currency=settings.PAYMENTS["CURRENCY"],
            paid_at=timezone.now(),
            note=(note or "").strip()[:300],
            created_by=by,
        )
        issue_receipt(payment)
    return payment


def waive_charge(*, patient, amount: Decimal, by, reason: str, appointment=None) -> Payment:
    """The desk lets a charge go, with a reason: recorded, no money, no receipt."""
    _ensure_desk(by)
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError("Give a reason for waiving the charge: nothing was changed.")
    amount = quantize(amount)
    if amount <= 0:
        raise PaymentError("The amount must be more than zero.")
    with transaction.atomic():
        _lock_patient(patient.pk)
        return Payment.objects.create(
            patient=patient,
            appointment=appointment,
            purpose=Payment.Purpose.SESSION,
            method=Payment.Method.WAIVED,
            status=Status.WAIVED,
            amount=amount,
            currency=settings.PAYMENTS["CURRENCY"],
            note=reason[:300],
            created_by=by,
        )


def sell_package(*, patient, package: Package, method: str, by) -> PatientPackage:
    _ensure_desk(by)
    if method not in DESK_METHODS:
        raise PaymentError("Choose card terminal or cash.")
    if not package.active:
        raise PaymentError("That package is no longer sold.")
    now = timezone.now()
    with transaction.atomic():
        _lock_patient(patient.pk)
        bought = PatientPackage.objects.create(
            patient=patient,
            package=package,
            treatment=package.treatment,
            sessions_total=package.sessions,
            price_paid=package.price,
            currency=package.currency,
            purchased_at=now,
            expires_at=now + datetime.timedelta(days=package.valid_days),
        )
        payment = Payment.objects.create(
            patient=patient,
            patient_package=bought,
            purpose=Payment.Purpose.PACKAGE,
            method=method,
            status=Status.PAID,
            amount=package.price,
            currency=package.currency,
            paid_at=now,
            created_by=by,
        )
        issue_receipt(payment)
    return bought


def package_refund_amount(bought: PatientPackage) -> Decimal:
    """The unused sessions' share of what was paid, rounded down to the penny."""
    return share(bought.price_paid, bought.balance, bought.sessions_total)


def refund_package_pro_rata(*, patient_package: PatientPackage, by, reason: str) -> Refund | None:
    """An admin refunds the unused sessions pro rata; the package closes."""
    _ensure_admin(by)
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError("Give a reason for the refund: nothing was refunded.")
    with transaction.atomic():
        _lock_patient(patient_package.patient_id)
        bought = PatientPackage.objects.select_for_update().get(pk=patient_package.pk)
        if bought.status != PatientPackage.Status.ACTIVE:
            raise PaymentError("This package is already closed.")
        amount = package_refund_amount(bought)
        bought.status = PatientPackage.Status.REFUNDED
        bought.save(update_fields=["status"])
        if amount <= 0:
            return None
        payment = Payment.objects.select_for_update().get(patient_package=bought, purpose=Payment.Purpose.PACKAGE)
        return _queue_refund(
            payment, amount, f"{bought.balance} unused of {bought.sessions_total} sessions: {reason}", by
        )


# --- receipts and invoices ------------------------------------------------------------------------------


def _vat() -> dict:
    number = settings.PAYMENTS["VAT_NUMBER"]
    return {"vat_number": number, "vat_rate_percent": settings.PAYMENTS["VAT_RATE_PERCENT"] if number else None}


def _issue(kind: str, **fields) -> Document:
    now = timezone.now()
    year = timezone.localtime(now).year
    document = Document.objects.create(
        kind=kind, year=year, sequence=numbering.next_number(kind, year), issued_at=now, **_vat(), **fields
    )
    documents.owe_email(document)
    return document


def issue_receipt(payment: Payment) -> Document:
    return _issue(
        Document.Kind.RECEIPT,
        patient_id=payment.patient_id,
        payment=payment,
        appointment_id=payment.appointment_id,
        total=payment.amount,
        currency=payment.currency,
    )


def issue_refund_receipt(refund: Refund) -> Document:
    payment = refund.payment
    return _issue(
        Document.Kind.RECEIPT,
        patient_id=payment.patient_id,
        payment=payment,
        refund=refund,
        appointment_id=payment.appointment_id,
        total=refund.amount,
        currency=refund.currency,
    )


def issue_invoice(*, appointment, by) -> Document:
    """An invoice for one visit, on request: what was paid for it, less refunds. Once per visit."""
    _ensure_desk(by)
    with transaction.atomic():
        _lock_patient(appointment.patient_id)
        existing = Document.objects.filter(kind=Document.Kind.INVOICE, appointment=appointment).first()
        if existing:
            return existing
        paid = Payment.objects.filter(appointment=appointment, status=Status.PAID)
        total = sum((p.amount for p in paid), start=Decimal("0")) - sum(
            (r.amount for r in Refund.objects.filter(payment__in=paid, status=Refund.Status.SUCCEEDED)),
            start=Decimal("0"),
        )
        if total <= 0:
            raise PaymentError("Nothing has been paid for this visit: there is nothing to invoice.")
        return _issue(
            Document.Kind.INVOICE,
            patient_id=appointment.patient_id,
            appointment=appointment,
            total=total,
            currency=settings.PAYMENTS["CURRENCY"],
        )
