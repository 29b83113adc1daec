"""The recruiter's work list ("My queue" at /queue; nothing to do with RQ's queues): what a
recruiter must do so no candidate is left waiting, in seven sections. Every open task a
recruiter owns is in exactly one of sections 2-7, whatever its kind, so nothing can fall
between them.

1. owed a response   the overdue report's own definition (app/reports/overdue.py), reasons
                     owed_unsent (owed past the SLA, failed, a message that cannot be sent,
                     terminal without a message) and promise_missed; computed live for the
                     recruiter's applications. A row an open task already covers is listed
                     once, with its task.
2. due soon          open "chase the client" reminders (promised_date_due).
3. calls             every other task: phone-only candidates to call, withdrawals to pass on,
                     missed decision dates, messages still owed after the SLA.
4. undeliverable     open tasks from bounces, drops and permanent send failures.
5. update requests   open tasks from candidates' "request an update" clicks.
6. replies           open "reply owed" tasks: a candidate answered one of our emails
                     (app/replies/); answered from the row (replies_routes.py).
7. client decisions  a client declined or moved a candidate forward on their decision page
                     (app/decisions/): the prepared stage change, confirmed in one click.

`counts()` is the one count every page shows (the navigation badge, the dashboard, the
queue's own headings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import orm

from app import clock, labels, stored_words
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
    Task,
    User,
)
from app.pipeline.promised_dates import PROMISE_TASKS
from app.replies.services import TASK_KIND as REPLY_TASK
from app.reports.overdue import Thresholds, overdue_union, thresholds

# Section 2 lists the reminders; a missed date's row is covered by either kind of task.
CHASE_TASKS = ("promised_date_due",)
UPDATE_TASKS = ("update_request",)
# Tasks whose settling is something done outside Closeloop (telling the client, chasing
# them): the queue offers "Mark done". Every other kind is settled by what its row offers.
DONE_TASKS = ("candidate_withdrew", "promised_date_due")
TASK_SECTIONS = ("due_soon", "calls", "undeliverable", "update_requests", "replies", "decisions")
OWED_REASONS = (OverdueReason.OWED_UNSENT.value, OverdueReason.PROMISE_MISSED.value)
SECTION_LIMIT = 200  # a page, not a report: the overdue report has the full list
# The queue shows a message's kind and state, never its rendered content.
_LIGHT = (
    orm.defer(Notification.stored_html),
    orm.defer(Notification.stored_text),
    orm.defer(Notification.fills),
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
    promised_at: datetime | None = None


@dataclass
class Queue:
    owed: list[Row] = field(default_factory=list)
    due_soon: list[Row] = field(default_factory=list)
    calls: list[Row] = field(default_factory=list)
    undeliverable: list[Row] = field(default_factory=list)
    update_requests: list[Row] = field(default_factory=list)
    replies: list[Row] = field(default_factory=list)
    decisions: list[Row] = field(default_factory=list)
    # True sizes: a section lists at most SECTION_LIMIT rows.
    counts: dict[str, int] = field(default_factory=dict)
    overdue: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Counts:
    """What is waiting on someone, per section, and how much of it is late: every page that
    shows a figure (badge, dashboard, queue) takes it from here."""

    sections: dict[str, int]
    overdue: int

    @property
    def total(self) -> int:
        return sum(self.sections.values())

    @property
    def tasks(self) -> int:
        return sum(self.sections[name] for name in TASK_SECTIONS)


def scope_owner(user: User, recruiter_id: int | None) -> int | None:
    """Whose items to show: a recruiter's own; a manager's choice, or everyone's (None)."""
    if not sees_everything(user):
        return user.id
    return recruiter_id or None


def _queries(owner: int | None) -> dict[str, sa.Select]:
    """Each section's statement; "owed" takes `_owed_params` when it runs."""
    listed = (*CHASE_TASKS, *UNDELIVERABLE_TASKS, *UPDATE_TASKS, REPLY_TASK, DECISION_TASK)
    return {
        "owed": _owed(scoped=owner is not None),
        "due_soon": _tasks(Task.kind.in_(CHASE_TASKS), owner),
        "calls": _tasks(Task.kind.notin_(listed), owner),
        "undeliverable": _tasks(Task.kind.in_(UNDELIVERABLE_TASKS), owner),
        "update_requests": _tasks(Task.kind.in_(UPDATE_TASKS), owner),
        "replies": _tasks(Task.kind == REPLY_TASK, owner),
        "decisions": _tasks(Task.kind == DECISION_TASK, owner),
    }


def _count(query: sa.Select, params: dict | None = None) -> int:
    counted = sa.select(sa.func.count()).select_from(query.order_by(None).subquery())
    return db.session.scalar(counted, params)


def _section_of_task() -> sa.Case:
    """Which of sections 2-7 a task is in: the same kinds `_queries` lists them by."""
    return sa.case(
        (Task.kind.in_(CHASE_TASKS), "due_soon"),
        (Task.kind.in_(UNDELIVERABLE_TASKS), "undeliverable"),
        (Task.kind.in_(UPDATE_TASKS), "update_requests"),
        (Task.kind == REPLY_TASK, "replies"),
        (Task.kind == DECISION_TASK, "decisions"),
        else_="calls",
    )


def _task_counts(owner: int | None, now: datetime) -> tuple[dict[str, int], int]:
    """Open tasks per section and how many are late, in one statement (it was twelve)."""
    section = _section_of_task().label("section")
    query = (
        sa.select(
            section,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((Task.due_at < now, 1), else_=0)), 0),
        )
        .join(Candidate, Candidate.id == Task.candidate_id)
        .where(Task.resolved_at.is_(None), Candidate.anonymised_at.is_(None))
        .group_by(section)
    )
    if owner is not None:
        query = query.where(Task.assignee_id == owner)
    found = {name: 0 for name in TASK_SECTIONS}
    late = 0
    for name, n, n_late in db.session.execute(query):
        found[name] = n
        late += int(n_late)
    return found, late


def counts(user: User, recruiter_id: int | None = None) -> Counts:
    """Items per section and how many are late, without loading them. Everything in
    "owed" is late by definition; a task is late once its due time has passed."""
    now = clock.now()
    owner = scope_owner(user, recruiter_id)
    tasks, late = _task_counts(owner, now)
    owed = _count(_owed(scoped=owner is not None), _owed_params(owner, now))
    sections = {"owed": owed, **tasks}
    return Counts(sections, sections["owed"] + late)


def build(user: User, recruiter_id: int | None = None) -> Queue:
    """Each section's first SECTION_LIMIT rows, with its true size and how many of it are
    late counted by the same statement (a window over the rows before the limit): the
    overdue rules run once, however long the section."""
    now = clock.now()
    owner = scope_owner(user, recruiter_id)
    queries = _queries(owner)
    rows, found = {}, {}
    rows["owed"], found["owed"], _ = _owed_rows(queries["owed"], _owed_params(owner, now))
    late = found["owed"]
    for name in TASK_SECTIONS:
        rows[name], found[name], section_late = _task_rows(queries[name], now)
        late += section_late
    return Queue(**rows, counts=found, overdue=late)


def recruiters() -> list[tuple[int, str]]:
    """Whom a manager can filter by."""
    return list(
        db.session.execute(
            sa.select(User.id, User.name)
            .where(User.active.is_(True), User.role == Role.RECRUITER.value)
            .order_by(User.name)
        ).all()
    )


# The owed section's statement is built once per process, with its moment and owner as
# named parameters: building the overdue definition's SQLAlchemy constructs took longer than
# running it (the badge builds it after every change).
_OWED: dict[bool, sa.Select] = {}


def _owed_params(owner: int | None, now: datetime) -> dict:
    t = thresholds(now)
    params = {"owed_now": t.now, "owed_sla": t.sla_before, "owed_silent": t.silent_before}
    if owner is not None:
        params["owed_owner"] = owner
    return params


def _owned_applications(scoped: bool):
    if not scoped:
        return None
    # A plain subquery, not a CTE: PostgreSQL flattens `IN (subquery)` into a semi-join it
    # can estimate from the tables' statistics. `IN (SELECT id FROM a_cte)` was estimated at
    # 200 distinct ids whatever the CTE held, the window's `rn = 1` then at 2 rows for 300,
    # and the planner nested loops over every open task for each of them (bench/load.py).
    return (
        sa.select(Application.id)
        .join(Position, Position.id == Application.position_id)
        .where(Position.owner_id == sa.bindparam("owed_owner"))
    )


def _owed(*, scoped: bool) -> sa.Select:
    """The overdue rows alone (run with `_owed_params`); names are looked up for the page's
    rows afterwards (`_owed_rows`): joined in one statement, PostgreSQL misjudges the window
    function's output as one row and nests loops over every position (seconds at 50k
    applications)."""
    if scoped not in _OWED:
        _OWED[scoped] = _build_owed(scoped)
    return _OWED[scoped]


def _build_owed(scoped: bool) -> sa.Select:
    # Untyped parameters take the type of the column each is compared with.
    t = Thresholds(
        now=sa.bindparam("owed_now"),
        sla_before=sa.bindparam("owed_sla"),
        silent_before=sa.bindparam("owed_silent"),
    )
    overdue = overdue_union(t, _owned_applications(scoped), OWED_REASONS)
    # A message with an open task (a call to make, a failed send, an escalation), or a
    # missed decision date with its open task, is listed once: with its task. Two tests,
    # not one EXISTS with an OR: the OR made PostgreSQL compare every overdue row with
    # every open task (48,000 comparisons for 300 rows in bench/load.py).
    open_task = sa.select(Task.id).where(Task.resolved_at.is_(None))
    message_has_task = open_task.where(Task.notification_id == overdue.c.notification_id)
    promise_has_task = open_task.where(
        Task.application_id == overdue.c.application_id, Task.kind.in_(PROMISE_TASKS)
    )
    covered = sa.or_(
        message_has_task.exists(),
        sa.and_(overdue.c.reason == OverdueReason.PROMISE_MISSED.value, promise_has_task.exists()),
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
            overdue.c.note_code,
            overdue.c.note_args,
            overdue.c.notification_id,
        )
        .join(Application, Application.id == overdue.c.application_id)
        .where(~covered, Application.candidate_id.notin_(erased))
        .order_by(overdue.c.severity, overdue.c.since, overdue.c.application_id)
    )


def _owed_rows(query: sa.Select, params: dict) -> tuple[list[Row], int, int]:
    """(rows, how many in all, how many late: all of them)."""
    total = sa.func.count().over().label("total")
    found = db.session.execute(query.add_columns(total).limit(SECTION_LIMIT), params).all()
    if not found:
        return [], 0, 0
    names = dict(
        db.session.execute(
            sa.select(Candidate.id, Candidate.name).where(
                Candidate.id.in_({r.candidate_id for r in found})
            )
        ).all()
    )
    about = {
        pid: labels.position_at(title, client)
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
    rows = [
        Row(
            r.candidate_id,
            names.get(r.candidate_id, "?"),
            r.application_id,
            r.position_id,
            about.get(r.position_id),
            r.since,
            r.reason,
            stored_words.say(r.note_code, r.note_args, r.note),
            notification=messages.get(r.notification_id),
        )
        for r in found
    ]
    return rows, found[0].total, found[0].total


def _tasks(kinds: sa.ColumnElement[bool], owner: int | None) -> sa.Select:
    query = (
        sa.select(
            Task,
            Candidate,
            Application.position_id,
            Position.title,
            Client.name,
            Notification,
            Application.promised_response_at,
        )
        .join(Candidate, Candidate.id == Task.candidate_id)
        .outerjoin(Application, Application.id == Task.application_id)
        .outerjoin(Position, Position.id == Application.position_id)
        .outerjoin(Client, Client.id == Position.client_id)
        .outerjoin(Notification, Notification.id == Task.notification_id)
        .where(kinds, Task.resolved_at.is_(None), Candidate.anonymised_at.is_(None))
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id)
        .options(*_LIGHT)
    )
    if owner is not None:
        query = query.where(Task.assignee_id == owner)
    return query


def _task_rows(query: sa.Select, now: datetime) -> tuple[list[Row], int, int]:
    """(rows, how many in all, how many late)."""
    total = sa.func.count().over()
    late = sa.func.sum(sa.case((Task.due_at < now, 1), else_=0)).over()
    found = db.session.execute(query.add_columns(total, late).limit(SECTION_LIMIT)).all()
    if not found:
        return [], 0, 0
    rows = [
        Row(
            c.id,
            c.name,
            t.application_id,
            pid,
            labels.position_at(title, client) if title else None,
            t.created_at,
            t.kind,
            stored_words.said(t, "detail"),
            task=t,
            notification=n,
            candidate_email=c.email,
            candidate_phone=c.phone,
            promised_at=promised,
        )
        for t, c, pid, title, client, n, promised, _, _ in found
    ]
    return rows, found[0][7], int(found[0][8] or 0)
