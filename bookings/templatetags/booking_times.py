"""The repeated parts of the patient's booking and moving pages, written as strings rather than in the
template language, which spent most of those pages' time on them:

- `{% time_buttons slots choose_url practitioner site several_sites %}`: the times list's buttons
  (bookings/includes/times.html), one link per free time: a day of first-available times has 20 to 60, and
  the template spent some fifteen variable lookups, a time format and a `{% localtime %}` on each;
- `{% day_links next_days page_url times_url site practitioner %}`: the times list's other days with free
  times, two date formats each;
- `{% select_options options %}`: the chooser's options (bookings/includes/chooser.html), up to one per
  practitioner;
- `{% day_heading day %}`: the times list's day, as `{{ day|date:"l j F Y" }}` wrote it.

A day's words ("Mon 4 Jan") are written once per process for each day, format and language (`day_text`):
two date formats were a fifth of the times list's template.

The markup is the template's, value for value; every value that is not made of digits or an internal key is
escaped (a practitioner's or a site's name, a URL).
"""

import functools

from django import template
from django.utils import dateformat
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from clinic import clock

register = template.Library()


def day_text(day, format_string: str) -> str:
    """`dateformat.format(day, format_string)` of a date, escaped: as the `date` filter writes a date."""
    return _day_text(day, format_string, get_language())


@functools.lru_cache(maxsize=4096)
def _day_text(day, format_string, language):
    return escape(dateformat.format(day, format_string))  # the language's day and month names


@register.simple_tag
def day_heading(day):
    return day_text(day, "l j F Y")


@register.simple_tag
def time_buttons(slots, choose_url, practitioner=None, site=None, several_sites=False):
    """The `<li>` of each free time: its start on its site's clock, and with whom (first available) and
    where (a treatment had at several sites, any site) in words a screen reader reads as one label."""
    url = escape(choose_url)
    show_name, show_site = not practitioner, bool(several_sites and not site)
    # What is written of each practitioner and room, once a list: a list has 20 to 60 slots among a few of
    # them (looked up by identity: the slots share the catalogue's rows).
    people, rooms = {}, {}
    items = []
    for slot in slots:
        who, room = slot.practitioner, slot.room
        person = people.get(id(who))
        if person is None:
            label = f'<span class="visually-hidden"> with</span> <small class="d-block">{escape(who.name)}</small>'
            person = people[id(who)] = (who, who.pk, label if show_name else "")
        where = rooms.get(id(room))
        if where is None:
            slot_site = slot.site
            label = f'<span class="visually-hidden"> at</span> <small class="d-block">{escape(slot_site.name)}</small>'
            where = rooms[id(room)] = (room, clock.zone(slot_site), slot_site.pk, label if show_site else "")
        items.append(
            f'<li class="list-inline-item mb-2"><a class="btn btn-outline-primary" href="{url}?practitioner='
            f'{person[1]}&amp;start={slot.key}&amp;site={where[2]}">'
            f"{slot.start_at.astimezone(where[1]):%H:%M}{person[2]}{where[3]}</a></li>"
        )
    return mark_safe("\n    ".join(items))  # noqa: S308 - every value above is escaped or made of digits


@register.simple_tag
def day_links(days, page_url, times_url, site=None, practitioner=None):
    """The `<li>` of each other day with free times: a link to the page for that day, which htmx loads into
    the times list in place."""
    query = f"?site={site.pk if site else ''}&amp;practitioner={practitioner.pk if practitioner else ''}&amp;day="
    page, times = escape(page_url) + query, escape(times_url) + query
    items = [
        f'<li class="list-inline-item"><a href="{page}{day.isoformat()}" hx-get="{times}{day.isoformat()}" '
        f'hx-target="#times">{day_text(day, "D j M")}</a></li>'
        for day in days
    ]
    return mark_safe("\n    ".join(items))  # noqa: S308 - every value above is escaped or made of digits


@register.simple_tag
def select_options(options):
    """The `<option>` of each (value, label, selected) of a chooser's select (`DayChoiceForm._options`),
    each followed by the line break the template's loop wrote."""
    return mark_safe("".join([option(value, label, selected) for value, label, selected in options]))  # noqa: S308


def option(value, label, selected=False) -> str:
    """One `<option>` of a chooser's select and the line break after it, its value and label escaped (also
    written once per catalogue by `bookings.forms.Choices`)."""
    return f'<option value="{escape(value)}"{" selected" if selected else ""}>{escape(label)}</option>\n    '
