""".ics files: one appointment for the patient (download and email attachment), and a practitioner's feed.

Times are written in the zone of the appointment's site with its VTIMEZONE component (`TZID=Europe/London`,
`TZID=Europe/Madrid`), so a calendar shows the booked wall-clock time on daylight-saving days too and
whichever zone the reader's device is in; LOCATION is that site's address (`clinic.message_text.place`).

Contract (the reminders' confirmation email attaches it; keep the signature):
    appointment_ics(appointment) -> bytes
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from clinic import clock
from clinic.links import absolute_url
from clinic.message_text import place

from .models import Appointment

if TYPE_CHECKING:
    from icalendar import Calendar, Event

PRODID = "-//Clinic//Bookings//EN"


def _calendar(name: str = "") -> Calendar:
    from icalendar import Calendar  # 36 ms of import: paid where a calendar is written, not by every process

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
        calendar.add("x-wr-timezone", settings.CLINIC_TIME_ZONE)
    return calendar


def _finish(calendar: Calendar, appointments) -> bytes:
    """Add the VTIMEZONE of every TZID used, with the transitions of a year either side of the events (not
    icalendar's default 1970-2038, which makes a small file 5 KB), then serialise."""
    if appointments:
        year = datetime.timedelta(days=366)
        first = min(a.start_at for a in appointments).astimezone(datetime.UTC).date() - year
        last = max(a.end_at for a in appointments).astimezone(datetime.UTC).date() + year
        calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar.to_ical()


def appointment_uid(appointment) -> str:
    """Stable per appointment, so re-importing an updated file (moved, cancelled) updates the same event."""
    host = urlsplit(settings.SITE_URL).hostname or "clinic"
    return f"appointment-{appointment.pk}@{host}"


def clinic_location(site=None) -> str:
    """Where, as a calendar shows it: the site's name in the clinic's and its address (one line)."""
    clinic = place(site)
    address = ", ".join(line.strip() for line in clinic["ADDRESS"].splitlines() if line.strip())
    return f"{clinic['PLACE']}, {address}"


def _event(appointment, *, summary: str, description: str, location: str) -> Event:
    from icalendar import Event

    zone = clock.zone(appointment.site)
    event = Event()
    event.add("uid", appointment_uid(appointment))
    event.add("dtstamp", appointment.updated_at or timezone.now())
    event.add("dtstart", appointment.start_at.astimezone(zone))
    event.add("dtend", appointment.end_at.astimezone(zone))
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    cancelled = appointment.status in (Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    return event


def _how_to_change(appointment) -> str:
    clinic = place(appointment.site)
    page = absolute_url(reverse("appointment_detail", args=[appointment.pk]))
    return (
        f"To move or cancel it: {page} (sign in), up to {clinic['CANCELLATION_WINDOW_HOURS']} hours before; "
        f"after that, please call the clinic on {clinic['PHONE']}."
    )


def patient_summary(appointment) -> str:
    return f"{appointment.treatment.name} with {appointment.practitioner.name}"


def patient_description(appointment) -> str:
    treatment = appointment.treatment
    parts = [f"{treatment.name} with {appointment.practitioner.name} at {place(appointment.site)['PLACE']}."]
    if treatment.pre_care.strip():
        parts.append(f"How to prepare:\n{treatment.pre_care.strip()}")
    parts.append(_how_to_change(appointment))
    return "\n\n".join(parts)


def appointment_ics(appointment) -> bytes:
    """The patient's .ics for one appointment: what, with whom, when, where, how to prepare, how to change."""
    calendar = _calendar()
    calendar.add_component(
        _event(
            appointment,
            summary=patient_summary(appointment),
            description=patient_description(appointment),
            location=clinic_location(appointment.site),
        )
    )
    return _finish(calendar, [appointment])


def patient_short_name(patient) -> str:
    """First name and initial: the feed leaves the app (phones, shared calendars), so it says no more."""
    user = patient.user
    initial = f" {user.last_name.strip()[:1].upper()}." if user.last_name.strip() else ""
    return f"{user.first_name.strip() or 'Patient'}{initial}"


def practitioner_feed_ics(practitioner, appointments) -> bytes:
    """A practitioner's appointments as one calendar (appointments with patient__user, treatment and room
    already loaded)."""
    appointments = list(appointments)
    calendar = _calendar(f"{settings.CLINIC['NAME']}: {practitioner.name}")
    calendar.add("refresh-interval", datetime.timedelta(minutes=15), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT15M")
    for appointment in appointments:
        room = appointment.room.name
        calendar.add_component(
            _event(
                appointment,
                summary=f"{appointment.treatment.name}: {patient_short_name(appointment.patient)}",
                description=f"{appointment.treatment.name}, {room}. Details in the clinic app.",
                location=f"{room}, {clinic_location(appointment.site)}",
            )
        )
    return _finish(calendar, appointments)
