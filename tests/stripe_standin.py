"""A local stand-in of the parts of Stripe's API the clinic uses, for the tests (and the browser journey).

The official `stripe` library talks to it over HTTP (`stripe.api_base` points here), so the library's
request encoding, headers, idempotency keys and response parsing are exercised for real. It implements:

    POST /v1/checkout/sessions                create (form-encoded, nested keys as Stripe's library sends)
    GET  /v1/checkout/sessions/{id}           retrieve
    POST /v1/checkout/sessions/{id}/expire    expire an open session
    POST /v1/refunds                          refund a paid session's PaymentIntent, up to what is left

and Stripe's idempotency: a repeated Idempotency-Key with the same parameters replays the first response;
with different parameters it is refused (400, idempotency_error). Requests without the secret key get 401.

It is also the hosted checkout page: GET /pay/{id} shows a "Pay" button; POST /pay/{id} completes the
session, delivers the signed `checkout.session.completed` webhook to `webhook_url` (when set) and sends the
browser to the session's success_url. `signed(event)` signs an event exactly as Stripe does:
`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>`.
"""

import contextlib
import hashlib
import hmac
import html
import itertools
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

SECRET_KEY = "sk_test_standin"
WEBHOOK_SECRET = "whsec_test_standin"


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def nest(pairs) -> dict:
    """Stripe's form encoding back into objects: a[b][0][c]=1 -> {"a": {"b": [{"c": "1"}]}}."""
    root: dict = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class StripeStandIn:
    def __init__(self):
        self.sessions: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.idempotent: dict[str, tuple[str, int, dict]] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, idempotency key)
        self.webhook_url = ""
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.fail_refunds = False
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                standin._serve(self, "GET")

            def do_POST(self):
                standin._serve(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # shutdown() waits for the serving loop to look at its flag, which it does once a poll_interval (0.5 s by
        # default): each test's stop waited up to that long doing nothing.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    # --- HTTP -------------------------------------------------------------------------------------------

    def _serve(self, handler, method):
        path = handler.path.split("?")[0]
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        if path.startswith("/pay/"):
            return self._checkout_page(handler, method, path.removeprefix("/pay/"))
        if handler.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return self._reply(handler, 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
        key = handler.headers.get("Idempotency-Key", "")
        if self.fail_refunds and path == "/v1/refunds":  # an outage in front of the API: nothing executed or saved
            return self._reply(handler, 503, {"error": {"type": "api_error", "message": "Stand-in: unavailable"}})
        with self.lock:
            self.requests.append((method, path, key))
            if method == "POST" and key in self.idempotent:
                seen_body, status, response = self.idempotent[key]
                if seen_body != f"{path}?{body}":
                    status, response = (
                        400,
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only "
                                "be used with the same parameters they were first used with.",
                            }
                        },
                    )
                return self._reply(handler, status, response, replayed=True)
            status, response = self._route(method, path, nest(parse_qsl(body, keep_blank_values=True)))
            if method == "POST" and key:
                self.idempotent[key] = (f"{path}?{body}", status, response)
        return self._reply(handler, status, response)

    def _reply(self, handler, status, payload, replayed=False, content_type="application/json"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Request-Id", f"req_{next(self._ids)}")
        if replayed:
            handler.send_header("Idempotent-Replayed", "true")
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, method, path, params):
        parts = path.strip("/").split("/")
        if parts[:3] == ["v1", "checkout", "sessions"]:
            if method == "POST" and len(parts) == 3:
                return self._create_session(params)
            session = self.sessions.get(parts[3]) if len(parts) > 3 else None
            if session is None:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such checkout.session"}}
            if method == "GET" and len(parts) == 4:
                return 200, session
            if method == "POST" and parts[4:] == ["expire"]:
                if session["status"] != "open":
                    return 400, {
                        "error": {"type": "invalid_request_error", "message": f"Session is {session['status']}"}
                    }
                session["status"] = "expired"
                return 200, session
        if parts == ["v1", "refunds"] and method == "POST":
            return self._create_refund(params)
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL {path}"}}

    def _create_session(self, params):
        items = params.get("line_items", [])
        try:
            amount = sum(int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)) for i in items)
            currency = items[0]["price_data"]["currency"]
        except (KeyError, IndexError, ValueError):
            return 400, {"error": {"type": "invalid_request_error", "message": "line_items are required"}}
        session_id = self._id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": params.get("mode", "payment"),
            "amount_total": amount,
            "currency": currency,
            "client_reference_id": params.get("client_reference_id"),
            "customer_email": params.get("customer_email"),
            "metadata": params.get("metadata", {}),
            "payment_status": "unpaid",
            "status": "open",
            "payment_intent": None,
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "url": f"{self.base}/pay/{session_id}",
            "created": int(time.time()),
        }
        self.sessions[session_id] = session
        return 200, session

    def _create_refund(self, params):
        intent = params.get("payment_intent")
        session = next(
            (s for s in self.sessions.values() if s["payment_intent"] and s["payment_intent"] == intent), None
        )
        if session is None:
            return 400, {"error": {"type": "invalid_request_error", "message": f"No such payment_intent: {intent}"}}
        already = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent)
        amount = int(params.get("amount", session["amount_total"] - already))
        if amount <= 0 or already + amount > session["amount_total"]:
            return 400, {
                "error": {"type": "invalid_request_error", "message": "Refund amount is greater than unrefunded amount"}
            }
        refund_id = self._id("re")
        refund = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "currency": session["currency"],
            "payment_intent": intent,
            "status": "succeeded",
            "metadata": params.get("metadata", {}),
        }
        self.refunds[refund_id] = refund
        return 200, refund

    # --- what the patient does on the hosted page, and the events Stripe then sends ------------------

    def complete(self, session_id: str, *, amount_total: int | None = None, currency: str | None = None) -> dict:
        """The patient paid: the session is complete; returns the `checkout.session.completed` event (the
        amount or currency can be tampered with, to test that the app checks them)."""
        with self.lock:
            session = self.sessions[session_id]
            session.update(status="complete", payment_status="paid", payment_intent=self._id("pi"))
            obj = dict(session)
        if amount_total is not None:
            obj["amount_total"] = amount_total
        if currency is not None:
            obj["currency"] = currency
        return self.event("checkout.session.completed", obj)

    def refund_in_dashboard(self, payment_intent: str, amount: int | None = None) -> dict:
        """Someone refunds in Stripe's dashboard (not through our API): the refund is made here and the
        `charge.refunded` event Stripe then sends is returned. As in Stripe's API since 2022-11-15, the
        charge carries the running total `amount_refunded`; its `refunds` list is included here too (it
        is only there when expanded), and the app must not need it."""
        with self.lock:
            session = next(s for s in self.sessions.values() if s["payment_intent"] == payment_intent)
            already = sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == payment_intent)
            amount = session["amount_total"] - already if amount is None else amount
            refund = {
                "id": self._id("re"),
                "object": "refund",
                "amount": amount,
                "currency": session["currency"],
                "payment_intent": payment_intent,
                "status": "succeeded",
                "metadata": {},
            }
            self.refunds[refund["id"]] = refund
            refunds = [r for r in self.refunds.values() if r["payment_intent"] == payment_intent]
            charge = {
                "id": "ch_" + payment_intent.removeprefix("pi_"),
                "object": "charge",
                "amount": session["amount_total"],
                "amount_captured": session["amount_total"],
                "amount_refunded": already + amount,
                "currency": session["currency"],
                "payment_intent": payment_intent,
                "metadata": session["metadata"],
                "paid": True,
                "refunded": already + amount == session["amount_total"],
                "refunds": {"object": "list", "data": list(reversed(refunds))},
            }
        return self.event("charge.refunded", charge)

    def event(self, event_type: str, obj: dict) -> dict:
        return {
            "id": self._id("evt"),
            "object": "event",
            "type": event_type,
            "api_version": "2025-01-27.acacia",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }

    def deliver(self, event: dict) -> int:
        payload = json.dumps(event)
        request = urllib.request.Request(
            self.webhook_url,
            data=payload.encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": sign(payload)},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status

    def _checkout_page(self, handler, method, session_id):
        session = self.sessions.get(session_id)
        if session is None:
            return self._reply(handler, 404, b"No such checkout", content_type="text/plain")
        if method == "POST":
            if session["status"] == "open":
                event = self.complete(session_id)
                if self.webhook_url:
                    self.deliver(event)
            handler.send_response(303)
            handler.send_header("Location", session["success_url"])
            handler.end_headers()
            return None
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        page = (
            "<!doctype html><html lang=en><head><meta charset=utf-8><title>Stand-in checkout</title></head><body>"
            f"<h1>Stand-in checkout</h1><p>Pay <strong>{html.escape(amount)}</strong></p>"
            f"<form method=post action='/pay/{html.escape(session_id)}'><button type=submit>Pay</button></form>"
            "</body></html>"
        ).encode()
        return self._reply(handler, 200, page, content_type="text/html; charset=utf-8")


@contextlib.contextmanager
def stripe_at_standin(settings, *, webhook_url: str = ""):
    """A running stand-in with the app's Stripe keys and API base pointed at it (pytest-django's `settings`
    restores those); the library's own module-level base is put back when it stops."""
    import stripe

    server = StripeStandIn().start()
    server.webhook_url = webhook_url
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = server.base
    try:
        yield server
    finally:
        server.stop()
        stripe.api_base = "https://api.stripe.com"
