"""CSV imports of candidates: the parsed upload, kept server-side between preview and confirm."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.orm import enum_check, utcnow


class ImportStatus(StrEnum):
    PREVIEWED = "previewed"
    IMPORTING = "importing"
    DONE = "done"
    FAILED = "failed"


class CandidateImport(db.Model):
    """One uploaded file. `rows` holds the parsed rows and their errors, so the confirm step
    re-reads them from here and never trusts what the browser sends back."""

    __tablename__ = "imports"
    __table_args__ = (
        enum_check("status", [s.value for s in ImportStatus]),
        sa.Index("ix_imports_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    filename: Mapped[str] = mapped_column(sa.String(255))
    # None: into the candidate pool.
    position_id: Mapped[int | None] = mapped_column(sa.ForeignKey("positions.id"))
    status: Mapped[str] = mapped_column(sa.String(20), default=ImportStatus.PREVIEWED.value)
    total_rows: Mapped[int] = mapped_column(default=0)
    valid_rows: Mapped[int] = mapped_column(default=0)
    # Rows written so far by a running import (a separate short transaction updates it).
    progress: Mapped[int] = mapped_column(default=0)
    # [{"line": 2, "name": ..., "email": ..., "phone": ..., "timezone": ...,
    #   "errors": [...], "existing_id": ...}, ...]
    rows: Mapped[list] = mapped_column(sa.JSON, default=list)
    created_count: Mapped[int] = mapped_column(default=0)
    attached_count: Mapped[int] = mapped_column(default=0)
    # {"created": [candidate ids], "attached": [candidate ids]} once done.
    result: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    job_id: Mapped[str | None] = mapped_column(sa.String(120))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    user = relationship("User")
    position = relationship("Position")

    def __repr__(self) -> str:
        return f"<CandidateImport {self.id} {self.status}>"
