"""Managers' reports: the overdue report's materialised rows, and staff digests' outbox.

`overdue_items`, `overdue_counts` and `overdue_daily` are derived data, rebuilt from the
pipeline and the outbox by `app.reports.overdue.refresh()`. They carry no foreign keys on
purpose: deleting or anonymising a candidate must never trip over a stale cache row, and the
next refresh drops it anyway.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.notifications import Notification
from app.orm import enum_check, utcnow


class OverdueReason(StrEnum):
    OWED_UNSENT = "owed_unsent"  # a message owed and not handed to the provider in the SLA
    UNDELIVERABLE = "undeliverable"  # bounced or dropped, no manual contact since
    PROMISE_MISSED = "promise_missed"  # the promised decision date passed, candidate not told
    SILENT = "silent"  # active, no candidate-facing contact for N business days
    REPLY_UNANSWERED = "reply_unanswered"  # the candidate wrote; no answer within the SLA


# Lower is worse: a candidate whose message never left, then one whose message never
# arrived, then a broken promise, then a candidate's unanswered reply, then silence.
SEVERITY: dict[str, int] = {
    OverdueReason.OWED_UNSENT: 1,
    OverdueReason.UNDELIVERABLE: 2,
    OverdueReason.PROMISE_MISSED: 3,
    OverdueReason.REPLY_UNANSWERED: 4,
    OverdueReason.SILENT: 5,
}


class OverdueItem(db.Model):
    """One overdue (application, reason), as of the last refresh."""

    __tablename__ = "overdue_items"
    __table_args__ = (
        sa.UniqueConstraint("application_id", "reason"),
        enum_check("reason", [r.value for r in OverdueReason]),
        # The report's order (severity, then oldest first), whole and per filter.
        sa.Index("ix_overdue_items_order", "severity", "since", "application_id"),
        sa.Index("ix_overdue_items_owner_order", "owner_id", "severity", "since"),
        sa.Index("ix_overdue_items_client_order", "client_id", "severity", "since"),
        sa.Index("ix_overdue_items_position_order", "position_id", "severity", "since"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(20))
    severity: Mapped[int] = mapped_column(sa.SmallInteger)
    # Overdue counted from here: when the message was owed, bounced, the promise fell due,
    # or the last contact happened.
    since: Mapped[datetime]
    notification_id: Mapped[int | None]
    message_kind: Mapped[str | None] = mapped_column(sa.String(40))
    message_state: Mapped[str | None] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.String(300))
    # note in the reader's language: its code and arguments in app/stored_words.py
    # (None: note is someone's own words, or was written before the codes).
    note_code: Mapped[str | None] = mapped_column(sa.String(40))
    note_args: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    candidate_id: Mapped[int]
    position_id: Mapped[int]
    owner_id: Mapped[int]
    client_id: Mapped[int]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class OverdueCount(db.Model):
    """Overdue items per (reason, position); kept exact by every refresh, so the report's
    counts never scan the items."""

    __tablename__ = "overdue_counts"

    reason: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    position_id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int]
    client_id: Mapped[int]
    n: Mapped[int]


AGENCY_WIDE = 0  # owner_id and client_id of a day's agency-wide totals in overdue_daily


class OverdueDaily(db.Model):
    """The counts at the last refresh of each day (agency time): the trend. Each day also
    has agency-wide rows (owner_id = client_id = AGENCY_WIDE = 0, never a real id), so the
    unfiltered trend reads four rows a day however many recruiters and clients there are."""

    __tablename__ = "overdue_daily"
    __table_args__ = (
        sa.Index("ix_overdue_daily_owner", "owner_id", "client_id", "day"),
        sa.Index("ix_overdue_daily_client", "client_id", "day"),
    )

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    owner_id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(primary_key=True)
    n: Mapped[int]


class StaffMessageState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing to say today: recorded so the day is not built again


class StaffMessage(db.Model):
    """An email to a member of staff (the daily digest): the staff side of the outbox.

    Candidate messages live in `notifications` (one application each, counted by the
    invariant and the SLA report); staff mail must not be mixed into those numbers, so it
    has its own table with the same shape of guarantee: the row is written first with an
    idempotency key (one digest per user per day), then a job on the same queue sends it
    through the same email backend, and the digest tick re-dispatches what is still owed.
    """

    __tablename__ = "staff_messages"
    __table_args__ = (
        enum_check("state", [s.value for s in StaffMessageState]),
        sa.Index("ix_staff_messages_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    state: Mapped[str] = mapped_column(sa.String(20), default=StaffMessageState.PENDING.value)
    to_email: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    item_count: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_expires_at: Mapped[datetime | None]
    job_id: Mapped[str | None] = mapped_column(sa.String(120))
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(200))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # last_error in the reader's language: its code and arguments in app/stored_words.py.
    last_error_code: Mapped[str | None] = mapped_column(sa.String(40))
    last_error_args: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]

    user = relationship("User")


class DigestSetting(db.Model):
    """A user's choice about the morning digest; no row means the defaults."""

    __tablename__ = "digest_settings"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    hour: Mapped[int] = mapped_column(sa.SmallInteger, default=7)  # in the user's time zone
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# Indexes on the outbox for the dashboards (declared here, with the reports that need them;
# the migration a6c0ffee0006 explains them): delivery health per day reads a window of
# `sent_at`, the SLA report a window of outcome messages by when they were owed. Only sent
# rows: a window never matches a NULL, and an owed row is then not in it (d2fanout0014).
sa.Index(
    "ix_notifications_sent_at",
    Notification.sent_at,
    postgresql_where=sa.text("sent_at IS NOT NULL"),
    sqlite_where=sa.text("sent_at IS NOT NULL"),
)
sa.Index(
    "ix_notifications_outcome_created",
    Notification.created_at,
    postgresql_where=sa.text("category = 'outcome'"),
    sqlite_where=sa.text("category = 'outcome'"),
)


class DashboardSnapshot(db.Model):
    """A dashboard's figures as computed by the last refresh (`app.reports.snapshots`): the
    SLA page's default view, promises kept and delivery per day. Derived data like the
    overdue tables, replaced whole by every refresh."""

    __tablename__ = "dashboard_snapshots"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    computed_at: Mapped[datetime]
    data: Mapped[dict] = mapped_column(sa.JSON)
