"""Hiring companies and their job orders."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.orm import TimestampMixin, bounded_text, enum_check, utcnow


class PositionStatus(StrEnum):
    OPEN = "open"
    ON_HOLD = "on_hold"
    FILLED = "filled"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class Client(TimestampMixin, db.Model):
    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    contact_name: Mapped[str | None] = mapped_column(sa.String(200))
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    notes: Mapped[str | None] = bounded_text(5000)

    positions: Mapped[list[Position]] = relationship(back_populates="client")


class Position(TimestampMixin, db.Model):
    __tablename__ = "positions"
    __table_args__ = (enum_check("status", [s.value for s in PositionStatus]),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    location: Mapped[str | None] = mapped_column(sa.String(200))
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=PositionStatus.OPEN.value)
    status_reason: Mapped[str | None] = mapped_column(sa.String(200))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    # Whom at the client decides (empty: the client's contact), emailed for the decisions
    # promised on this position (app/decisions/); bumping the version revokes decision links.
    contact_name: Mapped[str | None] = mapped_column(sa.String(200))
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    decision_link_version: Mapped[int] = mapped_column(default=1)

    client: Mapped[Client] = relationship(back_populates="positions")
    owner = relationship("User")
