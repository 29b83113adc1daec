"""A candidate's journey through a position: applications, stage history, contacts, tasks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.orm import TimestampMixin, bounded_text, enum_check, utcnow


class Stage(StrEnum):
    SOURCED = "sourced"
    SUBMITTED = "submitted"
    CLIENT_REVIEW = "client_review"
    INTERVIEW = "interview"
    OFFER = "offer"
    HIRED = "hired"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    POSITION_CLOSED = "position_closed"


ACTIVE_STAGES = (
    Stage.SOURCED,
    Stage.SUBMITTED,
    Stage.CLIENT_REVIEW,
    Stage.INTERVIEW,
    Stage.OFFER,
)
TERMINAL_STAGES = (Stage.HIRED, Stage.REJECTED, Stage.WITHDRAWN, Stage.POSITION_CLOSED)
_TERMINAL = sa.text("stage IN (" + ", ".join(f"'{s.value}'" for s in TERMINAL_STAGES) + ")")


class OutcomeReason(StrEnum):
    """Why an application ended; each maps to its own message."""

    AGENCY_DECISION = "agency_decision"
    CLIENT_DECLINED = "client_declined"
    CANDIDATE_WITHDREW = "candidate_withdrew"
    BUDGET_CUT = "budget_cut"
    CLIENT_WITHDREW = "client_withdrew"
    FILLED_INTERNALLY = "filled_internally"
    FILLED_BY_OTHER = "filled_by_other"
    HIRED = "hired"


class Application(TimestampMixin, db.Model):
    __tablename__ = "applications"
    __table_args__ = (
        sa.UniqueConstraint("candidate_id", "position_id"),
        enum_check("stage", [s.value for s in Stage]),
        sa.Index("ix_applications_stage_entered", "stage", "stage_entered_at"),
        # The reconciler's regular pass: terminal applications changed lately (invariant.py).
        sa.Index(
            "ix_applications_terminal_updated",
            "updated_at",
            postgresql_where=_TERMINAL,
            sqlite_where=_TERMINAL,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(sa.ForeignKey("candidates.id"), index=True)
    position_id: Mapped[int] = mapped_column(sa.ForeignKey("positions.id"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(20), default=Stage.SOURCED.value)
    outcome_reason: Mapped[str | None] = mapped_column(sa.String(40))
    stage_entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Bumped by every change that may owe the candidate a message; part of idempotency keys.
    version: Mapped[int] = mapped_column(default=1)
    interview_at: Mapped[datetime | None]
    interviewers: Mapped[str | None] = mapped_column(sa.String(300))
    promised_response_at: Mapped[datetime | None]
    client_contact: Mapped[str | None] = mapped_column(sa.String(300))
    next_step: Mapped[str | None] = bounded_text(2000)
    last_candidate_contact_at: Mapped[datetime | None]

    candidate = relationship("Candidate")
    position = relationship("Position")

    @property
    def is_terminal(self) -> bool:
        return self.stage in TERMINAL_STAGES


class StageEvent(db.Model):
    """Append-only history of stage changes."""

    __tablename__ = "stage_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    from_stage: Mapped[str | None] = mapped_column(sa.String(20))
    to_stage: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    note: Mapped[str | None] = mapped_column(sa.Text)
    version: Mapped[int]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactChannel(StrEnum):
    PHONE = "phone"
    IN_PERSON = "in_person"
    VIDEO = "video"
    OTHER = "other"


class Contact(db.Model):
    """A manual contact with a candidate, logged by a recruiter."""

    __tablename__ = "contacts"
    __table_args__ = (enum_check("channel", [c.value for c in ContactChannel]),)

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(sa.ForeignKey("candidates.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    channel: Mapped[str] = mapped_column(sa.String(20))
    summary: Mapped[str] = bounded_text(5000)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Task(db.Model):
    """Something a person must do so a candidate is not left waiting."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(300))
    detail: Mapped[str | None] = mapped_column(sa.Text)
    # title in the reader's language: its code and arguments in app/stored_words.py
    # (None: title is someone's own words, or was written before the codes).
    title_code: Mapped[str | None] = mapped_column(sa.String(40))
    title_args: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    detail_code: Mapped[str | None] = mapped_column(sa.String(40))
    detail_args: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    candidate_id: Mapped[int | None] = mapped_column(sa.ForeignKey("candidates.id"), index=True)
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    notification_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # Repeated detection (reconciler runs, webhook retries) must not pile up duplicates.
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
