"""Phone numbers, one home: parsed and checked with `phonenumbers` (Google's libphonenumber, which knows every
country's numbering plan), stored in E.164 (+447700900123), shown in the national format for UK numbers
(07700 900123) and the international format for others (+33 6 12 34 56 78).

Why the library rather than a pattern: "07700 900123", "+44 7700 900123", "0044 7700 900123" and
"(07700) 900-123" are one number, and only the numbering plan says which digit strings are numbers at all.
Why E.164 in the database: one spelling per number, so the desk finds a patient whatever the caller dictates,
and the text-message provider gets the form it needs.

Ofcom keeps two UK ranges for drama and examples (07700 900000-900999, 020 7946 0000-0999): never given to
anyone, so the demo and the tests use them and no real person is ever texted. libphonenumber calls the mobile
range invalid; it is accepted here.
"""

import phonenumbers
from django import forms
from django.conf import settings

INVALID = "Enter a phone number we can call, e.g. 07700 900123 or +44 7700 900123."
_FICTIONAL_PREFIXES = ("+447700900", "+442079460")


def region() -> str:
    """Where a number without a country code is from: the clinic's country."""
    return settings.PHONE_REGION


def country_code() -> int:
    return phonenumbers.country_code_for_region(region())


def parse(text: str) -> phonenumbers.PhoneNumber | None:
    """The number written in `text`, in any common format, or None if it is no phone number at all."""
    text = (text or "").strip()
    if not text or len(text) > 40 or any(c not in "0123456789 +-().\u00a0/" for c in text):
        return None
    try:
        number = phonenumbers.parse(text, region())
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def is_fictional(number: phonenumbers.PhoneNumber) -> bool:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return len(e164) == 13 and e164.startswith(_FICTIONAL_PREFIXES)


def to_e164(text: str) -> str | None:
    """E.164 for a number a person can be called on, or None. What forms store."""
    number = parse(text)
    if number is None or not (phonenumbers.is_valid_number(number) or is_fictional(number)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(stored: str) -> str:
    """How staff and patients read a stored number: national format at home, international abroad. A value
    that is not E.164 (a row the migration could not read) is shown as it is."""
    if not stored or not stored.startswith("+"):
        return stored or ""
    try:
        number = phonenumbers.parse(stored, None)
    except phonenumbers.NumberParseException:
        return stored
    home = phonenumbers.region_code_for_number(number) == region() or (
        number.country_code == phonenumbers.country_code_for_region(region())
    )
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


class PhoneField(forms.CharField):
    """A phone number in any common format; cleans to E.164 and shows the stored number as `display` does."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return display(value) if isinstance(value, str) and value.startswith("+") else value

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return ""
        e164 = to_e164(value)
        if e164 is None:
            raise forms.ValidationError(INVALID, code="invalid")
        return e164
