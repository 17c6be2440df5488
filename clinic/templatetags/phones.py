"""`{{ patient.phone|phone }}`: a stored (E.164) number as people read it (`clinic.phones.display`)."""

from django import template

from clinic import phones

register = template.Library()


@register.filter(name="phone")
def phone(value) -> str:
    return phones.display(str(value or ""))
