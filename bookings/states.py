"""What may happen to an appointment now: the clinic's day, as rules (design notes, invariant 8).

- Check in only on the appointment's own day (clinic time): a patient cannot arrive for tomorrow.
- Complete, and mark a no-show, only once the appointment has started: neither can be known before.
- The desk may undo a check-in (wrong patient, pressed by mistake) and a completion made by mistake, the
  latter only on the day it was made and only while no session record exists (a record is clinical: a
  practitioner or admin deals with it). Each undo needs a reason and is kept in the history.

`refusal(action, appointment, now)` is the one answer: the booking services raise it as the message, and the
pages show only the buttons it allows (`allowed_actions`).
"""

import datetime

from django.utils import timezone

from clinic import clock
from clinic.models import Room

from .models import Appointment

CHECK_IN, COMPLETE, NO_SHOW, UNDO_CHECK_IN, UNDO_COMPLETION = (
    "check-in",
    "complete",
    "no-show",
    "undo-check-in",
    "undo-completion",
)
FORWARD_ACTIONS = (CHECK_IN, COMPLETE, NO_SHOW)
UNDO_ACTIONS = (UNDO_CHECK_IN, UNDO_COMPLETION)
Status = Appointment.Status


def refusal(action: str, appointment: Appointment, now: datetime.datetime | None = None) -> str | None:
    """Why `action` is not allowed on `appointment` at `now`, or None when it is."""
    now = now or timezone.now()
    status = appointment.status
    label = appointment.get_status_display().lower()
    started = not clock.is_upcoming(appointment.start_at, now)
    if action == CHECK_IN:
        if status != Status.BOOKED:
            return f"This appointment is {label}: it cannot be checked in."
        site = _site(appointment)  # the day is the site's: Madrid's Sunday starts an hour before London's
        if clock.local_day(now, site) != clock.local_day(appointment.start_at, site):
            return f"A patient can be checked in only on the day of the appointment ({_day_text(appointment)})."
        return None
    if action == COMPLETE:
        if status not in (Status.BOOKED, Status.CHECKED_IN):
            return f"This appointment is {label}: it cannot be marked completed."
        if not started:
            return "An appointment can be marked completed only once it has started."
        return None
    if action == NO_SHOW:
        if status != Status.BOOKED:
            return f"This appointment is {label}: it cannot be marked a no-show."
        if not started:
            return "An appointment can be marked a no-show only once its time has come."
        return None
    if action == UNDO_CHECK_IN:
        if status != Status.CHECKED_IN:
            return f"This appointment is {label}: there is no check-in to undo."
        return None
    if action == UNDO_COMPLETION:
        if status != Status.COMPLETED:
            return f"This appointment is {label}: there is no completion to undo."
        site = _site(appointment)
        if appointment.completed_at is None or clock.local_day(now, site) != clock.local_day(
            appointment.completed_at, site
        ):
            return "A completion can be undone only on the day it was made."
        if _has_session_record(appointment):
            return "A session was recorded for this appointment: ask the practitioner or a clinic admin."
        return None
    return "Unknown action."


def allowed_actions(appointment: Appointment, now: datetime.datetime | None = None) -> list[str]:
    """The status changes the pages offer now; the ones not allowed yet are not shown."""
    now = now or timezone.now()
    return [action for action in (*FORWARD_ACTIONS, *UNDO_ACTIONS) if refusal(action, appointment, now) is None]


def status_before_completion(appointment: Appointment) -> str:
    """Where an undone completion goes back to: checked in if the patient was, otherwise booked."""
    return Status.CHECKED_IN if appointment.checked_in_at else Status.BOOKED


def _has_session_record(appointment: Appointment) -> bool:
    # By the reverse relation's name: the session record belongs to an app above bookings.
    return Appointment.objects.filter(pk=appointment.pk, session_record__isnull=False).exists()


def _site(appointment: Appointment):
    """The appointment's site, read through its room when the room came with it (the desk's pages select
    `room__site`), so that asking costs no query."""
    if Appointment.room.is_cached(appointment) and Room.site.is_cached(appointment.room):
        return appointment.room.site
    return appointment.site if appointment.site_id is not None else None  # None: the clinic's clock


def _day_text(appointment: Appointment) -> str:
    return f"{clock.local(appointment.start_at, _site(appointment)):%A %-d %B}"
