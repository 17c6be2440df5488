"""Row locks (clinic/locks.py): one order, patient first, and a short lock timeout.

The waitlist's confirmation used to lock the offer and its entry and then the patient (inside the booking
service), while an erasure locked the patient and then the waitlist rows it deletes: raced, the two could
deadlock, and the loser's deadlock error reached the patient as a 500. Both now lock the patient first, so
one waits for the other and each ends with a result or a refusal a person can read.
"""

import datetime
import threading

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from bookings import services, waitlist
from bookings.models import Appointment, WaitlistEntry
from clinic import locks, roles
from clinic.models import ErasureRequest, Patient
from operations import erasure
from tests.factories import ClearedPatientFactory, PractitionerFactory, RoomFactory, TreatmentFactory, staff_user
from tests.helpers import at, open_every_day

ROUNDS = 6
# What a person may be told when the other write won: each is shown as a message, with a 4xx status.
CLEAN_REFUSALS = (services.BookingError, erasure.ErasureError)


def race(*attempts):
    """Run the callables at the same moment, one thread and one database connection each."""
    barrier = threading.Barrier(len(attempts))
    results = [None] * len(attempts)

    def run(index, attempt):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET deadlock_timeout = '50ms'")  # a deadlock, if any, is reported at once
            barrier.wait(timeout=30)
            results[index] = attempt()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, attempt)) for i, attempt in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is still waiting: a lock was never granted"
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_erasure_and_a_waitlist_confirmation_of_one_patient_raced_both_finish():
    treatment = TreatmentFactory(duration_minutes=60, min_days_between_sessions=0)
    RoomFactory()
    practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    admin = staff_user(roles.CLINIC_ADMIN)
    day = timezone.localdate() + datetime.timedelta(days=7)
    outcomes = []
    for round_number in range(ROUNDS):
        patient = ClearedPatientFactory()
        waitlist.join_waitlist(patient=patient, treatment=treatment, by=patient.user)
        start = at(day, 9 + round_number)
        waitlist.offer_freed_slot(treatment.pk, practitioner.pk, start)
        offer = WaitlistEntry.objects.get(patient=patient).offers.get()
        request = erasure.request_erasure(patient)

        erased, confirmed = race(
            lambda request=request: erasure.complete_erasure(request, by=admin),
            lambda offer=offer, user=patient.user: waitlist.confirm_offer(offer, by=user),
        )

        for result in (erased, confirmed):
            if isinstance(result, Exception):
                assert isinstance(result, CLEAN_REFUSALS), f"round {round_number}: {result!r}"
                assert result.message and "deadlock" not in result.message.lower()
        request.refresh_from_db()
        patient.refresh_from_db()
        if isinstance(erased, ErasureRequest):  # erased: nothing of the waitlist is left, nothing ahead is booked
            assert request.status == ErasureRequest.Status.COMPLETED
            assert not WaitlistEntry.objects.filter(patient=patient).exists()
            assert not Appointment.objects.upcoming().filter(patient=patient, status="booked").exists()
        else:
            assert request.is_open
        outcomes.append(
            (
                "erased" if isinstance(erased, ErasureRequest) else "refused",
                "booked" if isinstance(confirmed, Appointment) else "refused",
            )
        )
    # Never both refused: whichever got the patient's row first went through.
    assert ("refused", "refused") not in outcomes, outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_write_waiting_on_a_held_patient_row_gives_up_after_the_lock_timeout(settings):
    """A booking transaction does not wait for ever behind another one: after BOOKING_LOCK_TIMEOUT_MS it is
    refused with a message to try again, and nothing is written."""
    settings.BOOKING_LOCK_TIMEOUT_MS = 200
    patient = ClearedPatientFactory()
    holding, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                locks.lock_patient(patient)
                holding.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        with pytest.raises(services.PatientBusy) as refusal, transaction.atomic():
            services.lock_patient(patient)
            Patient.objects.filter(pk=patient.pk).update(phone="")
        assert "try again" in refusal.value.message
    finally:
        release.set()
        holder.join(timeout=30)
    patient.refresh_from_db()
    assert patient.phone  # unchanged


def test_rows_of_one_kind_are_locked_in_primary_key_order(django_assert_num_queries, db):
    """lock_objects sorts: two writers locking overlapping sets take them in the same order."""
    first, second = ClearedPatientFactory(), ClearedPatientFactory()
    with transaction.atomic():
        locked = locks.lock_objects(Patient.objects.filter(pk__in=[second.pk, first.pk]))
    assert [p.pk for p in locked] == sorted([first.pk, second.pk])
