"""Email backends for the reminder tests: one that always fails, and one that records each delivery in a
file and can be held mid-send, so a test can kill a real worker process while it is sending."""

import os
import time
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server refused the connection")


class GatedFileBackend(BaseEmailBackend):
    """Writes `sending-<reminder>` when a send starts, waits while the file `hold` exists in
    $REMINDER_TEST_MAIL_DIR, then appends one line per delivered message to `deliveries.log`."""

    def send_messages(self, email_messages):
        folder = Path(os.environ["REMINDER_TEST_MAIL_DIR"])
        for message in email_messages:
            reminder = message.extra_headers.get("X-Clinic-Reminder", "?")
            (folder / f"sending-{reminder}").write_text(str(os.getpid()))
            while (folder / "hold").exists():
                time.sleep(0.05)
            with open(folder / "deliveries.log", "a") as log:
                log.write(f"{reminder}\n")
        return len(email_messages)


class HoldAfterFileBackend(BaseEmailBackend):
    """Delivers first (a line with the reminder and its Message-ID in `deliveries.log`), then writes
    `handed-over-<reminder>` and waits while `hold-after` exists: the window after the mail server accepted
    a message and before the worker records it, where a test kills the worker."""

    def send_messages(self, email_messages):
        folder = Path(os.environ["REMINDER_TEST_MAIL_DIR"])
        for message in email_messages:
            reminder = message.extra_headers.get("X-Clinic-Reminder") or (
                f"notice-{message.extra_headers.get('X-Clinic-Notice', '?')}"  # a notice (clinic/notices.py)
            )
            with open(folder / "deliveries.log", "a") as log:
                log.write(f"{reminder} {message.extra_headers.get('Message-ID')}\n")
            (folder / f"handed-over-{reminder}").write_text(str(os.getpid()))
            while (folder / "hold-after").exists():
                time.sleep(0.05)
        return len(email_messages)
