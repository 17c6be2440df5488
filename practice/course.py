"""Where a patient's course stands: the one place that says which planned sessions are done, booked, due or
overdue. Computed from the plan and the patient's appointments each time, never stored.

The window for the next session opens `interval_days` after the last session (booked or done), or on the
plan's start for the first one. A session whose window has been open for more than OVERDUE_AFTER_DAYS
without a booking is overdue.
"""

import datetime
from dataclasses import dataclass, field

from django.urls import reverse

from bookings import availability
from bookings.models import Appointment
from clinic import clock

OVERDUE_AFTER_DAYS = 14


class State:
    DONE = "done"
    BOOKED = "booked"
    DUE = "due"
    OVERDUE = "overdue"
    NOT_YET_DUE = "not_yet_due"
    PLANNED = "planned"


STATE_LABELS = {
    State.DONE: ("Done", "success"),
    State.BOOKED: ("Booked", "primary"),
    State.DUE: ("Due: book now", "info"),
    State.OVERDUE: ("Overdue", "danger"),
    State.NOT_YET_DUE: ("Not due yet", "secondary"),
    State.PLANNED: ("Planned", "light"),
}


@dataclass(frozen=True)
class CourseSession:
    number: int
    state: str
    day: datetime.date  # the appointment's day, or the day its window opens
    appointment: Appointment | None = None

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state][0]

    @property
    def tone(self) -> str:
        return STATE_LABELS[self.state][1]


@dataclass
class CourseProgress:
    plan: object
    sessions: list[CourseSession] = field(default_factory=list)
    book_url: str = ""  # the booking page at the next session's window, when it can be booked online
    book_from: datetime.date | None = None

    @property
    def next_session(self) -> CourseSession | None:
        return next((s for s in self.sessions if s.appointment is None), None)

    def count(self, state) -> int:
        return sum(1 for s in self.sessions if s.state == state)

    @property
    def done(self) -> int:
        return self.count(State.DONE)

    @property
    def booked(self) -> int:
        return self.count(State.BOOKED)


def course_progress(plan, appointments=None, today: datetime.date | None = None) -> CourseProgress:
    """`appointments`: the patient's appointments if the caller has them (any treatment); else one query."""
    today = today or clock.today()
    zone = clock.zone()
    if appointments is None:
        appointments = Appointment.objects.filter(patient_id=plan.patient_id, treatment_id=plan.treatment_id)
    course = sorted(
        (
            a
            for a in appointments
            if a.treatment_id == plan.treatment_id
            and a.status in Appointment.LIVE_STATUSES
            and a.start_at.astimezone(zone).date() >= plan.starts_on
        ),
        key=lambda a: a.start_at,
    )[: plan.sessions]
    progress = CourseProgress(plan)
    interval = datetime.timedelta(days=plan.interval_days)
    window = plan.starts_on
    for number, appointment in enumerate(course, start=1):
        day = appointment.start_at.astimezone(zone).date()
        state = State.DONE if appointment.status == Appointment.Status.COMPLETED else State.BOOKED
        progress.sessions.append(CourseSession(number, state, day, appointment))
        window = day + interval
    for number in range(len(course) + 1, plan.sessions + 1):
        if number == len(course) + 1:
            state = _unbooked_state(window, today)
            progress.book_url, progress.book_from = _booking_link(plan.treatment, window)
        else:
            state = State.PLANNED
        progress.sessions.append(CourseSession(number, state, window))
        window += interval
    return progress


def _unbooked_state(window_opens: datetime.date, today: datetime.date) -> str:
    if today < window_opens:
        return State.NOT_YET_DUE
    if (today - window_opens).days > OVERDUE_AFTER_DAYS:
        return State.OVERDUE
    return State.DUE


def _booking_link(treatment, window_opens: datetime.date) -> tuple[str, datetime.date | None]:
    """The booking page opened at the first day that is both in the window and bookable online."""
    first_bookable, last_bookable = availability.bookable_days()
    day = max(window_opens, first_bookable)
    if day > last_bookable or not treatment.active:
        return "", None
    return f"{reverse('book_treatment', args=[treatment.slug])}?day={day.isoformat()}", day
