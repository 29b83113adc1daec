"""Who may see and change what in the recruiters' workspace: one rule per record kind.
Recruiters work on the positions they own, the applications in them, and the candidates they
own or have in those positions; tasks assigned to them; imports they uploaded. Managers and
admins see all. Clients are shared reference data.

Views call the `*_or_404` helpers: a record that exists but is not yours answers 404, exactly
as one that does not exist, so nobody learns about other recruiters' records by guessing ids.
Services call the `can_*` predicates when they act for someone (a logged contact settles
only what its author may open).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from sqlalchemy import orm

from app.extensions import db
from app.models import (
    Application,
    Candidate,
    CandidateImport,
    Client,
    Position,
    Role,
    Task,
    User,
)


def sees_everything(user: User) -> bool:
    return user.has_role(Role.MANAGER)


def can_exempt(user: User) -> bool:
    """Deciding that a message must not be sent at all is a manager's call."""
    return user.has_role(Role.MANAGER)


# -- positions and their applications ---------------------------------------------------


def opens_positions_of(user: User, owner_id: int | None) -> bool:
    """The position rule itself: yours, or you see everything."""
    return sees_everything(user) or owner_id == user.id


def visible_positions(user: User) -> sa.Select:
    """Ids of the positions `user` may see, as a subquery to filter with."""
    query = sa.select(Position.id)
    if not sees_everything(user):
        query = query.where(Position.owner_id == user.id)
    return query


def can_see_position(user: User, position: Position) -> bool:
    return opens_positions_of(user, position.owner_id)


def can_see_application(user: User, application: Application) -> bool:
    # An application belongs to its position: whoever opens the position opens it.
    return can_see_position(user, application.position)


def position_or_404(user: User, position_id: int) -> Position:
    position = db.session.get(Position, position_id)
    if position is None or not can_see_position(user, position):
        abort(404)
    return position


_WITH_PEOPLE = (
    orm.joinedload(Application.candidate),
    orm.joinedload(Application.position).joinedload(Position.client),
)


def application_or_404(
    user: User, application_id: int, *, candidate: Candidate | None = None
) -> Application:
    """An application `user` may open (and, given `candidate`, one of theirs), loaded with
    its candidate, position and client in one statement: every page about an application
    shows them (the stage change's preview and confirm read them three statements later)."""
    application = db.session.get(Application, application_id, options=_WITH_PEOPLE)
    if (
        application is None
        or not can_see_application(user, application)
        or (candidate is not None and application.candidate_id != candidate.id)
    ):
        abort(404)
    return application


# -- candidates ---------------------------------------------------------------------------


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


def visible_position_ids(user: User, position_ids) -> set[int]:
    """Which of these positions `user` may open."""
    ids = sorted(set(position_ids))
    if not ids:
        return set()
    return set(db.session.scalars(visible_positions(user).where(Position.id.in_(ids))))


def can_see_candidate(user: User, candidate: Candidate) -> bool:
    where = candidate_filter(user)
    if where is None or candidate.owner_id == user.id:
        return True
    found = sa.select(Candidate.id).where(Candidate.id == candidate.id, where)
    return db.session.scalar(found) is not None


def candidate_or_404(user: User, candidate_id: int) -> Candidate:
    candidate = db.session.get(Candidate, candidate_id)
    if candidate is None or candidate.anonymised_at or not can_see_candidate(user, candidate):
        abort(404)
    return candidate


def can_log_contact(user: User, candidate: Candidate, application: Application | None) -> bool:
    """A contact about an application settles what that application owes, so its author
    must be able to open the application; a contact about the candidate in general needs
    the candidate. Every path that logs a contact goes through this rule."""
    if application is None:
        return can_see_candidate(user, candidate)
    return application.candidate_id == candidate.id and can_see_application(user, application)


# -- tasks, imports, clients --------------------------------------------------------------


def can_act_on_task(user: User, task: Task) -> bool:
    return sees_everything(user) or task.assignee_id == user.id


def task_or_404(user: User, task_id: int, kinds: tuple[str, ...]) -> Task:
    """A task of these kinds that `user` may act on (assigned to them, or a manager)."""
    task = db.session.get(Task, task_id)
    if task is None or task.kind not in kinds or not can_act_on_task(user, task):
        abort(404)
    return task


def can_see_import(user: User, candidate_import: CandidateImport) -> bool:
    """The person who uploaded it, or a manager."""
    return sees_everything(user) or candidate_import.user_id == user.id


def import_or_404(user: User, import_id: int) -> CandidateImport:
    candidate_import = db.session.get(CandidateImport, import_id)
    if candidate_import is None or not can_see_import(user, candidate_import):
        abort(404)
    return candidate_import


def client_or_404(client_id: int) -> Client:
    # Clients are shared reference data: every signed-in member of staff may see them.
    client = db.session.get(Client, client_id)
    if client is None:
        abort(404)
    return client
