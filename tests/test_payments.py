"""Payments: deposits through Stripe Checkout (the official library against a local stand-in of Stripe's API),
signed webhooks, the cancellation policy, the desk's till, packages, receipts.

Every page is used as a patient or the desk uses it; webhooks are signed exactly as Stripe signs them.
"""

import datetime
import json
import logging
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from bookings import availability
from bookings import services as booking_services
from bookings.availability import Verdict
from bookings.models import Appointment, Reminder
from bookings.reminders.messages import build_email
from clinic import roles
from payments import services
from payments.models import DepositPolicy, Document, Package, PatientPackage, Payment, ProviderEvent, Refund
from tests.factories import ClearedPatientFactory, PractitionerFactory, RoomFactory, TreatmentFactory, staff_user
from tests.helpers import at, open_every_day
from tests.stripe_standin import WEBHOOK_SECRET, sign, stripe_at_standin

pytestmark = pytest.mark.django_db
WEBHOOK = "/payments/stripe/webhook/"


@pytest.fixture
def standin(settings):
    with stripe_at_standin(settings) as server:
        yield server


@pytest.fixture
def treatment():
    treatment = TreatmentFactory(name="Microneedling: thighs", price=Decimal("250.00"))
    DepositPolicy.objects.create(treatment=treatment, kind=DepositPolicy.Kind.SHARE, percent=Decimal("20"))
    return treatment


@pytest.fixture
def practitioner(treatment):
    RoomFactory()
    return open_every_day(PractitionerFactory(treatments=[treatment]))


@pytest.fixture
def patient(client):
    patient = ClearedPatientFactory()
    client.force_login(patient.user)
    return patient


@pytest.fixture
def desk():
    return staff_user(roles.FRONT_DESK)


def day(days=10):
    return timezone.localdate() + datetime.timedelta(days=days)


def key(moment):
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ")


def book_through_the_page(client, treatment, practitioner, start_at):
    return client.post(
        reverse("book_confirm", args=[treatment.slug]), {"practitioner": practitioner.pk, "start": key(start_at)}
    )


def post_event(client, event, *, secret=WEBHOOK_SECRET, timestamp=None, header=None):
    payload = json.dumps(event)
    return client.post(
        WEBHOOK,
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header if header is not None else sign(payload, secret, timestamp),
    )


def hold(client, patient, treatment, practitioner, standin, start_at=None):
    """Book online, open the deposit page and go to (stand-in) Stripe: the held appointment and its payment."""
    start_at = start_at or at(day(), 10)
    response = book_through_the_page(client, treatment, practitioner, start_at)
    appointment = Appointment.objects.get(patient=patient, start_at=start_at)
    assert response.status_code == 302 and response.url == reverse("payments:deposit", args=[appointment.pk])
    to_stripe = client.post(reverse("payments:deposit", args=[appointment.pk]))
    assert to_stripe.status_code == 302 and to_stripe.url.startswith(standin.base + "/pay/cs_test_")
    return appointment, Payment.objects.get(appointment=appointment)


def pay(client, standin, payment, **tamper):
    payment.refresh_from_db()
    event = standin.complete(payment.provider_session_id, **tamper)
    with django_on_commit():
        response = post_event(client, event)
    return response, event


class django_on_commit:
    """Run on-commit callbacks of the test's transaction as a real commit would (pytest-django's helper)."""

    def __enter__(self):
        from django.test import TestCase

        self._context = TestCase.captureOnCommitCallbacks(execute=True)
        return self._context.__enter__()

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


# --- a deposit, paid ----------------------------------------------------------------------------------


def test_an_online_booking_is_held_awaiting_its_deposit_then_confirmed_by_the_signed_webhook(
    client, patient, treatment, practitioner, standin
):
    appointment, payment = hold(client, patient, treatment, practitioner, standin)
    assert appointment.status == Appointment.Status.AWAITING_DEPOSIT
    assert payment.amount == Decimal("50.00") and payment.currency == "GBP" and payment.status == Payment.Status.PENDING
    assert not Reminder.objects.filter(appointment=appointment).exists()  # nothing for an unconfirmed booking
    created = standin.sessions[payment.provider_session_id]
    assert created["amount_total"] == 5000 and created["currency"] == "gbp"
    assert created["metadata"] == {"payment_id": str(payment.pk)}
    page = client.get(reverse("payments:deposit", args=[appointment.pk])).content.decode()
    assert "£50.00" in page and "kept as a fee" in page  # the policy is told before paying

    # Coming back from Stripe proves nothing: still awaiting until the webhook.
    back = client.get(reverse("payments:deposit_return", args=[appointment.pk]))
    assert back.status_code == 200 and "waiting" in back.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.AWAITING_DEPOSIT

    response, _ = pay(client, standin, payment)
    assert response.status_code == 200
    appointment.refresh_from_db()
    payment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED
    assert payment.status == Payment.Status.PAID and payment.deposit_outcome == Payment.DepositOutcome.HELD
    assert payment.provider_payment_id.startswith("pi_test_")
    confirmation = Reminder.objects.get(appointment=appointment, kind="confirmation", channel="email")
    assert "Deposit paid: £50.00" in build_email(confirmation).body  # the confirmation repeats the policy
    assert "kept as a fee" in build_email(confirmation).body
    receipt = Document.objects.get(payment=payment)
    assert receipt.number == f"R-{timezone.localdate().year}-00001"
    sent = [m for m in mail.outbox if receipt.number in m.subject]
    assert sent and sent[0].attachments[0][2] == "application/pdf" and sent[0].attachments[0][1][:5] == b"%PDF-"
    detail = client.get(reverse("appointment_detail", args=[appointment.pk])).content.decode()
    assert "Deposit paid: £50.00" in detail


def test_opening_the_checkout_twice_gives_the_same_stripe_session(client, patient, treatment, practitioner, standin):
    appointment, payment = hold(client, patient, treatment, practitioner, standin)
    client.post(reverse("payments:deposit", args=[appointment.pk]))
    assert len(standin.sessions) == 1
    assert [k for m, p, k in standin.requests if p == "/v1/checkout/sessions"] == [f"checkout-{payment.pk}"]


def test_without_stripe_keys_online_booking_needs_no_deposit(client, patient, treatment, practitioner, settings):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    start_at = at(day(), 10)
    response = book_through_the_page(client, treatment, practitioner, start_at)
    appointment = Appointment.objects.get(patient=patient)
    assert response.url == reverse("appointment_detail", args=[appointment.pk])
    assert appointment.status == Appointment.Status.BOOKED and not Payment.objects.exists()
    assert client.post(WEBHOOK, data="{}", content_type="application/json").status_code == 404


def test_a_held_time_blocks_the_slot_like_a_booking(client, patient, treatment, practitioner, standin):
    appointment, _ = hold(client, patient, treatment, practitioner, standin)
    verdict, _ = availability.check_slot(treatment, practitioner, appointment.start_at)
    assert verdict is Verdict.TAKEN
    other = ClearedPatientFactory()
    client.force_login(other.user)
    assert book_through_the_page(client, treatment, practitioner, appointment.start_at).status_code == 409


# --- webhooks that must change nothing ------------------------------------------------------------------


def test_a_replayed_event_is_handled_once(client, patient, treatment, practitioner, standin):
    _, payment = hold(client, patient, treatment, practitioner, standin)
    _, event = pay(client, standin, payment)
    again = post_event(client, event)
    assert again.status_code == 200 and again.json()["outcome"] == "already handled"
    assert Document.objects.count() == 1 and ProviderEvent.objects.count() == 1


@pytest.mark.parametrize(
    "how",
    ["wrong secret", "stale timestamp", "no header", "garbage header", "payload changed after signing"],
)
def test_forged_or_replayed_signatures_are_refused_and_change_nothing(
    client, patient, treatment, practitioner, standin, how, caplog
):
    appointment, payment = hold(client, patient, treatment, practitioner, standin)
    event = standin.complete(Payment.objects.get(pk=payment.pk).provider_session_id)
    payload = json.dumps(event)
    headers = {
        "wrong secret": sign(payload, "whsec_forged"),
        "stale timestamp": sign(payload, timestamp=int(datetime.datetime.now().timestamp()) - 3600),
        "no header": "",
        "garbage header": "t=abc,v1=zzz",
        "payload changed after signing": sign(payload.replace("5000", "1")),
    }
    with caplog.at_level(logging.WARNING, logger="payments"):
        response = post_event(client, event, header=headers[how])
    assert response.status_code == 400
    assert "Stripe webhook refused" in caplog.text
    assert not ProviderEvent.objects.exists()
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.AWAITING_DEPOSIT


@pytest.mark.parametrize("tamper", [{"amount_total": 100}, {"currency": "usd"}, {"currency": "jpy"}])
def test_a_wrong_amount_or_currency_pays_nothing_and_is_logged(
    client, patient, treatment, practitioner, standin, tamper, caplog
):
    appointment, payment = hold(client, patient, treatment, practitioner, standin)
    with caplog.at_level(logging.WARNING, logger="payments"):
        response, _ = pay(client, standin, payment, **tamper)
    assert response.status_code == 200 and response.json()["outcome"].startswith("refused: amount or currency")
    assert "does not match" in caplog.text
    payment.refresh_from_db()
    appointment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING and appointment.status == Appointment.Status.AWAITING_DEPOSIT
    assert not Document.objects.exists()


def test_an_event_naming_another_checkout_is_refused(client, patient, treatment, practitioner, standin):
    _, payment = hold(client, patient, treatment, practitioner, standin)
    payment.refresh_from_db()
    event = standin.complete(payment.provider_session_id)
    event["data"]["object"]["id"] = "cs_test_somebody_else"
    response = post_event(client, event)
    assert response.json()["outcome"].startswith("refused")
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING


def test_unknown_events_are_acknowledged_and_recorded(client, standin):
    response = post_event(client, standin.event("customer.created", {"id": "cus_1"}))
    assert response.status_code == 200 and response.json()["outcome"].startswith("ignored")
    assert ProviderEvent.objects.get().type == "customer.created"


@pytest.mark.parametrize(
    "event_type, status",
    [
        ("checkout.session.expired", Payment.Status.EXPIRED),
        ("checkout.session.async_payment_failed", Payment.Status.FAILED),
    ],
)
def test_an_expired_or_failed_checkout_frees_the_time(
    client, patient, treatment, practitioner, standin, event_type, status
):
    appointment, payment = hold(client, patient, treatment, practitioner, standin)
    payment.refresh_from_db()
    obj = dict(standin.sessions[payment.provider_session_id], status="expired")
    with django_on_commit():
        post_event(client, standin.event(event_type, obj))
    appointment.refresh_from_db()
    payment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED and payment.status == status
    assert availability.check_slot(treatment, practitioner, appointment.start_at)[0] is Verdict.FREE


# --- the hold lapses ----------------------------------------------------------------------------------


def test_an_unpaid_hold_lapses_after_15_minutes_and_frees_the_time(client, patient, treatment, practitioner, standin):
    appointment, payment = hold(client, patient, treatment, practitioner, standin)
    payment.refresh_from_db()
    held_for = payment.hold_expires_at - payment.created_at
    assert datetime.timedelta(minutes=15) - held_for < datetime.timedelta(seconds=1)
    assert services.release_lapsed_holds(now=payment.created_at + datetime.timedelta(minutes=14)) == 0
    with django_on_commit() as callbacks:
        assert services.release_lapsed_holds(now=payment.created_at + datetime.timedelta(minutes=15, seconds=1)) == 1
    appointment.refresh_from_db()
    payment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED and payment.status == Payment.Status.EXPIRED
    assert "not paid within 15 minutes" in appointment.cancellation_reason
    assert standin.sessions[payment.provider_session_id]["status"] == "expired"  # Stripe's page closed too
    assert len(callbacks) >= 2  # the waitlist's offer of the freed time is queued after commit
    assert availability.check_slot(treatment, practitioner, appointment.start_at)[0] is Verdict.FREE


def test_a_payment_arriving_after_the_hold_lapsed_is_refunded(client, patient, treatment, practitioner, standin):
    appointment, payment = hold(client, patient, treatment, practitioner, standin)
    payment.refresh_from_db()
    event = standin.complete(payment.provider_session_id)  # paid on Stripe's page just before it closed
    services.release_lapsed_holds(now=payment.hold_expires_at + datetime.timedelta(seconds=1))
    with django_on_commit():
        response = post_event(client, event)
    assert response.json()["outcome"] == "paid after the hold was released: refunded"
    payment.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert refund.status == Refund.Status.SUCCEEDED and refund.amount == Decimal("50.00")
    assert standin.refunds[refund.provider_refund_id]["amount"] == 5000
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.CANCELLED


# --- the cancellation policy ---------------------------------------------------------------------------


def paid_booking(client, patient, treatment, practitioner, standin):
    appointment, payment = hold(client, patient, treatment, practitioner, standin)
    pay(client, standin, payment)
    return Appointment.objects.get(pk=appointment.pk), Payment.objects.get(pk=payment.pk)


def bring_forward(appointment, hours):
    """Set-up: the appointment is now only so many hours away (as if days had passed since booking)."""
    start = timezone.now().replace(second=0, microsecond=0) + datetime.timedelta(hours=hours)
    Appointment.objects.filter(pk=appointment.pk).update(
        start_at=start, end_at=start + appointment.treatment.duration, busy_until=start + appointment.treatment.duration
    )


def test_cancelling_in_time_refunds_the_deposit_through_stripe(client, patient, treatment, practitioner, standin):
    appointment, payment = paid_booking(client, patient, treatment, practitioner, standin)
    with django_on_commit():
        response = client.post(reverse("appointment_cancel", args=[appointment.pk]), {"reason": "Plans changed"})
    assert response.status_code == 302
    payment.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert payment.deposit_outcome == Payment.DepositOutcome.REFUNDED
    assert refund.status == Refund.Status.SUCCEEDED and refund.amount == Decimal("50.00")
    assert [k for m, p, k in standin.requests if p == "/v1/refunds"] == [refund.idempotency_key]
    assert Document.objects.filter(refund=refund).exists()
    assert services.send_refund(refund.pk) is False  # sent once; a retry does nothing


def test_a_refund_the_provider_could_not_take_is_sent_again_with_the_same_key(
    client, patient, treatment, practitioner, standin
):
    appointment, payment = paid_booking(client, patient, treatment, practitioner, standin)
    standin.fail_refunds = True
    with django_on_commit():
        client.post(reverse("appointment_cancel", args=[appointment.pk]), {"reason": "Plans changed"})
    refund = Refund.objects.get(payment=payment)
    assert refund.status == Refund.Status.PENDING and refund.last_error
    standin.fail_refunds = False
    assert services.send_pending_refunds() == 1
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    keys = {k for m, p, k in standin.requests if p == "/v1/refunds"}
    assert keys == {refund.idempotency_key} and len(standin.refunds) == 1


def test_a_late_cancellation_keeps_the_deposit_and_the_desk_can_waive_it(
    client, patient, treatment, practitioner, standin, desk
):
    appointment, payment = paid_booking(client, patient, treatment, practitioner, standin)
    bring_forward(appointment, hours=5)
    page = client.get(reverse("appointment_cancel", args=[appointment.pk])).content.decode()
    assert "kept as a late-cancellation fee" in page
    client.post(reverse("appointment_cancel", args=[appointment.pk]), {"reason": "Sorry"})
    appointment.refresh_from_db()
    payment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert payment.deposit_outcome == Payment.DepositOutcome.KEPT and not Refund.objects.exists()
    assert "kept as a late-cancellation" in client.get(reverse("payments:mine")).content.decode()

    client.force_login(desk)
    till = client.get(reverse("desk:appointment", args=[appointment.pk])).content.decode()
    assert "Waive fee" in till and "kept as fee £50.00" in till
    no_reason = client.post(reverse("payments:desk_waive_fee", args=[payment.pk]), {"reason": ""})
    assert no_reason.status_code == 302 and Payment.objects.get(pk=payment.pk).deposit_outcome == "kept"
    with django_on_commit():
        client.post(reverse("payments:desk_waive_fee", args=[payment.pk]), {"reason": "Hospital appointment"})
    payment.refresh_from_db()
    assert payment.deposit_outcome == Payment.DepositOutcome.FEE_WAIVED and "Hospital" in payment.note
    assert Refund.objects.get(payment=payment).status == Refund.Status.SUCCEEDED


def test_a_no_show_keeps_the_deposit(client, patient, treatment, practitioner, standin, desk):
    appointment, payment = paid_booking(client, patient, treatment, practitioner, standin)
    bring_forward(appointment, hours=-1)
    client.force_login(desk)
    client.post(reverse("desk:status", args=[appointment.pk, "no-show"]))
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.NO_SHOW
    assert Payment.objects.get(pk=payment.pk).deposit_outcome == Payment.DepositOutcome.KEPT


def test_a_move_keeps_the_deposit_with_the_appointment(client, patient, treatment, practitioner, standin):
    appointment, payment = paid_booking(client, patient, treatment, practitioner, standin)
    client.post(
        reverse("appointment_reschedule", args=[appointment.pk]),
        {"practitioner": practitioner.pk, "start": key(at(day(12), 11))},
    )
    appointment.refresh_from_db()
    assert appointment.start_at == at(day(12), 11)
    payment.refresh_from_db()
    assert payment.appointment_id == appointment.pk and payment.deposit_outcome == Payment.DepositOutcome.HELD


# --- the desk's till, packages ---------------------------------------------------------------------------


def test_the_desk_sells_a_package_and_the_balance_falls_as_sessions_complete(
    client, patient, treatment, practitioner, standin, desk
):
    package = Package.objects.create(name="Course of 6", treatment=treatment, sessions=6, price=Decimal("1200.00"))
    client.force_login(desk)
    client.post(
        reverse("payments:desk_sell_package", args=[patient.pk]), {"package": package.pk, "method": "card_terminal"}
    )
    bought = PatientPackage.objects.get(patient=patient)
    assert bought.balance == 6 and Document.objects.get(payment__patient_package=bought).total == Decimal("1200.00")
    page = client.get(reverse("desk:patient", args=[patient.pk])).content.decode()
    assert "6 of 6 sessions left" in page

    # A session covered by the package needs no deposit online.
    client.force_login(patient.user)
    book_through_the_page(client, treatment, practitioner, at(day(), 10))
    appointment = Appointment.objects.get(patient=patient)
    assert appointment.status == Appointment.Status.BOOKED and not appointment.payments.exists()

    bring_forward(appointment, hours=-2)
    client.force_login(desk)
    client.post(reverse("desk:status", args=[appointment.pk, "complete"]))
    client.post(reverse("desk:status", args=[appointment.pk, "complete"]))  # a second click redeems nothing
    bought.refresh_from_db()
    assert bought.balance == 5 and bought.redemptions.count() == 1
    booking_services.undo_completion(appointment, by=desk, reason="Marked complete by mistake")
    assert PatientPackage.objects.get(pk=bought.pk).balance == 6  # an undone completion gives the session back
    booking_services.complete_appointment(appointment, by=desk)
    bought.refresh_from_db()
    assert bought.balance == 5
    assert "5 of 6 sessions left" in client.get(reverse("desk:patient", args=[patient.pk])).content.decode()

    # Only an admin refunds the unused sessions, pro rata.
    client.post(reverse("payments:desk_package_refund", args=[bought.pk]), {"reason": "Moving abroad"})
    assert PatientPackage.objects.get(pk=bought.pk).status == PatientPackage.Status.ACTIVE
    admin = staff_user(roles.CLINIC_ADMIN)
    refund = services.refund_package_pro_rata(patient_package=bought, by=admin, reason="Moving abroad")
    assert refund.amount == Decimal("1000.00") and refund.status == Refund.Status.SUCCEEDED
    assert PatientPackage.objects.get(pk=bought.pk).status == PatientPackage.Status.REFUNDED


def test_pro_rata_never_pays_out_more_than_the_unused_part():
    bought = PatientPackage(sessions_total=3, sessions_used=1, price_paid=Decimal("100.00"))
    assert services.package_refund_amount(bought) == Decimal("66.66")


def test_the_desk_takes_refunds_and_waives_at_the_till(client, patient, desk):
    client.force_login(desk)
    url = reverse("payments:desk_take", args=[patient.pk])
    client.post(url, {"amount": "80.00", "method": "cash", "note": ""})
    payment = Payment.objects.get(patient=patient, method="cash")
    assert payment.status == Payment.Status.PAID and payment.documents.count() == 1
    client.post(url, {"amount": "30.00", "method": "waived", "note": ""})  # a waiver needs a reason
    assert not Payment.objects.filter(method="waived").exists()
    client.post(url, {"amount": "30.00", "method": "waived", "note": "Goodwill after a late start"})
    assert Payment.objects.get(method="waived").status == Payment.Status.WAIVED
    client.post(reverse("payments:desk_refund", args=[payment.pk]), {"amount": "100.00", "reason": "too much"})
    assert not Refund.objects.exists()  # more than was paid: refused
    client.post(reverse("payments:desk_refund", args=[payment.pk]), {"amount": "20.00", "reason": "Overcharged"})
    assert Refund.objects.get().amount == Decimal("20.00")
    assert "refunded £20.00" in client.get(reverse("desk:patient", args=[patient.pk])).content.decode()


def test_receipts_are_downloadable_by_the_patient_and_the_desk_only(client, patient, desk):
    payment = services.take_desk_payment(patient=patient, amount=Decimal("10"), method="cash", by=desk)
    document = payment.documents.get()
    url = reverse("payments:document_pdf", args=[document.pk])
    response = client.get(url)
    assert response.status_code == 200 and response.content[:5] == b"%PDF-"
    for other in (ClearedPatientFactory().user, PractitionerFactory().user):
        client.force_login(other)
        assert client.get(url).status_code == 404
    client.force_login(desk)
    assert client.get(url).status_code == 200


def test_vat_is_shown_when_the_clinic_is_registered(patient, desk, settings):
    from payments.documents import document_context, vat_included

    settings.PAYMENTS = {**settings.PAYMENTS, "VAT_NUMBER": "GB123456789"}
    payment = services.take_desk_payment(patient=patient, amount=Decimal("240"), method="cash", by=desk)
    context = document_context(payment.documents.get())
    assert context["vat"] == "£40.00" and vat_included(Decimal("240"), None) is None


def test_an_invoice_per_visit_on_request_once(client, patient, desk, treatment, practitioner):
    from tests.factories import AppointmentFactory

    appointment = AppointmentFactory(patient=patient, treatment=treatment, practitioner=practitioner)
    client.force_login(desk)
    url = reverse("payments:desk_invoice", args=[appointment.pk])
    client.post(url)
    assert not Document.objects.filter(kind="invoice").exists()  # nothing paid: nothing to invoice
    services.take_desk_payment(
        patient=patient, amount=Decimal("250"), method="card_terminal", by=desk, appointment=appointment
    )
    client.post(url)
    client.post(url)
    invoice = Document.objects.get(kind="invoice")
    assert invoice.number == f"INV-{timezone.localdate().year}-00001" and invoice.total == Decimal("250.00")


def test_patients_and_practitioners_cannot_use_the_till(client, patient):
    for url in (
        reverse("payments:desk_take", args=[patient.pk]),
        reverse("payments:desk_sell_package", args=[patient.pk]),
    ):
        assert client.post(url, {"amount": "5", "method": "cash"}).status_code == 403
    assert not Payment.objects.exists()


def test_a_rolled_back_payment_gives_its_number_back(patient, desk):
    from django.db import transaction

    services.take_desk_payment(patient=patient, amount=Decimal("1"), method="cash", by=desk)
    try:
        with transaction.atomic():
            services.take_desk_payment(patient=patient, amount=Decimal("2"), method="cash", by=desk)
            raise RuntimeError("the request failed after the payment")
    except RuntimeError:
        pass
    services.take_desk_payment(patient=patient, amount=Decimal("3"), method="cash", by=desk)
    assert sorted(Document.objects.values_list("sequence", flat=True)) == [1, 2]
