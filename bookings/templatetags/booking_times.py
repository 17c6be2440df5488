"""`{% time_buttons slots choose_url practitioner site several_sites %}`: the times list's buttons on the
patient's booking and moving pages (bookings/includes/times.html), one link per free time.

Written as a string rather than in the template: a day of first-available times has 20 to 60 buttons, and
the template language spent some fifteen variable lookups, a time format and a `{% localtime %}` on each,
most of the times list's cost. The markup is the template's, value for value; every value that is not
made of digits or an internal key is escaped (a practitioner's or a site's name, the URL).
"""

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag
def time_buttons(slots, choose_url, practitioner=None, site=None, several_sites=False):
    """The `<li>` of each free time: its start on its site's clock, and with whom (first available) and
    where (a treatment had at several sites, any site) in words a screen reader reads as one label."""
    url = escape(choose_url)
    show_name, show_site = not practitioner, bool(several_sites and not site)
    names: dict = {}  # a practitioner's or a site's name, escaped once a list
    items = []
    for slot in slots:
        slot_site = slot.site
        label = f"{slot.local_start:%H:%M}"
        if show_name:
            who = slot.practitioner
            name = names.get(who) or names.setdefault(who, escape(who.name))
            label += f'<span class="visually-hidden"> with</span> <small class="d-block">{name}</small>'
        if show_site:
            name = names.get(slot_site) or names.setdefault(slot_site, escape(slot_site.name))
            label += f'<span class="visually-hidden"> at</span> <small class="d-block">{name}</small>'
        items.append(
            f'<li class="list-inline-item mb-2"><a class="btn btn-outline-primary" href="{url}?practitioner='
            f'{slot.practitioner.pk}&amp;start={slot.key}&amp;site={slot_site.pk}">{label}</a></li>'
        )
    return mark_safe("\n    ".join(items))  # noqa: S308 - every value above is escaped or made of digits
