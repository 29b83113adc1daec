"""Clients and positions: create and edit them. Plain functions that the pages call (and an
API can call the same way): each checks its input, writes, commits, and raises `Refused`
naming the field at fault when the change cannot be saved, so a form can show the message
beside that field and keep what the user typed."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from app import access, clock
from app.decisions import links as decision_links
from app.extensions import db
from app.models import Client, Position, PositionStatus, User
from app.positions import queries


class Refused(ValueError):
    """The change is not saved; `str(exc)` is for the user, `field` says where it belongs."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


NAME_TAKEN = "A client with this name already exists."


def _text(field: str, value: str | None, column, *, required: bool = False) -> str | None:
    """Trimmed text, None when empty; refused when required and empty or too long for its
    column (the model's length is the limit, whoever calls)."""
    value = (value or "").strip() or None
    if value is None and required:
        raise Refused(field, _("This field is required."))
    limit = column.type.length
    if value is not None and limit and len(value) > limit:
        raise Refused(
            field, ngettext("At most %(num)d character.", "At most %(num)d characters.", limit)
        )
    return value


# -- clients ------------------------------------------------------------------------------


def save_client(
    client: Client | None,
    *,
    name: str,
    contact_name: str | None = None,
    contact_email: str | None = None,
    notes: str | None = None,
) -> Client:
    """Create (client None) or update a client. Names are unique whatever their case."""
    name = _text("name", name, Client.__table__.c.name, required=True)
    values = {
        "contact_name": _text("contact_name", contact_name, Client.__table__.c.contact_name),
        "contact_email": _text("contact_email", contact_email, Client.__table__.c.contact_email),
        "notes": _text("notes", notes, Client.__table__.c.notes),
    }
    # Checked before writing so the user gets a message; the unique index settles races.
    if queries.client_name_taken(name, except_id=client.id if client else None):
        raise Refused("name", NAME_TAKEN)
    now = clock.now()
    if client is None:
        client = Client(created_at=now)
        db.session.add(client)
    client.name, client.updated_at = name, now
    for key, value in values.items():
        setattr(client, key, value)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Refused("name", NAME_TAKEN) from None
    return client


# -- positions ----------------------------------------------------------------------------


def owner_choices(actor: User, position: Position | None = None) -> dict[int, str]:
    """Who `actor` may make a position's owner: a recruiter opens positions for themselves;
    a manager hands them to any active recruiter (or keeps the current owner)."""
    if not access.sees_everything(actor):
        return {actor.id: actor.name}
    owners = {u.id: u.name for u in queries.assignable_owners()}
    owners.setdefault(actor.id, actor.name)
    if position is not None and position.owner is not None:
        owners.setdefault(position.owner_id, position.owner.name)
    return owners


def save_position(
    position: Position | None,
    *,
    actor: User,
    client_id: int | None,
    title: str,
    location: str | None = None,
    owner_id: int | None = None,
    contact_name: str | None = None,
    contact_email: str | None = None,
) -> Position:
    """Open (position None) or edit a position. A new one is open and belongs to `owner_id`
    (default: the actor)."""
    title = _text("title", title, Position.__table__.c.title, required=True)
    location = _text("location", location, Position.__table__.c.location)
    contact_name = _text("contact_name", contact_name, Position.__table__.c.contact_name)
    contact_email = _text("contact_email", contact_email, Position.__table__.c.contact_email)
    if not client_id or db.session.get(Client, client_id) is None:
        raise Refused("client_id", _("Choose a client."))
    owner_id = owner_id or actor.id
    if owner_id not in owner_choices(actor, position):
        raise Refused("owner_id", _("Choose someone who may own this position."))
    now = clock.now()
    if position is None:
        position = Position(
            status=PositionStatus.OPEN.value,
            opened_at=now,
            status_changed_at=now,
            created_at=now,
        )
        db.session.add(position)
    position.client_id, position.title, position.location = client_id, title, location
    position.owner_id, position.updated_at = owner_id, now
    if (position.contact_email or None) != (contact_email or None):
        decision_links.revoke(position)  # links sent to the previous contact stop working
    position.contact_name, position.contact_email = contact_name, contact_email
    db.session.commit()
    return position
