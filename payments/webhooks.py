"""Stripe's webhook: the only way an online payment becomes paid.

1. The signature is verified with `stripe.Webhook.construct_event` (HMAC-SHA256 of "{t}.{payload}" with the
   endpoint secret, within Stripe's 5-minute tolerance). A forged or replayed-stale request is refused
   with 400 and logged; nothing is written.
2. Each event id is handled once: the `ProviderEvent` row is inserted in the same transaction that acts on
   the event. A second delivery of the same event (Stripe retries; two at once) waits on the unique index
   until the first commits, then finds the row and changes nothing.
3. Amount and currency are checked against the payment we asked for; a mismatch is recorded and logged,
   and the payment stays unpaid (the desk sees it).
Unknown event types are recorded and acknowledged, so Stripe stops resending them.
"""

import json
import logging

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from . import services
from .models import Payment, ProviderEvent, Refund
from .money import UnsupportedCurrency, from_minor

logger = logging.getLogger(__name__)


class BadEvent(Exception):
    """Refused before anything was written (bad signature, unreadable payload)."""


def verify(payload: bytes, signature_header: str):
    try:
        stripe.Webhook.construct_event(payload.decode("utf-8"), signature_header or "", settings.STRIPE_WEBHOOK_SECRET)
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError) as error:
        logger.warning("Stripe webhook refused: %s", error)
        raise BadEvent(str(error)) from error
    event = json.loads(payload)  # verified: the event as Stripe sent it, as plain data
    if not isinstance(event, dict):
        raise BadEvent("The event is not an object.")
    return event


def handle(event: dict) -> str:
    """Act on a verified event once. Returns what was done (recorded on the event's row)."""
    event_id, event_type = str(event.get("id", "")), str(event.get("type", ""))[:100]
    if not event_id:
        raise BadEvent("The event has no id.")
    with transaction.atomic():
        try:
            with transaction.atomic():
                row = ProviderEvent.objects.create(provider="stripe", event_id=event_id[:255], type=event_type)
        except IntegrityError:
            logger.info("Stripe event %s delivered again: already handled", event_id)
            return "already handled"
        outcome = _act(event_type, event.get("data", {}).get("object", {}) or {})
        row.outcome = outcome[:300]
        row.save(update_fields=["outcome"])
    if outcome.startswith("refused"):
        logger.warning("Stripe event %s (%s) %s", event_id, event_type, outcome)
    elif outcome.startswith("ignored"):
        logger.info("Stripe event %s (%s) %s", event_id, event_type, outcome)
    return outcome


def _payment_for(obj) -> Payment | None:
    payment_id = (obj.get("metadata") or {}).get("payment_id") or obj.get("client_reference_id")
    payment = None
    if payment_id and str(payment_id).isdigit():
        payment = Payment.objects.filter(pk=int(payment_id)).first()
    if payment is None and obj.get("id"):
        payment = Payment.objects.filter(provider_session_id=obj["id"]).first()
    if (
        payment is not None
        and payment.provider_session_id
        and obj.get("id")
        and obj["id"] != payment.provider_session_id
    ):
        return None  # names our payment but is not its checkout: a tampered or misrouted event
    return payment


def _amount_matches(payment: Payment, obj) -> bool:
    try:
        amount = from_minor(obj.get("amount_total"), str(obj.get("currency", "")))
    except (TypeError, ValueError, UnsupportedCurrency):
        return False
    return amount == payment.amount and str(obj.get("currency", "")).upper() == payment.currency.upper()


def _act(event_type: str, obj: dict) -> str:
    if event_type in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        payment = _payment_for(obj)
        if payment is None:
            return "refused: no payment of ours matches this checkout"
        if obj.get("payment_status") != "paid":
            return "waiting: checkout completed, payment not yet paid"
        if not _amount_matches(payment, obj):
            return (
                f"refused: amount or currency {obj.get('amount_total')} {obj.get('currency')} does not match "
                f"payment {payment.pk} ({payment.amount} {payment.currency})"
            )
        return services.mark_paid(payment, provider_payment_id=str(obj.get("payment_intent") or ""))
    if event_type in ("checkout.session.expired", "checkout.session.async_payment_failed"):
        payment = _payment_for(obj)
        if payment is None:
            return "refused: no payment of ours matches this checkout"
        expired = event_type == "checkout.session.expired"
        return services.mark_unpaid(
            payment,
            status=Payment.Status.EXPIRED if expired else Payment.Status.FAILED,
            reason="The card payment page expired unpaid." if expired else "The card payment failed.",
        )
    if event_type in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
        return _refund_event(obj)
    if event_type == "charge.refunded":
        return _charge_refunded(obj)
    return f"ignored: {event_type} is not an event we act on"


def _charge_refunded(obj: dict) -> str:
    """A refund made outside the app (Stripe's dashboard), or one of ours, seen on the charge.

    The charge carries the running total `amount_refunded` (its list of refunds is not sent unless
    expanded), so the rule is totals, not events: whatever Stripe says was refunded beyond what our `Refund`
    rows already account for (pending or succeeded) is recorded as one succeeded refund, with its receipt.
    The row's idempotency key is the charge and that total, so a replay, a second event for the same state
    or two deliveries at once record it once; a refund of ours that Stripe reports here is not recorded
    twice (it is already counted). Amount and currency are checked against the payment."""
    intent = str(obj.get("payment_intent") or "")
    payment = Payment.objects.filter(provider_payment_id=intent).first() if intent else None
    named = (obj.get("metadata") or {}).get("payment_id")
    if payment is None or (named and str(named) != str(payment.pk)):
        return "refused: no payment of ours matches this charge"
    currency = str(obj.get("currency", ""))
    try:
        charged = from_minor(obj.get("amount"), currency)
        refunded = from_minor(obj.get("amount_refunded"), currency)
    except (TypeError, ValueError, UnsupportedCurrency):
        return "refused: unreadable amount or currency on the charge"
    if currency.upper() != payment.currency.upper() or charged != payment.amount or not 0 <= refunded <= charged:
        return (
            f"refused: charge amount or currency {obj.get('amount')}/{obj.get('amount_refunded')} {currency} "
            f"does not match payment {payment.pk} ({payment.amount} {payment.currency})"
        )
    return services.record_provider_refund(
        payment,
        refunded_total=refunded,
        key=f"stripe-{str(obj.get('id', intent))[:40]}-{obj.get('amount_refunded')}",
        provider_refund_id=_newest_unknown_refund_id(obj),
    )


def _newest_unknown_refund_id(obj: dict) -> str:
    """The id of the newest refund on the charge that we do not know, when Stripe listed them."""
    listed = ((obj.get("refunds") or {}).get("data")) or []
    for refund in listed:
        refund_id = str(refund.get("id", "")) if isinstance(refund, dict) else ""
        if refund_id and not Refund.objects.filter(provider_refund_id=refund_id).exists():
            return refund_id
    return ""


def _refund_event(obj: dict) -> str:
    refund = Refund.objects.filter(provider_refund_id=obj.get("id")).first() if obj.get("id") else None
    refund_id = (obj.get("metadata") or {}).get("refund_id")
    if refund is None and refund_id and str(refund_id).isdigit():
        refund = Refund.objects.filter(pk=int(refund_id)).first()
    if refund is None:
        return "refused: no refund of ours matches this event"
    try:
        amount = from_minor(obj.get("amount"), str(obj.get("currency", "")))
    except (TypeError, ValueError, UnsupportedCurrency):
        return "refused: unreadable amount or currency"
    if amount != refund.amount or str(obj.get("currency", "")).upper() != refund.currency.upper():
        return f"refused: refund amount {obj.get('amount')} {obj.get('currency')} does not match refund {refund.pk}"
    status = obj.get("status")
    services._lock_patient(refund.payment.patient_id)
    if status == "succeeded":
        services.mark_refund_succeeded(refund, provider_refund_id=str(obj.get("id", "")))
        return "refund succeeded"
    if status in ("failed", "canceled"):
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.FAILED, last_error=f"Stripe: {status}"
        )
        return f"refund {status}"
    return f"refund {status}: nothing to do yet"
