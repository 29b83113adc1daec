"""One Inbound Parse post, read: who wrote, to which reply address, what they wrote (quoted
history and signature stripped by mail-parser-reply), which attachments came with it, and
whether it is an automatic message (out-of-office, bulk, a bounce) rather than a person."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from mailparser_reply import EmailReplyParser

# Languages whose "On <date>, <name> wrote:" lines and signatures the parser knows.
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pl", "sv"]
_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?(reply|response)|"
    r"autoreply|abwesenheitsnotiz|absence|r[ée]ponse automatique|away from)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver(ed|able)|delivery (status notification|failure|has failed)|"
    r"returned mail|mail delivery (failed|subsystem)|failure notice)",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")
MAX_BODY = 20000
MAX_FULL_TEXT = 100000
MAX_ATTACHMENTS_LISTED = 50


@dataclass(frozen=True)
class Attachment:
    name: str
    size: int
    type: str | None = None

    def as_dict(self) -> dict:
        return {"name": self.name, "size": self.size, "type": self.type}


@dataclass
class InboundPost:
    to: list[str]
    from_email: str
    subject: str
    text: str
    headers: dict[str, str]
    envelope_from: str | None = None
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def message_id(self) -> str | None:
        value = (self.headers.get("message-id") or "").strip()
        return value[:190] or None

    def dedupe_key(self) -> str:
        """The Message-ID, or a digest of what was posted: a retried post finds its twin."""
        if self.message_id:
            return f"mid:{self.message_id}"
        raw = json.dumps([self.to, self.from_email, self.subject, self.text], ensure_ascii=False)
        return "sha256:" + hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()


def clean(value: str | None, limit: int) -> str:
    """Form text as PostgreSQL can store it: no NUL bytes, at most `limit` characters."""
    return (value or "").replace("\x00", "")[:limit]


def read_headers(raw: str) -> dict[str, str]:
    """The raw header block SendGrid posts, as lower-cased names (first occurrence wins)."""
    parsed = HeaderParser().parsestr(clean(raw, 200_000), headersonly=True)
    out: dict[str, str] = {}
    for name, value in parsed.items():
        out.setdefault(name.lower(), str(value))
    return out


def read_post(form, files) -> InboundPost:
    """The fields of SendGrid's post that we use; ValueError when it is not one at all."""
    headers = read_headers(form.get("headers", ""))
    to = [a.lower() for _, a in getaddresses([clean(form.get("to"), 5000)]) if "@" in a]
    envelope_from = None
    try:
        envelope = json.loads(clean(form.get("envelope"), 20000) or "{}")
    except ValueError:
        envelope = {}
    if isinstance(envelope, dict):
        env_to = envelope.get("to")
        if isinstance(env_to, list):
            to += [str(a).lower()[:320] for a in env_to[:20] if "@" in str(a)]
        if isinstance(envelope.get("from"), str):
            envelope_from = envelope["from"][:320]
    from_email = parseaddr(clean(form.get("from"), 1000))[1].lower()
    if not to or not (from_email or envelope_from is not None):
        raise ValueError("not an Inbound Parse post: it names no recipient or no sender")
    return InboundPost(
        to=list(dict.fromkeys(to)),
        from_email=from_email[:320],
        subject=" ".join(clean(form.get("subject"), 2000).split())[:300],
        text=clean(form.get("text"), MAX_FULL_TEXT) or _from_html(form.get("html")),
        headers=headers,
        envelope_from=envelope_from,
        attachments=_attachments(files),
    )


def _from_html(html: str | None) -> str:
    # A mail client that sends HTML only: the text without tags, for the parser to read.
    text = re.sub(r"<(br|/p|/div)[^>]*>", "\n", clean(html, MAX_FULL_TEXT), flags=re.I)
    return re.sub(r"<[^>]+>", "", text)


def _attachments(files) -> list[Attachment]:
    found = []
    for key in list(files.keys())[:MAX_ATTACHMENTS_LISTED]:
        upload = files[key]
        stream = upload.stream
        stream.seek(0, 2)  # size without reading it into memory; nothing is kept
        size = stream.tell()
        name = clean(upload.filename or key, 200)
        found.append(Attachment(name, size, clean(upload.mimetype, 100) or None))
    return found


def automatic(post: InboundPost) -> str | None:
    """'bounce' or 'auto_reply' when no person wrote this; None for a person's reply."""
    h = post.headers
    sender = post.from_email or ""
    if (
        post.envelope_from in ("", "<>")
        or sender.startswith(_BOUNCE_SENDERS)
        or "multipart/report" in h.get("content-type", "").lower()
        or _BOUNCE_SUBJECT.search(post.subject)
    ):
        return "bounce"
    auto_submitted = h.get("auto-submitted", "").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return "auto_reply"
    if h.get("precedence", "").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return "auto_reply"
    if "x-autoreply" in h or "x-autorespond" in h:
        return "auto_reply"
    if _AUTO_SUBJECT.search(post.subject):
        return "auto_reply"
    return None


def latest_reply(text: str) -> str:
    """What the person wrote this time: quoted history and signature removed."""
    if not text.strip():
        return ""
    try:
        reply = EmailReplyParser(languages=REPLY_LANGUAGES).parse_reply(text)
    except Exception:  # noqa: BLE001 - a parser failure must not lose the reply
        reply = None
    return clean((reply or text).strip(), MAX_BODY)
