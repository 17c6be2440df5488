"""The one place where every message's words are rendered (reminders, the welcome, notices, the desk's
form link, waitlist offers): the context all of them share (`shared_context`: the clinic's name, address,
phone and email today; the site a patient belongs to once there are several) and the clean-up of plain
text. A message that names the clinic gets it from here, so changing what "the clinic" means for one
patient changes every message at once."""

import re

from django.conf import settings
from django.template.loader import render_to_string


def shared_context(**context) -> dict:
    """What every message template may use, plus the message's own values."""
    return {"clinic": settings.CLINIC, **context}


def render_text(template_name: str, context: dict) -> str:
    """A plain-text message (an email's text part or a text message): blank runs folded, ends trimmed."""
    return re.sub(r"\n{3,}", "\n\n", render_to_string(template_name, shared_context(**context))).strip()


def render_html(template_name: str, context: dict) -> str:
    return render_to_string(template_name, shared_context(**context))
