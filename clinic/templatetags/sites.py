"""`{{ site|place }}`: the clinic as a patient of that site reads it (`clinic.message_text.place`), for pages
that name where an appointment is."""

from django import template

from clinic.message_text import place as clinic_place

register = template.Library()


@register.filter
def place(site):
    return clinic_place(site or None)
