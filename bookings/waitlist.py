"""The waitlist, in one module: who may wait, who is offered a freed time, who gets it.

- Joining (`join_waitlist`): a patient, or the front desk for them, waits for a treatment with one
  practitioner or any, within an optional range of clinic-local days and before an optional day. One
  waiting entry per patient, treatment and practitioner (or 'any'); the database holds that too.
- A freed time: the booking service sends `bookings.signals.appointment_freed` once a cancellation or a
  move has committed, and `bookings.tasks.queue_waitlist_offers` queues the Celery task `offer_freed_slot`:
  nothing is sent for a change that rolls back, and the booking never waits for the broker (a refused
  message is logged; the cancellation stands). The booking service never imports this module.
- Offering (`offer_freed_slot`): if the time is still free (the availability module says so), the first
  `WAITLIST_OFFERS_PER_SLOT` waiting entries in joining order whose range holds the time, who are eligible
  (`consultations.eligibility.check_eligibility`) and whose course interval allows that day get an offer
  by email (and text message if they opted in). One offer row per entry and slot (a unique constraint):
  a retried or duplicated task finds the rows and their `sent_at`, and sends nothing twice.
- An offer expires after `WAITLIST_OFFER_MINUTES`, or earlier when the time would be inside the minimum
  notice by then.
- Confirming (`confirm_offer`) books through `bookings.services.book_appointment`, so the database's
  no-overlap guard decides between two waiters confirming at once: the first gets the appointment and
  the entry is fulfilled; the other hears that the time was just taken and stays on the waitlist.
"""

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinic import access, clock
from clinic.models import Practitioner, Treatment
from consultations.eligibility import check_eligibility

from . import availability, services
from .models import Appointment, AppointmentEvent, WaitlistEntry, WaitlistOffer
from .waitlist_messages import queue_offer_messages

Status = WaitlistEntry.Status
OfferStatus = WaitlistOffer.Status


class WaitlistError(services.BookingError):
    """A refusal with a message for the patient or the front desk; nothing was written."""


class OfferClosed(WaitlistError):
    pass


def offers_per_slot() -> int:
    return settings.WAITLIST_OFFERS_PER_SLOT


def offer_lifetime() -> datetime.timedelta:
    return datetime.timedelta(minutes=settings.WAITLIST_OFFER_MINUTES)


def practitioner_label(practitioner) -> str:
    return practitioner.name if practitioner else "any practitioner"


# --- joining and leaving ------------------------------------------------------------------------------


def validate_days(earliest_day, latest_day, before_day) -> list[str]:
    """What is wrong with a range of days, as patient-facing sentences (the form and the service ask)."""
    errors = []
    now_day = clock.today()
    if earliest_day and earliest_day < now_day:
        errors.append("The first day has passed: choose today or later.")
    if latest_day and latest_day < now_day:
        errors.append("The last day has passed: choose today or later.")
    if before_day and before_day <= now_day:
        errors.append("The 'before' day must be after today.")
    if earliest_day and latest_day and latest_day < earliest_day:
        errors.append("The last day is before the first day.")
    if earliest_day and before_day and before_day <= earliest_day:
        errors.append("The 'before' day must be after the first day.")
    return errors


def join_waitlist(
    *, patient, treatment, practitioner=None, earliest_day=None, latest_day=None, before_day=None, by
) -> WaitlistEntry:
    """Put a patient on the waitlist. Refusals (another patient's account, an unknown or inactive treatment,
    a practitioner who does not offer it, days in the past, an entry already waiting) write nothing."""
    services.ensure_may_act_for(by, patient)
    if treatment is None or not treatment.active:
        raise WaitlistError("That treatment is not offered: choose one from the list.")
    if practitioner is not None and not availability.practitioners_offering(treatment).filter(pk=practitioner.pk):
        raise WaitlistError(f"{practitioner.name} does not offer {treatment.name}: choose another practitioner.")
    errors = validate_days(earliest_day, latest_day, before_day)
    if errors:
        raise WaitlistError(" ".join(errors))
    eligibility = check_eligibility(patient, treatment)
    if not eligibility.allowed:
        raise WaitlistError(eligibility.reason or f"{treatment.name} cannot be booked yet.")
    duplicate = WaitlistError(
        f"Already on the waitlist for {treatment.name} with {practitioner_label(practitioner)}: "
        "change or leave that entry instead."
    )
    with transaction.atomic():
        services.lock_patient(patient)
        if waiting_entries().filter(patient=patient, treatment=treatment, practitioner=practitioner).exists():
            raise duplicate
        try:
            with transaction.atomic():
                return WaitlistEntry.objects.create(
                    patient=patient,
                    treatment=treatment,
                    practitioner=practitioner,
                    earliest_day=earliest_day,
                    latest_day=latest_day,
                    before_day=before_day,
                    created_by=by,
                )
        except IntegrityError:
            raise duplicate from None


def leave_waitlist(entry, *, by) -> WaitlistEntry:
    services.ensure_may_act_for(by, entry.patient)
    with transaction.atomic():
        services.lock_patient(entry.patient)
        entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if entry.status != Status.WAITING:
            raise WaitlistError("This entry is no longer on the waitlist.")
        entry.status = Status.LEFT
        entry.closed_at = timezone.now()
        entry.save(update_fields=["status", "closed_at"])
        entry.offers.filter(status=OfferStatus.OFFERED).update(status=OfferStatus.EXPIRED, answered_at=timezone.now())
    return entry


def waiting_entries():
    return WaitlistEntry.objects.filter(status=Status.WAITING)


def wants(entry: WaitlistEntry, start_at: datetime.datetime) -> bool:
    """Does the entry's range of days hold this time?"""
    day = clock.local_day(start_at)
    return (
        (entry.earliest_day is None or day >= entry.earliest_day)
        and (entry.latest_day is None or day <= entry.latest_day)
        and (entry.before_day is None or day < entry.before_day)
    )


# --- a freed time -------------------------------------------------------------------------------------


def offer_expiry(start_at: datetime.datetime, now: datetime.datetime) -> datetime.datetime:
    """Two hours (by default), and never into the minimum notice before the time itself."""
    last_moment = start_at - datetime.timedelta(hours=settings.CLINIC["MIN_NOTICE_HOURS"])
    return min(now + offer_lifetime(), last_moment)


def _offer_suits(entry: WaitlistEntry, start_at: datetime.datetime) -> bool:
    patient, treatment = entry.patient, entry.treatment
    if not check_eligibility(patient, treatment).allowed:
        return False
    if availability.why_day_unavailable(patient, treatment, clock.local_day(start_at)):
        return False
    return not Appointment.objects.live().filter(patient=patient).overlapping(start_at, start_at + treatment.duration)


def lapsed(now):
    """Offers nobody answered in time."""
    return Q(status=OfferStatus.EXPIRED) | Q(status=OfferStatus.OFFERED, expires_at__lte=now)


def matching_entries(treatment, practitioner, start_at, limit: int, now=None) -> list[WaitlistEntry]:
    """The first `limit` waiting entries, in joining order, that want this time and may have it. An entry
    that let an offer of this very time lapse is passed over: the time goes to the next waiter."""
    let_lapse = WaitlistOffer.objects.filter(practitioner=practitioner, start_at=start_at).filter(
        lapsed(now or timezone.now())
    )
    candidates = (
        waiting_entries()
        .filter(treatment=treatment)
        .filter(Q(practitioner=practitioner) | Q(practitioner__isnull=True))
        .exclude(pk__in=let_lapse.values("entry_id"))
        .select_related("patient__user", "treatment")
        .order_by("created_at", "pk")
    )
    chosen = []
    for entry in candidates.iterator():
        if wants(entry, start_at) and _offer_suits(entry, start_at):
            chosen.append(entry)
            if len(chosen) == limit:
                break
    return chosen


def offer_freed_slot(treatment_id: int, practitioner_id: int, start_at: datetime.datetime, now=None) -> list[int]:
    """Offer a freed time to the first matching waiters; returns the ids of offers sent by THIS call.

    Safe to run twice or concurrently: offer rows are unique per entry and slot, and each is sent once.
    """
    now = now or timezone.now()
    treatment = Treatment.objects.filter(pk=treatment_id).first()
    practitioner = Practitioner.objects.filter(pk=practitioner_id).select_related("user").first()
    if treatment is None or practitioner is None:
        return []
    verdict, _ = availability.check_slot(treatment, practitioner, start_at, now=now)
    expires_at = offer_expiry(start_at, now)
    if verdict is not availability.Verdict.FREE or expires_at <= now:
        return []
    entries = matching_entries(treatment, practitioner, start_at, offers_per_slot(), now)
    # A waiter who lost this time to someone else and sees it freed again gets the offer again.
    WaitlistOffer.objects.filter(entry__in=entries, practitioner=practitioner, start_at=start_at).filter(
        status=OfferStatus.TAKEN
    ).update(status=OfferStatus.OFFERED, expires_at=expires_at, sent_at=None, sms_sent_at=None, answered_at=None)
    WaitlistOffer.objects.bulk_create(
        [WaitlistOffer(entry=e, practitioner=practitioner, start_at=start_at, expires_at=expires_at) for e in entries],
        ignore_conflicts=True,
    )
    offer_ids = WaitlistOffer.objects.filter(
        entry__in=entries, practitioner=practitioner, start_at=start_at, sent_at__isnull=True
    ).values_list("pk", flat=True)
    return [offer_id for offer_id in offer_ids if send_offer(offer_id)]


def pass_on_lapsed_offers(now=None) -> int:
    """Run by beat every few minutes: offers that lapsed unanswered are closed, and each of their times, if
    still free, goes to the next waiters in line. Returns how many new offers went out."""
    now = now or timezone.now()
    lapsing = WaitlistOffer.objects.filter(status=OfferStatus.OFFERED, expires_at__lte=now)
    slots = set(lapsing.values_list("entry__treatment_id", "practitioner_id", "start_at"))
    lapsing.update(status=OfferStatus.EXPIRED)
    return sum(len(offer_freed_slot(t_id, p_id, start_at, now=now)) for t_id, p_id, start_at in sorted(slots))


def offer_missed_freed_times(now=None) -> int:
    """Times freed in the last day whose offer task never ran (the broker was down when they were freed):
    offered now, if still free and still ahead. Returns how many offers went out."""
    now = now or timezone.now()
    waited_for = waiting_entries().values("treatment_id")
    freed = (
        AppointmentEvent.objects.filter(
            action__in=(AppointmentEvent.Action.CANCELLED, AppointmentEvent.Action.RESCHEDULED),
            at__gte=now - datetime.timedelta(days=1),
            old_start_at__gt=now,  # whether it is still bookable (notice, hours) is availability's call
            appointment__treatment_id__in=waited_for,
        )
        .exclude(old_start_at__in=WaitlistOffer.objects.values("start_at"))
        .values_list("appointment__treatment_id", "appointment__practitioner_id", "old_start_at")
        .distinct()
    )
    return sum(len(offer_freed_slot(t_id, p_id, start_at, now=now)) for t_id, p_id, start_at in sorted(freed))


def send_offer(offer_id: int) -> bool:
    """Send one offer once: the row is locked and marked sent in the transaction that writes its messages into
    the notices' outbox (sent after the commit, with the outbox's guarantees); a second copy of the task skips
    it (or, on SQLite, loses the conditional update)."""
    with transaction.atomic():
        offer = (
            WaitlistOffer.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("entry__patient__user", "entry__treatment", "practitioner__user")
            .filter(pk=offer_id, sent_at__isnull=True, status=OfferStatus.OFFERED)
            .first()
        )
        if offer is None:
            return False
        if not reachable_by_message(offer.entry.patient):
            # No message can reach them: the offer is not "sent"; the desk's waitlist page asks for a call.
            WaitlistOffer.objects.filter(pk=offer.pk, call_needed_at__isnull=True).update(call_needed_at=timezone.now())
            return False
        if not WaitlistOffer.objects.filter(pk=offer.pk, sent_at__isnull=True).update(sent_at=timezone.now()):
            return False
        queue_offer_messages(offer)
    return True


def reachable_by_message(patient) -> bool:
    """An offer reaches a patient by email (a real address) or by text (they agreed, and have a number)."""
    return patient.user.has_real_email or bool(patient.sms_opt_in and patient.phone)


def needs_a_call(offer: WaitlistOffer, now=None) -> bool:
    """An open offer nothing could be sent for: the desk phones the patient."""
    return bool(
        offer.call_needed_at
        and not offer.sent_at
        and offer.status == OfferStatus.OFFERED
        and offer.expires_at > (now or timezone.now())
    )


def offer_state(offer: WaitlistOffer, now=None) -> str:
    """What the desk reads about an offer."""
    now = now or timezone.now()
    if offer.status == OfferStatus.OFFERED and offer.expires_at <= now:
        return "Expired"
    if offer.status != OfferStatus.OFFERED:
        return offer.get_status_display()
    if needs_a_call(offer, now):
        return f"Not sent (no email, no texts): phone the patient before {clock.time_text(offer.expires_at)}"
    if offer.sent_at:
        return f"Sent {clock.time_text(offer.sent_at)}, open until {clock.time_text(offer.expires_at)}"
    return "Being sent"


# --- confirming ---------------------------------------------------------------------------------------


def is_open(offer: WaitlistOffer, now=None) -> bool:
    return (
        offer.status == OfferStatus.OFFERED
        and offer.entry.status == Status.WAITING
        and offer.expires_at > (now or timezone.now())
    )


def why_closed(offer: WaitlistOffer, now=None) -> str:
    if offer.status == OfferStatus.ACCEPTED:
        return "You accepted this time: it is booked."
    if offer.status == OfferStatus.TAKEN:
        return "This time was just taken by someone else. You stay on the waitlist."
    if offer.entry.status != Status.WAITING:
        return "This waitlist entry is closed."
    if offer.status == OfferStatus.EXPIRED or offer.expires_at <= (now or timezone.now()):
        return "This offer has expired. You stay on the waitlist for the next free time."
    return ""


def confirm_offer(offer: WaitlistOffer, *, by) -> Appointment:
    """Book the offered time for the waiter through the booking service; the entry is then fulfilled and
    every other open offer of that time is closed. A lost race marks this offer taken and re-raises.

    Locks in the one order (`clinic.locks`): the patient first, then this offer and its entry (a second
    click waits, then finds it accepted); the database's no-overlap guard decides between two waiters. An
    offer gone meanwhile (the patient's data erased) is refused like a closed one."""
    patient = offer.entry.patient
    services.ensure_may_act_for(by, patient)
    try:
        with transaction.atomic():
            services.lock_patient(patient)
            offer = (
                WaitlistOffer.objects.select_for_update(of=("self", "entry"))
                .select_related("entry")
                .filter(pk=offer.pk)
                .first()
            )
            if offer is None:
                raise OfferClosed("This offer is no longer open.")
            reason = why_closed(offer)
            if reason:
                raise OfferClosed(reason)
            entry = offer.entry
            appointment = services.book_appointment(
                patient=entry.patient,
                treatment=entry.treatment,
                practitioner=offer.practitioner,
                start_at=offer.start_at,
                booked_by=by,
                source=Appointment.Source.FRONT_DESK if access.is_desk(by) else Appointment.Source.ONLINE,
            )
            now = timezone.now()
            offer.status, offer.answered_at = OfferStatus.ACCEPTED, now
            offer.save(update_fields=["status", "answered_at"])
            entry.status, entry.closed_at, entry.appointment = Status.FULFILLED, now, appointment
            entry.save(update_fields=["status", "closed_at", "appointment"])
    except services.SlotTaken:
        WaitlistOffer.objects.filter(pk=offer.pk, status=OfferStatus.OFFERED).update(
            status=OfferStatus.TAKEN, answered_at=timezone.now()
        )
        raise services.SlotTaken(
            "This time was just taken by someone else. You stay on the waitlist for the next free time."
        ) from None
    _close_other_offers(offer)
    return appointment


def _close_other_offers(accepted: WaitlistOffer) -> None:
    """After the winner committed: the other offers of that time are taken, the entry's other offers end.
    Not in the winner's transaction, which would wait on a concurrent confirmer's offer row while that
    confirmer waits on the winner's appointment (a deadlock). A confirmer who finds an offer still open
    loses in the booking service and is told the time was taken."""
    now = timezone.now()
    WaitlistOffer.objects.filter(
        practitioner=accepted.practitioner, start_at=accepted.start_at, status=OfferStatus.OFFERED
    ).update(status=OfferStatus.TAKEN, answered_at=now)
    WaitlistOffer.objects.filter(entry_id=accepted.entry_id, status=OfferStatus.OFFERED).update(
        status=OfferStatus.EXPIRED, answered_at=now
    )


# --- reads --------------------------------------------------------------------------------------------


def patient_entries(patient):
    return (
        WaitlistEntry.objects.filter(patient=patient)
        .select_related("treatment", "practitioner__user", "appointment")
        .order_by("-status", "created_at")
    )


def staff_entries(treatment=None, practitioner=None):
    """Waiting entries for the front desk, in the order they will be offered times, each with its offers
    (`entry.offers.all()`, latest time first; one more query)."""
    entries = (
        waiting_entries()
        .select_related("patient__user", "treatment", "practitioner__user", "created_by")
        .prefetch_related(
            Prefetch(
                "offers", queryset=WaitlistOffer.objects.select_related("practitioner__user").order_by("-start_at")
            )
        )
    )
    if treatment is not None:
        entries = entries.filter(treatment=treatment)
    if practitioner is not None:
        entries = entries.filter(Q(practitioner=practitioner) | Q(practitioner__isnull=True))
    return entries.order_by("treatment__name", "created_at", "pk")


def patient_offer_or_404(patient, pk):
    return get_object_or_404(
        WaitlistOffer.objects.select_related("entry__treatment", "practitioner__user", "entry__patient"),
        pk=pk,
        entry__patient=patient,
    )
