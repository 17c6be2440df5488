"""Writes to appointments: book, reschedule, cancel, and the front desk's status changes.

Every write runs in one transaction and:
- takes the patient's row lock first (`lock_patient`, `clinic.locks`: the one lock order of the project, under
  a short `lock_timeout`), so two writes for one patient (two tabs, patient and front desk, an erasure)
  queue and the course-interval check cannot race; a wait beyond the timeout is `PatientBusy`;
- for a write that places an appointment at a time (book, reschedule): asks `consultations.eligibility` at
  one place (`_ensure_eligible`), checks the course interval and re-checks the slot with the availability
  module, then saves inside a savepoint. On PostgreSQL the exclusion constraints are the final guard: a
  concurrent winner makes the save fail with an exclusion violation (23P01), which becomes `SlotTaken`
  with the nearest free times. On SQLite, transactions start IMMEDIATE, so the re-check itself holds;
- writes an `AppointmentEvent` (what, who, when, why) and calls `sync_reminders` after saving;
- sends `hooks.appointment_changed` inside the transaction, so the apps above (payments) write with it.

An online booking (the patient's pages or the API: `ONLINE_SOURCES`) that needs a deposit
(`hooks.steps().needs_deposit`, answered by payments, asked here only, under the patient's lock) is saved as
*awaiting deposit*: it holds its time like any live appointment, gets no reminders, and is either confirmed
(`confirm_awaited_deposit`) or released (`release_deposit_hold`) by payments.

Errors are `BookingError`s whose message can be shown to a patient as it is.
"""

import datetime

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from clinic import access, clock, locks, medicine_advice
from clinic.message_text import place
from clinic.models import Patient
from consultations.eligibility import check_eligibility

from . import availability, hooks, states
from .availability import Verdict
from .models import Appointment, AppointmentEvent
from .reminders.services import announce_cancellation, announce_move, sync_reminders
from .signals import appointment_freed

# Losing a race on PostgreSQL: the exclusion constraint saw a concurrent winner, two inserts waited on each
# other while checking it (PostgreSQL then aborts one of them with a deadlock error), or an insert waited
# longer than the lock timeout for a concurrent one to decide: each time, look again.
RACE_LOST_SQLSTATES = {"23P01", "40P01", locks.LOCK_NOT_AVAILABLE}
PLACE_ATTEMPTS = 4
NOT_OFFERED_MESSAGE = "That time is not offered. Please choose one of the times shown."


class BookingError(Exception):
    """A refusal with a message for the patient (or the front desk)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SlotTaken(BookingError):
    def __init__(self, message: str = "This time was just taken.", alternatives=()):
        super().__init__(message)
        self.alternatives = list(alternatives)


class SlotNotOffered(BookingError):
    pass


class NotEligible(BookingError):
    def __init__(self, message: str, next_step_url: str = ""):
        super().__init__(message)
        self.next_step_url = next_step_url


class CourseIntervalTooShort(BookingError):
    pass


class OutsideCancellationWindow(BookingError):
    pass


class NotAllowed(BookingError):
    pass


class InvalidStatusChange(BookingError):
    pass


class PatientBusy(BookingError):
    """Another write about this patient held their row longer than the lock timeout: try again."""


class UnsafeMedicineAdvice(BookingError):
    """A reason written by staff that the patient can read tells them to stop a blood thinner."""


# --- checks ------------------------------------------------------------------------------------------------


def ensure_may_act_for(user, patient) -> None:
    """A patient acts for themself; the front desk and clinic admins for anyone (`clinic.access.may_act_for`)."""
    if not access.may_act_for(user, patient):
        raise NotAllowed("You can only book, move or cancel your own appointments.")


def _ensure_override_allowed(user, override_reason: str) -> None:
    if override_reason and not access.may_override_eligibility(user):
        raise NotAllowed("Only a clinic admin can override the eligibility check.")


def _ensure_safe_reason(user, patient, reason: str) -> None:
    """A reason staff write is shown to the patient (their appointments, their data): the clinic's
    medicine-advice rule applies (clinic.medicine_advice). A patient's own words about themselves are theirs."""
    if user is not None and getattr(patient, "user_id", None) == user.pk:
        return
    if advice := medicine_advice.find_stop_advice(reason):
        raise UnsafeMedicineAdvice(medicine_advice.refusal_message(advice[0], attributable=False))


def lock_patient(patient) -> Patient:
    """The first lock of every write about a patient, under the lock timeout (`clinic.locks`): one order."""
    try:
        return locks.lock_patient(patient)
    except locks.Busy as busy:
        raise PatientBusy(busy.message) from None


def _ensure_eligible(patient, treatment, override_reason: str) -> None:
    """The one place the booking service asks whether the patient may have this treatment."""
    if override_reason:
        return
    eligibility = check_eligibility(patient, treatment)
    if not eligibility.allowed:
        raise NotEligible(
            eligibility.reason or f"You cannot book {treatment.name} yet.", next_step_url=eligibility.next_step_url
        )


def _ensure_course_interval(patient, treatment, start_at, ignore_appointment=None) -> None:
    day = start_at.astimezone(clock.zone()).date()
    reason = availability.why_day_unavailable(patient, treatment, day, ignore_appointment=ignore_appointment)
    if reason:
        raise CourseIntervalTooShort(reason)


def inside_cancellation_window(appointment, now=None) -> bool:
    """Too close to its time for the patient to move or cancel it online (the front desk still can)."""
    window = datetime.timedelta(hours=settings.CLINIC["CANCELLATION_WINDOW_HOURS"])
    return appointment.start_at - (now or timezone.now()) < window


def patient_can_change(appointment, now=None) -> bool:
    """What the patient's pages offer: move or cancel a booked appointment outside the window."""
    return appointment.status == Appointment.Status.BOOKED and not inside_cancellation_window(appointment, now)


def late_cancellation_terms(appointment, now=None) -> str:
    """Inside the window a patient may still cancel online when the app above says on what terms (payments:
    'your deposit is kept as a fee'); empty when they may not."""
    if appointment.status != Appointment.Status.BOOKED or not inside_cancellation_window(appointment, now):
        return ""
    return hooks.steps().late_cancellation_terms(appointment)


def patient_can_cancel(appointment, now=None) -> bool:
    return (
        patient_can_change(appointment, now)
        or appointment.status == Appointment.Status.AWAITING_DEPOSIT
        or bool(late_cancellation_terms(appointment, now))
    )


def call_the_clinic_message(doing: str = "changed", *, site=None) -> str:
    """What a patient refused online is told: call the appointment's site (`site`; its phone, from
    `clinic.message_text.place`): a Manchester patient refused a late cancellation calls Manchester."""
    hours = settings.CLINIC["CANCELLATION_WINDOW_HOURS"]
    return (
        f"Appointments can be {doing} online up to {hours} hours before. "
        f"Please call the clinic on {place(site)['PHONE']}."
    )


def _ensure_outside_cancellation_window(appointment, user, doing: str) -> None:
    if not access.is_desk(user) and inside_cancellation_window(appointment):
        raise OutsideCancellationWindow(call_the_clinic_message(doing, site=appointment.site))


ONLINE_SOURCES = (Appointment.Source.ONLINE, Appointment.Source.API)


def notice_for(user, source=None) -> datetime.timedelta:
    """The minimum notice a booking or move by this user must respect (`availability.minimum_notice`):
    none for the front desk at its own pages, the online notice for everyone else and every online source."""
    return availability.minimum_notice(desk=access.is_desk(user) and source not in ONLINE_SOURCES)


def slot_taken(treatment, practitioner, start_at, ignore_appointment=None, notice=None, site=None) -> SlotTaken:
    """The refusal for a time someone else has, with the nearest free times instead (at the same site, when
    one was asked for)."""
    alternatives = availability.nearest_free_slots(
        treatment, practitioner, start_at, site=site, ignore_appointment=ignore_appointment, notice=notice
    )
    return SlotTaken("This time was just taken. Please choose another time.", alternatives)


def _offered_slot(treatment, practitioner, start_at, room=None, ignore_appointment=None, notice=None, site=None):
    verdict, slot = availability.check_slot(
        treatment,
        practitioner,
        start_at,
        site=site,
        room=room,
        ignore_appointment=ignore_appointment,
        notice=notice,
    )
    if verdict is Verdict.TAKEN:
        raise slot_taken(treatment, practitioner, start_at, ignore_appointment, notice, site)
    if verdict is not Verdict.FREE:
        raise SlotNotOffered(NOT_OFFERED_MESSAGE)
    return slot


def _lost_race(error: Exception) -> bool:
    return getattr(error.__cause__, "pgcode", None) in RACE_LOST_SQLSTATES


def _place(
    appointment,
    *,
    treatment,
    practitioner,
    start_at,
    room,
    notice,
    site=None,
    ignore_appointment=None,
    update_fields=None,
):
    """Re-check the slot and save the appointment there, in a savepoint; a concurrent winner turns into
    SlotTaken. After a lost race, look again (a few times, no new lock): when the room was picked for the
    patient, a concurrent booking may have taken that room while another is still free. The appointment is
    recorded at its room's site (`Appointment.save`; a foreign key holds it, bookings 0019).
    """
    for _ in range(PLACE_ATTEMPTS):
        slot = _offered_slot(treatment, practitioner, start_at, room, ignore_appointment, notice, site)
        appointment.practitioner = slot.practitioner
        appointment.room = slot.room
        appointment.site = slot.room.site
        appointment.start_at, appointment.end_at, appointment.busy_until = slot.start_at, slot.end_at, slot.busy_until
        try:
            with transaction.atomic():
                appointment.save(update_fields=update_fields)
            return slot
        except (IntegrityError, OperationalError) as error:
            if not _lost_race(error):
                raise
    raise slot_taken(treatment, practitioner, start_at, ignore_appointment, notice, site)


FREEING_ACTIONS = (AppointmentEvent.Action.CANCELLED, AppointmentEvent.Action.RESCHEDULED)


def _record(appointment, action, by, reason="", old_start_at=None, new_start_at=None, old_practitioner_id=None):
    inside_window = inside_cancellation_window(appointment)
    AppointmentEvent.objects.create(
        appointment=appointment,
        action=action,
        by=by,
        reason=reason[:300],
        old_start_at=old_start_at,
        new_start_at=new_start_at,
    )
    sync_reminders(appointment)
    hooks.appointment_changed.send(
        sender=Appointment,
        appointment=appointment,
        action=action,
        by=by,
        old_start_at=old_start_at,
        inside_window=inside_window,
    )
    if action == AppointmentEvent.Action.RESCHEDULED:
        announce_move(appointment)
    if action == AppointmentEvent.Action.CANCELLED:
        announce_cancellation(appointment)
    if action in FREEING_ACTIONS and old_start_at is not None:
        # The waitlist hears of it once this transaction has committed, never inside it (bookings.signals).
        freed = {
            "treatment_id": appointment.treatment_id,
            "practitioner_id": old_practitioner_id or appointment.practitioner_id,
            "start_at": old_start_at,
        }
        transaction.on_commit(lambda: appointment_freed.send(sender=Appointment, **freed))


# --- writes ------------------------------------------------------------------------------------------------


def book_appointment(
    *,
    patient,
    treatment,
    practitioner,
    start_at,
    booked_by,
    source,
    site=None,
    room=None,
    override_reason="",
) -> Appointment:
    """Book a treatment for a patient. practitioner=None books the first one free at that time. site=None:
    at any site (the room's, when a room is given; else the first site, in the sites' order, free then).
    An online booking that the app above says needs a deposit is held as *awaiting deposit* (no reminders)
    until payments confirms it: one rule for every online path, decided here under the patient's lock."""
    override_reason = (override_reason or "").strip()
    ensure_may_act_for(booked_by, patient)
    _ensure_override_allowed(booked_by, override_reason)
    if source not in Appointment.Source.values:
        raise BookingError("Unknown booking source.")
    with transaction.atomic():
        patient = lock_patient(patient)
        _ensure_eligible(patient, treatment, override_reason)
        _ensure_course_interval(patient, treatment, start_at)
        awaiting_deposit = source in ONLINE_SOURCES and hooks.steps().needs_deposit(patient, treatment, start_at)
        appointment = Appointment(
            patient=patient,
            treatment=treatment,
            source=source,
            created_by=booked_by,
            status=Appointment.Status.AWAITING_DEPOSIT if awaiting_deposit else Appointment.Status.BOOKED,
        )
        _place(
            appointment,
            treatment=treatment,
            practitioner=practitioner,
            start_at=start_at,
            site=site,
            room=room,
            notice=notice_for(booked_by, source),
        )
        reason = f"Eligibility check overridden by a clinic admin: {override_reason}" if override_reason else ""
        _record(appointment, AppointmentEvent.Action.BOOKED, booked_by, reason, new_start_at=appointment.start_at)
    return appointment


def reschedule_appointment(appointment, *, new_start_at, by, practitioner=None, site=None, reason="") -> Appointment:
    """Move a booked appointment; its old time is free the moment this commits. Same practitioner unless
    another is given, same site unless another is given; the room is kept if it is free then (at its site).
    A "move" to the same time, practitioner and site changes nothing and records nothing (callers compare
    `start_at` to tell the person)."""
    ensure_may_act_for(by, appointment.patient)
    _ensure_safe_reason(by, appointment.patient, reason)
    with transaction.atomic():
        lock_patient(appointment.patient)
        appointment = Appointment.objects.select_related("treatment", "practitioner", "room__site").get(
            pk=appointment.pk
        )
        if appointment.status != Appointment.Status.BOOKED:
            raise InvalidStatusChange(
                f"This appointment is {appointment.get_status_display().lower()}: it cannot move."
            )
        practitioner = practitioner or appointment.practitioner
        site = site or appointment.room.site
        if (
            new_start_at == appointment.start_at
            and practitioner.pk == appointment.practitioner_id
            and site.pk == appointment.site_id
        ):
            return appointment  # nothing to move: no history, no "Your appointment has moved"
        _ensure_outside_cancellation_window(appointment, by, "moved")
        treatment = appointment.treatment
        _ensure_eligible(appointment.patient, treatment, "")
        _ensure_course_interval(appointment.patient, treatment, new_start_at, ignore_appointment=appointment)
        old_start_at, old_practitioner_id = appointment.start_at, appointment.practitioner_id
        kept_room = appointment.room if appointment.room.site_id == site.pk else None
        notice = notice_for(by)
        verdict = None
        if kept_room is not None:
            verdict, _ = availability.check_slot(
                treatment, practitioner, new_start_at, room=kept_room, ignore_appointment=appointment, notice=notice
            )
        _place(
            appointment,
            treatment=treatment,
            practitioner=practitioner,
            start_at=new_start_at,
            site=site,
            room=kept_room if verdict is Verdict.FREE else None,
            notice=notice,
            ignore_appointment=appointment,
            update_fields=["practitioner", "room", "site", "start_at", "end_at", "busy_until", "updated_at"],
        )
        _record(
            appointment,
            AppointmentEvent.Action.RESCHEDULED,
            by,
            reason,
            old_start_at=old_start_at,
            new_start_at=appointment.start_at,
            old_practitioner_id=old_practitioner_id,
        )
    return appointment


def cancel_appointment(appointment, *, by, reason="") -> Appointment:
    """Cancel; the time is free for others at once (cancelled appointments do not block)."""
    ensure_may_act_for(by, appointment.patient)
    _ensure_safe_reason(by, appointment.patient, reason)
    with transaction.atomic():
        lock_patient(appointment.patient)
        appointment = Appointment.objects.get(pk=appointment.pk)
        if appointment.status not in (Appointment.Status.BOOKED, Appointment.Status.AWAITING_DEPOSIT):
            raise InvalidStatusChange(
                f"This appointment is {appointment.get_status_display().lower()}: it cannot be cancelled."
            )
        if appointment.status == Appointment.Status.BOOKED and not late_cancellation_terms(appointment):
            _ensure_outside_cancellation_window(appointment, by, "cancelled")
        appointment.status = Appointment.Status.CANCELLED
        appointment.cancelled_at = timezone.now()
        appointment.cancellation_reason = reason[:300]
        appointment.save(update_fields=["status", "cancelled_at", "cancellation_reason", "updated_at"])
        _record(appointment, AppointmentEvent.Action.CANCELLED, by, reason, old_start_at=appointment.start_at)
    return appointment


def confirm_awaited_deposit(appointment, *, by=None) -> bool:
    """The deposit is paid: the held appointment becomes booked, and its confirmation and reminders are
    planned. Called by payments inside its own transaction, which has locked the patient first. False
    (nothing changed) when the appointment no longer awaits a deposit (released, cancelled)."""
    with transaction.atomic():
        lock_patient(appointment.patient)
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.status != Appointment.Status.AWAITING_DEPOSIT:
            return False
        appointment.status = Appointment.Status.BOOKED
        appointment.save(update_fields=["status", "updated_at"])
        _record(appointment, AppointmentEvent.Action.DEPOSIT_PAID, by)
    return True


def release_deposit_hold(appointment, *, reason, by=None) -> bool:
    """The deposit was not paid (in time, or the payment failed): the hold is cancelled and its time freed,
    for the waitlist too. False (nothing changed) when the appointment no longer awaits a deposit."""
    with transaction.atomic():
        lock_patient(appointment.patient)
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.status != Appointment.Status.AWAITING_DEPOSIT:
            return False
        appointment.status = Appointment.Status.CANCELLED
        appointment.cancelled_at = timezone.now()
        appointment.cancellation_reason = reason[:300]
        appointment.save(update_fields=["status", "cancelled_at", "cancellation_reason", "updated_at"])
        _record(appointment, AppointmentEvent.Action.CANCELLED, by, reason, old_start_at=appointment.start_at)
    return True


def confirm_appointment(appointment, *, by, via: str) -> Appointment:
    """The patient says they are coming (a reply C, or the link in a message). Confirming twice changes
    nothing the second time; only a booked appointment can be confirmed. `via`: "text" or "link"."""
    ensure_may_act_for(by, appointment.patient)
    with transaction.atomic():
        lock_patient(appointment.patient)
        appointment = Appointment.objects.get(pk=appointment.pk)
        if appointment.status != Appointment.Status.BOOKED:
            raise InvalidStatusChange(
                f"This appointment is {appointment.get_status_display().lower()}: it cannot be confirmed."
            )
        if appointment.confirmed_at is None:
            appointment.confirmed_at = timezone.now()
            appointment.save(update_fields=["confirmed_at", "updated_at"])
            AppointmentEvent.objects.create(
                appointment=appointment, action=AppointmentEvent.Action.CONFIRMED, by=by, reason=f"by {via}"
            )
    return appointment


def _change_status(appointment, *, by, action, reason="") -> Appointment:
    """One status change of the clinic's day, under the patient's lock, if `bookings.states` allows it now."""
    if not access.may_change_appointment_status(by):
        raise NotAllowed("Only clinic staff can change an appointment's status.")
    if action in states.UNDO_ACTIONS:
        if not access.may_undo_status_change(by):
            raise NotAllowed("Only the front desk or a clinic admin can undo a check-in or a completion.")
        reason = (reason or "").strip()
        if not reason:
            raise InvalidStatusChange("Give a reason for undoing it: nothing was changed.")
        _ensure_safe_reason(by, appointment.patient, reason)
    with transaction.atomic():
        lock_patient(appointment.patient)
        appointment = Appointment.objects.select_related("treatment", "patient__user").get(pk=appointment.pk)
        now = timezone.now()
        if refused := states.refusal(action, appointment, now):
            raise InvalidStatusChange(refused)
        fields = ["status", "updated_at"]
        if action == states.CHECK_IN:
            appointment.status, appointment.checked_in_at = Appointment.Status.CHECKED_IN, now
            fields.append("checked_in_at")
        elif action == states.COMPLETE:
            appointment.status, appointment.completed_at = Appointment.Status.COMPLETED, now
            fields.append("completed_at")
        elif action == states.NO_SHOW:
            appointment.status = Appointment.Status.NO_SHOW
        elif action == states.UNDO_CHECK_IN:
            appointment.status, appointment.checked_in_at = Appointment.Status.BOOKED, None
            fields.append("checked_in_at")
        elif action == states.UNDO_COMPLETION:
            appointment.status, appointment.completed_at = states.status_before_completion(appointment), None
            fields.append("completed_at")
        appointment.save(update_fields=fields)
        _record(appointment, STATUS_EVENTS[action], by, reason)
    return appointment


STATUS_EVENTS = {
    states.CHECK_IN: AppointmentEvent.Action.CHECKED_IN,
    states.COMPLETE: AppointmentEvent.Action.COMPLETED,
    states.NO_SHOW: AppointmentEvent.Action.NO_SHOW,
    states.UNDO_CHECK_IN: AppointmentEvent.Action.CHECK_IN_UNDONE,
    states.UNDO_COMPLETION: AppointmentEvent.Action.COMPLETION_UNDONE,
}


def check_in(appointment, *, by) -> Appointment:
    """Only on the appointment's own day (clinic time)."""
    return _change_status(appointment, by=by, action=states.CHECK_IN)


def complete_appointment(appointment, *, by) -> Appointment:
    """Only once it has started; the pre-appointment reminders still pending are cancelled and the aftercare
    is timed from now, the real end (bookings.reminders.timing)."""
    return _change_status(appointment, by=by, action=states.COMPLETE)


def mark_no_show(appointment, *, by) -> Appointment:
    return _change_status(appointment, by=by, action=states.NO_SHOW)


def undo_check_in(appointment, *, by, reason) -> Appointment:
    """Back to booked (the desk checked in the wrong patient, or too early), with a reason in the history."""
    return _change_status(appointment, by=by, action=states.UNDO_CHECK_IN, reason=reason)


def undo_completion(appointment, *, by, reason) -> Appointment:
    """A completion made by mistake, on the day it was made: back to checked in (or booked), with a reason.
    Aftercare not sent yet waits again for the real end; one already sent cannot be unsent."""
    return _change_status(appointment, by=by, action=states.UNDO_COMPLETION, reason=reason)
