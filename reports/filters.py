"""What every report is asked for: a range of local days (each site's), a practitioner or all, and (once sites exist)
a site. Read from the query string as a browser sends it (ISO dates from `<input type="date">`); a bad value
is a message on the page, never a 500."""

import datetime
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Case, Q, When

from clinic import clock
from clinic.models import Practitioner, Site

DEFAULT_DAYS = 28
MAX_DAYS = 3 * 366 + 1  # three years: enough to compare a season with last year's, small enough to read


@dataclass(frozen=True)
class Filters:
    start: datetime.date
    end: datetime.date
    practitioner: Practitioner | None = None
    # One of the clinic's sites (issue 17), or all: appointments in that site's rooms (`appointment_filter`);
    # utilisation also keeps that site's working hours, rooms and closures.
    site: object | None = None
    # The time zones of the sites the report adds up (the chosen site's, or every site's): each appointment's
    # day, weekday and hour are its own site's (a Madrid 10:00 is a 10:00, not London's 09:00), and the range
    # is each site's days. Empty: the clinic's zone (`CLINIC_TIME_ZONE`).
    zones: tuple = ()

    def _zones(self) -> list[str]:
        return sorted(set(self.zones)) or [str(clock.zone())]

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """[start of the first day, start of the day after the last) in UTC, the widest of the sites' (DST days
        are 23 or 25 hours): what a read of related rows (reminders, payments) covers."""
        return clock.sites_day_bounds(self.start, self.end, [_Zoned(zone) for zone in self._zones()])

    def in_range(self, field: str = "start_at", site: str = "site__time_zone") -> Q:
        """The rows whose `field` falls on the range's days at their own site (`site`: the path to the site's
        zone). One zone: a plain range on `field`, as with one site."""
        zones = self._zones()
        if len(zones) == 1:
            start, end = clock.day_bounds_utc(self.start, self.end, ZoneInfo(zones[0]))
            return Q(**{f"{field}__gte": start, f"{field}__lt": end})
        condition = Q()
        for zone in zones:
            start, end = clock.day_bounds_utc(self.start, self.end, ZoneInfo(zone))
            condition |= Q(**{site: zone, f"{field}__gte": start, f"{field}__lt": end})
        return condition

    def local(self, extract, field: str = "start_at", site: str = "site__time_zone"):
        """`extract(field, tzinfo=zone)` (ExtractHour, ExtractIsoWeekDay...) on each row's own site's clock: a
        CASE over the sites' zones, or the plain extraction when they share one."""
        zones = self._zones()
        if len(zones) == 1:
            return extract(field, tzinfo=ZoneInfo(zones[0]))
        return Case(*[When(**{site: zone}, then=extract(field, tzinfo=ZoneInfo(zone))) for zone in zones])

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def appointment_filter(self, prefix: str = "") -> dict:
        """The practitioner (and site) conditions for appointments reached through `prefix`."""
        conditions = {}
        if self.practitioner is not None:
            conditions[f"{prefix}practitioner"] = self.practitioner
        if self.site is not None:
            conditions[f"{prefix}room__site"] = self.site
        return conditions

    def query(self) -> dict:
        query = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.practitioner is not None:
            query["practitioner"] = str(self.practitioner.pk)
        if self.site is not None:
            query["site"] = str(self.site.pk)
        return query


@dataclass(frozen=True)
class _Zoned:
    """What `clock.sites_day_bounds` asks of a site: its time zone."""

    time_zone: str


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d")


class ReportFilterForm(forms.Form):
    start = forms.DateField(label="From", widget=DateInput(), input_formats=["%Y-%m-%d"])
    end = forms.DateField(label="To (inclusive)", widget=DateInput(), input_formats=["%Y-%m-%d"])
    practitioner = forms.ChoiceField(
        required=False, error_messages={"invalid_choice": "Choose a practitioner from the list."}
    )
    site = forms.ChoiceField(required=False, error_messages={"invalid_choice": "Choose a site from the list."})

    def __init__(self, data, *, today: datetime.date | None = None):
        today = today or clock.today()
        defaults = {"start": (today - datetime.timedelta(days=DEFAULT_DAYS - 1)).isoformat(), "end": today.isoformat()}
        merged = {**defaults, **{key: data[key] for key in ("start", "end", "practitioner", "site") if data.get(key)}}
        super().__init__(merged)
        # Loaded once: the choices, the check of the one chosen, and the reports' names for practitioners.
        self.practitioner_list = list(Practitioner.objects.select_related("user"))
        self.fields["practitioner"].choices = [
            ("", "All practitioners"),
            *[(str(practitioner.pk), str(practitioner)) for practitioner in self.practitioner_list],
        ]
        self.site_list = list(Site.objects.all())
        self.fields["site"].choices = [("", "All sites"), *[(str(site.pk), site.name) for site in self.site_list]]
        for name in ("start", "end"):
            self.fields[name].error_messages["invalid"] = "Enter a date as YYYY-MM-DD, e.g. 2027-03-28."

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError("The last day is before the first: swap them.")
            if (end - start).days + 1 > MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {MAX_DAYS} days (three years).")
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        chosen = {str(practitioner.pk): practitioner for practitioner in self.practitioner_list}
        sites = {str(site.pk): site for site in self.site_list}
        site = sites.get(data.get("site") or "")
        return Filters(
            start=data["start"],
            end=data["end"],
            practitioner=chosen.get(data.get("practitioner") or ""),
            site=site,
            zones=tuple(sorted({s.time_zone for s in ([site] if site else self.site_list)})),
        )

    def practitioners(self) -> list[Practitioner]:
        return self.practitioner_list
