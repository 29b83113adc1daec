"""Sign in and out. Every failed sign-in looks the same, whatever the reason."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth import bp, sessions, throttle
from app.auth.forms import LoginForm
from app.extensions import db
from app.models import User
from app.models.people import password_hash_method
from app.template_gettext import lazy_gettext as _l

GENERIC_LOGIN_ERROR = _l("Invalid email or password.")


@functools.cache
def _dummy_hash(method: str) -> str:
    # Checked when no user matches, so an unknown email costs as much time as a wrong
    # password. Built on first use: hashing is deliberately slow, imports should not be.
    return generate_password_hash("closeloop-no-such-user", method=method)


def find_user_by_email(email: str) -> User | None:
    normalized = email.strip().lower()
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == normalized))


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None without saying why."""
    user = find_user_by_email(email)
    if user is None:
        check_password_hash(_dummy_hash(password_hash_method()), password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def safe_next_url(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    # Browsers read "/\evil.test" as "//evil.test"; control characters are stripped by some.
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_url(user: User) -> str:
    """Where signing in lands: recruiters on their queue, managers on the dashboard."""
    if user.has_role("manager"):
        return url_for("main.dashboard")
    return url_for("candidates.queue")


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next_url(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or home_url(current_user))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        address = request.remote_addr or "?"
        verdict = throttle.attempt(form.email.data, address)
        if not verdict.allowed:
            minutes = max(1, -(-verdict.retry_after // 60))
            # The same whichever limit was reached (the account's or the address's).
            error = ngettext(
                "Too many sign-in attempts. Try again in %(num)d minute.",
                "Too many sign-in attempts. Try again in %(num)d minutes.",
                minutes,
            )
            page = render_template("auth/login.html", form=form, error=error, next_url=next_url)
            return page, 429, {"Retry-After": str(verdict.retry_after)}
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            throttle.succeeded(form.email.data, address)
            login_user(user)
            return redirect(next_url or home_url(current_user))
        error = GENERIC_LOGIN_ERROR
    elif form.is_submitted():
        error = GENERIC_LOGIN_ERROR
    return render_template("auth/login.html", form=form, error=error, next_url=next_url)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        sessions.sign_out_everywhere(current_user)
        logout_user()
        flash(_("You have been signed out."), "info")
    return redirect(url_for("auth.login"))
