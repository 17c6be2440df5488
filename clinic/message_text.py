"""The one place where every message's words are rendered (reminders, the welcome, notices, the desk's
form link, waitlist offers): the context all of them share (`shared_context`: the clinic's name, address,
phone and email today; the site a patient belongs to once there are several) and the clean-up of plain
text. A message that names the clinic gets it from here, so changing what "the clinic" means for one
patient changes every message at once."""

import re

from django.conf import settings
from django.template.loader import render_to_string


def place(site=None) -> dict:
    """The clinic as a patient of one site reads it: the clinic's settings (`settings.CLINIC`) with that
    site's address, phone and email, and `PLACE`, the name to write before the address ("Smooth Skin
    Clinic Madrid"; just the clinic's name when the site is called that, as the first site made from the
    settings is). Without a site: the clinic's settings as they are, for what is about no place. Every
    message, calendar file, receipt and page that names a place asks here (issue 17)."""
    clinic = settings.CLINIC
    if site is None:
        return {**clinic, "PLACE": clinic["NAME"], "SITE": None, "TIME_ZONE": settings.CLINIC_TIME_ZONE,
                "TIME_LABEL": "clinic time"}  # fmt: skip
    same_name = site.name.strip().casefold() == clinic["NAME"].strip().casefold()
    return {
        "TIME_ZONE": site.time_zone,
        # "(CEST, Madrid time)" where the site keeps another clock than the clinic's; else "clinic time".
        "TIME_LABEL": "clinic time" if site.time_zone == settings.CLINIC_TIME_ZONE else f"{site.name} time",
        **clinic,
        "PLACE": clinic["NAME"] if same_name else f"{clinic['NAME']} {site.name}",
        "ADDRESS": site.address or clinic["ADDRESS"],
        "PHONE": site.phone or clinic["PHONE"],
        "EMAIL": site.email or clinic["EMAIL"],
        "SITE": site,
    }


def shared_context(**context) -> dict:
    """What every message template may use, plus the message's own values. A message about an appointment
    passes `site=appointment.site`: `clinic` is then that site's address and contacts (`place`)."""
    site = context.pop("site", None)
    return {"clinic": place(site), "site": site, **context}


def render_text(template_name: str, context: dict) -> str:
    """A plain-text message (an email's text part or a text message): blank runs folded, ends trimmed."""
    return re.sub(r"\n{3,}", "\n\n", render_to_string(template_name, shared_context(**context))).strip()


def render_html(template_name: str, context: dict) -> str:
    return render_to_string(template_name, shared_context(**context))
