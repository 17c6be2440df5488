"""The waitlist: joining, offers when a time is freed, first to confirm gets it, leaving, the front desk."""

import datetime
import threading

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from bookings import services, waitlist
from bookings.models import Appointment, WaitlistEntry, WaitlistOffer
from clinic import roles, sms
from clinic.celery import app
from tests.factories import (
    ClearedPatientFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentFactory,
    staff_user,
)
from tests.helpers import at, book_online, open_every_day

Status = WaitlistEntry.Status
OfferStatus = WaitlistOffer.Status


def in_days(days):
    return timezone.localdate() + datetime.timedelta(days=days)


@pytest.fixture
def treatment():
    return TreatmentFactory(duration_minutes=60, buffer_after_minutes=15, min_days_between_sessions=28)


@pytest.fixture
def practitioner(treatment):
    RoomFactory()
    return open_every_day(PractitionerFactory(treatments=[treatment]))


@pytest.fixture
def tasks_run_in_process():
    """Queued tasks run at once in this process (the after-commit wiring is real; no worker needed)."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def wait(patient, treatment, practitioner=None, **days):
    return waitlist.join_waitlist(
        patient=patient, treatment=treatment, practitioner=practitioner, by=patient.user, **days
    )


def committed(action, *args, **kwargs):
    """Run what the worker runs, with the after-commit work of its transaction: an offer's messages are
    outbox rows (clinic.notices) handed over once the offer is committed."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return action(*args, **kwargs)


def offer_emails():
    return [m for m in mail.outbox if "earlier time" in m.subject]


def offered_patients():
    return set(WaitlistOffer.objects.values_list("entry__patient", flat=True))


# --- joining ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_patient_joins_from_the_booking_page_link_and_sees_the_entry(client, treatment, practitioner):
    patient = ClearedPatientFactory()
    client.force_login(patient.user)
    page = client.get(reverse("book_treatment", args=[treatment.slug]))
    assert reverse("waitlist_join") in page.content.decode()
    form = client.get(reverse("waitlist_join"), {"treatment": treatment.slug, "practitioner": practitioner.pk})
    assert form.status_code == 200
    response = client.post(
        reverse("waitlist_join"),
        {"treatment": treatment.slug, "practitioner": practitioner.pk, "before_day": in_days(20).isoformat()},
        follow=True,
    )
    assert "You are on the waitlist" in response.content.decode()
    entry = WaitlistEntry.objects.get()
    assert (entry.patient, entry.practitioner, entry.before_day, entry.status) == (
        patient,
        practitioner,
        in_days(20),
        Status.WAITING,
    )
    assert treatment.name in client.get(reverse("waitlist_mine")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, message",
    [
        ({"earliest_day": "PAST"}, "The first day has passed"),
        ({"before_day": "TODAY"}, "The &#x27;before&#x27; day must be after today"),
        ({"treatment": "no-such-treatment"}, "That treatment is not offered"),
        ({"earliest_day": "+10", "latest_day": "+5"}, "The last day is before the first day"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_writes_nothing(client, treatment, practitioner, data, message):
    patient = ClearedPatientFactory()
    client.force_login(patient.user)
    dates = {"PAST": in_days(-1), "TODAY": in_days(0), "+10": in_days(10), "+5": in_days(5)}
    post = {"treatment": treatment.slug, **{k: str(dates.get(v, v)) for k, v in data.items()}}
    response = client.post(reverse("waitlist_join"), post)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db
def test_a_duplicate_entry_is_refused_clearly(client, treatment, practitioner):
    patient = ClearedPatientFactory()
    wait(patient, treatment, practitioner)
    client.force_login(patient.user)
    response = client.post(reverse("waitlist_join"), {"treatment": treatment.slug, "practitioner": practitioner.pk})
    assert response.status_code == 400
    assert "Already on the waitlist" in response.content.decode()
    # 'any practitioner' is another entry; a second 'any' is a duplicate again
    wait(patient, treatment)
    with pytest.raises(waitlist.WaitlistError, match="Already on the waitlist"):
        wait(patient, treatment)
    assert WaitlistEntry.objects.count() == 2


@pytest.mark.django_db
def test_a_patient_not_cleared_is_told_why_and_not_added(treatment, practitioner):
    with pytest.raises(waitlist.WaitlistError, match="health form"):
        wait(PatientFactory(), treatment, practitioner)
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db
def test_a_practitioner_who_does_not_offer_the_treatment_is_refused(treatment, practitioner):
    other = PractitionerFactory()
    with pytest.raises(waitlist.WaitlistError, match="does not offer"):
        wait(ClearedPatientFactory(), treatment, other)


# --- offers ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cancellation_offers_the_time_to_the_first_matching_eligible_waiters(
    settings, treatment, practitioner, tasks_run_in_process, django_capture_on_commit_callbacks
):
    settings.WAITLIST_OFFERS_PER_SLOT = 2
    sms.outbox.clear()
    day = in_days(7)
    holder = ClearedPatientFactory()
    appointment = book_online(holder, treatment, practitioner, at(day, 10))

    other_practitioner = open_every_day(PractitionerFactory(treatments=[treatment]))
    wait(ClearedPatientFactory(), treatment, other_practitioner)  # another practitioner
    wait(ClearedPatientFactory(), treatment, latest_day=day - datetime.timedelta(days=1))  # range ends before
    wait(ClearedPatientFactory(), treatment, before_day=day)  # 'before' that day
    suspended = ClearedPatientFactory()
    wait(suspended, treatment)
    suspend_clearance(suspended)  # a later answer suspended the clearance: not eligible now
    in_course = ClearedPatientFactory()
    book_online(in_course, treatment, practitioner, at(day + datetime.timedelta(days=3), 10))  # too close: 28 days
    wait(in_course, treatment)
    first = ClearedPatientFactory(sms_opt_in=True, phone="07700 900001")
    wait(first, treatment)
    second = ClearedPatientFactory()
    wait(second, treatment, practitioner, earliest_day=day, latest_day=day)
    third = ClearedPatientFactory()
    wait(third, treatment)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.cancel_appointment(appointment, by=holder.user, reason="Cannot come")
    assert len(callbacks) == 4  # the offer task; then, after it commits, two offer emails and one text

    assert offered_patients() == {first.pk, second.pk}
    offers = list(WaitlistOffer.objects.all())
    assert all(o.start_at == appointment.start_at and o.practitioner == practitioner for o in offers)
    assert all(o.sent_at and o.expires_at <= timezone.now() + datetime.timedelta(hours=2) for o in offers)
    assert sorted(m.to[0] for m in offer_emails()) == sorted([first.user.email, second.user.email])
    assert all("first to confirm" in m.body and "/waitlist/offers/" in m.body for m in offer_emails())
    assert [s.to for s in sms.outbox] == [first.phone]


def suspend_clearance(patient):
    from consultations.models import Review

    Review.objects.filter(intake__patient=patient).update(suspended_at=timezone.now())


@pytest.mark.django_db
def test_ineligible_waiters_are_skipped(settings, treatment, practitioner):
    """A waiter whose clearance lapsed after joining is not offered the time; the next one is."""
    settings.WAITLIST_OFFERS_PER_SLOT = 1
    lapsed, next_one = ClearedPatientFactory(), ClearedPatientFactory()
    wait(lapsed, treatment)
    wait(next_one, treatment)
    from consultations.models import Review

    Review.objects.filter(intake__patient=lapsed).update(valid_until=in_days(-1))  # the clearance expired
    start = at(in_days(7), 11)
    sent = waitlist.offer_freed_slot(treatment.pk, practitioner.pk, start)
    assert len(sent) == 1
    assert offered_patients() == {next_one.pk}


@pytest.mark.django_db
def test_a_move_offers_the_old_time(treatment, practitioner, tasks_run_in_process, django_capture_on_commit_callbacks):
    holder, waiter = ClearedPatientFactory(), ClearedPatientFactory()
    appointment = book_online(holder, treatment, practitioner, at(in_days(7), 10))
    wait(waiter, treatment, practitioner)
    with django_capture_on_commit_callbacks(execute=True):
        services.reschedule_appointment(appointment, new_start_at=at(in_days(8), 10), by=holder.user)
    offer = WaitlistOffer.objects.get()
    assert (offer.entry.patient, offer.start_at) == (waiter, at(in_days(7), 10))


@pytest.mark.django_db
def test_nothing_is_offered_when_the_change_rolls_back(treatment, practitioner, django_capture_on_commit_callbacks):
    holder = ClearedPatientFactory()
    appointment = book_online(holder, treatment, practitioner, at(in_days(7), 10))
    stranger = ClearedPatientFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks, pytest.raises(services.NotAllowed):
        services.cancel_appointment(appointment, by=stranger.user)
    assert callbacks == []


@pytest.mark.django_db
def test_the_offer_task_run_twice_sends_each_offer_once(treatment, practitioner):
    from bookings.tasks import offer_freed_slot

    waiter = ClearedPatientFactory()
    wait(waiter, treatment)
    start = at(in_days(7), 10).isoformat()
    assert committed(offer_freed_slot, treatment.pk, practitioner.pk, start) == 1
    assert committed(offer_freed_slot, treatment.pk, practitioner.pk, start) == 0
    assert WaitlistOffer.objects.count() == 1
    assert len(offer_emails()) == 1


@pytest.mark.django_db
def test_a_time_that_is_no_longer_free_is_not_offered(treatment, practitioner):
    wait(ClearedPatientFactory(), treatment)
    start = at(in_days(7), 10)
    book_online(ClearedPatientFactory(), treatment, practitioner, start)
    assert waitlist.offer_freed_slot(treatment.pk, practitioner.pk, start) == []
    assert not WaitlistOffer.objects.exists()


# --- confirming -----------------------------------------------------------------------------------------


def two_offers(treatment, practitioner):
    first, second = ClearedPatientFactory(), ClearedPatientFactory()
    wait(first, treatment)
    wait(second, treatment, practitioner)
    start = at(in_days(7), 10)
    waitlist.offer_freed_slot(treatment.pk, practitioner.pk, start)
    return WaitlistOffer.objects.get(entry__patient=first), WaitlistOffer.objects.get(entry__patient=second)


@pytest.mark.django_db
def test_first_to_confirm_gets_it_and_the_second_is_told_it_was_taken(client, treatment, practitioner):
    first_offer, second_offer = two_offers(treatment, practitioner)
    client.force_login(second_offer.entry.patient.user)
    page = client.get(reverse("waitlist_offer", args=[second_offer.pk]))
    assert "Book this time" in page.content.decode()
    response = client.post(reverse("waitlist_offer", args=[second_offer.pk]), follow=True)
    assert "You are booked" in response.content.decode()
    appointment = Appointment.objects.get(patient=second_offer.entry.patient)
    assert appointment.start_at == second_offer.start_at
    second_offer.entry.refresh_from_db()
    assert (second_offer.entry.status, second_offer.entry.appointment) == (Status.FULFILLED, appointment)

    client.force_login(first_offer.entry.patient.user)
    response = client.post(reverse("waitlist_offer", args=[first_offer.pk]))
    assert response.status_code == 400
    assert "just taken" in response.content.decode()
    first_offer.refresh_from_db()
    first_offer.entry.refresh_from_db()
    assert first_offer.status == OfferStatus.TAKEN and first_offer.entry.status == Status.WAITING
    assert Appointment.objects.count() == 1


@pytest.mark.clock
@pytest.mark.django_db
def test_an_expired_offer_cannot_be_confirmed(client, treatment, practitioner):
    offer, _ = two_offers(treatment, practitioner)
    WaitlistOffer.objects.filter(pk=offer.pk).update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    client.force_login(offer.entry.patient.user)
    assert "has expired" in client.get(reverse("waitlist_offer", args=[offer.pk])).content.decode()
    response = client.post(reverse("waitlist_offer", args=[offer.pk]))
    assert response.status_code == 400
    assert "has expired" in response.content.decode()
    assert not Appointment.objects.exists()
    offer.entry.refresh_from_db()
    assert offer.entry.status == Status.WAITING


@pytest.mark.django_db
def test_another_patients_offer_and_entry_answer_404(client, treatment, practitioner):
    offer, _ = two_offers(treatment, practitioner)
    client.force_login(ClearedPatientFactory().user)
    assert client.get(reverse("waitlist_offer", args=[offer.pk])).status_code == 404
    assert client.post(reverse("waitlist_offer", args=[offer.pk])).status_code == 404
    assert client.post(reverse("waitlist_leave", args=[offer.entry_id])).status_code == 404
    assert client.get(reverse("waitlist_offer", args=[999999])).status_code == 404
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_a_patient_leaves_the_waitlist_and_is_offered_nothing(client, treatment, practitioner):
    patient = ClearedPatientFactory()
    entry = wait(patient, treatment)
    client.force_login(patient.user)
    response = client.post(reverse("waitlist_leave", args=[entry.pk]), follow=True)
    assert "You have left the waitlist" in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Status.LEFT
    assert waitlist.offer_freed_slot(treatment.pk, practitioner.pk, at(in_days(7), 10)) == []
    wait(patient, treatment)  # may join again


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_waiters_confirming_at_once_give_one_appointment(treatment, practitioner):
    first_offer, second_offer = two_offers(treatment, practitioner)
    barrier = threading.Barrier(2)
    results = [None, None]

    def confirm(index, offer):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET deadlock_timeout = '50ms'")
            barrier.wait(timeout=30)
            results[index] = waitlist.confirm_offer(offer, by=offer.entry.patient.user)
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=confirm, args=(i, o)) for i, o in enumerate([first_offer, second_offer])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # The loser is refused either in the booking service (the two raced there: SlotTaken) or, when the
    # winner had committed and closed the other offers before the loser read its own, by finding its offer
    # taken (OfferClosed): which one depends on how the threads were scheduled, and both say the same.
    booked = [r for r in results if isinstance(r, Appointment)]
    refused = [r for r in results if isinstance(r, services.SlotTaken | waitlist.OfferClosed)]
    assert len(booked) == 1 and len(refused) == 1, results
    assert "just taken" in str(refused[0])
    assert Appointment.objects.count() == 1
    offers = sorted(
        WaitlistOffer.objects.filter(pk__in=[first_offer.pk, second_offer.pk]).values_list("status", flat=True)
    )
    assert offers == sorted([OfferStatus.ACCEPTED, OfferStatus.TAKEN])
    statuses = sorted(WaitlistEntry.objects.values_list("status", flat=True))
    assert statuses == [Status.FULFILLED, Status.WAITING]


# --- the front desk -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_front_desk_adds_a_patient_and_sees_the_list(
    client, treatment, practitioner, django_assert_max_num_queries
):
    desk = staff_user(roles.FRONT_DESK)
    patient = ClearedPatientFactory()
    client.force_login(desk)
    form = client.get(reverse("waitlist_desk_add"), {"patient": patient.pk, "treatment": treatment.slug})
    assert patient.user.email in form.content.decode()
    response = client.post(
        reverse("waitlist_desk_add"),
        {"patient_email": patient.user.email, "treatment": treatment.slug, "practitioner": practitioner.pk},
        follow=True,
    )
    assert "is on the waitlist" in response.content.decode()
    entry = WaitlistEntry.objects.get()
    assert (entry.patient, entry.created_by) == (patient, desk)

    unknown = client.post(
        reverse("waitlist_desk_add"), {"patient_email": "nobody@example.com", "treatment": treatment.slug}
    )
    assert unknown.status_code == 400 and "No patient has that email" in unknown.content.decode()

    for _ in range(5):
        wait(ClearedPatientFactory(), treatment)
    with django_assert_max_num_queries(14):  # + each entry's offers (one query)
        page = client.get(reverse("waitlist_desk"), {"treatment": treatment.slug, "practitioner": practitioner.pk})
    assert page.status_code == 200
    assert page.content.decode().count("Remove</button>") == 6

    client.post(reverse("waitlist_desk_remove", args=[entry.pk]))
    entry.refresh_from_db()
    assert entry.status == Status.LEFT
    assert WaitlistEntry.objects.count() == 6


@pytest.mark.django_db
def test_patients_cannot_see_the_desk_list(client):
    client.force_login(ClearedPatientFactory().user)
    assert client.get(reverse("waitlist_desk")).status_code == 403
    assert client.get(reverse("waitlist_desk_add")).status_code == 403


# --- through a real Redis broker and worker --------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_cancellation_reaches_a_real_worker_through_redis_and_a_duplicate_task_sends_nothing(treatment, practitioner):
    from celery.contrib.testing.worker import start_worker

    from bookings.tasks import offer_freed_slot
    from tests.test_reminders_worker import wait_for_the_queued_tasks

    app.control.purge()
    holder, waiter = ClearedPatientFactory(), ClearedPatientFactory()
    appointment = book_online(holder, treatment, practitioner, at(in_days(7), 10))
    wait(waiter, treatment)
    services.cancel_appointment(appointment, by=holder.user)  # commits: the task is queued in Redis
    offer_freed_slot.delay(treatment.pk, practitioner.pk, appointment.start_at.isoformat())  # a duplicate
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        # Both tasks were queued before this health check, and a solo worker runs them in order: its answer
        # means the offer and its duplicate have both run (a fixed sleep let a slow machine miss the duplicate).
        wait_for_the_queued_tasks()
    app.control.purge()
    assert WaitlistOffer.objects.get().entry.patient == waiter
    assert [m.to for m in offer_emails()] == [[waiter.user.email]]


# --- offers nobody answered, times freed again ----------------------------------------------------------


@pytest.mark.clock
@pytest.mark.django_db
def test_an_offer_nobody_answers_in_time_goes_to_the_next_waiter(settings, treatment, practitioner):
    settings.WAITLIST_OFFERS_PER_SLOT = 1
    first, second, third = ClearedPatientFactory(), ClearedPatientFactory(), ClearedPatientFactory()
    for patient in (first, second, third):
        wait(patient, treatment)
    start = at(in_days(7), 10)
    committed(waitlist.offer_freed_slot, treatment.pk, practitioner.pk, start)
    assert offered_patients() == {first.pk}
    assert waitlist.pass_on_lapsed_offers() == 0  # still open: nothing to pass on

    later = timezone.now() + datetime.timedelta(hours=3)  # the first offer lapsed unanswered
    assert committed(waitlist.pass_on_lapsed_offers, now=later) == 1
    lapsed = WaitlistOffer.objects.get(entry__patient=first)
    assert lapsed.status == OfferStatus.EXPIRED and lapsed.answered_at is None
    assert offered_patients() == {first.pk, second.pk}
    assert [m.to[0] for m in offer_emails()] == [first.user.email, second.user.email]
    assert waitlist.pass_on_lapsed_offers(now=later) == 0  # run twice: nobody is offered it twice


@pytest.mark.django_db
def test_a_time_taken_then_freed_again_is_offered_again_to_the_waiter_who_lost_it(
    client, treatment, practitioner, django_capture_on_commit_callbacks, tasks_run_in_process
):
    first_offer, second_offer = two_offers(treatment, practitioner)
    client.force_login(second_offer.entry.patient.user)
    client.post(reverse("waitlist_offer", args=[second_offer.pk]))  # the second waiter books it
    client.force_login(first_offer.entry.patient.user)
    assert client.post(reverse("waitlist_offer", args=[first_offer.pk])).status_code == 400  # too late
    mail.outbox.clear()

    booked = Appointment.objects.get(patient=second_offer.entry.patient)
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_appointment(booked, by=booked.patient.user, reason="Something came up")
    first_offer.refresh_from_db()
    assert first_offer.status == OfferStatus.OFFERED and first_offer.sent_at is not None
    assert [m.to[0] for m in offer_emails()] == [first_offer.entry.patient.user.email]
    response = client.post(reverse("waitlist_offer", args=[first_offer.pk]), follow=True)
    assert "You are booked" in response.content.decode()


@pytest.mark.django_db
def test_a_time_whose_offer_task_was_lost_with_the_broker_is_offered_by_the_sweep(
    treatment, practitioner, django_capture_on_commit_callbacks
):
    holder, waiter = ClearedPatientFactory(), ClearedPatientFactory()
    wait(waiter, treatment)
    appointment = book_online(holder, treatment, practitioner, at(in_days(7), 10))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:  # the broker was down: never queued
        services.cancel_appointment(appointment, by=holder.user, reason="Cannot come")
    assert len(callbacks) == 1 and not WaitlistOffer.objects.exists()

    assert committed(waitlist.offer_missed_freed_times) == 1
    assert offered_patients() == {waiter.pk}
    assert [m.to[0] for m in offer_emails()] == [waiter.user.email]
    assert waitlist.offer_missed_freed_times() == 0  # offered once: the next sweep leaves it to the offer


@pytest.mark.django_db
def test_a_waiter_booked_by_phone_without_an_address_gets_the_offer_by_text_only(treatment, practitioner):
    sms.outbox.clear()
    waiter = ClearedPatientFactory(
        user__email="no-email-abc123@patients.invalid", sms_opt_in=True, phone="07700 900558"
    )
    wait(waiter, treatment)
    assert len(committed(waitlist.offer_freed_slot, treatment.pk, practitioner.pk, at(in_days(7), 10))) == 1
    assert offer_emails() == [] and [s.to for s in sms.outbox] == ["+447700900558"]


# --- the desk's view of offers (issue #15 part 8) -----------------------------------------------------------


@pytest.mark.django_db
def test_an_offer_to_a_patient_with_no_way_to_reach_them_is_not_sent_and_the_desk_is_asked_to_phone(
    client, treatment, practitioner
):
    sms.outbox.clear()
    unreachable = ClearedPatientFactory(
        user__email="no-email-def456@patients.invalid", sms_opt_in=False, phone="07700 900559"
    )
    wait(unreachable, treatment)
    reachable = ClearedPatientFactory()
    wait(reachable, treatment)
    committed(waitlist.offer_freed_slot, treatment.pk, practitioner.pk, at(in_days(7), 10))

    quiet = WaitlistOffer.objects.get(entry__patient=unreachable)
    assert quiet.sent_at is None and quiet.call_needed_at is not None
    assert [m.to[0] for m in offer_emails()] == [reachable.user.email] and sms.outbox == []
    assert WaitlistOffer.objects.get(entry__patient=reachable).sent_at is not None
    assert waitlist.send_offer(quiet.pk) is False  # a retried task still sends nothing

    client.force_login(staff_user(roles.FRONT_DESK))
    page = client.get(reverse("waitlist_desk")).content.decode()
    assert "1 offer could not be sent" in page
    assert "Not sent (no email, no texts): phone the patient before" in page
    assert page.count("Sent ") == 1 and "open until" in page
    assert "patients.invalid" not in page


@pytest.mark.django_db
def test_the_desk_list_shows_each_entrys_offers_and_their_state(
    client, treatment, practitioner, django_assert_max_num_queries
):
    patient = ClearedPatientFactory()
    entry = wait(patient, treatment)
    now = timezone.now()
    for days, status in ((7, WaitlistOffer.Status.EXPIRED), (8, WaitlistOffer.Status.TAKEN)):
        WaitlistOffer.objects.create(
            entry=entry, practitioner=practitioner, start_at=at(in_days(days), 10), expires_at=now, status=status
        )
    client.force_login(staff_user(roles.FRONT_DESK))
    with django_assert_max_num_queries(14):
        page = client.get(reverse("waitlist_desk")).content.decode()
    assert "Expired" in page and "Taken by someone else" in page
    assert page.index(f"{in_days(8):%a} {in_days(8).day}") < page.index(f"{in_days(7):%a} {in_days(7).day}")


@pytest.mark.django_db
def test_the_desk_add_form_never_shows_a_placeholder_address(client, treatment, practitioner):
    patient = ClearedPatientFactory(user__email="no-email-ghi789@patients.invalid", user__first_name="Pat")
    client.force_login(staff_user(roles.FRONT_DESK))
    form = client.get(reverse("waitlist_desk_add"), {"patient": patient.pk, "treatment": treatment.slug})
    html = form.content.decode()
    assert "patients.invalid" not in html and "Pat" in html and "07700 900123" in html
    assert f'name="patient" value="{patient.pk}"' in html and 'name="patient_email"' not in html
    from tests.browser_forms import submitted_data

    data = submitted_data(html, action="")
    response = client.post(reverse("waitlist_desk_add") + f"?patient={patient.pk}", data, follow=True)
    assert "is on the waitlist" in response.content.decode()
    assert WaitlistEntry.objects.get().patient == patient
