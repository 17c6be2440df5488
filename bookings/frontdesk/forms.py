"""Forms of the front desk. They only read and clean input: every rule (slots, overlaps, course intervals,
eligibility) is the booking service's, which the views call with the cleaned values."""

import datetime

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms

from bookings.availability import clinic_zone, local_to_utc
from clinic.forms import CalendarDateField, DateInput, TimeInput
from clinic.models import Practitioner, Treatment, User, validate_adult
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
        """'<practitioner id>@<ISO start in UTC>', as the times list posts it."""
        practitioner_id, _, start = self.cleaned_data["slot"].partition("@")
        try:
            practitioner = active_practitioners().get(pk=int(practitioner_id))
            start_at = datetime.datetime.fromisoformat(start)
        except (ValueError, Practitioner.DoesNotExist):
            raise forms.ValidationError("Choose one of the times shown.") from None
        if start_at.tzinfo is None:
            raise forms.ValidationError("Choose one of the times shown.")
        return practitioner, start_at


class MoveForm(forms.Form):
    date = CalendarDateField(widget=DateInput)
    time = forms.TimeField(widget=TimeInput(format="%H:%M"), help_text="Clinic time.")
    practitioner = PractitionerChoiceField(
        queryset=active_practitioners(), required=False, empty_label="Same practitioner"
    )
    reason = forms.CharField(max_length=250, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = _helper("Move appointment")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date") and cleaned.get("time"):
            start_at = local_to_utc(cleaned["date"], cleaned["time"], clinic_zone())
            if start_at is None:
                raise forms.ValidationError("That time does not exist on that day: the clocks go forward.")
            cleaned["start_at"] = start_at
        return cleaned


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=250, label="Reason for cancelling")


class PatientSearchForm(forms.Form):
    """The search box. A form, so that its text gets the checks every form field has (a NUL character,
    which PostgreSQL cannot take in a query, is refused with a message instead of a 500)."""

    q = forms.CharField(required=False)

    def query(self) -> str:
        return self.cleaned_data["q"][:100] if self.is_valid() else ""
