"""Text messages behind a small backend interface, like Django's email backends.

settings.SMS_BACKEND names the class. A real provider is one more subclass of `BaseSmsBackend` whose
`send` raises when the provider refuses the message.
"""

import datetime
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string

# The locmem backend's outbox, like django.core.mail.outbox: a list of SentSms for tests.
outbox: list = []
_outbox_lock = threading.Lock()


class SentSms:
    def __init__(self, to: str, body: str, reference: str):
        self.to, self.body, self.reference = to, body, reference

    def __repr__(self):
        return f"SentSms(to={self.to!r}, reference={self.reference!r})"


class BaseSmsBackend:
    def send(self, to: str, body: str, reference: str = "") -> None:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    def send(self, to, body, reference=""):
        sys.stdout.write(f"--- SMS to {to} (ref {reference}) ---\n{body}\n")
        sys.stdout.flush()


class FileSmsBackend(BaseSmsBackend):
    """One line-delimited record per message under settings.SMS_FILE_PATH (default var/sms/)."""

    def send(self, to, body, reference=""):
        folder = Path(getattr(settings, "SMS_FILE_PATH", settings.VAR_DIR / "sms"))
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.UTC).isoformat()
        with open(folder / f"{datetime.date.today():%Y-%m-%d}.log", "a", encoding="utf-8") as log:
            log.write(f"--- {stamp} to {to} (ref {reference})\n{body}\n")


class LocmemSmsBackend(BaseSmsBackend):
    def send(self, to, body, reference=""):
        with _outbox_lock:
            outbox.append(SentSms(to, body, reference))


def get_sms_backend() -> BaseSmsBackend:
    return import_string(getattr(settings, "SMS_BACKEND", "bookings.reminders.sms.ConsoleSmsBackend"))()
