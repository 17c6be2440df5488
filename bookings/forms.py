"""The patient's choices in the booking pages. Every field is checked here; the service checks again."""

import datetime

from django import forms
from django.conf import settings
from django.core.validators import ProhibitNullCharactersValidator
from django.utils import timezone
from django.utils.safestring import mark_safe

from clinic import clock
from clinic.forms import DateInput

from . import availability
from .templatetags.booking_times import option, select_options

PRACTITIONER_CHOICE = {
    "required": False,
    "empty_label": "First available",
    "error_messages": {"invalid_choice": "That practitioner does not offer this treatment: choose another."},
}
SITE_CHOICE = {
    "required": False,
    "empty_label": "Any site",
    "error_messages": {"invalid_choice": "This treatment is not offered at that site: choose another."},
}


def practitioner_field(treatment, known=None):
    """Who offers the treatment, or first available; from the availability catalogue `known` when given."""
    if known is not None:
        choices = known.derived(
            ("practitioner choices", treatment.pk),
            lambda: Choices(known.practitioners_for(treatment), PRACTITIONER_CHOICE["empty_label"]),
        )
        return ChoiceInMemory(choices, **PRACTITIONER_CHOICE)
    queryset = availability.practitioners_offering(treatment).order_by("user__last_name", "user__first_name")
    return forms.ModelChoiceField(queryset=queryset, **PRACTITIONER_CHOICE)


def site_field(treatment, known=None):
    """Where the treatment is had, or any site; from the availability catalogue `known` when given."""
    if known is not None:
        choices = known.derived(
            ("site choices", treatment.pk), lambda: Choices(known.sites_for(treatment), SITE_CHOICE["empty_label"])
        )
        return ChoiceInMemory(choices, **SITE_CHOICE)
    return forms.ModelChoiceField(queryset=availability.sites_offering(treatment), **SITE_CHOICE)


class Choices:
    """A chooser's rows (the availability catalogue's practitioners or sites for a treatment) with what a
    request needs of them worked out once per catalogue (`Catalogue.derived`): the rows by id, to check a
    value, and each option's markup, unselected and selected, to write the select. The booking page's 50
    practitioners' options cost some 2,000 Python calls a request to work out and escape. Labels are the rows'
    `str()`, as `ModelChoiceField` labels them."""

    def __init__(self, rows, empty_label):
        self.rows = rows
        self.by_pk = {row.pk: row for row in rows}
        options = [("", empty_label), *((str(row.pk), str(row)) for row in rows)]
        self.count = len(options)
        self.position = {value: i for i, (value, _) in enumerate(options)}
        self.unselected = [option(value, label) for value, label in options]
        self.selected = [option(value, label, True) for value, label in options]

    def markup(self, chosen: str):
        """The options, the one whose value is `chosen` (exactly, as Django's select compares) selected."""
        i = self.position.get(chosen)
        if i is None:
            return mark_safe("".join(self.unselected))  # noqa: S308 - written escaped by `option`
        return mark_safe("".join([*self.unselected[:i], self.selected[i], *self.unselected[i + 1 :]]))  # noqa: S308


class ChoiceInMemory(forms.Field):
    """A `ModelChoiceField` over rows already in memory (the availability catalogue's practitioners or
    sites, `Choices`): the same values, labels and errors, checked without a query. As Django's, a value is
    the row's id as `int()` reads it (" 7" is 7), and anything else is an invalid choice."""

    def __init__(self, choices, *, empty_label, **kwargs):
        super().__init__(**kwargs)
        self.prepared, self.empty_label = choices, empty_label
        self.rows, self._by_pk = choices.rows, choices.by_pk

    def label_from_instance(self, row) -> str:
        return str(row)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        ProhibitNullCharactersValidator()(value)
        try:
            found = self._by_pk.get(int(getattr(value, "pk", value)))
        except (TypeError, ValueError, OverflowError):
            found = None
        if found is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": value}
            )
        return found


class DayChoiceForm(forms.Form):
    """Site (or any site), practitioner (or first available) and day: what the times list is for."""

    day = forms.DateField(required=False, widget=DateInput)

    def __init__(self, *args, treatment, catalogue=None, **kwargs):
        """`catalogue`: the availability catalogue to read the practitioners and sites from (no query; the
        caller has it confirmed, `availability.process_catalogue`); without, the database."""
        super().__init__(*args, **kwargs)
        self.fields["site"] = site_field(treatment, catalogue)
        self.fields["practitioner"] = practitioner_field(treatment, catalogue)
        self.order_fields(["site", "practitioner", "day"])
        self.first_day, self.last_day = availability.bookable_days()
        self.fields["day"].widget.attrs.update(min=self.first_day.isoformat(), max=self.last_day.isoformat())

    def _options(self, name) -> list[tuple[str, str, bool]]:
        """(value, label, selected) of each choice of a model select, its empty choice first, as the chooser
        writes them out (bookings/includes/chooser.html): the value sent (or given as initial) is selected,
        as Django's select would; one query, as the widget's, or none from the catalogue."""
        sent = self[name].value()
        chosen = "" if sent is None else str(sent)
        field = self.fields[name]
        options = [("", field.empty_label, chosen == "")]
        for choice in field.rows if isinstance(field, ChoiceInMemory) else field.queryset:
            value = str(choice.pk)
            options.append((value, field.label_from_instance(choice), value == chosen))
        return options

    def _options_markup(self, name):
        """The select's `<option>`s (bookings/includes/chooser.html): from the catalogue's `Choices`, written
        once per catalogue, or written out for the rows read."""
        field = self.fields[name]
        if isinstance(field, ChoiceInMemory):
            sent = self[name].value()
            return field.prepared.markup("" if sent is None else str(sent))
        return select_options(self._options(name))

    def practitioner_options(self):
        return self._options_markup("practitioner")

    def site_options(self):
        """The site choices; none ("") when the treatment is had at one site (the chooser then shows no
        select)."""
        field = self.fields["site"]
        several = field.prepared.count > 2 if isinstance(field, ChoiceInMemory) else len(self._options("site")) > 2
        return self._options_markup("site") if several else ""

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
