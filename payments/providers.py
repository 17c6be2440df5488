"""Payment providers: Stripe's hosted Checkout for cards online, and the desk (card terminal, cash, waiver).

The interface is what the services need from a provider and no more:
- `start_checkout(payment, success_url, cancel_url) -> url`: where to send the patient to pay;
- `refund(refund) -> provider refund id`: give money back, idempotently;
- `expire_checkout(payment)`: stop a checkout that is no longer wanted (a lapsed hold), best effort.

Card data never touches this server: the patient pays on Stripe's page, and we learn the outcome only from
Stripe's signed webhook (`payments.webhooks`), never from the redirect back. Keys come from the environment;
without them `stripe_configured()` is False and only the desk takes money.
"""

import logging
from urllib.parse import urlsplit

import stripe
from django.conf import settings

from .models import Payment, Refund
from .money import to_minor

logger = logging.getLogger(__name__)


class ProviderError(Exception):
    """The provider refused or could not be reached; the message can be shown to staff or the patient."""


def stripe_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_WEBHOOK_SECRET)


def checkout_origin() -> str:
    """Where Stripe's hosted Checkout pages live (the stand-in's address when one is configured)."""
    if settings.STRIPE_API_BASE:
        parts = urlsplit(settings.STRIPE_API_BASE)
        return f"{parts.scheme}://{parts.netloc}"
    return "https://checkout.stripe.com"


def _client_settings() -> None:
    stripe.api_key = settings.STRIPE_SECRET_KEY
    if settings.STRIPE_API_BASE:
        stripe.api_base = settings.STRIPE_API_BASE
    stripe.max_network_retries = 2  # with the idempotency key, a retry never charges or refunds twice


class StripeProvider:
    name = "stripe"

    def start_checkout(self, payment: Payment, *, success_url: str, cancel_url: str, description: str) -> tuple:
        """Create (or, on a retry with the same key, get back) the Checkout Session. Returns (id, url)."""
        _client_settings()
        try:
            session = stripe.checkout.Session.create(
                mode="payment",
                success_url=success_url,
                cancel_url=cancel_url,
                client_reference_id=str(payment.pk),
                customer_email=payment.patient.user.email if payment.patient.user.has_real_email else None,
                line_items=[
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": payment.currency.lower(),
                            "unit_amount": to_minor(payment.amount, payment.currency),
                            "product_data": {"name": description},
                        },
                    }
                ],
                metadata={"payment_id": str(payment.pk)},
                payment_intent_data={"metadata": {"payment_id": str(payment.pk)}},
                idempotency_key=f"checkout-{payment.pk}",
            )
        except stripe.StripeError as error:
            logger.warning("Stripe refused the checkout for payment %s: %s", payment.pk, error)
            raise ProviderError("The card payment page could not be opened. Please try again in a moment.") from error
        return session.id, session.url

    def refund(self, refund: Refund) -> str:
        _client_settings()
        try:
            result = stripe.Refund.create(
                payment_intent=refund.payment.provider_payment_id,
                amount=to_minor(refund.amount, refund.currency),
                metadata={"refund_id": str(refund.pk), "payment_id": str(refund.payment_id)},
                idempotency_key=refund.idempotency_key,
            )
        except stripe.StripeError as error:
            raise ProviderError(f"Stripe did not accept the refund: {error.user_message or error}") from error
        return result.id

    def expire_checkout(self, payment: Payment) -> None:
        if not payment.provider_session_id:
            return
        _client_settings()
        try:
            stripe.checkout.Session.expire(payment.provider_session_id)
        except stripe.StripeError as error:  # already paid or expired: the webhook tells us which
            logger.info("Stripe did not expire checkout %s: %s", payment.provider_session_id, error)


class DeskProvider:
    """Money taken or given back in person: nothing to call, the desk's record is the payment."""

    name = "desk"

    def refund(self, refund: Refund) -> str:
        return ""

    def expire_checkout(self, payment: Payment) -> None:
        return None


def provider_for(payment: Payment):
    return StripeProvider() if payment.is_online else DeskProvider()
