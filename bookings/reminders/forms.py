from django import forms

from bookings.models import AftercareCheckIn


class CheckInForm(forms.Form):
    answer = forms.ChoiceField(
        label="How is the treated skin today?", choices=AftercareCheckIn.Answer.choices, widget=forms.RadioSelect
    )
    details = forms.CharField(
        label="Anything you want to tell us", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("answer") == AftercareCheckIn.Answer.OTHER and not cleaned.get("details", "").strip():
            self.add_error("details", "Tell us in a few words what you notice.")
        return cleaned
