"""A local HTTP stand-in for the part of Twilio's REST API the clinic uses (create, list and fetch messages),
so the official `twilio` library runs for real in the tests: its requests, authentication, serialisation
and errors. Started by the tests on 127.0.0.1; nothing leaves the machine.

It checks HTTP basic auth (account SID and auth token) as Twilio does, answers in Twilio's JSON shapes, and
can be told to refuse the next messages with a Twilio error (e.g. 21211, an invalid 'To' number)."""

import email.utils
import json
import threading
import uuid
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "stand-in-auth-token-0123456789ab"
FROM_NUMBER = "+447700900999"


class TwilioStandIn:
    def __init__(self):
        self.messages: list[dict] = []
        self.refuse_next: list[tuple[int, int, str]] = []  # (http status, twilio code, message)
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # shutdown() waits for the serving loop to look at its flag, which it does once a poll_interval (0.5 s by
        # default): each test's stop waited up to that long doing nothing.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _authorised(self) -> bool:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return False
                return b64decode(header[6:]).decode() == f"{ACCOUNT_SID}:{AUTH_TOKEN}"

            def _answer(self, status: int, payload: dict):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status, code, message):
                self._answer(status, {"code": code, "message": message, "status": status, "more_info": ""})

            def do_POST(self):
                if not self._authorised():
                    return self._error(401, 20003, "Authenticate")
                path = urlsplit(self.path).path
                if path != f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json":
                    return self._error(404, 20404, "The requested resource was not found")
                form = {
                    k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()
                }
                with standin.lock:
                    if standin.refuse_next:
                        status, code, message = standin.refuse_next.pop(0)
                        return self._error(status, code, message)
                    message = {
                        "sid": "SM" + uuid.uuid4().hex,
                        "account_sid": ACCOUNT_SID,
                        "to": form.get("To", ""),
                        "from": form.get("From", ""),
                        "messaging_service_sid": form.get("MessagingServiceSid"),
                        "body": form.get("Body", ""),
                        "status": "queued",
                        "status_callback": form.get("StatusCallback", ""),
                        "date_created": email.utils.formatdate(usegmt=True),
                        "date_sent": email.utils.formatdate(usegmt=True),
                        "direction": "outbound-api",
                        "num_segments": "1",
                    }
                    standin.messages.append(message)
                self._answer(201, {k: v for k, v in message.items() if k != "status_callback"})

            def do_GET(self):
                if not self._authorised():
                    return self._error(401, 20003, "Authenticate")
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                base = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages"
                with standin.lock:
                    found = [m for m in standin.messages if not query.get("To") or m["to"] == query["To"]]
                if url.path == base + ".json":
                    records = [{k: v for k, v in m.items() if k != "status_callback"} for m in found]
                    return self._answer(
                        200, {"messages": records, "next_page_uri": None, "page": 0, "page_size": 50, "uri": url.path}
                    )
                for m in found:
                    if url.path == f"{base}/{m['sid']}.json":
                        return self._answer(200, m)
                return self._error(404, 20404, "The requested resource was not found")

        return Handler
