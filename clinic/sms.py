"""Text messages behind a small backend interface, like Django's email backends.

settings.SMS_BACKEND names the class: `TwilioSmsBackend` when TWILIO_ACCOUNT_SID is set, else the file backend
(so `make run` works offline). `send` returns the provider's id for the message (or "") and raises when the
provider refuses it. `look_up` finds a message handed over before a crash; backends that cannot (file,
console, locmem) raise NoEvidence, and such a reminder is marked 'delivery uncertain' for the desk.
"""

import dataclasses
import datetime
import hashlib
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from clinic import phones
from clinic.links import absolute_url

# The locmem backend's outbox, like django.core.mail.outbox: a list of SentSms for tests.
outbox: list = []
_outbox_lock = threading.Lock()


class SentSms:
    def __init__(self, to: str, body: str, reference: str):
        self.to, self.body, self.reference = to, body, reference

    def __repr__(self):
        return f"SentSms(to={self.to!r}, reference={self.reference!r})"


class PermanentDeliveryError(Exception):
    """Retrying cannot help (no address to send to): the reminder fails at once, with this reason."""


class NoEvidence(Exception):
    """This backend cannot tell whether a message handed over before a crash went out."""


@dataclasses.dataclass(frozen=True)
class Evidence:
    provider_ref: str
    status: str


# Twilio's message statuses, by how far along they are: a late 'sent' never overwrites 'delivered'.
PROVIDER_STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "read": 4,
}
PROVIDER_FAILURES = {"undelivered", "failed"}


def status_moves_on(recorded: str, reported: str) -> bool:
    """Whether a status callback's status replaces the one on record (callbacks can arrive out of order)."""
    return PROVIDER_STATUS_RANK.get(reported, 0) >= PROVIDER_STATUS_RANK.get(recorded, -1)


def failure_text(status: str, error_code: str = "") -> str:
    return f"The text service reports it {status}" + (f" (error {error_code[:10]})" if error_code else "")


def body_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def e164(number: str) -> str:
    """A phone number as the provider and the inbound matching need it (+447700900123), or "" when it is not
    a number. Patients' numbers are stored in E.164 already (clinic/phones.py); this reads any other form."""
    return phones.to_e164(number or "") or ""


class BaseSmsBackend:
    def send(self, to: str, body: str, reference: str = "") -> str:
        raise NotImplementedError

    def look_up(self, *, to: str, digest: str, since: datetime.datetime) -> Evidence | None:
        """The message with this body digest sent to `to` since `since`, or None if the provider has none."""
        raise NoEvidence(f"{type(self).__name__} keeps no record the app can ask")


class ConsoleSmsBackend(BaseSmsBackend):
    def send(self, to, body, reference=""):
        sys.stdout.write(f"--- SMS to {to} (ref {reference}) ---\n{body}\n")
        sys.stdout.flush()
        return ""


class FileSmsBackend(BaseSmsBackend):
    """One line-delimited record per message under settings.SMS_FILE_PATH (default var/sms/)."""

    def send(self, to, body, reference=""):
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.datetime.now(datetime.UTC).isoformat()
        with open(folder / f"{datetime.date.today():%Y-%m-%d}.log", "a", encoding="utf-8") as log:
            log.write(f"--- {stamp} to {to} (ref {reference})\n{body}\n")
        return ""


class LocmemSmsBackend(BaseSmsBackend):
    def send(self, to, body, reference=""):
        with _outbox_lock:
            outbox.append(SentSms(to, body, reference))
        return ""


class TwilioSmsBackend(BaseSmsBackend):
    """Twilio, through its official library. Each message asks for status callbacks to our signed webhook
    with the outbox row's reference in the URL, so delivered/failed/undelivered land on the row even when the
    worker died before it could save Twilio's id. TWILIO_API_BASE_URL points the client elsewhere (the tests'
    local stand-in); production leaves it empty."""

    def __init__(self):
        from twilio.rest import Client  # 70 ms of import (requests, urllib3), paid only where texts are sent

        self.client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
        if settings.TWILIO_API_BASE_URL:
            self.client.api.base_url = settings.TWILIO_API_BASE_URL.rstrip("/")

    def _sender(self) -> dict:
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            return {"messaging_service_sid": settings.TWILIO_MESSAGING_SERVICE_SID}
        return {"from_": settings.TWILIO_FROM_NUMBER}

    def send(self, to, body, reference=""):
        number = e164(to)
        if not number:
            raise PermanentDeliveryError(f"not a phone number a text can go to: {to!r}")
        callback = absolute_url(reverse("sms_status")) + (f"?ref={reference}" if reference else "")
        message = self.client.messages.create(to=number, body=body, status_callback=callback, **self._sender())
        return message.sid

    def look_up(self, *, to, digest, since):
        for message in self.client.messages.list(to=e164(to), date_sent_after=since - datetime.timedelta(days=1)):
            if body_digest(message.body or "") == digest:
                return Evidence(message.sid, str(message.status or ""))
        return None


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()
