"""The reminder timeline: which messages an appointment gets, on which channels, and when. The one place
these rules live; the outbox, the dispatcher and the pages ask here.

Offsets are plain durations (48 hours before is 48 real hours, also across a daylight-saving change); the
texts show every time in the clinic's zone.
"""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from bookings.models import Appointment, AppointmentEvent, ReminderChannel, ReminderKind, TreatmentReminder
from clinic import clock
from clinic.models import Treatment

Kind = ReminderKind
AT_BOOKING, BEFORE_START, AFTER_END = "at_booking", "before_start", "after_end"


@dataclass(frozen=True)
class Step:
    kind: str
    anchor: str
    default_offset_hours: int | None
    subject: str
    essential: bool  # confirmations and safety messages go even to patients who opted out of the rest
    sms: bool  # also sent by text message to patients who opted in
    sessions_only: bool  # needles only: nothing to prepare for or heal from after a consultation


# `None` offset for the next session: the treatment's minimum interval between sessions of a course.
TIMELINE = (
    Step(Kind.CONFIRMATION, AT_BOOKING, 0, "Your appointment is booked", True, True, False),
    Step(Kind.PRE_CARE, BEFORE_START, 7 * 24, "Preparing for your session: the week before", True, False, True),
    Step(Kind.PRE_CARE_48H, BEFORE_START, 48, "Your session is in 2 days: no alcohol from now", True, True, True),
    Step(Kind.REMINDER_24H, BEFORE_START, 24, "See you tomorrow", False, True, False),
    Step(Kind.AFTERCARE, AFTER_END, 0, "Looking after your skin after today's session", True, False, True),
    Step(Kind.CHECK_IN, AFTER_END, 3 * 24, "How is your skin?", False, False, True),
    Step(Kind.NEXT_SESSION, AFTER_END, None, "Time to book your next session", False, False, True),
)
# Not on the timeline: sent when an appointment moves (by the patient or the desk), with the new time and
# calendar file. One row per appointment and channel: a later move sends it again with the latest time.
MOVED = Step(Kind.MOVED, AT_BOOKING, 0, "Your appointment has moved", True, True, False)
# Also off the timeline: the confirmation of a cancellation, by whoever cancelled it.
CANCELLED = Step(Kind.CANCELLED, AT_BOOKING, 0, "Your appointment is cancelled", True, True, False)
STEPS = {step.kind: step for step in (*TIMELINE, MOVED, CANCELLED)}
ESSENTIAL_KINDS = frozenset(kind for kind, step in STEPS.items() if step.essential)
LIVE_BEFORE = (Appointment.Status.BOOKED, Appointment.Status.CHECKED_IN)


@dataclass(frozen=True)
class PlannedReminder:
    kind: str
    channel: str
    due_at: datetime.datetime


def default_settings(treatment: Treatment) -> list[TreatmentReminder]:
    """The rows a new treatment starts with: the timeline as it is, minus needle-only steps for consultations."""
    return [
        TreatmentReminder(
            treatment=treatment,
            kind=step.kind,
            enabled=not (step.sessions_only and treatment.kind == Treatment.Kind.CONSULTATION),
            offset_hours=step.default_offset_hours,
        )
        for step in TIMELINE
    ]


def seed_treatment_reminders(treatment: Treatment) -> None:
    TreatmentReminder.objects.bulk_create(default_settings(treatment), ignore_conflicts=True)


def treatment_settings(treatment: Treatment) -> dict[str, TreatmentReminder]:
    """The treatment's rows by kind, filled in from the defaults where a row is missing."""
    saved = {row.kind: row for row in treatment.reminder_settings.all()}
    return {row.kind: saved.get(row.kind, row) for row in default_settings(treatment)}


def offset_for(step: Step, setting: TreatmentReminder, treatment: Treatment) -> datetime.timedelta:
    hours = setting.offset_hours
    if hours is None:
        hours = step.default_offset_hours
    if hours is None:  # next session: when the course interval has passed
        return datetime.timedelta(days=treatment.min_days_between_sessions)
    return datetime.timedelta(hours=hours)


def due_at(appointment: Appointment, step: Step, setting: TreatmentReminder, now: datetime.datetime):
    """When this step should go out, or None when it does not apply to this appointment."""
    if (
        step.kind == Kind.NEXT_SESSION
        and not appointment.treatment.min_days_between_sessions
        and (setting.offset_hours is None)
    ):
        return None  # a one-off treatment has no course to continue
    offset = offset_for(step, setting, appointment.treatment)
    if step.anchor == AT_BOOKING:
        return appointment.created_at or now
    if step.anchor == BEFORE_START:
        return appointment.start_at - offset
    return real_end(appointment) + offset


def real_end(appointment: Appointment) -> datetime.datetime:
    """When the session really ended: at check-out once completed (early or late), else as booked."""
    if appointment.status == Appointment.Status.COMPLETED and appointment.completed_at:
        return appointment.completed_at
    return appointment.end_at


def wanted(appointment: Appointment, kind: str) -> bool:
    """Whether the appointment, as it is now, still calls for this kind of message. Once the patient has
    arrived (or the session is over), nothing before it is sent any more."""
    status = appointment.status
    if kind == Kind.CANCELLED:
        return status == Appointment.Status.CANCELLED
    # An appointment awaiting its deposit is not confirmed: nothing goes out until it is.
    if status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW, Appointment.Status.AWAITING_DEPOSIT):
        return False
    if STEPS[kind].anchor == AFTER_END:
        return status in LIVE_BEFORE or status == Appointment.Status.COMPLETED
    if STEPS[kind].anchor == BEFORE_START:
        return status == Appointment.Status.BOOKED
    return True


# After the booked end, how long a checked-in session that nobody checked out may still be running, and how
# long a session nobody checked in may still be checked in late, before the aftercare decides.
CHECKED_IN_GRACE = datetime.timedelta(hours=2)
NEVER_ARRIVED_AFTER = datetime.timedelta(hours=24)
HOLD_STEP = datetime.timedelta(minutes=30)
SEND, HOLD, DROP = "send", "hold", "drop"


def after_session_verdict(appointment: Appointment, now: datetime.datetime) -> tuple[str, datetime.datetime | None]:
    """Whether an after-the-session message may go now. Never for a session that has not started, and only
    once it has really ended: completed; or checked in and well past its end (the desk forgot to check out:
    the patient was here, and the aftercare's warning signs matter more than its timing). A session nobody
    checked in is held, then dropped after a day (a missed appointment nobody marked)."""
    status = appointment.status
    if appointment.start_at > now:
        return HOLD, appointment.start_at
    if status == Appointment.Status.COMPLETED:
        return SEND, None
    if status == Appointment.Status.CHECKED_IN:
        if now >= appointment.end_at + CHECKED_IN_GRACE:
            return SEND, None
        return HOLD, min(now + HOLD_STEP, appointment.end_at + CHECKED_IN_GRACE)
    if now >= appointment.end_at + NEVER_ARRIVED_AFTER:
        return DROP, None
    return HOLD, now + HOLD_STEP


def channels_for(patient, step: Step) -> list[str]:
    """Email, unless the address is a placeholder (a phone booking without one, an erased patient); text
    messages too when the patient asked for them."""
    channels = [ReminderChannel.EMAIL] if patient.user.has_real_email else []
    if step.sms and patient.sms_opt_in and patient.phone and (step.essential or patient.texts_stopped_at is None):
        channels.append(ReminderChannel.SMS)
    return channels


def patient_accepts(patient, kind: str, channel: str = "") -> bool:
    """Essential messages always go; the rest unless the patient opted out (or, for texts, replied STOP)."""
    if kind in ESSENTIAL_KINDS:
        return True
    if channel == ReminderChannel.SMS and patient.texts_stopped_at is not None:
        return False
    return not patient.non_essential_opt_out


def plan(appointment: Appointment, now: datetime.datetime | None = None) -> list[PlannedReminder]:
    """Every message the appointment calls for right now, with its time; past times are the caller's to judge."""
    now = now or timezone.now()
    settings_by_kind = treatment_settings(appointment.treatment)
    planned = []
    for step in TIMELINE:
        setting = settings_by_kind[step.kind]
        if not setting.enabled or not wanted(appointment, step.kind):
            continue
        if not patient_accepts(appointment.patient, step.kind):
            continue
        when = due_at(appointment, step, setting, now)
        if when is None:
            continue
        planned.extend(PlannedReminder(step.kind, channel, when) for channel in channels_for(appointment.patient, step))
    return planned


def texts_for(appointment: Appointment, kind: str) -> tuple[str, str]:
    """The subject and the treatment's extra words for one message."""
    setting = appointment.treatment.reminder_settings.filter(kind=kind).first()
    return (setting and setting.subject) or STEPS[kind].subject, setting.extra_text if setting else ""


# --- Quiet hours: no text between 21:00 and 08:00 clinic time -------------------------------------------

QUIET_FROM, QUIET_UNTIL = datetime.time(21, 0), datetime.time(8, 0)


def quiet_until(now: datetime.datetime) -> datetime.datetime | None:
    """The end of the quiet hours `now` falls in (08:00 clinic time, as a UTC instant), or None outside them.
    Wall-clock times in the clinic's zone, so 08:00 is 08:00 on the mornings of both clock changes."""
    zone = clock.zone()
    local = now.astimezone(zone)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return None
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + datetime.timedelta(days=1)
    return datetime.datetime.combine(day, QUIET_UNTIL, tzinfo=zone).astimezone(datetime.UTC)


def triggered_by_patient(appointment: Appointment, kind: str) -> bool:
    """The patient's own action caused this message (they booked or moved online just now): it may go at
    night, since they are awake and waiting for it. Everything else waits for the morning."""
    patient_user = appointment.patient.user_id
    if kind == Kind.CONFIRMATION:
        return appointment.created_by_id == patient_user
    action = {Kind.MOVED: AppointmentEvent.Action.RESCHEDULED, Kind.CANCELLED: AppointmentEvent.Action.CANCELLED}
    if kind in action:
        last = appointment.events.filter(action=action[kind]).order_by("-at", "-pk").first()
        return last is not None and last.by_id == patient_user
    return False
