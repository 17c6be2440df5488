"""The waitlist forms: a patient's (treatment, practitioner or any, days) and the front desk's (the same, for a
patient found by email). Every field is checked here; `bookings.waitlist.join_waitlist` checks again."""

from django import forms

from clinic import clock
from clinic.forms import DateInput, submit_helper
from clinic.models import Patient, Practitioner
from clinic.selectors import bookable_treatments

from . import availability, waitlist


class JoinWaitlistForm(forms.Form):
    treatment = forms.ModelChoiceField(
        queryset=bookable_treatments().order_by("name"),
        to_field_name="slug",
        error_messages={
            "required": "Choose a treatment.",
            "invalid_choice": "That treatment is not offered: choose one from the list.",
        },
    )
    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(active=True).select_related("user").order_by("user__last_name"),
        required=False,
        empty_label="Any practitioner",
        error_messages={"invalid_choice": "That practitioner is not available: choose another."},
    )
    earliest_day = forms.DateField(label="From (optional)", required=False, widget=DateInput)
    latest_day = forms.DateField(label="Until (optional)", required=False, widget=DateInput)
    before_day = forms.DateField(
        label="Before (optional)",
        required=False,
        widget=DateInput,
        help_text="Only times before this day, e.g. the day of the appointment you have now.",
    )

    submit_label = "Join the waitlist"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = submit_helper(self.submit_label)
        today = clock.today().isoformat()
        for name in ("earliest_day", "latest_day", "before_day"):
            self.fields[name].widget.attrs["min"] = today

    def clean(self):
        cleaned = super().clean()
        treatment, practitioner = cleaned.get("treatment"), cleaned.get("practitioner")
        if treatment and practitioner and not availability.practitioners_offering(treatment).filter(pk=practitioner.pk):
            self.add_error("practitioner", f"{practitioner.name} does not offer {treatment.name}: choose another.")
        for error in waitlist.validate_days(
            cleaned.get("earliest_day"), cleaned.get("latest_day"), cleaned.get("before_day")
        ):
            self.add_error(None, error)
        return cleaned


class DeskWaitlistForm(JoinWaitlistForm):
    """The desk's form: the patient is given by the page that links here (`?patient=<id>`, carried in a hidden
    field and shown by name and phone), or found by email. A patient booked by phone has only a placeholder
    address: it is never shown or asked for."""

    patient = forms.ModelChoiceField(
        queryset=Patient.objects.select_related("user"),
        required=False,
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": "That patient is not known: search for them again."},
    )
    patient_email = forms.EmailField(label="Patient's email", required=False)

    submit_label = "Add to the waitlist"

    def __init__(self, *args, patient=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_fields(["patient", "patient_email"])
        self.known_patient = patient
        if patient is not None:
            self.fields["patient"].initial = patient.pk
            del self.fields["patient_email"]

    def clean_patient_email(self):
        email = self.cleaned_data["patient_email"]
        if not email:
            return email
        patient = Patient.objects.select_related("user").filter(user__email__iexact=email).first()
        if patient is None:
            raise forms.ValidationError("No patient has that email: check it, or create the patient first.")
        self.cleaned_data["patient"] = patient
        return email

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("patient") and "patient_email" not in self.errors and "patient" not in self.errors:
            self.add_error("patient_email" if "patient_email" in self.fields else None, "Give the patient's email.")
        return cleaned


class WaitlistFilterForm(forms.Form):
    treatment = forms.ModelChoiceField(
        queryset=bookable_treatments().order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="All",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(active=True).select_related("user").order_by("user__last_name"),
        required=False,
        empty_label="All",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
