"""`flask` commands: users, seed, notifications."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from app import audit
from app.extensions import db
from app.models import Role, User
from app.orm import max_length
from app.validators import InvalidEmail, normalize_email

MIN_PASSWORD_LENGTH = 8

users_cli = AppGroup("users", help="Staff accounts: create, list, deactivate.")


def register(app: Flask) -> None:
    from app.notifications.cli import notifications_cli

    app.cli.add_command(notifications_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(seed)


def _find_user(email: str) -> User | None:
    return db.session.scalar(
        sa.select(User).where(sa.func.lower(User.email) == email.strip().lower())
    )


def _existing_user(email: str) -> User:
    user = _find_user(email)
    if user is None:
        raise click.ClickException(f"No user with email {email.strip()}.")
    return user


def _normalize_email(email: str) -> str:
    try:
        return normalize_email(email)
    except InvalidEmail as exc:
        raise click.BadParameter(str(exc), param_hint="--email") from exc


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(
            f"must be at least {MIN_PASSWORD_LENGTH} characters", param_hint="--password"
        )


@users_cli.command("create")
@click.option("--name", required=True, help="Full name shown to colleagues.")
@click.option("--email", required=True, help="Sign-in address (case-insensitive, unique).")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="Access level."
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for (twice) when not given; avoid passing it on a shared shell.",
)
@click.option(
    "--phone",
    default=None,
    help="Shown with their name and email in every email their candidates get.",
)
def create_user(name: str, email: str, role: str, password: str, phone: str | None) -> None:
    """Create a staff account."""
    from app.staff import services as staff

    email = _normalize_email(email)
    if not name.strip():
        raise click.BadParameter("must not be empty", param_hint="--name")
    _check_password(password)
    if phone and len(phone.strip()) > max_length(User.phone):
        raise click.BadParameter(
            f"at most {max_length(User.phone)} characters", param_hint="--phone"
        )
    try:
        user = staff.create_user(
            None, name=name, email=email, role=role, password=password, phone=phone
        )
    except staff.StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    shown = f" ({user.phone})" if user.phone else ""
    click.echo(f"Created {role} {user.name} <{email}>{shown} (id {user.id}).")


@users_cli.command("list")
def list_users() -> None:
    """List staff accounts."""
    users = db.session.scalars(sa.select(User).order_by(User.id)).all()
    if not users:
        click.echo("No users yet. Create one with `flask users create`.")
        return
    rows = [("ID", "NAME", "EMAIL", "ROLE", "STATUS")]
    rows += [
        (str(u.id), u.name, u.email, u.role, "active" if u.active else "deactivated") for u in users
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@users_cli.command("deactivate")
@click.argument("email")
def deactivate_user(email: str) -> None:
    """Stop EMAIL from signing in; their history and assignments stay."""
    user = _existing_user(email)
    if not user.active:
        click.echo(f"{user.email} is already deactivated.")
        return
    user.active = False
    user.end_sessions()
    audit.record(None, "user.deactivated", user)
    db.session.commit()
    click.echo(f"Deactivated {user.name} <{user.email}>; their sessions have ended.")


@users_cli.command("set-password")
@click.argument("email")
@click.option(
    "--password",
    prompt="New password",
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for (twice) when not given; avoid passing it on a shared shell.",
)
def set_password(email: str, password: str) -> None:
    """Give EMAIL a new password; every session signed in with the old one ends."""
    user = _existing_user(email)
    _check_password(password)
    user.set_password(password)
    audit.record(None, "user.password_set", user)
    db.session.commit()
    click.echo(f"New password set for {user.name} <{user.email}>; their sessions have ended.")


@users_cli.command("activate")
@click.argument("email")
def activate_user(email: str) -> None:
    """Let a deactivated EMAIL sign in again."""
    user = _existing_user(email)
    if user.active:
        click.echo(f"{user.email} is already active.")
        return
    user.active = True
    audit.record(None, "user.activated", user)
    db.session.commit()
    click.echo(f"Reactivated {user.name} <{user.email}>.")


@users_cli.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
def set_role(email: str, role: str) -> None:
    """Give EMAIL another ROLE; their sessions end, so the new role applies at once."""
    user = _existing_user(email)
    if user.role == role:
        click.echo(f"{user.email} is already {role}.")
        return
    before, user.role = user.role, role
    user.end_sessions()
    audit.record(None, "user.role_changed", user, f"{before} → {role}")
    db.session.commit()
    click.echo(f"{user.name} <{user.email}> is now {role}; their sessions have ended.")


def _deliver_history(demo) -> None:
    sent = demo.deliver_history()
    if sent:
        click.echo(f"Demo history delivered: {sent} emails are in the development mailbox.")


@click.command("seed")
@click.option(
    "--deliver-history",
    is_flag=True,
    help="Send what the demo history owes to the development mailbox now (make run).",
)
@with_appcontext
def seed(deliver_history: bool) -> None:
    """Load demo clients, positions and candidates (does nothing if already loaded)."""
    from app import seed as demo
    from app.seed import DEMO_PASSWORD, DEMO_USERS, seed_demo

    if not seed_demo():
        click.echo("Demo data is already loaded; nothing to do.")
        if deliver_history:
            _deliver_history(demo)
        return
    if deliver_history:
        _deliver_history(demo)
    click.echo("Demo data loaded. Sign in with any of these (password: " + DEMO_PASSWORD + "):")
    for name, email, role in DEMO_USERS:
        click.echo(f"  {email:<28} {role:<10} {name}")


@users_cli.command("token")
@click.argument("email")
@click.option("--name", default="Command line", show_default=True, help="What the token is for.")
def make_token(email: str, name: str) -> None:
    """Make an API token for EMAIL's account; the token alone is printed on the last line
    (it is shown only this once: only its hash is kept)."""
    from app.api import tokens

    user = _existing_user(email)
    if not user.active:
        raise click.ClickException(f"{user.email} is deactivated; reactivate the account first.")
    try:
        token, raw = tokens.create(user, name, actor=None)
    except tokens.TokenRefused as exc:
        raise click.BadParameter(str(exc), param_hint="--name") from None
    click.echo(f"API token {token.id} ({token.name}) for {user.email}. Shown once; keep it safe:")
    click.echo(raw)
