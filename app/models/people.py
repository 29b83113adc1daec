"""Staff users and candidates."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app import clock
from app.config import DEFAULT_PASSWORD_HASH_METHOD
from app.extensions import db
from app.orm import TimestampMixin, enum_check, utcnow


class Role(StrEnum):
    RECRUITER = "recruiter"
    MANAGER = "manager"
    ADMIN = "admin"


ROLE_RANK = {Role.RECRUITER: 1, Role.MANAGER: 2, Role.ADMIN: 3}


def password_hash_method() -> str:
    """The method new password hashes use (PASSWORD_HASH_METHOD); checking a password reads
    the method from the stored hash, so hashes made under another setting keep working."""
    if has_app_context():
        return current_app.config.get("PASSWORD_HASH_METHOD") or DEFAULT_PASSWORD_HASH_METHOD
    return DEFAULT_PASSWORD_HASH_METHOD


CANDIDATE_ACTIONS = (
    "update_requested",
    "withdrew",
    "preferences_changed",
    "language_changed",
    "unsubscribed",
    "link_requested",
    "links_revoked",
    "exported",
    "erased",
)


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.Index("uq_users_email_lower", sa.func.lower(sa.text("email")), unique=True),
        enum_check("role", [r.value for r in Role]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(50))
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[str] = mapped_column(sa.String(20), default=Role.RECRUITER.value)
    active: Mapped[bool] = mapped_column(default=True)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/London")
    # Every session carries the version it was signed in under; bumping it ends them all.
    session_version: Mapped[int] = mapped_column(default=1, server_default="1")

    def set_password(self, password: str) -> None:
        """A new password ends every session signed in with the old one."""
        self.password_hash = generate_password_hash(password, method=password_hash_method())
        self.end_sessions()

    def end_sessions(self) -> None:
        """Sign this user out everywhere, at each session's next request."""
        self.session_version = (self.session_version or 0) + 1

    def session_token(self) -> str:
        """What the session holds (Flask-Login's id_attribute; read by app/auth/sessions.py):
        who, under which session version, signed in when."""
        return f"{self.id}:{self.session_version}:{int(clock.now().timestamp())}"

    @staticmethod
    def parse_session_token(value: str) -> tuple[int, int, int]:
        """(user id, session version, signed-in epoch seconds); ValueError if malformed."""
        user_id, version, signed_in_at = (int(part) for part in value.split(":"))
        return user_id, version, signed_in_at

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(minimum)]

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class Candidate(TimestampMixin, db.Model):
    __tablename__ = "candidates"
    __table_args__ = (
        sa.Index("uq_candidates_email_lower", sa.func.lower(sa.text("email")), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    phone: Mapped[str | None] = mapped_column(sa.String(50))
    timezone: Mapped[str | None] = mapped_column(sa.String(64))
    # BCP 47 (app/languages.py); None: the agency's default language.
    language: Mapped[str | None] = mapped_column(sa.String(35))
    # Optional updates (still-deciding reminders, digests); outcome messages ignore it.
    optional_updates: Mapped[bool] = mapped_column(default=True)
    preferred_channel: Mapped[str] = mapped_column(sa.String(20), default="email")
    # Signed status links embed the version; bumping it revokes every link issued.
    token_version: Mapped[int] = mapped_column(default=1)
    token_secret: Mapped[str] = mapped_column(
        sa.String(64), default=lambda: secrets.token_urlsafe(32)
    )
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    anonymised_at: Mapped[datetime | None]

    @property
    def reachable_by(self) -> str:
        """How we can actually reach them: their preference, unless that is email and there
        is no address on file (then a phone call is the only way)."""
        if self.preferred_channel == "email" and not self.email:
            return "phone"
        return self.preferred_channel or "email"

    def __repr__(self) -> str:
        return f"<Candidate {self.id}>"


class CandidateAction(db.Model):
    """What a candidate did through their status page or email (update requests, withdrawals,
    preference changes, link requests), and data-protection work done for them by staff.
    Holds ids and plain facts only, so it survives erasure as the record of what was done."""

    __tablename__ = "candidate_actions"
    __table_args__ = (
        enum_check("action", CANDIDATE_ACTIONS),
        sa.Index("ix_candidate_actions_candidate_created", "candidate_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(sa.ForeignKey("candidates.id"))
    application_id: Mapped[int | None] = mapped_column(sa.ForeignKey("applications.id"))
    action: Mapped[str] = mapped_column(sa.String(40))
    # The staff member who acted on the candidate's request (export, erasure); None: themselves.
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    detail: Mapped[str | None] = mapped_column(sa.String(300))
    # detail in the reader's language: its code and arguments in app/stored_words.py.
    detail_code: Mapped[str | None] = mapped_column(sa.String(40))
    detail_args: Mapped[dict | None] = mapped_column(sa.JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
