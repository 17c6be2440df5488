"""Filters for the printable copy of a patient's data: the sections other apps add are plain values under
snake_case keys (as in the JSON file), shown here as words."""

from django import template

register = template.Library()


@register.filter(name="words")
def words(key) -> str:
    """`receipts_and_invoices` -> `Receipts and invoices`."""
    return str(key).replace("_", " ").capitalize()
