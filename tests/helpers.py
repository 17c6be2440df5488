"""Small helpers the feature tests share: clinic-time instants, a practitioner who works every day, a booking
made the way a patient makes one online."""

import datetime
from zoneinfo import ZoneInfo

from bookings import services
from bookings.models import Appointment
from tests.factories import WorkingHoursFactory

LONDON = ZoneInfo("Europe/London")


def at(day, hour, minute=0) -> datetime.datetime:
    """A clinic (London) wall-clock time on a day, as the UTC instant the app stores."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=LONDON).astimezone(datetime.UTC)


def open_every_day(practitioner, start=9, end=17):
    for weekday in range(7):
        WorkingHoursFactory(
            practitioner=practitioner, weekday=weekday, start=datetime.time(start), end=datetime.time(end)
        )
    return practitioner


def book_online(patient, treatment, practitioner, start_at, **kwargs):
    """Through the booking service, as the patient, online (override `booked_by` or `source` for the desk)."""
    kwargs.setdefault("booked_by", patient.user)
    kwargs.setdefault("source", Appointment.Source.ONLINE)
    return services.book_appointment(
        patient=patient, treatment=treatment, practitioner=practitioner, start_at=start_at, **kwargs
    )


def set_clock(monkeypatch, now: datetime.datetime) -> None:
    """The app's 'now' (every `timezone.now()`) for the rest of a test: the clinic's day at a chosen instant."""
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: now)
