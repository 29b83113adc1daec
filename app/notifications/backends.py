"""Email backends behind one small interface, chosen by the EMAIL_BACKEND setting."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol

import sqlalchemy as sa
from flask import current_app

from app.extensions import db


@dataclass(frozen=True)
class SharedBody:
    """What several emails of a batch have in common: their text and HTML with a tag
    wherever each recipient's own values go. A provider that substitutes per recipient
    (SendGrid) sends it once per request instead of every whole body."""

    key: str  # tells layouts of one batch apart
    text: str
    html: str | None


@dataclass(frozen=True)
class OutgoingEmail:
    notification_id: int | None  # None for staff mail, which is not a candidate notification
    to_email: str
    to_name: str
    subject: str
    text: str
    html: str | None
    category: str  # the message kind, reported to the provider for statistics
    headers: dict[str, str] = field(default_factory=dict)
    # Where the candidate's answer goes (app/notifications/reply_tokens.py); None: nowhere set.
    reply_to: str | None = None
    # The other notifications this email answers (a digest); reported back in custom_args.
    member_ids: tuple[int, ...] = ()
    # Further references reported to the provider (and back in its events).
    custom_args: dict[str, str] = field(default_factory=dict)
    # Optional: `shared` with `fills` (tag -> this recipient's value, already escaped for
    # the HTML's tags) put in is exactly `text` and `html`, which every backend may use.
    shared: SharedBody | None = None
    fills: dict[str, str] = field(default_factory=dict)


class EmailBackend(Protocol):
    def send_batch(self, messages: list[OutgoingEmail]) -> list[str]:
        """Hand every message to the provider at once; return one provider id per message.

        Raises a subclass of `app.notifications.errors.SendError` when nothing was accepted.
        """
        ...


class MailboxBackend:
    """Stores messages in the `mailbox_messages` table, readable at /dev/mailbox."""

    def __init__(self, from_email: str):
        self.from_email = from_email

    def send_batch(self, messages: list[OutgoingEmail]) -> list[str]:
        from app.models import MailboxMessage

        ids = [f"mailbox-{uuid.uuid4().hex}" for _ in messages]
        rows = [
            {
                "message_id": mid,
                "notification_id": m.notification_id,
                "to_email": m.to_email,
                "from_email": self.from_email,
                "subject": m.subject,
                "body_text": m.text,
                "body_html": m.html,
                "headers": {**m.headers, **({"Reply-To": m.reply_to} if m.reply_to else {})},
                "created_at": _now(),
            }
            for mid, m in zip(ids, messages, strict=True)
        ]
        # Its own transaction: like a real provider, the mailbox is outside our unit of work.
        with db.engine.begin() as conn:
            conn.execute(sa.insert(MailboxMessage), rows)
        return ids


def _now():
    from app import clock

    return clock.now()


def get_backend() -> EmailBackend:
    name = current_app.config["EMAIL_BACKEND"]
    if name == "mailbox":
        return MailboxBackend(current_app.config["MAIL_FROM_EMAIL"])
    if name == "sendgrid":
        from app.notifications.sendgrid_backend import SendGridBackend

        return SendGridBackend.from_config(current_app.config)
    raise RuntimeError(f"unknown EMAIL_BACKEND {name!r}: use 'sendgrid' or 'mailbox'")
