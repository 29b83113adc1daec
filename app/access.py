"""Who may see and change what in the recruiters' workspace. Recruiters work on the
positions they own and the candidates they own or have in those positions; managers and
admins see all.

Views call the `*_or_404` helpers: a record that exists but is not yours answers 404, so
nobody learns about other recruiters' candidates by guessing ids.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort

from app.extensions import db
from app.models import Application, Candidate, Client, Position, Role, User


def sees_everything(user: User) -> bool:
    return user.has_role(Role.MANAGER)


def visible_positions(user: User) -> sa.Select:
    """Ids of the positions `user` may see, as a subquery to filter with."""
    query = sa.select(Position.id)
    if not sees_everything(user):
        query = query.where(Position.owner_id == user.id)
    return query


def candidate_filter(user: User):
    """A WHERE clause on Candidate limiting it to those `user` works with (None: all)."""
    if sees_everything(user):
        return None
    in_my_positions = (
        sa.select(Application.id)
        .where(Application.candidate_id == Candidate.id)
        .where(Application.position_id.in_(visible_positions(user)))
        .exists()
    )
    return sa.or_(Candidate.owner_id == user.id, in_my_positions)


def can_see_position(user: User, position: Position) -> bool:
    return sees_everything(user) or position.owner_id == user.id


def visible_position_ids(user: User, position_ids) -> set[int]:
    """Which of these positions `user` may open."""
    ids = sorted(set(position_ids))
    if not ids:
        return set()
    return set(db.session.scalars(visible_positions(user).where(Position.id.in_(ids))))


def can_see_candidate(user: User, candidate: Candidate) -> bool:
    if sees_everything(user) or candidate.owner_id == user.id:
        return True
    return bool(
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Application)
            .join(Position, Application.position_id == Position.id)
            .where(Application.candidate_id == candidate.id, Position.owner_id == user.id)
        )
    )


def position_or_404(user: User, position_id: int) -> Position:
    position = db.session.get(Position, position_id)
    if position is None or not can_see_position(user, position):
        abort(404)
    return position


def application_or_404(user: User, application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or not can_see_position(user, application.position):
        abort(404)
    return application


def candidate_or_404(user: User, candidate_id: int) -> Candidate:
    candidate = db.session.get(Candidate, candidate_id)
    if candidate is None or candidate.anonymised_at or not can_see_candidate(user, candidate):
        abort(404)
    return candidate


def client_or_404(client_id: int) -> Client:
    # Clients are shared reference data: every signed-in member of staff may see them.
    client = db.session.get(Client, client_id)
    if client is None:
        abort(404)
    return client
