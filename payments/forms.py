"""Forms of the till. They read and clean input only; every rule is in `payments.services`."""

from decimal import Decimal

from django import forms

from .models import Package, Payment

MAX_AMOUNT = Decimal("100000")


def amount_field():
    return forms.DecimalField(
        min_value=Decimal("0.01"), max_value=MAX_AMOUNT, max_digits=10, decimal_places=2, label="Amount (£)"
    )


class TakePaymentForm(forms.Form):
    METHODS = [
        (Payment.Method.CARD_TERMINAL, "Card terminal"),
        (Payment.Method.CASH, "Cash"),
        (Payment.Method.WAIVED, "Waive it (give a reason)"),
    ]
    amount = amount_field()
    method = forms.ChoiceField(choices=METHODS)
    note = forms.CharField(max_length=300, required=False, label="Note, or the reason for waiving")
    appointment = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("method") == Payment.Method.WAIVED and not (cleaned.get("note") or "").strip():
            self.add_error("note", "Give a reason for waiving the charge.")
        return cleaned


class RefundForm(forms.Form):
    amount = amount_field()
    reason = forms.CharField(max_length=300)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300)


class SellPackageForm(forms.Form):
    package = forms.ModelChoiceField(queryset=Package.objects.filter(active=True))
    method = forms.ChoiceField(choices=[(Payment.Method.CARD_TERMINAL, "Card terminal"), (Payment.Method.CASH, "Cash")])
