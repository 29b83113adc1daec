"""A local server speaking SendGrid's v3 mail send API, for tests, development and benchmarks.

It validates requests the way SendGrid does (the parts we rely on), records every accepted
personalization with its substitutions applied, and injects faults on demand: 500s, 429s with
rate-limit headers, and "timeouts" that accept the message and then answer too late, which is
the case that produces duplicates in real life.

Given a webhook URL and a private key it also plays SendGrid's Event Webhook: every accepted
personalization gets a "processed" event promptly and a "delivered" event a little later,
POSTed back in signed JSON batches (ECDSA P-256 / SHA-256 over timestamp + body, the headers
SendGrid uses), retried until answered 2xx.

    with SendGridStub(api_key="k", fail_500=0.1) as stub:
        ...  # point SENDGRID_API_HOST at stub.url
        stub.stats()["duplicates"]

    python -m devtools.sendgrid_stub --port 8025 --api-key k --fail-500 0.1 \
        --webhook-url http://127.0.0.1:5000/webhooks/sendgrid --webhook-private-key-file key.pem
"""

from __future__ import annotations

import argparse
import base64
import heapq
import itertools
import json
import random
import re
import secrets
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SUBSTITUTIONS_LIMIT = 10_000
CUSTOM_ARGS_LIMIT = 10_000
MAX_PERSONALIZATIONS = 1000
MAX_CATEGORIES = 10
MAX_BODY_BYTES = 30 * 1024 * 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_FAULT_NAMES = ("fail_500", "fail_429", "timeout_after_accept", "delay", "hold_seconds")


# SendGrid's wording where we know it, so error handling sees what production would send.
_MESSAGES = {
    "bad": "Bad Request",
    "from": "The from object must be provided for every email send. "
    "It is an object that requires the email parameter.",
    "personalizations": "The personalizations field is required and must have at least one "
    "personalization.",
    "too_many": "The personalizations field must have 1000 or fewer items.",
    "to": "The to array is required for all personalization objects, and must have at least "
    "one email object with a valid email address.",
    "address": "Does not contain a valid address.",
    "unique": "Each email address in the personalization block should be unique between to, "
    "cc, and bcc.",
    "subject": "The subject is required. You can get around this requirement if you use a "
    "template with a subject defined or if every personalization has a subject defined.",
    "substitutions": "The total size of your substitutions may not exceed 10,000 bytes per "
    "personalization object.",
    "custom_args": "The total size of custom arguments must be less than 10000 bytes.",
    "content": "Unless a valid template_id is provided, the content parameter is required.",
    "value": "The content value must be a string at least one character in length.",
    "order": "If present, text/plain content must be first.",
    "categories": "You may not have more than 10 categories per request.",
    "json": "The request body contains invalid JSON.",
    "auth": "The provided authorization grant is invalid, expired, or revoked",
    "forbidden": "access forbidden",
    "too_large": "Payload too large",
    "rate": "too many requests",
    "forced": "The stub was told to reject this request.",
}


def _error(key_or_message: str, field: str | None = None) -> dict:
    message = _MESSAGES.get(key_or_message, key_or_message)
    return {"message": message, "field": field, "help": None}


def _json_size(value) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def valid_address(value) -> bool:
    return isinstance(value, str) and bool(_EMAIL.match(value))


def validate(body) -> list[dict]:
    """The subset of SendGrid's request validation that our sends depend on."""
    if not isinstance(body, dict):
        return [_error("bad")]
    errors: list[dict] = []
    sender = body.get("from")
    if not isinstance(sender, dict) or not valid_address(sender.get("email")):
        errors.append(_error("from", "from.email"))
    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        return errors + [_error("personalizations", "personalizations")]
    if len(personalizations) > MAX_PERSONALIZATIONS:
        errors.append(_error("too_many", "personalizations"))
    for i, p in enumerate(personalizations):
        errors.extend(_validate_personalization(i, p, body))
    errors.extend(_validate_content(body))
    categories = body.get("categories") or []
    if not isinstance(categories, list) or len(categories) > MAX_CATEGORIES:
        errors.append(_error("categories", "categories"))
    return errors


def _validate_personalization(i: int, p, body: dict) -> list[dict]:
    prefix = f"personalizations.{i}"
    if not isinstance(p, dict):
        return [_error("bad", prefix)]
    errors = []
    to = p.get("to")
    if not isinstance(to, list) or not to:
        errors.append(_error("to", f"{prefix}.to"))
        to = []
    seen = set()
    for j, recipient in enumerate(to):
        email = recipient.get("email") if isinstance(recipient, dict) else None
        if not valid_address(email):
            errors.append(_error("address", f"{prefix}.to.{j}.email"))
        elif email.lower() in seen:
            errors.append(_error("unique", f"{prefix}.to.{j}.email"))
        else:
            seen.add(email.lower())
    if not (p.get("subject") or body.get("subject")):
        errors.append(_error("subject", "subject"))
    if _json_size(p.get("substitutions") or {}) > SUBSTITUTIONS_LIMIT:
        errors.append(_error("substitutions", f"{prefix}.substitutions"))
    custom_args = {**(body.get("custom_args") or {}), **(p.get("custom_args") or {})}
    if _json_size(custom_args) >= CUSTOM_ARGS_LIMIT:
        errors.append(_error("custom_args", f"{prefix}.custom_args"))
    return errors


def _validate_content(body: dict) -> list[dict]:
    content = body.get("content")
    if not isinstance(content, list) or not content:
        return [_error("content", "content")]
    errors = []
    for k, part in enumerate(content):
        value = part.get("value") if isinstance(part, dict) else None
        if not isinstance(value, str) or not value:
            errors.append(_error("value", f"content.{k}.value"))
    types = [part.get("type") for part in content if isinstance(part, dict)]
    if "text/plain" in types and types[0] != "text/plain":
        errors.append(_error("order", "content.0.type"))
    return errors


def _sandbox(body: dict) -> bool:
    settings = body.get("mail_settings")
    sandbox = settings.get("sandbox_mode") if isinstance(settings, dict) else None
    return isinstance(sandbox, dict) and sandbox.get("enable") is True


def _digest_members(custom_args: dict) -> list[str]:
    raw = custom_args.get("digest_ids")
    if not isinstance(raw, str):
        return []
    return [part.strip() for part in raw.split(",") if part.strip()]


def _substitute(text: str | None, substitutions: dict) -> str | None:
    if text is None or not substitutions:
        return text
    keys = sorted(substitutions, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(k) for k in keys))
    # One pass, so a value that happens to contain another tag is left as it is.
    return pattern.sub(lambda m: str(substitutions[m.group(0)]), text)


SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def sign_event_body(private_key: ec.EllipticCurvePrivateKey, body: str, timestamp: str) -> str:
    """SendGrid's signature: ECDSA P-256 / SHA-256 over timestamp + body, base64 DER."""
    signature = private_key.sign((timestamp + body).encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


class EventPoster:
    """SendGrid's Event Webhook: signed JSON batches of events for accepted messages.

    One sender thread, like one webhook endpoint: events become due after their delay, go out
    in batches of up to `batch_size`, and a batch not answered 2xx is posted again (same
    events, fresh signature) after a short backoff, as SendGrid retries for up to 24 hours.
    """

    RETRY_SECONDS = (0.5, 1, 2, 5)

    def __init__(
        self,
        url: str,
        private_key: ec.EllipticCurvePrivateKey,
        *,
        processed_delay: float = 0.3,
        delivered_delay: float = 2.0,
        batch_size: int = 500,
        linger: float = 0.1,
        timeout: float = 10.0,
        clock=time.time,
        bounce_domains: tuple[str, ...] = (),
    ):
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"webhook URL must be http(s): {url!r}")
        self.url, self._key = url, private_key
        self.delays = {"processed": processed_delay, "delivered": delivered_delay}
        self.batch_size, self.linger, self.timeout = batch_size, linger, timeout
        # Epoch seconds written into events and the signed timestamp (a simulation's clock);
        # when events fall due is always real time.
        self.clock = clock
        # Recipients at these domains get "bounce" instead of "delivered" (mailbox unknown).
        self.bounce_domains = tuple(d.lower() for d in bounce_domains)
        self._heap: list = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self._counts: Counter = Counter()

    @classmethod
    def from_pem_file(cls, url: str, path: str, **options) -> EventPoster:
        with open(path, "rb") as fh:
            key = serialization.load_pem_private_key(fh.read(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} is not an elliptic curve private key")
        return cls(url, key, **options)

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sendgrid-stub-events")
        self._thread.start()

    def stop(self) -> None:
        """Stop at once; events not yet posted are dropped (and counted)."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def accepted(self, rows: list[dict]) -> None:
        """Schedule "processed" and "delivered" for every recipient of accepted rows."""
        now = time.time()
        with self._cond:
            for index, row in enumerate(rows):
                for email in row["to"]:
                    for name, delay in self.delays.items():
                        if name == "delivered" and self._bounces(email):
                            name = "bounce"
                        entry = (now + delay, next(self._seq), name, email, index, row)
                        heapq.heappush(self._heap, entry)
            self._counts["scheduled"] += len(rows) * len(self.delays)
            self._cond.notify()

    def _bounces(self, email: str) -> bool:
        return email.rpartition("@")[2].lower() in self.bounce_domains

    def stats(self) -> dict:
        with self._cond:
            pending = len(self._heap) + self._in_flight
            return dict(self._counts) | {"pending": pending}

    # -- the sender thread -----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._take()
            if batch:
                self._deliver(batch)
        with self._cond:
            self._counts["dropped_at_stop"] += len(self._heap)
            self._heap.clear()

    def _take(self) -> list[dict]:
        """Wait for due events (lingering briefly so batches fill up) and pop a batch."""
        with self._cond:
            while not self._stopping.is_set():
                wait = self._heap[0][0] - time.time() if self._heap else 0.5
                if self._heap and wait <= -self.linger or len(self._due()) >= self.batch_size:
                    break
                self._cond.wait(max(0.01, min(0.5, wait + self.linger)))
            if self._stopping.is_set():
                return []
            due = self._due()[: self.batch_size]
            for _ in due:
                heapq.heappop(self._heap)
            self._in_flight = len(due)
        return [self._event(*entry, at=self.clock()) for entry in due]

    def _due(self) -> list[tuple]:
        now = time.time()
        return [e for e in heapq.nsmallest(self.batch_size, self._heap) if e[0] <= now]

    @staticmethod
    def _event(
        due: float, _seq, name: str, email: str, index: int, row: dict, *, at: float
    ) -> dict:
        message_id = row["message_id"]
        event = {str(k): v for k, v in row["custom_args"].items()}  # flattened, as SendGrid does
        event.update(
            email=email,
            timestamp=int(at),
            event=name,
            sg_event_id=secrets.token_urlsafe(16),
            sg_message_id=f"{message_id}.filterdrecv-stub-{index}.0",
            category=row["categories"],
        )
        event["smtp-id"] = f"<{message_id}@stub.sendgrid.test>"
        if name == "delivered":
            event["response"] = "250 2.0.0 OK"
        elif name == "bounce":
            event.update(type="bounce", status="5.1.1", reason="550 5.1.1 mailbox unknown")
        return event

    def _deliver(self, events: list[dict]) -> None:
        body = json.dumps(events, separators=(",", ":"))
        for attempt in itertools.count():
            status = self._post(body)
            self._counts[f"posts_{status}"] += 1
            if 200 <= status < 300:
                self._counts["events_posted"] += len(events)
                break
            delay = self.RETRY_SECONDS[min(attempt, len(self.RETRY_SECONDS) - 1)]
            if self._stopping.wait(delay):
                self._counts["dropped_at_stop"] += len(events)
                break
        with self._cond:
            self._in_flight = 0

    def _post(self, body: str) -> int:
        """POST one signed batch; the HTTP status, or 0 if no answer came."""
        timestamp = str(int(self.clock()))
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked in __init__
            self.url,
            data=body.encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "SendGrid Event API (stub)",
                SIGNATURE_HEADER: sign_event_body(self._key, body, timestamp),
                TIMESTAMP_HEADER: timestamp,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return 0


class SendGridStub:
    """The server and its recordings; thread-safe, usable as a context manager."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        api_key: str = "test-key",
        fail_500: float = 0.0,
        fail_429: float = 0.0,
        timeout_after_accept: float = 0.0,
        delay: float = 0.0,
        hold_seconds: float = 15.0,
        script: list | None = None,
        seed: int | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        record_bodies: bool = True,
        keep_messages: bool = True,
        rate_limit: int = 600,
        verbose: bool = False,
        events: EventPoster | None = None,
    ):
        self.host, self.port, self.api_key = host, port, api_key
        self.fail_500, self.fail_429 = fail_500, fail_429
        self.timeout_after_accept, self.delay = timeout_after_accept, delay
        # How long a "timeout" holds its answer: longer than the client's timeout.
        self.hold_seconds = hold_seconds
        self.max_body_bytes, self.record_bodies = max_body_bytes, record_bodies
        # Long benchmarks keep only the counters (stats), not one record per personalization.
        self.keep_messages = keep_messages
        self.rate_limit, self.verbose = rate_limit, verbose
        # Posts "processed"/"delivered" events for accepted messages, when given.
        self.events = events
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._script: deque = deque(script or [])
        self._conns: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._reset_records()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SendGridStub:
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.stub = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sendgrid-stub-{self.port}",
            daemon=True,
        )
        self._thread.start()
        if self.events is not None:
            self.events.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers holding a "timeout" response
        self._server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # idle keep-alive connections would block server_close()
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()  # joins every handler thread
        self._thread.join()
        self._server = self._thread = None
        if self.events is not None:
            self.events.stop()

    def __enter__(self) -> SendGridStub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- recordings and faults -------------------------------------------------------------

    def _reset_records(self) -> None:
        self._records: list[dict] = []
        self._per_notification: Counter = Counter()
        # per_notification + per_member, and the copies beyond the first in each, kept up
        # to date as messages are accepted so that polling stats costs nothing per message.
        self._covered: Counter = Counter()
        self._duplicates = self._covered_duplicates = 0
        # Notifications a digest answers besides its lead (custom_args "digest_ids").
        self._per_member: Counter = Counter()
        self._by_status: Counter = Counter()
        self._requests = self._accepted = self._sandboxed = self._multi_recipient = 0

    def reset(self) -> None:
        """Forget every recording and the script; probabilities stay as they are."""
        with self._lock:
            self._reset_records()
            self._script.clear()

    def messages(self, notification_id: str | int | None = None) -> list[dict]:
        with self._lock:
            records = list(self._records)
        if notification_id is not None:
            records = [r for r in records if r["notification_id"] == str(notification_id)]
        return records

    def stats(self, per_notification: bool = True) -> dict:
        webhook = {} if self.events is None else {"webhook": self.events.stats()}
        with self._lock:
            return webhook | {
                "requests": self._requests,
                "requests_by_status": {
                    str(k): v for k, v in sorted(self._by_status.items(), key=lambda kv: str(kv[0]))
                },
                "accepted": self._accepted,
                "sandboxed": self._sandboxed,
                "notifications": len(self._per_notification),
                "per_notification": dict(self._per_notification) if per_notification else "omitted",
                "duplicates": self._duplicates,
                "multi_recipient_personalizations": self._multi_recipient,
                # Every notification an accepted personalization answered (a digest answers
                # several), and the copies beyond the first of each.
                "per_notification_covered": dict(self._covered) if per_notification else "omitted",
                "covered_duplicates": self._covered_duplicates,
            }

    def set_faults(self, *, script: list | None = None, **faults: float) -> dict:
        unknown = set(faults) - set(_FAULT_NAMES)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        with self._lock:
            for name, value in faults.items():
                setattr(self, name, float(value))
            if script is not None:
                self._script = deque(script)
        return self.faults()

    def faults(self) -> dict:
        return {name: getattr(self, name) for name in _FAULT_NAMES} | {"script": list(self._script)}

    def _next_fault(self):
        """A scripted response if one is queued, else one drawn from the probabilities."""
        with self._lock:
            if self._script:
                return self._script.popleft()
            r = self._rng.random()
        if r < self.fail_500:
            return 500
        if r < self.fail_500 + self.fail_429:
            return 429
        if r < self.fail_500 + self.fail_429 + self.timeout_after_accept:
            return "timeout"
        return None

    def _record(self, body: dict, message_id: str, sandbox: bool) -> None:
        now = time.time()
        base_args = body.get("custom_args") or {}
        categories = list(body.get("categories") or [])
        rows = []
        for p in body["personalizations"]:
            args = {**base_args, **(p.get("custom_args") or {})}
            row = {
                "notification_id": args.get("notification_id"),
                "to": [r["email"] for r in p["to"]],
                "custom_args": args,
                "categories": categories,
                "message_id": message_id,
            }
            if self.keep_messages:  # the costly part: substitutions applied, bodies kept
                row.update(self._details(body, p, sandbox, now))
            rows.append(row)
        if self.events is not None and not sandbox:
            self.events.accepted(rows)
        with self._lock:
            if self.keep_messages:
                self._records.extend(rows)
            if sandbox:
                self._sandboxed += len(rows)
                return
            self._accepted += len(rows)
            self._multi_recipient += sum(1 for r in rows if len(r["to"]) > 1)
            # Staff mail (managers' digests, clients' decision requests) carries no
            # notification id: it is nobody's copy of a candidate's message.
            for key in (str(r["notification_id"]) for r in rows if r["notification_id"]):
                self._duplicates += self._per_notification[key] > 0
                self._per_notification[key] += 1
                self._count_covered(key)
            for key in (m for r in rows for m in _digest_members(r["custom_args"])):
                self._per_member[key] += 1
                self._count_covered(key)

    def _count_covered(self, key: str) -> None:
        self._covered_duplicates += self._covered[key] > 0
        self._covered[key] += 1

    def _details(self, body: dict, p: dict, sandbox: bool, now: float) -> dict:
        subs = p.get("substitutions") or {}
        details = {
            "to_names": [r.get("name") for r in p["to"]],
            "from": body["from"],
            "subject": _substitute(p.get("subject") or body.get("subject"), subs),
            "headers": {**(body.get("headers") or {}), **(p.get("headers") or {})},
            "reply_to": (body.get("reply_to") or {}).get("email"),
            "sandbox": sandbox,
            "used_substitutions": bool(subs),
            "received_at": now,
        }
        if self.record_bodies:
            content = {part.get("type"): part.get("value") for part in body["content"]}
            details["text"] = _substitute(content.get("text/plain"), subs)
            details["html"] = _substitute(content.get("text/html"), subs)
        return details

    def _count(self, status: int | str) -> None:
        with self._lock:
            self._requests += 1
            self._by_status[status] += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() can join them: no thread outlives stop()
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128
    stub: SendGridStub

    def handle_error(self, request, client_address):
        if self.stub.verbose:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sendgrid-stub/1"
    timeout = 30  # idle keep-alive connections are closed after this
    server: _Server

    def setup(self):
        super().setup()
        with self.server.stub._lock:
            self.server.stub._conns.add(self.connection)

    def finish(self):
        with self.server.stub._lock:
            self.server.stub._conns.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args):
        if self.server.stub.verbose:
            super().log_message(format, *args)

    # -- plumbing --------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, payload=None, headers: dict | None = None, count: bool = True
    ) -> None:
        if count:
            self.server.stub._count(status)
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, str(value))
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (it timed out): exactly what we simulate
            self.close_connection = True

    def do_GET(self):
        url = urlsplit(self.path)
        stub = self.server.stub
        if url.path == "/_stub/messages":
            wanted = parse_qs(url.query).get("notification_id", [None])[0]
            self._send(200, {"messages": stub.messages(wanted)}, count=False)
        elif url.path == "/_stub/stats":
            # ?per_notification=0 keeps frequent polling cheap during long benchmarks.
            full = parse_qs(url.query).get("per_notification", ["1"])[0] != "0"
            self._send(200, stub.stats(per_notification=full), count=False)
        elif url.path == "/_stub/faults":
            self._send(200, stub.faults(), count=False)
        else:
            self._send(404, {"errors": [_error("Not found")]}, count=False)

    def do_POST(self):
        path = urlsplit(self.path).path
        raw = self._read_body()
        stub = self.server.stub
        if path == "/v3/mail/send":
            self._mail_send(raw)
        elif path == "/_stub/reset":
            stub.reset()
            self._send(200, {"ok": True}, count=False)
        elif path == "/_stub/faults":
            try:
                self._send(200, stub.set_faults(**json.loads(raw or b"{}")), count=False)
            except (ValueError, TypeError) as exc:
                self._send(400, {"errors": [_error(str(exc))]}, count=False)
        else:
            self._send(404, {"errors": [_error("Not found")]}, count=False)

    # -- POST /v3/mail/send ----------------------------------------------------------------

    def _mail_send(self, raw: bytes) -> None:
        stub = self.server.stub
        if stub.delay:
            stub._stopping.wait(stub.delay)
        fault = stub._next_fault()
        if isinstance(fault, int | dict) and fault not in (200, 202):
            return self._forced(fault)
        if self.headers.get("Authorization") != f"Bearer {stub.api_key}":
            return self._send(401, {"errors": [_error("auth")]})
        if len(raw) > stub.max_body_bytes:
            return self._send(413, {"errors": [_error("too_large")]})
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send(400, {"errors": [_error("json")]})
        errors = validate(body)
        if errors:
            return self._send(400, {"errors": errors})
        sandbox = _sandbox(body)
        message_id = secrets.token_urlsafe(16)[:22]
        stub._record(body, message_id, sandbox)
        if fault == "timeout":
            stub._count("timeout")  # counted now: the client will have gone by the answer
            stub._stopping.wait(stub.hold_seconds)
            return self._send(
                200 if sandbox else 202,
                count=False,
                headers=None if sandbox else {"X-Message-Id": message_id},
            )
        if sandbox:  # validated, never sent: 200 and no message id
            return self._send(200)
        self._send(202, headers={"X-Message-Id": message_id})

    def _forced(self, fault) -> None:
        spec = fault if isinstance(fault, dict) else {"status": fault}
        status = int(spec["status"])
        if status == 429:
            reset_in = float(spec.get("reset_in", 2))
            headers = {
                "X-RateLimit-Limit": self.server.stub.rate_limit,
                "X-RateLimit-Remaining": 0,
                "X-RateLimit-Reset": int(time.time() + reset_in),
            }
            if spec.get("retry_after", True):
                headers["Retry-After"] = max(1, round(reset_in))
            return self._send(429, {"errors": [_error("rate")]}, headers)
        default = {400: "forced", 401: "auth", 403: "forbidden", 413: "too_large"}
        message = spec.get("message") or default.get(status, "internal error")
        return self._send(status, {"errors": [_error(message, spec.get("field"))]})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--fail-500", type=float, default=0.0)
    parser.add_argument("--fail-429", type=float, default=0.0)
    parser.add_argument("--timeout-after-accept", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument(
        "--hold-seconds",
        type=float,
        default=15.0,
        help="how long a timeout-after-accept holds its answer",
    )
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--no-bodies", action="store_true", help="do not keep message bodies (long benchmarks)"
    )
    parser.add_argument(
        "--counts-only", action="store_true", help="keep statistics only, no message records"
    )
    parser.add_argument("--verbose", action="store_true")
    hook = parser.add_argument_group("event webhook (off unless --webhook-url is given)")
    hook.add_argument("--webhook-url", help="where to POST signed event batches")
    hook.add_argument("--webhook-private-key-file", help="PEM EC (P-256) private key")
    hook.add_argument("--webhook-processed-delay", type=float, default=0.3)
    hook.add_argument("--webhook-delivered-delay", type=float, default=2.0)
    hook.add_argument("--webhook-batch-size", type=int, default=500)
    hook.add_argument(
        "--bounce-domain",
        action="append",
        default=[],
        help="recipients at this domain bounce instead of being delivered (repeatable)",
    )
    hook.add_argument(
        "--clock-file",
        help="read event timestamps from this file (ISO time, app/clock.py FileClock)",
    )
    return parser


def _events(args: argparse.Namespace) -> EventPoster | None:
    if not args.webhook_url:
        return None
    if not args.webhook_private_key_file:
        raise SystemExit("--webhook-url needs --webhook-private-key-file")
    return EventPoster.from_pem_file(
        args.webhook_url,
        args.webhook_private_key_file,
        processed_delay=args.webhook_processed_delay,
        delivered_delay=args.webhook_delivered_delay,
        batch_size=args.webhook_batch_size,
        bounce_domains=tuple(args.bounce_domain),
        clock=_file_clock(args.clock_file) if args.clock_file else time.time,
    )


def _file_clock(path: str):
    """Epoch seconds from the file a simulation writes (the format of app/clock.py)."""
    from datetime import datetime

    def now() -> float:
        with open(path) as fh:
            return datetime.fromisoformat(fh.read().strip()).timestamp()

    return now


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    stub = SendGridStub(
        args.port,
        host=args.host,
        api_key=args.api_key,
        fail_500=args.fail_500,
        fail_429=args.fail_429,
        timeout_after_accept=args.timeout_after_accept,
        delay=args.delay,
        hold_seconds=args.hold_seconds,
        seed=args.seed,
        record_bodies=not args.no_bodies,
        keep_messages=not args.counts_only,
        verbose=args.verbose,
        events=_events(args),
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    stub.start()
    print(
        f"SendGrid stub listening on {stub.url} (POST /v3/mail/send, GET /_stub/stats)", flush=True
    )
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()
        print(json.dumps(stub.stats(per_notification=False)), flush=True)


if __name__ == "__main__":
    main()
