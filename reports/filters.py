"""What every report is asked for: a range of clinic-local days, a practitioner or all, and (once sites exist)
a site. Read from the query string as a browser sends it (ISO dates from `<input type="date">`); a bad value
is a message on the page, never a 500."""

import datetime
from dataclasses import dataclass

from django import forms

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
    # utilisation also keeps that site's working hours, rooms and closures. Days, weekdays and hours stay on
    # the clinic's clock (`CLINIC_TIME_ZONE`), one clock for every site a report adds up.
    site: object | None = None

    def bounds(self) -> tuple[datetime.datetime, datetime.datetime]:
        """[start of the first day, start of the day after the last) in UTC: DST days are 23 or 25 hours."""
        return clock.day_bounds_utc(self.start, self.end)

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
        return Filters(
            start=data["start"],
            end=data["end"],
            practitioner=chosen.get(data.get("practitioner") or ""),
            site=sites.get(data.get("site") or ""),
        )

    def practitioners(self) -> list[Practitioner]:
        return self.practitioner_list
