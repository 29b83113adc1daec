"""Which signed-in sessions are still good.

The session (and a remember-me cookie, which carries the same value) holds
"user id:session version:time of sign-in", signed with SECRET_KEY. A session is good while the
user is active, their session version has not moved on and it is younger than
SESSION_MAX_AGE_HOURS, however busy it has been. Bumping the version (User.end_sessions: sign
out, a new password, deactivation) ends every session of that user on every device at their
next request, with no session store to search.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from app import clock
from app.extensions import db
from app.models import User


def load(value: str) -> User | None:
    """The user a session belongs to, or None when it has ended (they are sent to sign in)."""
    try:
        user_id, version, signed_in_at = User.parse_session_token(value)
    except ValueError:
        return None  # not ours (a session from before versions existed): sign in again
    max_age = timedelta(hours=current_app.config["SESSION_MAX_AGE_HOURS"])
    if clock.now().timestamp() - signed_in_at > max_age.total_seconds():
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def sign_out_everywhere(user: User) -> None:
    """Every session of `user` ends, on every device, not only this browser's."""
    user.end_sessions()
    db.session.commit()
