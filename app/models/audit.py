"""The audit log: staff actions that matter, append-only."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.orm import utcnow


class AuditEntry(db.Model):
    """Who did what to which record, when and from where. Rows are only ever added: the app
    has no path that changes or removes one (app/audit/services.py refuses it in the ORM, and
    on PostgreSQL a trigger refuses UPDATE and DELETE). Targets are named by id, never by a
    candidate's name, so the log outlives an erasure without keeping what was erased."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_actor_created", "actor_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # None: a command-line or system action (origin says which).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(sa.String(60), index=True)
    target: Mapped[str] = mapped_column(sa.String(200))
    detail: Mapped[str | None] = mapped_column(sa.String(1000))
    # detail in the reader's language: its code and arguments in app/stored_words.py
    # (None: detail is someone's own words, or was written before the codes).
    detail_code: Mapped[str | None] = mapped_column(sa.String(40))
    detail_args: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    origin: Mapped[str] = mapped_column(sa.String(100))

    actor = db.relationship("User", lazy="joined")
