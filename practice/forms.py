"""Forms of the practitioner's workspace. Every range is checked here (and again by the database)."""

from crispy_forms.helper import FormHelper
from django import forms

from clinic.models import BodyArea, Treatment

from .models import GRADE_RANGES, NEEDLE_DEPTH_RANGE_MM, CoursePlan, GradingScale, SessionRecord
from .photos import check_photo


class SessionRecordForm(forms.ModelForm):
    """The record of one session. For each body area: treated or not, and its grade on the chosen scale."""

    scale = forms.ChoiceField(label="Grading scale", choices=GradingScale.choices, initial=GradingScale.HEXSEL)
    photo = forms.FileField(
        required=False,
        label="Progress photo (optional)",
        help_text="JPEG, PNG or WebP. Kept privately; only with the patient's photo consent.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
    )

    class Meta:
        model = SessionRecord
        fields = ["device", "needle_depth_mm", "passes", "product", "reactions", "notes"]
        widgets = {
            "reactions": forms.Textarea(attrs={"rows": 2}),
            "notes": forms.Textarea(attrs={"rows": 3}),
            "needle_depth_mm": forms.NumberInput(
                attrs={"step": "0.05", "min": str(NEEDLE_DEPTH_RANGE_MM[0]), "max": str(NEEDLE_DEPTH_RANGE_MM[1])}
            ),
        }
        help_texts = {"needle_depth_mm": f"From {NEEDLE_DEPTH_RANGE_MM[0]} to {NEEDLE_DEPTH_RANGE_MM[1]} mm."}

    override_reason = forms.CharField(
        required=False,
        max_length=300,
        label="Clinic admin: record anyway, because",
        help_text="Only when a safety check refuses the record; kept with the record and in the audit trail.",
    )

    def __init__(self, *args, photos_allowed=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.photos_allowed = photos_allowed
        self.fields["needle_depth_mm"].error_messages.update(
            min_value=f"The needle depth is at least {NEEDLE_DEPTH_RANGE_MM[0]} mm.",
            max_value=f"The needle depth is at most {NEEDLE_DEPTH_RANGE_MM[1]} mm.",
        )
        existing = {a.area: a for a in self.instance.areas.all()} if self.instance.pk else {}
        if existing:
            self.fields["scale"].initial = next(iter(existing.values())).scale
        for code, label in BodyArea.choices:
            self.fields[f"treated_{code}"] = forms.BooleanField(
                required=False, label=f"{label} treated", initial=code in existing
            )
            self.fields[f"grade_{code}"] = forms.IntegerField(
                required=False, label=f"{label}: grade", initial=getattr(existing.get(code), "grade", None)
            )
        if not photos_allowed:
            self.fields["photo"].help_text = "The patient has not agreed to progress photos."
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def area_fields(self):
        return [(label, self[f"treated_{code}"], self[f"grade_{code}"]) for code, label in BodyArea.choices]

    def clean_photo(self):
        upload = self.cleaned_data.get("photo")
        if not upload:
            return None
        if not self.photos_allowed:
            raise forms.ValidationError("The patient has not agreed to progress photos.")
        check_photo(upload)
        return upload

    def clean(self):
        cleaned = super().clean()
        scale = cleaned.get("scale")
        low, high = GRADE_RANGES.get(scale, (None, None)) if scale else (None, None)
        areas = []
        for code, label in BodyArea.choices:
            if not cleaned.get(f"treated_{code}"):
                continue
            grade = cleaned.get(f"grade_{code}")
            if grade is None:
                if f"grade_{code}" not in self.errors:
                    self.add_error(f"grade_{code}", f"Give the grade of the {label.lower()}.")
            elif low is not None and not low <= grade <= high:
                self.add_error(f"grade_{code}", f"On the {GradingScale(scale).label} a grade is from {low} to {high}.")
            else:
                areas.append((code, scale, grade))
        if not any(cleaned.get(f"treated_{code}") for code, _ in BodyArea.choices):
            self.add_error(None, "Tick at least one area treated.")
        cleaned["areas"] = areas
        return cleaned


class CoursePlanForm(forms.ModelForm):
    class Meta:
        model = CoursePlan
        fields = ["treatment", "sessions", "interval_days"]
        labels = {"sessions": "Number of sessions", "interval_days": "Days between sessions"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["treatment"].queryset = Treatment.objects.filter(active=True, kind=Treatment.Kind.SESSION)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean(self):
        cleaned = super().clean()
        treatment, interval = cleaned.get("treatment"), cleaned.get("interval_days")
        if treatment and interval is not None and (problem := treatment.interval_problem(interval)):
            self.add_error("interval_days", problem)
        return cleaned

    def validate_unique(self):
        """One plan per patient and treatment: the service updates the existing one."""


class PinAlertForm(forms.Form):
    """A clinical alert for the patient's banner: practitioner-facing, never shown to the patient."""

    text = forms.CharField(
        label="Alert",
        max_length=200,
        help_text='Seen by practitioners only, wherever they decide; e.g. "pacemaker: no RF".',
        widget=forms.TextInput(attrs={"placeholder": "pacemaker: no RF"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
