"""audit.record(actor, action, target, detail): the one way to write the audit log.

The entry joins the caller's transaction, so an action and its record are committed (or rolled
back) together; callers commit as they already do. Nothing in the app updates or deletes an
entry: the session refuses it here, and PostgreSQL refuses it with a trigger as well.
"""

from __future__ import annotations

import getpass

import sqlalchemy as sa
from flask import has_request_context, request

from app import stored_words
from app.extensions import db
from app.models import AuditEntry, User
from app.stored_words import Said
from app.template_gettext import lazy_gettext as _l

# Every action the log knows, in words for the admins' page. Add new ones here (API tokens).
ACTIONS = {
    "user.created": _l("Created a staff account"),
    "user.role_changed": _l("Changed a role"),
    "user.deactivated": _l("Deactivated a staff account"),
    "user.activated": _l("Reactivated a staff account"),
    "user.password_set": _l("Set a new password"),
    "user.profile_changed": _l("Changed their profile"),
    "template.saved": _l("Edited message wording"),
    "template.reset": _l("Reset message wording"),
    "message.exempted": _l("Exempted a message"),
    "candidate.exported": _l("Exported a candidate's data"),
    "candidate.erased": _l("Erased a candidate's data"),
    "candidate.links_revoked": _l("Revoked a candidate's status links"),
    "report.exported": _l("Exported a report"),
    "api_token.created": _l("Created an API token"),
    "api_token.revoked": _l("Revoked an API token"),
}
_NOUNS = {"users": "user", "candidates": "candidate", "notifications": "message"}
_MAX_DETAIL = 1000


class AuditLogReadOnly(RuntimeError):
    """Something tried to change or remove an audit entry."""


def record(actor: User | None, action: str, target, detail: Said | str | None = None) -> AuditEntry:
    """Add an entry for `actor` (None: the command line) doing `action` to `target` (a
    model instance, named by its id, or a short text). `detail`: data (a before → after, the
    actor's own words) or, for a sentence of ours, stored words (app/stored_words.py)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; add it to audit.ACTIONS")
    if isinstance(detail, str) and len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 1] + "…"
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        action=action,
        target=describe(target)[:200],
        **stored_words.columns("detail", detail or None, limit=_MAX_DETAIL),
        origin=_origin()[:100],
    )
    db.session.add(entry)
    return entry


def record_alone(actor: User | None, action: str, target, detail: Said | str | None = None) -> None:
    """Record an action whose only write is its entry (an export streamed after this), and
    commit it before the action starts."""
    record(actor, action, target, detail)
    db.session.commit()


def describe(target) -> str:
    if isinstance(target, str):
        return target
    noun = _NOUNS.get(getattr(target, "__tablename__", ""), type(target).__name__.lower())
    if isinstance(target, User):
        return f"{noun} {target.id} <{target.email}>"
    return f"{noun} {target.id}"


def _origin() -> str:
    if has_request_context():
        return f"web, {request.remote_addr or 'unknown address'}"
    try:
        return f"command line, {getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (a container)
        return "command line"


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _refuse_changes(session, _context, _instances) -> None:
    for entry in session.deleted:
        if isinstance(entry, AuditEntry):
            raise AuditLogReadOnly("audit entries cannot be deleted")
    for entry in session.dirty:
        if isinstance(entry, AuditEntry) and session.is_modified(entry):
            raise AuditLogReadOnly("audit entries cannot be changed")


@sa.event.listens_for(sa.orm.Session, "do_orm_execute")
def _refuse_bulk_changes(state) -> None:
    table = getattr(state.statement, "table", None)
    if (state.is_update or state.is_delete) and getattr(table, "name", None) == "audit_log":
        raise AuditLogReadOnly("audit entries cannot be changed or deleted")
