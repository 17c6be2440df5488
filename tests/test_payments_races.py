"""Money races on PostgreSQL, with real concurrent transactions (threads on a barrier, one connection each):

- two patients paying for the last slot: the hold is the booking, so one holds it and the other is told;
- a webhook arriving while the hold lapses: either confirmed, or released and refunded, never both;
- two deliveries of one event at once: handled once;
- 20 payments at once: receipt numbers 1..20, no gap, no repeat.
"""

import datetime
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from bookings import services as booking_services
from bookings.models import Appointment
from clinic import roles
from payments import services
from payments.models import DepositPolicy, Document, Payment, ProviderEvent, Refund
from tests.factories import (
    ClearedPatientFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    staff_user,
)
from tests.helpers import at, open_every_day
from tests.stripe_standin import sign, stripe_at_standin
from tests.test_booking_races import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def standin(settings):
    with stripe_at_standin(settings) as server:
        yield server


@pytest.fixture
def world():
    treatment = TreatmentFactory(price=Decimal("250"))
    DepositPolicy.objects.create(treatment=treatment, kind=DepositPolicy.Kind.FIXED, amount=Decimal("50"))
    RoomFactory()
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    return treatment, practitioner


def start(days=9, hour=10):
    return at(timezone.localdate() + datetime.timedelta(days=days), hour)


def held(patient, treatment, practitioner, when):
    return booking_services.book_appointment(
        patient=patient,
        treatment=treatment,
        practitioner=practitioner,
        start_at=when,
        booked_by=patient.user,
        source=Appointment.Source.ONLINE,
        awaiting_deposit=True,
    )


def checkout(standin, appointment):
    return services.checkout_url_for(appointment, success_url="http://x/ok", cancel_url="http://x/no")


def deliver(event):
    payload = json.dumps(event)
    response = Client().post(
        "/payments/stripe/webhook/", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=sign(payload)
    )
    return response.status_code, response.json().get("outcome")


def test_two_patients_paying_for_the_last_slot_one_holds_it(world, standin):
    treatment, practitioner = world
    first, second = ClearedPatientFactory(), ClearedPatientFactory()
    when = start()
    results = race([lambda p=p: held(p, treatment, practitioner, when) for p in (first, second)])
    holds = [r for r in results if isinstance(r, Appointment)]
    taken = [r for r in results if isinstance(r, booking_services.SlotTaken)]
    assert len(holds) == 1 and len(taken) == 1, results
    assert Payment.objects.filter(purpose="deposit", status="pending").count() == 1
    assert holds[0].status == Appointment.Status.AWAITING_DEPOSIT


def test_a_webhook_arriving_while_the_hold_lapses_is_confirmed_or_refunded_never_both(world, standin):
    treatment, practitioner = world
    for round_ in range(4):
        patient = ClearedPatientFactory()
        appointment = held(patient, treatment, practitioner, start(days=9 + round_))
        checkout(standin, appointment)
        payment = Payment.objects.get(appointment=appointment)
        event = standin.complete(payment.provider_session_id)
        lapse_at = payment.hold_expires_at + datetime.timedelta(seconds=1)
        race([lambda e=event: deliver(e), lambda p=payment.pk, t=lapse_at: services.lapse_hold(p, now=t)])
        appointment.refresh_from_db()
        payment.refresh_from_db()
        assert payment.status == Payment.Status.PAID  # the money arrived either way
        refunds = Refund.objects.filter(payment=payment)
        if appointment.status == Appointment.Status.BOOKED:
            assert payment.deposit_outcome == Payment.DepositOutcome.HELD and not refunds.exists()
        else:
            assert appointment.status == Appointment.Status.CANCELLED
            assert payment.deposit_outcome == Payment.DepositOutcome.REFUNDED and refunds.count() == 1
    assert ProviderEvent.objects.count() == 4


def test_two_deliveries_of_one_event_at_once_are_handled_once(world, standin):
    treatment, practitioner = world
    appointment = held(ClearedPatientFactory(), treatment, practitioner, start())
    checkout(standin, appointment)
    payment = Payment.objects.get(appointment=appointment)
    event = standin.complete(payment.provider_session_id)
    results = race([lambda: deliver(event) for _ in range(2)])
    assert sorted(outcome for _, outcome in results) == ["already handled", "paid: appointment confirmed"], results
    assert ProviderEvent.objects.count() == 1 and Document.objects.filter(payment=payment).count() == 1
    assert Appointment.objects.get(pk=appointment.pk).status == Appointment.Status.BOOKED


def test_receipt_numbers_stay_gapless_and_unique_under_20_concurrent_payments():
    desk = staff_user(roles.FRONT_DESK)
    patients = [PatientFactory() for _ in range(20)]

    def pay(patient):
        return services.take_desk_payment(patient=patient, amount=Decimal("25.00"), method="card_terminal", by=desk)

    results = race([lambda p=p: pay(p) for p in patients])
    assert all(isinstance(r, Payment) for r in results), results
    numbers = sorted(Document.objects.filter(kind="receipt").values_list("sequence", flat=True))
    assert numbers == list(range(1, 21))
