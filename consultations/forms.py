from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout, Submit
from django import forms

from clinic import clock
from clinic.forms import DateInput, clean_phone_number
from clinic.models import BodyArea

from .models import MULTI_CHOICE_QUESTIONS, IntakeForm, Review

FREE_TEXT_UNREAD = "Read the answers marked 'Read this' and tick that you have, before recording a decision."

# The form's sections, in order: the patient's form and the practitioner's view of the answers both use it.
SECTIONS = [
    ("Contact and GP", ["emergency_contact_name", "emergency_contact_phone", "gp_name", "gp_practice"]),
    (
        "Medical history",
        [
            "bleeding_disorder",
            "diabetes",
            "immune_condition",
            "cancer_treatment",
            "cancer_in_area",
            "collagen_disease",
            "implanted_electronic_device",
            "metal_implant_in_area",
            "implant_details",
            "medical_history",
        ],
    ),
    (
        "Current medicines",
        ["anticoagulants", "nsaids", "supplements", "other_medicines", "took_isotretinoin", "isotretinoin_last_dose"],
    ),
    ("Pregnancy", ["pregnant_or_breastfeeding"]),
    (
        "Skin in the treatment area",
        [
            "skin_condition_in_area",
            "keloid_scarring",
            "recent_sun_exposure",
            "recent_area_treatments",
            "recent_area_treatments_details",
        ],
    ),
    ("Allergies", ["metal_allergy", "anaesthetic_allergy", "other_allergies"]),
    ("Lifestyle", ["drinks_alcohol"]),
    ("Your goals", ["areas_of_concern", "goals"]),
    ("Declaration", ["declaration"]),
]
QUESTION_FIELDS = [name for _, names in SECTIONS for name in names]
REQUIRED_TEXT = ["emergency_contact_name", "emergency_contact_phone", "gp_practice"]
YES_NO_CHOICES = [(True, "Yes"), (False, "No")]
NOT_ANSWERED = "Please answer this question."


class SecondarySubmit(Submit):
    field_classes = "btn btn-outline-secondary"


def section_of(field_name: str) -> str:
    return next(title for title, names in SECTIONS if field_name in names)


class IntakeFormForm(forms.ModelForm):
    """The patient's health form. `submitting=False` saves a draft: answers may be missing, but what is
    given must still be valid (a future isotretinoin date is refused either way)."""

    class Meta:
        model = IntakeForm
        fields = QUESTION_FIELDS
        widgets = {
            "isotretinoin_last_dose": DateInput,
            "medical_history": forms.Textarea(attrs={"rows": 3}),
            "other_medicines": forms.Textarea(attrs={"rows": 2}),
            "goals": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, submitting=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.submitting = submitting
        for name, field in self.fields.items():
            model_field = IntakeForm._meta.get_field(name)
            if isinstance(field, forms.NullBooleanField):
                self.fields[name] = forms.NullBooleanField(
                    label=model_field.verbose_name,
                    help_text=model_field.help_text,
                    required=False,
                    widget=forms.RadioSelect(choices=YES_NO_CHOICES),
                )
            elif name in MULTI_CHOICE_QUESTIONS:
                self.fields[name] = forms.MultipleChoiceField(
                    label=model_field.verbose_name.capitalize(),
                    choices=MULTI_CHOICE_QUESTIONS[name],
                    widget=forms.CheckboxSelectMultiple,
                    required=False,
                    help_text="Tick all that apply; leave empty if none.",
                )
        self.fields["isotretinoin_last_dose"].widget.attrs["max"] = clock.today().isoformat()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            *[
                Div(Fieldset(title, *names), css_class="card card-body mb-3 intake-section")
                for title, names in SECTIONS
            ],
            HTML(
                '<p class="text-body-secondary">Not finished? Save your answers and come back later. '
                "Your form is sent to a practitioner only when it is complete and the declaration is ticked.</p>"
            ),
            SecondarySubmit("save_draft", "Save and finish later", css_class="me-2"),
            Submit("submit", "Send my health form"),
        )

    def clean_emergency_contact_phone(self):
        value = self.cleaned_data["emergency_contact_phone"]
        return clean_phone_number(value) if value else value

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("took_isotretinoin") and self.submitting and not cleaned.get("isotretinoin_last_dose"):
            self.add_error("isotretinoin_last_dose", "Give the date of your last dose (an estimate is fine).")
        if (
            cleaned.get("recent_area_treatments")
            and self.submitting
            and not cleaned.get("recent_area_treatments_details")
        ):
            self.add_error("recent_area_treatments_details", "Tell us which treatments, and roughly when.")
        implant = cleaned.get("implanted_electronic_device") or cleaned.get("metal_implant_in_area")
        if implant and self.submitting and not cleaned.get("implant_details"):
            self.add_error("implant_details", "Tell us which device or implant you have, and where.")
        if self.submitting:
            self._require_complete(cleaned)
        return cleaned

    def _require_complete(self, cleaned):
        for name, field in self.fields.items():
            if name in self.errors:
                continue
            if isinstance(field, forms.NullBooleanField) and cleaned.get(name) is None:
                self.add_error(name, NOT_ANSWERED)
            elif name in REQUIRED_TEXT and not cleaned.get(name):
                self.add_error(name, "This is needed.")
        if not cleaned.get("areas_of_concern") and "areas_of_concern" not in self.errors:
            self.add_error("areas_of_concern", "Choose at least one area.")
        if not cleaned.get("declaration"):
            self.add_error("declaration", "Tick the declaration to send your form.")

    def missing_sections(self) -> list[str]:
        """Sections with an error, in form order: what the patient still has to do."""
        seen = []
        for name in self.errors:
            if name in QUESTION_FIELDS and (title := section_of(name)) not in seen:
                seen.append(title)
        return sorted(seen, key=lambda title: [t for t, _ in SECTIONS].index(title))


class ReviewForm(forms.ModelForm):
    class Meta:
        model = Review
        fields = [
            "decision",
            "message_to_patient",
            "notes",
            "valid_until",
            "prescriber_advice",
            "prescriber_name",
            "prescriber_role",
            "prescriber_advised_on",
            "free_text_read",
            "max_needle_depth_mm",
            "excluded_areas",
        ]
        widgets = {
            "decision": forms.RadioSelect,
            "valid_until": DateInput,
            "prescriber_advised_on": DateInput,
            "message_to_patient": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "prescriber_advice": forms.Textarea(attrs={"rows": 2}),
            "max_needle_depth_mm": forms.NumberInput(attrs={"step": "0.05", "min": "0.25", "max": "3.00"}),
        }
        help_texts = {"valid_until": "For a clearance. Empty: the clinic's default validity."}

    def __init__(self, *args, running_washouts=(), free_text=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.running_washouts = list(running_washouts)
        self.free_text = list(free_text)
        if self.free_text:
            self.fields["free_text_read"].required = True
            self.fields["free_text_read"].error_messages["required"] = FREE_TEXT_UNREAD
        else:
            del self.fields["free_text_read"]
        self.fields["decision"].choices = Review.Decision.choices  # no empty "-----" radio
        self.fields["prescriber_advised_on"].widget.attrs["max"] = clock.today().isoformat()
        self.fields["excluded_areas"] = forms.MultipleChoiceField(
            label="Areas not to treat",
            choices=BodyArea.choices,
            widget=forms.CheckboxSelectMultiple,
            required=False,
            help_text="A condition: a session record on these areas is refused.",
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            *(["free_text_read"] if self.free_text else []),
            "decision",
            "message_to_patient",
            "notes",
            "valid_until",
            Fieldset(
                "Limits the session record enforces (with 'cleared with conditions')",
                "max_needle_depth_mm",
                "excluded_areas",
                css_class="border rounded p-2 mb-3",
            ),
            Fieldset(
                "Advice from the patient's prescriber (only if they gave it)",
                "prescriber_advice",
                "prescriber_name",
                "prescriber_role",
                "prescriber_advised_on",
                css_class="border rounded p-2 mb-3",
            ),
        )
        self.helper.add_input(Submit("record", "Record decision"))

    def clean(self):
        cleaned = super().clean()
        decision = cleaned.get("decision")
        message = (cleaned.get("message_to_patient") or "").strip()
        if decision == Review.Decision.CLEARED_WITH_CONDITIONS and not message:
            self.add_error("message_to_patient", "Write the conditions: the patient sees them.")
        if decision == Review.Decision.NEEDS_INFORMATION and not message:
            self.add_error("message_to_patient", "Tell the patient what information you need.")
        valid_until = cleaned.get("valid_until")
        if valid_until and valid_until < clock.today():
            self.add_error("valid_until", "A clearance cannot end in the past.")
        if decision in Review.CLEARING and self.running_washouts:
            ends = max(flag.until for flag in self.running_washouts)
            self.add_error(
                "decision",
                f"A washout runs until {ends:%d %B %Y}: the patient cannot be cleared before then. "
                "Record 'needs information' or 'declined' with a message instead.",
            )
        return cleaned


class ConsentForm(forms.Form):
    signed_name = forms.CharField(label="Type your full name", max_length=200)
    agreed = forms.BooleanField(label="I have read and agree to the consent above.", required=True)

    def __init__(self, *args, patient, **kwargs):
        super().__init__(*args, **kwargs)
        self.patient = patient
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.add_input(Submit("sign", "Sign consent"))

    def clean_signed_name(self):
        typed = " ".join(self.cleaned_data["signed_name"].split())
        expected = " ".join(self.patient.full_name.split())
        if expected and typed.casefold() != expected.casefold():
            raise forms.ValidationError(f"Type your name as it is on your account: {expected}.")
        return typed
