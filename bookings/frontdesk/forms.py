"""Forms of the front desk. They only read and clean input: every rule (slots, overlaps, course intervals,
eligibility) is the booking service's, which the views call with the cleaned values."""

import datetime

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from bookings.models import Appointment
from clinic import clock
from clinic.clock import local_to_utc
from clinic.forms import MOST_ROWS, CalendarDateField, DateInput, TimeInput
from clinic.models import Closure, Patient, Practitioner, TimeOff, Treatment, User, validate_adult
from clinic.phones import PhoneField


def _helper(label: str) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.add_input(Submit("submit", label))
    return helper


class PractitionerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, practitioner):
        return practitioner.name


def active_practitioners():
    return Practitioner.objects.filter(active=True).select_related("user").order_by("user__last_name", "pk")


class PhonePatientForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    phone = PhoneField()
    email = forms.EmailField(
        required=False, help_text="Optional. Without one, the patient gets text messages only if they agree."
    )
    date_of_birth = forms.DateField(widget=DateInput, validators=[validate_adult], help_text="Patients are 18+.")
    sms_opt_in = forms.BooleanField(label="The patient agrees to text messages", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Create patient and book")

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if email and User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A patient or user with this email already exists: search for them instead.")
        return email


class FindTimesForm(forms.Form):
    """What the caller wants: the free times come from bookings.availability, as online."""

    treatment = forms.ModelChoiceField(queryset=Treatment.objects.filter(active=True))
    practitioner = PractitionerChoiceField(
        queryset=active_practitioners(), required=False, empty_label="First available"
    )
    date = CalendarDateField(widget=DateInput)


class BookForm(forms.Form):
    """The chosen slot. The service re-checks it; a clinic admin may override eligibility with a reason."""

    treatment = forms.ModelChoiceField(queryset=Treatment.objects.filter(active=True), widget=forms.HiddenInput)
    slot = forms.CharField(widget=forms.HiddenInput)
    override_reason = forms.CharField(
        max_length=250,
        required=False,
        label="Override the eligibility check (clinic admin): reason",
        help_text="Only when the patient's screening does not allow this booking yet and you take responsibility.",
    )

    def clean_slot(self):
        return parse_slot(self.cleaned_data["slot"])


def parse_slot(value: str):
    """(practitioner, start) from '<practitioner id>@<ISO start with its offset>', as the times lists and
    the calendar's cells post it; a ValidationError for anything else."""
    practitioner_id, _, start = (value or "").partition("@")
    try:
        practitioner = active_practitioners().get(pk=int(practitioner_id))
        start_at = datetime.datetime.fromisoformat(start)
    except (ValueError, OverflowError, Practitioner.DoesNotExist):
        raise forms.ValidationError("Choose one of the times shown.") from None
    if start_at.tzinfo is None:
        raise forms.ValidationError("Choose one of the times shown.")
    return practitioner, start_at


class SlotField(forms.CharField):
    """A slot as '<practitioner id>@<ISO start>' that cleans to (practitioner, start)."""

    def clean(self, value):
        return parse_slot(super().clean(value))


class PanelBookForm(forms.Form):
    """The calendar panel's booking, from a clicked cell: the slot, the patient found or created, the
    treatment and how the patient reached the clinic (on the phone, or standing at the desk)."""

    SOURCES = [(Appointment.Source.PHONE, "On the phone"), (Appointment.Source.FRONT_DESK, "At the desk (walk-in)")]

    slot = SlotField(widget=forms.HiddenInput)
    patient = forms.ModelChoiceField(
        queryset=Patient.objects.select_related("user"),
        error_messages={"required": "Find the patient (or create them) and choose them."},
    )
    treatment = forms.ModelChoiceField(queryset=Treatment.objects.filter(active=True))
    source = forms.ChoiceField(choices=SOURCES, initial=Appointment.Source.PHONE, label="The patient is")
    override_reason = forms.CharField(max_length=250, required=False)


class PanelMoveForm(forms.Form):
    """A move from the calendar: a free time picked from the list, or the cell a card was dropped on."""

    slot = SlotField()
    reason = forms.CharField(max_length=250, required=False)


class MoveForm(forms.Form):
    date = CalendarDateField(widget=DateInput)
    time = forms.TimeField(widget=TimeInput(format="%H:%M"), help_text="On the appointment's site's clock.")
    practitioner = PractitionerChoiceField(
        queryset=active_practitioners(), required=False, empty_label="Same practitioner"
    )
    reason = forms.CharField(max_length=250, required=False)

    def __init__(self, *args, site=None, **kwargs):
        """`site`: the appointment's; the date and time typed are on its clock (a move stays at its site)."""
        super().__init__(*args, **kwargs)
        self.site = site
        self.helper = _helper("Move appointment")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date") and cleaned.get("time"):
            start_at = local_to_utc(cleaned["date"], cleaned["time"], clock.zone(self.site))
            if start_at is None:
                raise forms.ValidationError("That time does not exist on that day: the clocks go forward.")
            cleaned["start_at"] = start_at
        return cleaned


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=250, label="Reason for cancelling")


class UndoForm(forms.Form):
    """Why a check-in or a completion is undone: kept in the history."""

    reason = forms.CharField(max_length=250, label="Why it is undone (kept in the history)")


class PatientSearchForm(forms.Form):
    """The search box. A form, so that its text gets the checks every form field has (a NUL character,
    which PostgreSQL cannot take in a query, is refused with a message instead of a 500)."""

    q = forms.CharField(required=False)

    def query(self) -> str:
        return self.cleaned_data["q"][:100] if self.is_valid() else ""


class ClosureForm(forms.ModelForm):
    """A day or days the clinic closes: every site, or one (a choice shown when there are several; `sites`:
    the active sites, read once by the page). The model's own checks (days in order) apply, as in the admin."""

    where = forms.TypedChoiceField(label="Site", required=False, coerce=int, empty_value=None)

    class Meta:
        model = Closure
        fields = ["first_day", "last_day", "reason"]
        widgets = {"first_day": DateInput, "last_day": DateInput}
        field_classes = {"first_day": CalendarDateField, "last_day": CalendarDateField}

    def __init__(self, *args, sites=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.sites = {site.pk: site for site in sites}
        self.fields["last_day"].required = False
        self.fields["last_day"].help_text = "Leave empty for a single day."
        if len(self.sites) > 1:
            self.fields["where"].choices = [("", "Every site"), *((pk, site.name) for pk, site in self.sites.items())]
        else:
            del self.fields["where"]
        self.helper = _helper("Close the clinic")

    def clean_last_day(self):
        return self.cleaned_data["last_day"] or self.cleaned_data.get("first_day")

    def clean(self):
        cleaned = super().clean()
        cleaned["site"] = self.sites.get(cleaned.pop("where", None))
        return cleaned


def _date_and_time(label: str) -> forms.SplitDateTimeWidget:
    """A date input and a time input (what browsers offer), each named for screen readers."""
    return forms.SplitDateTimeWidget(
        date_attrs={"type": "date", "aria-label": f"{label}: date"},
        time_attrs={"type": "time", "aria-label": f"{label}: time"},
        date_format="%Y-%m-%d",
        time_format="%H:%M",
    )


class TimeOffForm(forms.ModelForm):
    """A practitioner's time off, in clinic time, with a date and a time input each (what browsers offer).
    The model's checks apply, as in the admin (the end after the start)."""

    start_at = forms.SplitDateTimeField(label="From", widget=_date_and_time("From"))
    end_at = forms.SplitDateTimeField(label="Until", widget=_date_and_time("Until"))

    class Meta:
        model = TimeOff
        fields = ["start_at", "end_at", "reason"]


class BaseTimeOffFormSet(forms.BaseInlineFormSet):
    """Time off to come can outgrow a fixed cap (a day off entered for each Friday of the next two years is
    104 rows), so the cap is the rows shown plus `MOST_ROWS` new ones: every row the page shows can always be
    saved unchanged, and a tampered TOTAL_FORMS still builds no more than that (clinic.forms.MOST_ROWS)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The rows shown are read here once; the formset keeps them for its forms (no further query).
        self.max_num = self.absolute_max = len(self.get_queryset()) + MOST_ROWS


TimeOffFormSet = forms.inlineformset_factory(
    Practitioner, TimeOff, form=TimeOffForm, formset=BaseTimeOffFormSet, extra=1, can_delete=True
)


class FormLinkForm(forms.Form):
    """The desk's 'send the health form and consent link': by text or by email."""

    channel = forms.ChoiceField(choices=[("sms", "By text message"), ("email", "By email")])
