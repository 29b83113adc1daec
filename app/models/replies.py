"""What candidates write back: every post SendGrid's Inbound Parse makes to us, kept as
received (less its quoted history and its attachments' contents), with what we made of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.orm import bounded_text, enum_check, utcnow


class ReplyStatus(StrEnum):
    # A candidate's reply to one of our messages: a recruiter owes them an answer.
    ACCEPTED = "accepted"
    # As above, but sent from an address that is not the candidate's: shown to the
    # recruiter as such, never trusted as the candidate's own word.
    OTHER_SENDER = "other_sender"
    # Recorded, and nobody owes anything for them:
    AUTO_REPLY = "auto_reply"  # out-of-office, Auto-Submitted, Precedence: bulk
    BOUNCE = "bounce"  # a delivery failure report arriving as mail
    NO_TOKEN = "no_token"  # noqa: S105 - sent to the inbound domain, not to a reply address
    FORGED = "forged"  # a reply token whose signature does not hold
    EXPIRED = "expired"  # a genuine token, older than REPLY_TOKEN_MAX_AGE_DAYS
    UNKNOWN = "unknown"  # a genuine token naming a message we no longer have


# The statuses that owe the candidate an answer (a "reply owed" task is opened).
OWES_ANSWER = (ReplyStatus.ACCEPTED.value, ReplyStatus.OTHER_SENDER.value)


class InboundReply(db.Model):
    __tablename__ = "inbound_replies"
    __table_args__ = (
        enum_check("status", [s.value for s in ReplyStatus]),
        sa.Index("ix_inbound_replies_candidate_received", "candidate_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The same post delivered twice (SendGrid retries) is stored once: the Message-ID header,
    # or a digest of what was posted when there is none.
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    candidate_id: Mapped[int | None] = mapped_column(sa.ForeignKey("candidates.id"))
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    # The message of ours the candidate answered (named by the reply address's token).
    notification_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notifications.id"))
    task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tasks.id"))
    from_email: Mapped[str | None] = mapped_column(sa.String(320))
    to_email: Mapped[str | None] = mapped_column(sa.String(320))
    subject: Mapped[str | None] = mapped_column(sa.String(300))
    # What they wrote, quoted history and signature removed; `full_text` keeps the rest of
    # the plain text (bounded) in case the parser cut too much.
    body: Mapped[str | None] = bounded_text(20000)
    full_text: Mapped[str | None] = bounded_text(100000)
    # [{"name": ..., "size": bytes, "type": ...}]: listed, never stored.
    attachments: Mapped[list] = mapped_column(sa.JSON, default=list)
    note: Mapped[str | None] = mapped_column(sa.String(300))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<InboundReply {self.id} {self.status}>"


class Decision(StrEnum):
    MOVE_FORWARD = "move_forward"
    DECLINE = "decline"
    MORE_TIME = "more_time"


class DecisionState(StrEnum):
    # Decline / move forward: a stage change waiting in the recruiter's queue.
    PREPARED = "prepared"
    CONFIRMED = "confirmed"  # the stage change was made (by the recruiter, or automatically)
    APPLIED = "applied"  # need more time: the date moved and the candidate is owed the news
    OVERTAKEN = "overtaken"  # the application moved on before anyone confirmed


class ClientDecision(db.Model):
    """What a client's hiring manager decided on their signed decision page (app/decisions/):
    nothing reaches the candidate from here except through the pipeline's own services."""

    __tablename__ = "client_decisions"
    __table_args__ = (
        enum_check("decision", [d.value for d in Decision]),
        enum_check("state", [s.value for s in DecisionState]),
        sa.Index("ix_client_decisions_client_decided", "client_id", "decided_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(sa.ForeignKey("applications.id"), index=True)
    position_id: Mapped[int] = mapped_column(sa.ForeignKey("positions.id"))
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"))
    decision: Mapped[str] = mapped_column(sa.String(20))
    state: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    feedback: Mapped[str | None] = bounded_text(2000)
    # The promise this answers, and (need more time) the new one.
    promised_at: Mapped[datetime | None]
    new_promised_at: Mapped[datetime | None]
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tasks.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
