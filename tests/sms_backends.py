"""SMS backends for the worker tests: Twilio's, held right after Twilio accepted the message."""

import os
import time
from pathlib import Path

from clinic.sms import TwilioSmsBackend


class HoldAfterTwilioBackend(TwilioSmsBackend):
    """Sends through Twilio (the tests' stand-in), then writes `handed-over-<reference>` and waits while
    `hold-after` exists in $REMINDER_TEST_MAIL_DIR: a test kills the worker in that window."""

    def send(self, to, body, reference=""):
        sid = super().send(to, body, reference)
        folder = Path(os.environ["REMINDER_TEST_MAIL_DIR"])
        (folder / f"handed-over-{reference}").write_text(sid)
        while (folder / "hold-after").exists():
            time.sleep(0.05)
        return sid
