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
from django.test import Client
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


def test_unknown_events_are_acknowledged_recorded_and_logged_changing_nothing(client, standin, caplog):
    with caplog.at_level(logging.INFO, logger="payments"):
        response = post_event(client, standin.event("customer.created", {"id": "cus_1"}))
    assert response.status_code == 200 and response.json()["outcome"].startswith("ignored")
    assert ProviderEvent.objects.get().type == "customer.created"
    assert "customer.created" in caplog.text and "ignored" in caplog.text
    assert not Payment.objects.exists() and not Refund.objects.exists() and not Document.objects.exists()


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


@pytest.mark.parametrize("kind", ["receipt", "refund receipt", "invoice"])
def test_receipts_and_invoices_are_for_their_patient_the_desk_and_admins_only(
    client, patient, desk, treatment, practitioner, kind, sign_in
):
    from tests.factories import AppointmentFactory

    appointment = AppointmentFactory(patient=patient, treatment=treatment, practitioner=practitioner)
    payment = services.take_desk_payment(
        patient=patient, amount=Decimal("250"), method="card_terminal", by=desk, appointment=appointment
    )
    if kind == "receipt":
        document = payment.documents.get()
    elif kind == "refund receipt":
        refund = services.refund_payment(payment=payment, amount=Decimal("50"), by=desk, reason="Goodwill")
        document = Document.objects.get(refund=refund)
    else:
        document = services.issue_invoice(appointment=appointment, by=desk)
    url = reverse("payments:document_pdf", args=[document.pk])
    client.logout()
    assert client.get(url).status_code == 302  # to the sign-in page
    expected = [
        (patient.user, 200),
        (ClearedPatientFactory().user, 404),
        (practitioner.user, 404),  # even the patient's own practitioner: money is the desk's
        (desk, 200),
        (staff_user(roles.CLINIC_ADMIN), 200),
    ]
    for user, status in expected:
        sign_in(client, user)
        response = client.get(url)
        assert response.status_code == status, (user, response.status_code)
        if status == 200:
            assert response.content[:5] == b"%PDF-" and document.number in response["Content-Disposition"]


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


# --- one deposit rule for the booking pages and the API ----------------------------------------------------


def book_through_the_api(patient, treatment, practitioner, start_at):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(patient.user)
    body = {"treatment": treatment.slug, "practitioner": practitioner.slug, "start": start_at.isoformat()}
    return api.post("/api/v1/appointments/", body, format="json")


def test_an_api_booking_is_held_awaiting_its_deposit_like_an_online_one(patient, treatment, practitioner, standin):
    start_at = at(day(), 10)
    response = book_through_the_api(patient, treatment, practitioner, start_at)
    assert response.status_code == 201, response.json()
    body = response.json()
    appointment = Appointment.objects.get(pk=body["id"])
    payment = Payment.objects.get(appointment=appointment)
    assert body["status"] == "awaiting_deposit" == appointment.status
    assert body["deposit"]["amount"] == "50.00" and body["deposit"]["currency"] == "GBP"
    assert body["deposit"]["pay_url"].endswith(reverse("payments:deposit", args=[appointment.pk]))
    assert "kept as a fee" in body["deposit"]["terms"]
    assert body["deposit"]["pay_by"].startswith(payment.hold_expires_at.isoformat()[:16])
    assert payment.status == Payment.Status.PENDING and payment.amount == Decimal("50.00")
    assert not Reminder.objects.filter(appointment=appointment).exists()
    # The pay link leads to Stripe's page, and the signed webhook confirms it as for any online booking.
    client = Client()
    client.force_login(patient.user)
    assert client.post(body["deposit"]["pay_url"]).url.startswith(standin.base + "/pay/")
    response, _ = pay(client, standin, payment)
    assert response.json()["outcome"] == "paid: appointment confirmed"
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.BOOKED


def test_without_stripe_keys_an_api_booking_needs_no_deposit(patient, treatment, practitioner, settings):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""
    response = book_through_the_api(patient, treatment, practitioner, at(day(), 10))
    assert response.status_code == 201
    assert response.json()["status"] == "booked" and response.json()["deposit"] is None
    assert not Payment.objects.exists()


def test_a_waitlist_offer_taken_online_follows_the_deposit_rule_too(client, patient, treatment, practitioner, standin):
    from bookings.models import WaitlistEntry, WaitlistOffer

    entry = WaitlistEntry.objects.create(patient=patient, treatment=treatment)
    start_at = at(day(), 10)
    offer = WaitlistOffer.objects.create(
        entry=entry,
        practitioner=practitioner,
        start_at=start_at,
        expires_at=timezone.now() + datetime.timedelta(hours=2),
    )
    response = client.post(reverse("waitlist_offer", args=[offer.pk]))
    appointment = Appointment.objects.get(patient=patient, start_at=start_at)
    assert appointment.status == Appointment.Status.AWAITING_DEPOSIT and appointment.payments.get().status == "pending"
    assert response.status_code == 302 and response.url == reverse("payments:deposit", args=[appointment.pk])


def test_the_desk_never_holds_a_booking_for_a_deposit(patient, treatment, practitioner, standin, desk):
    appointment = booking_services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=at(day(), 10),
        booked_by=desk,
        source=Appointment.Source.PHONE,
    )
    assert appointment.status == Appointment.Status.BOOKED and not Payment.objects.exists()


def sold_package(patient, treatment, *, sessions=6, used=0):
    package = Package.objects.create(
        name=f"Course of {sessions}", treatment=treatment, sessions=sessions, price=Decimal("1200")
    )
    bought = services.sell_package(patient=patient, package=package, method="cash", by=staff_user(roles.FRONT_DESK))
    PatientPackage.objects.filter(pk=bought.pk).update(sessions_used=used)
    return bought


@pytest.mark.parametrize("through", ["page", "api"])
def test_a_packages_last_session_covers_one_online_booking_not_two(
    client, patient, treatment, practitioner, standin, through
):
    sold_package(patient, treatment, sessions=6, used=5)
    first_at, second_at = at(day(), 10), at(day(40), 10)
    for start_at in (first_at, second_at):
        if through == "page":
            book_through_the_page(client, treatment, practitioner, start_at)
        else:
            assert book_through_the_api(patient, treatment, practitioner, start_at).status_code == 201
    first, second = (Appointment.objects.get(patient=patient, start_at=t) for t in (first_at, second_at))
    assert first.status == Appointment.Status.BOOKED and not first.payments.exists()
    assert second.status == Appointment.Status.AWAITING_DEPOSIT and second.payments.get().status == "pending"
    # A cancelled booking gives its session back (the held one would use it when completed: let it go too).
    booking_services.cancel_appointment(first, by=patient.user)
    booking_services.cancel_appointment(second, by=patient.user)
    third_at = at(day(75), 10)  # the course interval after the second
    book_through_the_page(client, treatment, practitioner, third_at)
    assert Appointment.objects.get(patient=patient, start_at=third_at).status == Appointment.Status.BOOKED


def test_a_package_that_expires_before_the_visit_does_not_cover_it(client, patient, treatment, practitioner, standin):
    bought = sold_package(patient, treatment)
    PatientPackage.objects.filter(pk=bought.pk).update(expires_at=at(day(5), 0))
    book_through_the_page(client, treatment, practitioner, at(day(), 10))
    assert Appointment.objects.get(patient=patient).status == Appointment.Status.AWAITING_DEPOSIT


# --- refunds made in Stripe's dashboard (charge.refunded) ------------------------------------------------


def test_a_refund_made_in_stripes_dashboard_is_recorded_once_with_its_receipt(
    client, patient, treatment, practitioner, standin, caplog
):
    appointment, payment = paid_booking(client, patient, treatment, practitioner, standin)
    payment.refresh_from_db()
    event = standin.refund_in_dashboard(payment.provider_payment_id, 2000)
    with caplog.at_level(logging.WARNING, logger="payments"), django_on_commit():
        response = post_event(client, event)
    assert response.status_code == 200 and response.json()["outcome"] == "refunded in Stripe: £20.00 recorded"
    assert "refunded outside the app" in caplog.text
    refund = Refund.objects.get(payment=payment)
    assert refund.amount == Decimal("20.00") and refund.status == Refund.Status.SUCCEEDED
    assert refund.provider_refund_id.startswith("re_") and Document.objects.filter(refund=refund).count() == 1
    payment.refresh_from_db()
    assert payment.deposit_outcome == Payment.DepositOutcome.HELD  # £30 is still held
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.BOOKED

    # The same delivery again, and another event telling the same state: nothing more.
    assert post_event(client, event).json()["outcome"] == "already handled"
    same_state = standin.event("charge.refunded", event["data"]["object"])
    assert post_event(client, same_state).json()["outcome"] == "refund already recorded"
    assert Refund.objects.filter(payment=payment).count() == 1

    # The rest refunded in the dashboard later: the difference is recorded, the deposit is refunded.
    post_event(client, standin.refund_in_dashboard(payment.provider_payment_id))
    assert sorted(Refund.objects.filter(payment=payment).values_list("amount", flat=True)) == [
        Decimal("20.00"),
        Decimal("30.00"),
    ]
    payment.refresh_from_db()
    assert payment.deposit_outcome == Payment.DepositOutcome.REFUNDED and services.refundable(payment) == 0


def test_our_own_refund_seen_on_the_charge_is_not_recorded_twice(client, patient, treatment, practitioner, standin):
    appointment, payment = paid_booking(client, patient, treatment, practitioner, standin)
    with django_on_commit():
        client.post(reverse("appointment_cancel", args=[appointment.pk]), {"reason": "Plans changed"})
    ours = Refund.objects.get(payment=payment)
    payment.refresh_from_db()
    charge = {
        "id": "ch_x",
        "object": "charge",
        "amount": 5000,
        "amount_refunded": 5000,
        "currency": "gbp",
        "payment_intent": payment.provider_payment_id,
        "metadata": {"payment_id": str(payment.pk)},
        "refunds": {"object": "list", "data": [{"id": ours.provider_refund_id, "amount": 5000}]},
    }
    assert post_event(client, standin.event("charge.refunded", charge)).json()["outcome"] == "refund already recorded"
    assert list(Refund.objects.filter(payment=payment)) == [ours]


@pytest.mark.parametrize(
    "tamper, expected",
    [
        ({"currency": "usd"}, "does not match"),
        ({"amount": 9999}, "does not match"),
        ({"amount_refunded": 6000}, "does not match"),
        ({"amount_refunded": "lots"}, "unreadable"),
        ({"payment_intent": "pi_somebody_else"}, "no payment of ours"),
        ({"metadata": {"payment_id": "999999"}}, "no payment of ours"),
    ],
)
def test_a_charge_refunded_event_that_does_not_match_changes_nothing_and_is_logged(
    client, patient, treatment, practitioner, standin, tamper, expected, caplog
):
    _, payment = paid_booking(client, patient, treatment, practitioner, standin)
    payment.refresh_from_db()
    event = standin.refund_in_dashboard(payment.provider_payment_id)
    event["data"]["object"].update(tamper)
    with caplog.at_level(logging.WARNING, logger="payments"):
        outcome = post_event(client, event).json()["outcome"]
    assert outcome.startswith("refused") and expected in outcome
    assert expected in caplog.text
    assert not Refund.objects.exists()
    assert Payment.objects.get(pk=payment.pk).deposit_outcome == Payment.DepositOutcome.HELD


def test_a_failed_refund_is_marked_failed_and_can_be_given_again(client, patient, treatment, practitioner, standin):
    appointment, payment = paid_booking(client, patient, treatment, practitioner, standin)
    standin.fail_refunds = True
    client.post(reverse("appointment_cancel", args=[appointment.pk]), {"reason": "Plans changed"})
    refund = Refund.objects.get(payment=payment)
    event = standin.event(
        "refund.failed",
        {"id": "re_failed", "object": "refund", "amount": 5000, "currency": "gbp", "status": "failed",
         "metadata": {"refund_id": str(refund.pk)}},
    )  # fmt: skip
    assert post_event(client, event).json()["outcome"] == "refund failed"
    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED and "failed" in refund.last_error
    payment.refresh_from_db()
    assert services.refundable(payment) == Decimal("50.00")  # the desk can refund it again


# --- receipt emails: an outbox with retries ---------------------------------------------------------------

FAILING_MAIL = "tests.email_backends.FailingBackend"
WORKING_MAIL = "django.core.mail.backends.locmem.EmailBackend"


def test_a_receipt_email_the_mail_server_refused_is_sent_again_by_beat_once(patient, desk, settings, caplog):
    from payments import documents, tasks

    settings.EMAIL_BACKEND = FAILING_MAIL
    mail.outbox.clear()
    with django_on_commit():
        payment = services.take_desk_payment(patient=patient, amount=Decimal("80.00"), method="cash", by=desk)
    receipt = payment.documents.get()
    assert (receipt.email_status, receipt.email_attempts) == (Document.Email.PENDING, 1)
    assert "refused" in receipt.email_last_error and receipt.emailed_at is None and mail.outbox == []
    first_retry = receipt.email_next_attempt_at
    assert first_retry > timezone.now()

    settings.EMAIL_BACKEND = WORKING_MAIL
    assert documents.send_due_document_emails() == 0  # not before its backoff
    assert documents.send_due_document_emails(now=first_retry) == 1
    (message,) = mail.outbox
    assert message.to == [patient.user.email] and receipt.number in message.subject
    assert message.attachments[0][0] == f"{receipt.number}.pdf"
    assert message.extra_headers["Message-ID"] == documents.message_id(receipt)  # the same on every try
    receipt.refresh_from_db()
    assert (receipt.email_status, receipt.email_attempts, receipt.email_last_error) == ("sent", 2, "")
    assert receipt.emailed_at is not None
    assert documents.send_due_document_emails(now=first_retry + datetime.timedelta(days=1)) == 0  # once
    assert tasks.send_due_document_emails() == 0
    assert "payments.tasks.send_due_document_emails" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


def test_a_receipt_email_fails_for_good_after_the_last_attempt_and_stays_downloadable(client, patient, desk, settings):
    from payments import documents

    settings.EMAIL_BACKEND = FAILING_MAIL
    settings.REMINDER_MAX_ATTEMPTS = 2
    with django_on_commit():
        payment = services.take_desk_payment(patient=patient, amount=Decimal("80.00"), method="cash", by=desk)
    receipt = payment.documents.get()
    documents.send_due_document_emails(now=Document.objects.get(pk=receipt.pk).email_next_attempt_at)
    receipt.refresh_from_db()
    assert (receipt.email_status, receipt.email_attempts) == (Document.Email.FAILED, 2)
    assert documents.send_due_document_emails(now=timezone.now() + datetime.timedelta(days=9)) == 0
    response = client.get(reverse("payments:document_pdf", args=[receipt.pk]))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_no_receipt_email_is_owed_to_a_placeholder_address(desk):
    from clinic.models import PLACEHOLDER_EMAIL_DOMAIN
    from tests.factories import PatientFactory

    patient = PatientFactory(user__email=f"walk-in-1@{PLACEHOLDER_EMAIL_DOMAIN}")
    payment = services.take_desk_payment(patient=patient, amount=Decimal("10.00"), method="cash", by=desk)
    assert payment.documents.get().email_status == Document.Email.NONE


# --- the patient's copy of their data, and erasure ----------------------------------------------------------


def money_history(patient, desk, treatment):
    payment = services.take_desk_payment(patient=patient, amount=Decimal("80.00"), method="cash", by=desk)
    services.refund_payment(payment=payment, amount=Decimal("30.00"), by=desk, reason="Goodwill")
    bought = sold_package(patient, treatment, sessions=6, used=0)
    return payment, bought


def test_the_copy_of_a_patients_data_holds_their_money_and_nothing_of_another(
    client, patient, desk, treatment, django_assert_max_num_queries
):
    from operations.patient_data import patient_data

    payment, bought = money_history(patient, desk, treatment)
    other = ClearedPatientFactory()
    services.take_desk_payment(patient=other, amount=Decimal("999.00"), method="cash", by=desk)
    data = json.loads(client.get(reverse("my_data_json")).content)["payments"]
    assert [(p["for"], p["amount"], p["status"]) for p in data["payments"]] == [
        ("Session", "80.00", "Paid"),
        ("Course package", "1200.00", "Paid"),
    ]
    assert [(r["amount"], r["reason"], r["status"]) for r in data["refunds"]] == [("30.00", "Goodwill", "Refunded")]
    numbers = [d["number"] for d in data["receipts_and_invoices"]]
    assert numbers == [d.number for d in Document.objects.filter(patient=patient).order_by("issued_at", "pk")]
    assert len(numbers) == 3  # the payment, its refund, the package
    (package,) = data["course_packages"]
    assert (package["sessions"], package["left"], package["price_paid"]) == (6, 6, "1200.00")
    assert "999.00" not in json.dumps(data)

    page = client.get(reverse("my_data")).content.decode()
    assert "Receipts and invoices" in page and numbers[0] in page and "Course packages" in page

    with django_assert_max_num_queries(25):  # the same as with none (tests/test_patient_rights.py)
        patient_data(patient)
    for _ in range(5):
        money_history(patient, desk, treatment)
    with django_assert_max_num_queries(25):
        assert len(patient_data(patient)["payments"]["payments"]) == 12


def test_erasure_keeps_the_money_records_and_releases_a_held_deposit(
    client, patient, desk, treatment, practitioner, standin, settings
):
    from clinic.models import ErasureRequest
    from operations import erasure

    payment, bought = money_history(patient, desk, treatment)
    PatientPackage.objects.filter(pk=bought.pk).update(sessions_used=6)  # used up: the next booking pays
    appointment, deposit = hold(client, patient, treatment, practitioner, standin)
    settings.EMAIL_BACKEND = FAILING_MAIL
    with django_on_commit():
        owed = services.take_desk_payment(patient=patient, amount=Decimal("5.00"), method="cash", by=desk)
    assert owed.documents.get().email_status == Document.Email.PENDING  # the mail server refused it
    settings.EMAIL_BACKEND = WORKING_MAIL
    kept = {
        "payments": set(Payment.objects.filter(patient=patient).values_list("pk", flat=True)),
        "refunds": set(Refund.objects.filter(payment__patient=patient).values_list("pk", flat=True)),
        "documents": set(Document.objects.filter(patient=patient).values_list("pk", "sequence")),
    }

    request = ErasureRequest.objects.create(patient=patient)
    erasure.complete_erasure(request, by=staff_user(roles.CLINIC_ADMIN))

    appointment.refresh_from_db()
    deposit.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED and deposit.status == Payment.Status.EXPIRED
    assert set(Payment.objects.filter(patient=patient).values_list("pk", flat=True)) == kept["payments"]
    assert set(Refund.objects.filter(payment__patient=patient).values_list("pk", flat=True)) == kept["refunds"]
    assert set(Document.objects.filter(patient=patient).values_list("pk", "sequence")) == kept["documents"]
    assert PatientPackage.objects.filter(pk=bought.pk).exists()
    # The receipt still owed by email is owed to nobody now: nothing goes to the placeholder address.
    mail.outbox.clear()
    from payments import documents

    documents.send_due_document_emails(now=timezone.now() + datetime.timedelta(days=1))
    assert mail.outbox == [] and owed.documents.get().email_status == Document.Email.NONE
    client.force_login(desk)
    pdf = client.get(reverse("payments:document_pdf", args=[owed.documents.get().pk]))
    assert pdf.status_code == 200


# --- the demo clinic ---------------------------------------------------------------------------------------


def test_the_demo_has_deposit_policies_and_packages_yet_needs_no_deposit_without_stripe_keys(client, settings):
    import io

    from django.core.management import call_command

    from clinic.models import Patient, Treatment

    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # a second run makes nothing twice
    policies = {p.treatment.slug: p.kind for p in DepositPolicy.objects.select_related("treatment")}
    assert policies == {
        "consultation": "none",
        "microneedling-thighs": "fixed",
        "microneedling-buttocks": "share",
        "microneedling-abdomen": "fixed",
    }
    assert Package.objects.filter(active=True).count() == 4
    patient = Patient.objects.get(user__email="patient@clinic.example")
    (bought,) = PatientPackage.objects.filter(patient=patient)
    assert (bought.sessions_total, bought.balance, bought.redemptions.count()) == (6, 5, 1)
    assert Document.objects.filter(payment__patient_package=bought).count() == 1

    buttocks = Treatment.objects.get(slug="microneedling-buttocks")
    later = timezone.now() + datetime.timedelta(days=10)
    settings.STRIPE_SECRET_KEY = settings.STRIPE_WEBHOOK_SECRET = ""  # make run: no keys
    assert services.needs_deposit(patient, buttocks, later) is False
    assert services.deposit_amount(buttocks) == Decimal("40.00")  # 20 % of £200, once Stripe is set up
    settings.STRIPE_SECRET_KEY, settings.STRIPE_WEBHOOK_SECRET = "sk_test_x", "whsec_x"
    assert services.needs_deposit(patient, buttocks, later) is True

    client.force_login(staff_user(roles.FRONT_DESK))
    page = client.get(reverse("desk:patient", args=[patient.pk])).content.decode()
    assert "5 of 6 sessions left" in page and "Buttocks: course of 6" in page
