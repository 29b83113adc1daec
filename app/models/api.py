"""The REST API's own records: staff API tokens, idempotency keys, and the outbound webhooks
(endpoints, the events owed to them, and each delivery)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.orm import enum_check, utcnow


class ApiToken(db.Model):
    """A bearer token acting as its user. Only a SHA-256 of the token is kept: the token
    itself is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The first characters after the prefix, so a person can tell their tokens apart.
    hint: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user = relationship("User")


class IdempotencyKey(db.Model):
    """The first answer to a POST or PATCH sent with an Idempotency-Key: a retry with the
    same key gets it again instead of acting twice. `status` is NULL while the first
    request is still being handled. Keys live API_IDEMPOTENCY_HOURS (24)."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(sa.String(200))
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(sa.Text)
    headers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


WEBHOOK_EVENTS = (
    "notification.sent",
    "notification.delivered",
    "notification.bounced",
    "notification.failed",
    "application.stage_changed",
    "task.opened",
    "candidate.replied",
)
DELIVERY_STATES = ("pending", "delivered", "failed", "abandoned")


class WebhookEndpoint(db.Model):
    """Where an agency's ATS hears about events. Disabled after repeated failure."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    description: Mapped[str | None] = mapped_column(sa.String(200))
    # "whsec_" + base64 of 24 random bytes (the Standard Webhooks form).
    secret: Mapped[str] = mapped_column(sa.String(100))
    event_types: Mapped[list] = mapped_column(sa.JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(300))
    # disabled_reason in the reader's language: its code and arguments in app/stored_words.py
    # (None: disabled_reason is someone's own words, or was written before the codes).
    disabled_reason_code: Mapped[str | None] = mapped_column(sa.String(40))
    disabled_reason_args: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(db.Model):
    """The outbox of outbound webhooks: one event owed to one endpoint. `message_id` is the
    Standard Webhooks `webhook-id`, derived from the event's own row (stage event, task,
    message and its state), so it is the same on every retry and every collection: the
    unique (endpoint, message) pair is what keeps an event from being owed twice."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        enum_check("state", DELIVERY_STATES),
        sa.Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),
        sa.Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
        sa.UniqueConstraint("endpoint_id", "message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("webhook_endpoints.id"))
    message_id: Mapped[str] = mapped_column(sa.String(64))
    event_type: Mapped[str] = mapped_column(sa.String(60))
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    endpoint = relationship("WebhookEndpoint")
