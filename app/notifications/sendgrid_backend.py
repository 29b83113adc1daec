"""SendGrid v3 mail send: many candidates per request, each seeing only their own message.

Each recipient is one personalization with its own subject, custom_args (our notification id,
so webhook events map back) and headers. Bodies differ per recipient. When the messages of a
request share one layout (`OutgoingEmail.shared`, a fan-out), that layout is the request's
content and each personalization carries only its own values as substitutions. Otherwise the
content is a pair of substitution tags and every personalization carries its own rendered
text/html as substitutions. SendGrid caps substitutions at 10,000 bytes per personalization: a
larger message goes in a request of its own with its content inline.

Failures are classified for the caller (see errors.py). SendGrid has no idempotency key: a
timeout after the request left may still have been accepted, so it is ambiguous, not transient.
"""

from __future__ import annotations

import http.client
import json
import re
import uuid
from collections.abc import Mapping
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from app import clock
from app.notifications import telemetry
from app.notifications.backends import OutgoingEmail
from app.notifications.errors import (
    AmbiguousSendError,
    ConfigurationError,
    PermanentSendError,
    SendError,
    TransientSendError,
)

MAX_PERSONALIZATIONS = 1000
SUBSTITUTIONS_LIMIT = 10_000
TEXT_TAG = "-cl_text-"
HTML_TAG = "-cl_html-"
_PERSONALIZATION_FIELD = re.compile(r"^personalizations\.(\d+)\b")


class SendGridBackend:
    def __init__(
        self,
        api_key: str,
        *,
        host: str = "https://api.sendgrid.com",
        timeout: float = 10.0,
        from_email: str,
        from_name: str | None = None,
        sandbox: bool = False,
    ):
        self.api_key = api_key
        self.from_email, self.from_name = from_email, from_name
        self.sandbox = sandbox
        self.timeout = timeout
        self._sg = SendGridAPIClient(api_key, host=host.rstrip("/"))
        # python_http_client passes this to urlopen for every request built from it;
        # without it a stalled connection would hold a worker forever.
        self._sg.client.timeout = timeout

    @classmethod
    def from_config(cls, config: Mapping) -> SendGridBackend:
        return cls(
            config.get("SENDGRID_API_KEY", ""),
            host=config.get("SENDGRID_API_HOST") or "https://api.sendgrid.com",
            timeout=float(config.get("SENDGRID_TIMEOUT_SECONDS") or 10),
            from_email=config["MAIL_FROM_EMAIL"],
            from_name=config.get("AGENCY_NAME") or None,
            sandbox=bool(config.get("SENDGRID_SANDBOX_MODE")),
        )

    def send_batch(self, messages: list[OutgoingEmail]) -> list[str]:
        """Send in as few requests as SendGrid's limits allow; one provider id per message.

        Every raised SendError carries `accepted` ({notification_id: provider id}): requests
        that went through before a later one failed, to record as sent rather than send
        again; and `attempted`, the notification ids of the request that failed (the rest
        were not tried). A 400 also carries `rejected` ({notification_id: SendGrid's
        message}) for the personalizations SendGrid named, when it named any.
        """
        ids: dict[int, str] = {}  # position in `messages` -> provider id
        for group in plan_requests(messages):
            batch = [messages[i] for i in group]
            try:
                if not self.api_key:
                    raise ConfigurationError("SENDGRID_API_KEY is not set")
                message_id = self._post(self._payload(batch))
            except SendError as exc:
                exc.accepted = {messages[i].notification_id: ids[i] for i in sorted(ids)}
                exc.attempted = frozenset(m.notification_id for m in batch)
                exc.rejected = _rejected(getattr(exc, "errors", []), batch)
                raise
            ids.update(dict.fromkeys(group, message_id))
        return [ids[i] for i in range(len(messages))]

    # -- the request -----------------------------------------------------------------------

    def _payload(self, group: list[OutgoingEmail]) -> dict:
        # One message alone has nothing to share: its content goes inline, no tags needed.
        inline = len(group) == 1
        first = group[0]
        payload: dict = {
            "from": {"email": self.from_email},
            "personalizations": [_personalization(m, inline) for m in group],
            "categories": [first.category],
        }
        if self.from_name:
            payload["from"]["name"] = self.from_name
        if first.reply_to:
            # Per request, not per personalization: plan_requests groups by it.
            payload["reply_to"] = {"email": first.reply_to}
        if inline:
            payload["content"] = _content(first.text, first.html)
        elif first.shared is not None:
            payload["content"] = _content(first.shared.text, first.shared.html)
        else:
            payload["content"] = _content(TEXT_TAG, HTML_TAG if first.html is not None else None)
        if self.sandbox:
            payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return payload

    def _post(self, payload: dict) -> str:
        try:
            with telemetry.provider_request():
                response = self._sg.send(payload)
        except HTTPError as exc:
            raise classify_http_error(exc.status_code, exc.body, exc.headers) from None
        except URLError as exc:
            # Raised before a response could be read while connecting or sending (refused,
            # DNS, TLS, connect timeout): SendGrid cannot have acted on a request it never got.
            raise TransientSendError(f"Could not reach SendGrid: {exc.reason}") from None
        except (TimeoutError, http.client.HTTPException, OSError) as exc:
            # The request was sent and the answer never came: it may have been accepted.
            raise AmbiguousSendError(
                f"No answer from SendGrid after sending ({type(exc).__name__}: {exc}); "
                "the message may have been accepted"
            ) from None
        message_id = _header(response.headers, "X-Message-Id")
        # Sandbox mode answers 200 without an id; keep ids unique and recognisable anyway.
        return message_id or f"sendgrid-noid-{uuid.uuid4().hex}"


def _content(text: str, html: str | None) -> list[dict]:
    # SendGrid requires text/plain before text/html.
    content = [{"type": "text/plain", "value": text}]
    if html is not None:
        content.append({"type": "text/html", "value": html})
    return content


def _substitutions(m: OutgoingEmail) -> dict[str, str]:
    if m.shared is not None:
        return dict(m.fills)
    subs = {TEXT_TAG: m.text}
    if m.html is not None:
        subs[HTML_TAG] = m.html
    return subs


def _personalization(m: OutgoingEmail, inline: bool) -> dict:
    recipient = {"email": m.to_email}
    if m.to_name:
        recipient["name"] = m.to_name
    p: dict = {
        "to": [recipient],  # one candidate per personalization: nobody sees anyone else
        "subject": m.subject,
        "custom_args": dict(m.custom_args),
    }
    if m.notification_id is not None:
        p["custom_args"]["notification_id"] = str(m.notification_id)
    if m.member_ids:
        # A digest: its delivery events settle every notification it answers.
        p["custom_args"]["digest_ids"] = ",".join(map(str, m.member_ids))
    if m.headers:
        p["headers"] = dict(m.headers)
    if not inline:
        p["substitutions"] = _substitutions(m)
    return p


def substitutions_size(m: OutgoingEmail) -> int:
    # Measured as the JSON we send (escapes included): never below what SendGrid counts.
    return len(json.dumps(_substitutions(m), ensure_ascii=False).encode("utf-8"))


def plan_requests(messages: list[OutgoingEmail]) -> list[list[int]]:
    """Split a batch into requests, as lists of positions in `messages`.

    A request shares its categories and content parts, so messages are grouped by kind, by
    whether they have an HTML part, by shared layout (if any) and by Reply-To (SendGrid sets
    it per request: with INBOUND_DOMAIN set, each message names itself in its Reply-To and
    goes in a request of its own), and groups are cut at 1000
    personalizations. A message whose substitutions would exceed SendGrid's limit goes alone,
    its content inline.
    """
    groups: dict[tuple[str, bool, str | None, str | None], list[int]] = {}
    alone: list[list[int]] = []
    for i, m in enumerate(messages):
        if substitutions_size(m) > SUBSTITUTIONS_LIMIT:
            alone.append([i])
        else:
            layout = m.shared.key if m.shared is not None else None
            key = (m.category, m.html is not None, layout, m.reply_to)
            groups.setdefault(key, []).append(i)
    plan = [
        group[start : start + MAX_PERSONALIZATIONS]
        for group in groups.values()
        for start in range(0, len(group), MAX_PERSONALIZATIONS)
    ]
    return plan + alone


# -- error classification ------------------------------------------------------------------


def classify_http_error(status: int, body: bytes | str | None, headers) -> SendError:
    errors = _error_list(body)
    detail = " ".join(dict.fromkeys(e["message"] for e in errors))
    if status == 400:
        exc = PermanentSendError(
            f"SendGrid rejected the message: {detail or 'bad request (400)'}", status=status
        )
        exc.errors = errors
        return exc
    if status == 413:
        return PermanentSendError("SendGrid rejected the message as too large (413)", status=status)
    if status in (401, 403):
        reason = f"SendGrid rejected our API key ({status}): check SENDGRID_API_KEY"
        if status == 403:
            reason += " permissions and that MAIL_FROM_EMAIL is a verified sender"
        if detail:
            reason += f" ({detail})"
        return ConfigurationError(reason, status=status)
    if status == 429:
        return TransientSendError(
            "SendGrid rate limit reached (429)", status=status, retry_after=_retry_after(headers)
        )
    suffix = f": {detail}" if detail else ""
    return TransientSendError(f"SendGrid error ({status}){suffix}", status=status)


def _error_list(body: bytes | str | None) -> list[dict]:
    """SendGrid's `errors` array, keeping entries that have a message."""
    if not body:
        return []
    try:
        data = json.loads(body)
        errors = data.get("errors", [])
    except (ValueError, TypeError, AttributeError):
        return []
    return [
        {"message": e["message"].strip(), "field": e.get("field")}
        for e in errors
        if isinstance(e, dict) and isinstance(e.get("message"), str) and e["message"].strip()
    ]


def _rejected(errors: list[dict], batch: list[OutgoingEmail]) -> dict[int, str]:
    """Map errors whose field names a personalization ("personalizations.3.to.0.email")."""
    rejected: dict[int, str] = {}
    for e in errors:
        match = _PERSONALIZATION_FIELD.match(str(e.get("field") or ""))
        if match and int(match.group(1)) < len(batch):
            rejected.setdefault(batch[int(match.group(1))].notification_id, e["message"])
    return rejected


def _header(headers, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, Mapping):
        lowered = {str(k).lower(): v for k, v in headers.items()}
        value = lowered.get(name.lower())
    return value


def _retry_after(headers) -> float | None:
    raw = _header(headers, "Retry-After")
    if raw is not None:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass  # an HTTP date: fall back to the reset header
    reset = _header(headers, "X-RateLimit-Reset")
    if reset is not None:
        try:
            return max(0.0, float(reset) - clock.now().timestamp())
        except ValueError:
            return None
    return None
