"""The recruiter's work list ("My queue" at /queue; nothing to do with RQ's queues): what a
recruiter must do so no candidate is left waiting, in four sections.

1. owed a response   the overdue report's own definition (app/reports/overdue.py), reasons
                     owed_unsent (owed past the SLA, failed, terminal without a message) and
                     promise_missed; computed live for the recruiter's applications.
2. due soon          interviews whose promised decision date falls in the next 48 hours.
3. undeliverable     open tasks from bounces, drops and permanent send failures.
4. update requests   open tasks from candidates' "request an update" clicks.
5. replies           open "reply owed" tasks: a candidate answered one of our emails
                     (app/replies/); answered from the row (replies_routes.py).
6. client decisions  a client declined or moved a candidate forward on their decision page
                     (app/decisions/): the prepared stage change, confirmed in one click.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import orm

from app import clock
from app.access import sees_everything
from app.candidates.services import UNDELIVERABLE_TASKS
from app.decisions.services import TASK_KIND as DECISION_TASK
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    Client,
    Notification,
    OverdueReason,
    Position,
    Role,
    Stage,
    Task,
    User,
)
from app.replies.services import TASK_KIND as REPLY_TASK
from app.reports.overdue import overdue_union, thresholds

DUE_SOON = timedelta(hours=48)
OWED_REASONS = (OverdueReason.OWED_UNSENT.value, OverdueReason.PROMISE_MISSED.value)
SECTION_LIMIT = 200  # a page, not a report: the overdue report has the full list
# The queue shows a message's kind and state, never its rendered content.
_LIGHT = (
    orm.defer(Notification.body_html),
    orm.defer(Notification.body_text),
    orm.defer(Notification.context),
)


@dataclass(frozen=True)
class Row:
    """One item and what it is about; `task` / `notification` when it has them."""

    candidate_id: int
    candidate_name: str
    application_id: int | None
    position_id: int | None
    about: str | None
    since: datetime | None
    reason: str | None = None
    note: str | None = None
    task: Task | None = None
    notification: Notification | None = None
    candidate_email: str | None = None
    candidate_phone: str | None = None


@dataclass
class Queue:
    owed: list[Row] = field(default_factory=list)
    due_soon: list[Row] = field(default_factory=list)
    undeliverable: list[Row] = field(default_factory=list)
    update_requests: list[Row] = field(default_factory=list)
    replies: list[Row] = field(default_factory=list)
    decisions: list[Row] = field(default_factory=list)
    # True sizes: a section lists at most SECTION_LIMIT rows.
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def scope_owner(user: User, recruiter_id: int | None) -> int | None:
    """Whose items to show: a recruiter's own; a manager's choice, or everyone's (None)."""
    if not sees_everything(user):
        return user.id
    return recruiter_id or None


def _queries(owner: int | None, now: datetime) -> dict[str, sa.Select]:
    return {
        "owed": _owed(owner, now),
        "due_soon": _due_soon(owner, now),
        "undeliverable": _tasks(UNDELIVERABLE_TASKS, owner),
        "update_requests": _tasks(("update_request",), owner),
        "replies": _tasks((REPLY_TASK,), owner),
        "decisions": _tasks((DECISION_TASK,), owner),
    }


def count(user: User, recruiter_id: int | None = None) -> dict[str, int]:
    """Items per section, without loading them (the navigation badge on every page)."""
    queries = _queries(scope_owner(user, recruiter_id), clock.now())
    return {
        name: db.session.scalar(sa.select(sa.func.count()).select_from(q.order_by(None).subquery()))
        for name, q in queries.items()
    }


def build(user: User, recruiter_id: int | None = None) -> Queue:
    queries = _queries(scope_owner(user, recruiter_id), clock.now())
    rows = {
        "owed": _owed_rows(queries["owed"]),
        "due_soon": [
            _due_row(*r) for r in db.session.execute(queries["due_soon"].limit(SECTION_LIMIT))
        ],
        "undeliverable": _task_rows(queries["undeliverable"]),
        "update_requests": _task_rows(queries["update_requests"]),
        "replies": _task_rows(queries["replies"]),
        "decisions": _task_rows(queries["decisions"]),
    }
    counts = {name: len(found) for name, found in rows.items()}
    for name, found in rows.items():
        if len(found) == SECTION_LIMIT:  # there may be more than the page shows
            q = queries[name].order_by(None).subquery()
            counts[name] = db.session.scalar(sa.select(sa.func.count()).select_from(q))
    return Queue(**rows, counts=counts)


def recruiters() -> list[tuple[int, str]]:
    """Whom a manager can filter by."""
    return list(
        db.session.execute(
            sa.select(User.id, User.name)
            .where(User.active.is_(True), User.role == Role.RECRUITER.value)
            .order_by(User.name)
        ).all()
    )


def _owned_applications(owner: int | None):
    if owner is None:
        return None
    # One CTE, used by every branch of the definition: PostgreSQL computes it once.
    mine = (
        sa.select(Application.id)
        .join(Position, Position.id == Application.position_id)
        .where(Position.owner_id == owner)
        .cte("my_applications")
    )
    return sa.select(mine.c.id)


def _owed(owner: int | None, now: datetime) -> sa.Select:
    """The overdue rows alone; names are looked up for the page's rows afterwards
    (`_owed_rows`): joined in one statement, PostgreSQL misjudges the window function's
    output as one row and nests loops over every position (seconds at 50k applications)."""
    overdue = overdue_union(thresholds(now), _owned_applications(owner), OWED_REASONS)
    # A failed message whose task is open is listed once, with its task (section 3).
    has_task = (
        sa.select(Task.id)
        .where(
            Task.notification_id == overdue.c.notification_id,
            Task.kind.in_(UNDELIVERABLE_TASKS),
            Task.resolved_at.is_(None),
        )
        .exists()
    )
    erased = sa.select(Candidate.id).where(Candidate.anonymised_at.is_not(None))
    return (
        sa.select(
            Application.candidate_id,
            overdue.c.application_id,
            Application.position_id,
            overdue.c.since,
            overdue.c.reason,
            overdue.c.note,
            overdue.c.notification_id,
        )
        .join(Application, Application.id == overdue.c.application_id)
        .where(~has_task, Application.candidate_id.notin_(erased))
        .order_by(overdue.c.severity, overdue.c.since, overdue.c.application_id)
    )


def _owed_rows(query: sa.Select) -> list[Row]:
    found = db.session.execute(query.limit(SECTION_LIMIT)).all()
    if not found:
        return []
    names = dict(
        db.session.execute(
            sa.select(Candidate.id, Candidate.name).where(
                Candidate.id.in_({r.candidate_id for r in found})
            )
        ).all()
    )
    about = {
        pid: f"{title} at {client}"
        for pid, title, client in db.session.execute(
            sa.select(Position.id, Position.title, Client.name)
            .join(Client, Client.id == Position.client_id)
            .where(Position.id.in_({r.position_id for r in found}))
        )
    }
    ids = {r.notification_id for r in found if r.notification_id}
    messages = {
        n.id: n for n in db.session.scalars(sa.select(Notification).where(Notification.id.in_(ids)))
    }
    return [
        Row(
            r.candidate_id,
            names.get(r.candidate_id, "?"),
            r.application_id,
            r.position_id,
            about.get(r.position_id),
            r.since,
            r.reason,
            r.note,
            notification=messages.get(r.notification_id),
        )
        for r in found
    ]


def _due_soon(owner: int | None, now: datetime) -> sa.Select:
    query = (
        sa.select(Application, Candidate.name, Position.title, Client.name)
        .join(Candidate, Candidate.id == Application.candidate_id)
        .join(Position, Position.id == Application.position_id)
        .join(Client, Client.id == Position.client_id)
        .where(
            Application.stage == Stage.INTERVIEW.value,
            Application.promised_response_at >= now,
            Application.promised_response_at < now + DUE_SOON,
            Candidate.anonymised_at.is_(None),
        )
        .order_by(Application.promised_response_at, Application.id)
    )
    if owner is not None:
        query = query.where(Position.owner_id == owner)
    return query


def _due_row(a, name, title, client) -> Row:
    about = f"{title} at {client}"
    return Row(a.candidate_id, name, a.id, a.position_id, about, a.promised_response_at)


def _tasks(kinds: tuple[str, ...], owner: int | None) -> sa.Select:
    query = (
        sa.select(
            Task, Candidate, Application.position_id, Position.title, Client.name, Notification
        )
        .join(Candidate, Candidate.id == Task.candidate_id)
        .outerjoin(Application, Application.id == Task.application_id)
        .outerjoin(Position, Position.id == Application.position_id)
        .outerjoin(Client, Client.id == Position.client_id)
        .outerjoin(Notification, Notification.id == Task.notification_id)
        .where(Task.kind.in_(kinds), Task.resolved_at.is_(None), Candidate.anonymised_at.is_(None))
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
        .options(*_LIGHT)
    )
    if owner is not None:
        query = query.where(Task.assignee_id == owner)
    return query


def _task_rows(query: sa.Select) -> list[Row]:
    return [
        Row(
            c.id,
            c.name,
            t.application_id,
            pid,
            f"{title} at {client}" if title else None,
            t.created_at,
            t.kind,
            t.detail,
            task=t,
            notification=n,
            candidate_email=c.email,
            candidate_phone=c.phone,
        )
        for t, c, pid, title, client, n in db.session.execute(query.limit(SECTION_LIMIT))
    ]
