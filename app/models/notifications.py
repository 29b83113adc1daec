"""The outbox: what every candidate is owed, and everything we learn about its delivery."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app import tracing
from app.extensions import db
from app.orm import TimestampMixin, bounded_text, enum_check, utcnow


class NState(StrEnum):
    PENDING = "pending"  # owed, not yet handed to the queue (may be due later)
    QUEUED = "queued"  # a job has been enqueued for it
    SENDING = "sending"  # claimed by a worker, lease running
    SENT = "sent"  # accepted by the provider
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    DROPPED = "dropped"
    FAILED = "failed"  # permanent error; a recruiter task exists
    SUPERSEDED = "superseded"  # replaced by a newer truth before it went out
    DISCHARGED = "discharged"  # settled by a manual contact or a recorded exemption


# Every move a notification's state can make, and no other: tests/state_log.py records each
# change the code makes at the database, on SQLite and PostgreSQL, and fails a test whose
# change is not here. The diagram is in app/notifications/__init__.py.
_S = NState
# The provider's events can overtake our own record of a send ("processed" or "delivered"
# before the worker heard back, a bounce after its lease was taken back): app/notifications/
# events.py moves a row that is still owed straight to what the provider says.
_PROVIDER_NEWS = frozenset({_S.SENT, _S.DELIVERED, _S.BOUNCED, _S.DROPPED})
TRANSITIONS: dict[NState, frozenset[NState]] = {
    # dispatch (or a pause) hands it to a job; a worker claims it; a newer truth replaces it;
    # a contact, an exemption, an opt-out or an erasure settles it.
    _S.PENDING: frozenset({_S.QUEUED, _S.SENDING, _S.SUPERSEDED, _S.DISCHARGED}) | _PROVIDER_NEWS,
    # as pending; and back to pending when the reconciler finds its job gone.
    _S.QUEUED: frozenset({_S.PENDING, _S.SENDING, _S.SUPERSEDED, _S.DISCHARGED}) | _PROVIDER_NEWS,
    # the provider takes it, or rejects it for good (a task for a person); or it goes back:
    # queued for a retry with backoff, pending when held by pacing, when its worker died, or
    # just before an opt-out discharges it.
    _S.SENDING: frozenset({_S.PENDING, _S.QUEUED, _S.FAILED}) | _PROVIDER_NEWS,
    _S.SENT: frozenset({_S.DELIVERED, _S.BOUNCED, _S.DROPPED}),
    # a receiving server may accept, then bounce.
    _S.DELIVERED: frozenset({_S.BOUNCED, _S.DROPPED}),
    _S.BOUNCED: frozenset(),  # a corrected address gets a fresh row; this one is history
    _S.DROPPED: frozenset(),
    # sent again as the same row (retry-failed, a corrected address), or settled by a person.
    _S.FAILED: frozenset({_S.PENDING, _S.DISCHARGED}),
    # only when an ambiguous send (a timeout, a killed worker) turns out to have gone after
    # all: the provider's "processed" or "delivered" event says the candidate got it.
    _S.SUPERSEDED: frozenset({_S.SENT, _S.DELIVERED}),
    _S.DISCHARGED: frozenset(),
}
# What a new row is written as: pending (outbox.owe), or queued with its job when a fan-out
# on PostgreSQL writes rows already due (outbox.owe_many).
INITIAL = frozenset({_S.PENDING, _S.QUEUED})


def _values(*states: NState) -> tuple[str, ...]:
    """A named set of states as column values, in NState's order (SQL `IN`, `in` tests)."""
    return tuple(s.value for s in NState if s in states)


def able_to_become(target: NState) -> tuple[str, ...]:
    """The states from which TRANSITIONS allows a move to `target`."""
    return _values(*(s for s, nexts in TRANSITIONS.items() if target in nexts))


# Named sets of states: use these rather than listing states again.
# Owed, and no worker holds it: it may still be claimed, replaced or expedited.
WAITING = _values(_S.PENDING, _S.QUEUED)
CLAIMABLE = able_to_become(_S.SENDING)  # send.take: the rows a worker may claim
REPLACEABLE = able_to_become(_S.SUPERSEDED)  # outbox.supersede_*: rows a newer truth replaces
DISCHARGEABLE = able_to_become(_S.DISCHARGED)  # outbox.discharge: contact, exemption, erasure
# Still owed: not yet handed to the provider (waiting, or being sent right now).
OWED = _values(_S.PENDING, _S.QUEUED, _S.SENDING)
# Not handed to the provider: still owed, or failed for good (both count against the SLA).
UNSENT = _values(*OWED, _S.FAILED)
# The provider took it and has not given it back.
ACCEPTED = _values(_S.SENT, _S.DELIVERED)
# The provider took it but could not deliver it.
RETURNED = _values(_S.BOUNCED, _S.DROPPED)
# Handed to the provider, whatever happened to it next.
HANDED_OVER = _values(*ACCEPTED, *RETURNED)
# It never reached the candidate: a person must reach them another way (a task is open).
UNDELIVERED = _values(*RETURNED, _S.FAILED)
# Settled without an email: replaced by newer news, or by a contact or an exemption.
SETTLED = _values(_S.SUPERSEDED, _S.DISCHARGED)
# Nothing of it has left: the change that owed it can still be taken back (undo).
UNDOABLE = _values(*WAITING, _S.SUPERSEDED)
# The candidate was (or may have been: mid-send) told, by email or by a person.
TOLD = _values(_S.SENDING, *ACCEPTED, _S.DISCHARGED)


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        enum_check("state", [s.value for s in NState]),
        # The dispatcher's and reconciler's scan: owed rows by due time.
        sa.Index("ix_notifications_state_due", "state", "due_at"),
        sa.Index("ix_notifications_application_version", "application_id", "app_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"))
    candidate_id: Mapped[int] = mapped_column(sa.ForeignKey("candidates.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    # outcome messages are transactional and never dropped; optional ones honour opt-out.
    category: Mapped[str] = mapped_column(sa.String(20), default="update")
    state: Mapped[str] = mapped_column(sa.String(20), default=NState.PENDING.value)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    app_version: Mapped[int]
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    # Typed by a recruiter (a note on a stage change, an answer to an update request).
    personal_note: Mapped[str | None] = bounded_text(5000)
    context: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # last_error in the reader's language: its code and arguments in app/stored_words.py
    # (None: last_error is someone's own words, or was written before the codes).
    last_error_code: Mapped[str | None] = mapped_column(sa.String(40))
    last_error_args: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    error_kind: Mapped[str | None] = mapped_column(sa.String(20))
    # Sends whose outcome we could not know (timeout after the request left, worker died
    # mid-send); each one may have produced a duplicate.
    ambiguous_sends: Mapped[int] = mapped_column(default=0)
    job_id: Mapped[str | None] = mapped_column(sa.String(120))
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(200))
    to_email: Mapped[str | None] = mapped_column(sa.String(320))
    subject: Mapped[str | None] = mapped_column(sa.String(300))
    # What was sent, for the audit trail: read `body_text` and `body_html` (below). An email
    # rendered in full keeps its bodies here; one filled in from a stencil (a fan-out) keeps
    # the layout its batch shared, once (`layout`), and its own values for it (`fills`).
    stored_text: Mapped[str | None] = mapped_column("body_text", sa.Text)
    stored_html: Mapped[str | None] = mapped_column("body_html", sa.Text)
    layout_id: Mapped[int | None] = mapped_column(sa.ForeignKey("email_layouts.id"))
    fills: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    lease_expires_at: Mapped[datetime | None]
    # Indexed (below): deleting notifications (a candidate erased, a purge) checks this
    # foreign key for every row deleted, a scan of the whole table each without it.
    superseded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id"))
    discharge_reason: Mapped[str | None] = bounded_text(1000)
    discharged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    queued_at: Mapped[datetime | None]
    sending_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    bounced_at: Mapped[datetime | None]
    dropped_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    superseded_at: Mapped[datetime | None]
    discharged_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    # The request (or job, or periodic run) that owed it: follows the message from the click
    # through the logs to the provider's id. Filled from the context when the row is written.
    request_id: Mapped[str | None] = mapped_column(
        sa.String(tracing.MAX_LENGTH), default=tracing.current
    )

    application = relationship("Application")
    candidate = relationship("Candidate")
    layout = relationship("EmailLayout")

    def __repr__(self) -> str:
        return f"<Notification {self.id} {self.kind} {self.state}>"

    @property
    def body_text(self) -> str | None:
        """The text part that was sent (None: nothing sent yet, or erased)."""
        if self.layout_id is None:
            return self.stored_text
        return self.layout.fill(self.layout.body_text, self.fills or {})

    @body_text.setter
    def body_text(self, value: str | None) -> None:
        self._forget_layout()
        self.stored_text = value

    @property
    def body_html(self) -> str | None:
        """The HTML part that was sent, if it had one."""
        if self.layout_id is None:
            return self.stored_html
        return self.layout.fill(self.layout.body_html, self.fills or {})

    @body_html.setter
    def body_html(self, value: str | None) -> None:
        self._forget_layout()
        self.stored_html = value

    def _forget_layout(self) -> None:
        """Bodies set directly replace a layout and its fills, both parts (the other part
        is kept, in full)."""
        if self.layout_id is None:
            return
        text, html = self.body_text, self.body_html
        self.layout_id, self.layout, self.fills = None, None, None
        self.stored_text, self.stored_html = text, html


# A tag in a stored layout: stencils.py writes `-cl<16 hex>t<slot>-` in the text and
# `-cl<16 hex>h<slot>-` in the HTML (the hex is random per process).
LAYOUT_TAG = re.compile(r"-cl[0-9a-f]{16}[th][0-9]+-")


class EmailLayout(db.Model):
    """What the emails of one shape in a send job had in common (stencils.SharedBody): the
    text and HTML with a tag wherever each recipient's own values went, exactly what the
    provider was given to fill in. Kept once for all of them (one row per distinct layout,
    found again by its digest); each notification keeps only its own values (`fills`)."""

    __tablename__ = "email_layouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # sha256 of the text and HTML: the same layout from another job is stored once.
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @staticmethod
    def fill(layout: str | None, fills: dict[str, str]) -> str | None:
        """`layout` with each tag replaced by its value, in one pass: a value is never read
        as a tag. A tag without a value stays as it is (so did the provider's)."""
        if layout is None:
            return None
        return LAYOUT_TAG.sub(lambda m: fills.get(m.group(0), m.group(0)), layout)


class DeliveryEvent(db.Model):
    """One SendGrid Event Webhook event, kept verbatim for the audit trail."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    sg_event_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    notification_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notifications.id"), index=True
    )
    event: Mapped[str] = mapped_column(sa.String(40))
    event_type: Mapped[str | None] = mapped_column(sa.String(40))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict] = mapped_column(sa.JSON, default=dict)


class MessageTemplate(TimestampMixin, db.Model):
    """An agency's wording for one message kind, optionally for one client."""

    __tablename__ = "message_templates"
    __table_args__ = (
        sa.UniqueConstraint("kind", "client_id", "language"),
        # NULLs are distinct above: this keeps one agency-wide (client_id NULL) row per kind
        # and language.
        sa.Index(
            "uq_message_templates_kind_agency",
            "kind",
            "language",
            unique=True,
            postgresql_where=sa.text("client_id IS NULL"),
            sqlite_where=sa.text("client_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clients.id"))
    # One of app.languages.SHIPPED: the wording of this kind in that language.
    language: Mapped[str] = mapped_column(sa.String(35), default="en", server_default="en")
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class MailboxMessage(db.Model):
    """A message captured by the dev mailbox backend instead of being sent."""

    __tablename__ = "mailbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    notification_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id"))
    to_email: Mapped[str] = mapped_column(sa.String(320))
    from_email: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    headers: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EngineFlag(db.Model):
    """Small pieces of engine state shared by every process (e.g. sending paused)."""

    __tablename__ = "engine_flags"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    value: Mapped[str | None] = mapped_column(sa.Text)
    until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Lease(db.Model):
    """A named lease held by one process at a time (the active reconciler)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    expires_at: Mapped[datetime]


class Alert(db.Model):
    """Something an admin must fix (e.g. the mail provider rejects our key)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    message: Mapped[str] = mapped_column(sa.Text)
    # message in the reader's language: its code and arguments in app/stored_words.py.
    message_code: Mapped[str | None] = mapped_column(sa.String(40))
    message_args: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    occurrences: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class ReconcilerRun(db.Model):
    __tablename__ = "reconciler_runs"
    # The engine page's latest runs and /metrics' last run and last hour.
    __table_args__ = (sa.Index("ix_reconciler_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    dispatched: Mapped[int] = mapped_column(default=0)
    requeued: Mapped[int] = mapped_column(default=0)
    reclaimed: Mapped[int] = mapped_column(default=0)
    escalated: Mapped[int] = mapped_column(default=0)
    repaired: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)


# What /metrics reads of the outbox: the rows still owed or failed (UNSENT), by state and
# kind, never its history. A partial index covering exactly those columns answers it from the
# index alone (kilobytes, whatever the history holds).
_OPEN = sa.text("state IN (" + ", ".join(f"'{s}'" for s in UNSENT) + ")")
sa.Index(
    "ix_notifications_open",
    Notification.state,
    Notification.kind,
    Notification.created_at,
    Notification.due_at,
    postgresql_where=_OPEN,
    sqlite_where=_OPEN,
)
# The reconciler's SLA escalation reads the unsent rows not yet escalated. Failed rows stay
# failed, and escalated, for good: without this index every pass read each of them from the
# table again (60 ms at 10,000 failed among 1,000,000, bench/reconcile.py).
_UNESCALATED = sa.text(
    "escalated_at IS NULL AND state IN (" + ", ".join(f"'{s}'" for s in UNSENT) + ")"
)
sa.Index(
    "ix_notifications_unescalated",
    Notification.created_at,
    postgresql_where=_UNESCALATED,
    sqlite_where=_UNESCALATED,
)
# Columns that stay NULL until a message is sent or replaced: their indexes hold only the
# rows that have a value (every query on them looks for one), so claiming an owed row, which
# rewrites it and so each index that holds it, does not also write these (d2fanout0014).
for _column in (
    Notification.provider_message_id,
    Notification.superseded_by_id,
    Notification.layout_id,
):
    _filled = sa.text(f"{_column.key} IS NOT NULL")
    sa.Index(
        f"ix_notifications_{_column.key}",
        _column,
        postgresql_where=_filled,
        sqlite_where=_filled,
    )
