"""Per-user API tokens: made (shown once), looked up by their hash, revoked. A token acts as
its user, with the user's role and the same access rules as the pages.

A token is `clk_` and 43 URL-safe characters (256 random bits): the prefix lets secret
scanners and people recognise it. Only its SHA-256 is stored; with that much entropy a plain
hash is enough (a slow password hash would only slow every request).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from app import audit, clock
from app.extensions import db
from app.models import ApiToken, User
from app.orm import max_length
from app.stored_words import words

PREFIX = "clk_"
# last_used_at is written at most this often per token: not one UPDATE per request.
TOUCH_EVERY = timedelta(seconds=60)


class TokenRefused(ValueError):
    """The token cannot be made; `str(exc)` is for the user."""


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def create(user: User, name: str, *, actor: User | None) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the record and the token itself (shown once)."""
    name = (name or "").strip()
    if not name:
        raise TokenRefused(_("Give the token a name, such as the system that will use it."))
    limit = max_length(ApiToken.name)
    if len(name) > limit:
        raise TokenRefused(
            ngettext(
                "Keep the name to %(num)d character or fewer.",
                "Keep the name to %(num)d characters or fewer.",
                limit,
            )
        )
    raw = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(raw),
        hint=raw[len(PREFIX) : len(PREFIX) + 6],
        created_at=clock.now(),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        actor, "api_token.created", user, words("audit.token", id=token.id, token_name=name)
    )
    db.session.commit()
    return token, raw


def revoke(token: ApiToken, *, actor: User | None) -> None:
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        audit.record(
            actor,
            "api_token.revoked",
            token.user,
            words("audit.token", id=token.id, token_name=token.name),
        )
    db.session.commit()


def of_user(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
        )
    )


def owned_or_none(user: User, token_id: int) -> ApiToken | None:
    token = db.session.get(ApiToken, token_id)
    return token if token is not None and token.user_id == user.id else None


def authenticate(raw: str) -> ApiToken | None:
    """The live token `raw` is, or None (unknown, revoked, or its user deactivated)."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        return None
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        token.last_used_at = now
        db.session.commit()
    return token
