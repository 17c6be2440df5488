"""The patient's choices in the booking pages. Every field is checked here; the service checks again."""

import datetime

from django import forms
from django.conf import settings
from django.utils import timezone

from clinic import clock
from clinic.forms import DateInput

from . import availability


def practitioner_field(treatment):
    return forms.ModelChoiceField(
        queryset=availability.practitioners_offering(treatment).order_by("user__last_name", "user__first_name"),
        required=False,
        empty_label="First available",
        error_messages={"invalid_choice": "That practitioner does not offer this treatment: choose another."},
    )


def site_field(treatment):
    return forms.ModelChoiceField(
        queryset=availability.sites_offering(treatment),
        required=False,
        empty_label="Any site",
        error_messages={"invalid_choice": "This treatment is not offered at that site: choose another."},
    )


class DayChoiceForm(forms.Form):
    """Site (or any site), practitioner (or first available) and day: what the times list is for."""

    day = forms.DateField(required=False, widget=DateInput)

    def __init__(self, *args, treatment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"] = site_field(treatment)
        self.fields["practitioner"] = practitioner_field(treatment)
        self.order_fields(["site", "practitioner", "day"])
        self.first_day, self.last_day = availability.bookable_days()
        self.fields["day"].widget.attrs.update(min=self.first_day.isoformat(), max=self.last_day.isoformat())

    def _options(self, name) -> list[tuple[str, str, bool]]:
        """(value, label, selected) of each choice of a model select, its empty choice first, as the chooser
        writes them out (bookings/includes/chooser.html): the value sent (or given as initial) is selected,
        as Django's select would; one query, as the widget's."""
        sent = self[name].value()
        chosen = "" if sent is None else str(sent)
        field = self.fields[name]
        options = [("", field.empty_label, chosen == "")]
        for choice in field.queryset:
            value = str(choice.pk)
            options.append((value, field.label_from_instance(choice), value == chosen))
        return options

    def practitioner_options(self) -> list[tuple[str, str, bool]]:
        return self._options("practitioner")

    def site_options(self) -> list[tuple[str, str, bool]]:
        """The site choices; none when the treatment is had at one site (the chooser then shows no select)."""
        options = self._options("site")
        return options if len(options) > 2 else []

    def day_value(self):
        """The day as the date input shows it: what was sent, as it was sent (None: nothing)."""
        return self.fields["day"].widget.format_value(self["day"].value())

    def clean_day(self):
        day = self.cleaned_data["day"] or self.first_day
        if day < self.first_day:
            raise forms.ValidationError(f"That day is too soon: choose a day from {self.first_day:%-d %B %Y}.")
        if day > self.last_day:
            raise forms.ValidationError(
                f"We take online bookings up to {settings.CLINIC['HORIZON_DAYS']} days ahead: "
                f"choose a day until {self.last_day:%-d %B %Y}."
            )
        return day


class TimeChoiceForm(forms.Form):
    """A start time as the times list sends it (UTC, e.g. 2027-01-04T10:00Z), and with whom."""

    start = forms.CharField(max_length=40, error_messages={"required": "Choose a time."})

    def __init__(self, *args, treatment, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"] = site_field(treatment)
        self.fields["practitioner"] = practitioner_field(treatment)

    def clean_start(self):
        text = self.cleaned_data["start"].strip()
        unreadable = forms.ValidationError("That time could not be read: please choose one of the times shown.")
        try:
            start = datetime.datetime.fromisoformat(text)
            if start.tzinfo is None:
                raise unreadable
            # 0001-01-01T00:00+14:00 is a valid ISO time that falls before the first day Python can hold in UTC.
            start = start.astimezone(datetime.UTC)
        except (ValueError, OverflowError):
            raise unreadable from None
        if start <= timezone.now():
            raise forms.ValidationError("That time has passed: please choose a later one.")
        first_day, last_day = availability.bookable_days()
        if start.astimezone(clock.zone()).date() > last_day:
            raise forms.ValidationError(
                f"We take online bookings up to {settings.CLINIC['HORIZON_DAYS']} days ahead: "
                f"choose a day until {last_day:%-d %B %Y}."
            )
        return start


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False, label="Reason (optional)")
