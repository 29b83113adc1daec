"""Staff accounts: what a person may change about themselves, and what an admin may change
about anyone. Every change is audited in its own transaction; a change that takes rights
away (deactivation, another role, a new password) ends the user's sessions everywhere.
The agency always keeps at least one active admin."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from app import audit
from app.extensions import db
from app.models import Role, User
from app.stored_words import words
from app.validators import InvalidEmail, normalize_email

MIN_PASSWORD_LENGTH = 8


class StaffError(ValueError):
    """A change refused, with the reason in words for the page or the command line."""


class DuplicateUser(StaffError):
    pass


def find_user(email: str) -> User | None:
    return db.session.scalar(
        sa.select(User).where(sa.func.lower(User.email) == email.strip().lower())
    )


def check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise StaffError(
            ngettext(
                "The password must be at least %(num)d character.",
                "The password must be at least %(num)d characters.",
                MIN_PASSWORD_LENGTH,
            )
        )


def update_profile(user: User, *, name: str, phone: str | None, timezone: str) -> list[str]:
    """Save what the user changed about themselves; returns the changed fields' names. The
    phone goes into every email their candidates get from then on."""
    changes = {"name": name.strip(), "phone": (phone or "").strip() or None, "timezone": timezone}
    changed = [field for field, value in changes.items() if getattr(user, field) != value]
    if not changes["name"]:
        raise StaffError(_("Enter your name."))
    for field in changed:
        setattr(user, field, changes[field])
    if changed:
        audit.record(user, "user.profile_changed", user, ", ".join(changed))
    db.session.commit()
    return changed


def change_password(user: User, *, current: str, new: str) -> None:
    """The current password first (a session left open is not enough). Every other session
    of the user ends; the caller signs this one in again under the new version."""
    if not user.check_password(current or ""):
        raise StaffError(_("That is not your current password."))
    check_password(new)
    user.set_password(new)
    audit.record(user, "user.password_set", user, words("audit.password_by_self"))
    db.session.commit()


def create_user(
    actor: User | None, *, name: str, email: str, role: str, password: str, phone: str | None
) -> User:
    try:
        email = normalize_email(email)
    except InvalidEmail as exc:
        raise StaffError(_("Enter a valid email address (%(problem)s).", problem=exc)) from None
    name = name.strip()
    if not name:
        raise StaffError(_("Enter the name."))
    check_password(password)
    role = Role(role).value
    if find_user(email) is not None:
        raise DuplicateUser(_("A user with email %(email)s already exists.", email=email))
    user = User(name=name, email=email, role=role, active=True, phone=(phone or "").strip() or None)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()  # the id, for the audit entry
        audit.record(actor, "user.created", user, words("audit.role", role=role))
        db.session.commit()
    except sa.exc.IntegrityError:  # created by someone else in the meantime
        db.session.rollback()
        raise DuplicateUser(_("A user with email %(email)s already exists.", email=email)) from None
    return user


def set_active(actor: User | None, user: User, active: bool) -> bool:
    """Deactivate (their sessions end everywhere, their history and assignments stay) or
    reactivate; False when it already was so."""
    if user.active == active:
        return False
    if not active:
        _keep_an_admin(user, losing=True)
        user.end_sessions()
    user.active = active
    audit.record(actor, "user.activated" if active else "user.deactivated", user)
    db.session.commit()
    return True


def set_role(actor: User | None, user: User, role: str) -> bool:
    """Another role; their sessions end so it applies at once. False when unchanged."""
    role = Role(role).value
    if user.role == role:
        return False
    if user.role == Role.ADMIN.value:
        _keep_an_admin(user, losing=True)
    before, user.role = user.role, role
    user.end_sessions()
    audit.record(actor, "user.role_changed", user, f"{before} → {role}")
    db.session.commit()
    return True


def _keep_an_admin(user: User, *, losing: bool) -> None:
    """Refuse a change that would leave no active admin. The admins' rows are locked
    (PostgreSQL) so two admins demoting each other at once cannot both succeed."""
    if not losing or user.role != Role.ADMIN.value or not user.active:
        return
    admins = db.session.scalars(
        sa.select(User.id)
        .where(User.role == Role.ADMIN.value, User.active.is_(True))
        .order_by(User.id)
        .with_for_update()
    ).all()
    if set(admins) <= {user.id}:
        raise StaffError(
            _(
                "That would leave the agency without an active admin: make someone else an admin "
                "first."
            )
        )


def list_users() -> list[User]:
    return list(db.session.scalars(sa.select(User).order_by(User.active.desc(), User.name)))
