"""Owing messages: rows written in the caller's transaction, dispatched after it commits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa

from app import clock
from app.bulk_sql import id_filters, insert_many, is_postgresql, next_ids
from app.extensions import db
from app.models import Application, Notification, NState, Task
from app.models.notifications import DISCHARGEABLE, REPLACEABLE
from app.notifications.dispatch import (
    DUE_SLACK,
    batches_for,
    dispatch_safely,
    drop_idle_jobs_safely,
    job_id_for,
)
from app.notifications.kinds import KINDS
from app.notifications.timing import due_time
from app.orm import chunks

_OWED_KEY = "closeloop_owed_ids"
_BATCHES_KEY = "closeloop_queued_batches"  # (ids, job id) written queued, to enqueue
_IDLE_JOBS_KEY = "closeloop_idle_jobs"  # job ids whose only row was superseded


def idempotency_key(kind: str, application_id: int, version: int, extra: str = "") -> str:
    """Same cause, same key: the unique index makes owing twice impossible."""
    return f"{kind}:a{application_id}:v{version}" + (f":{extra}" if extra else "")


def owe(
    application: Application,
    kind: str,
    *,
    reason: str | None = None,
    note: str | None = None,
    context: dict | None = None,
    key_extra: str = "",
    now: datetime | None = None,
) -> Notification | None:
    """Record that the candidate is owed `kind`, in the current transaction.

    Returns None if the same cause already owes it (retried request, repeated sweep).
    """
    now = now or clock.now()
    key = idempotency_key(kind, application.id, application.version, key_extra)
    existing = db.session.scalar(sa.select(Notification).where(Notification.idempotency_key == key))
    if existing is not None:
        return None
    candidate = application.candidate
    notification = Notification(
        application_id=application.id,
        candidate_id=application.candidate_id,
        kind=kind,
        category=KINDS[kind].category,
        state=NState.PENDING.value,
        idempotency_key=key,
        app_version=application.version,
        reason=reason,
        personal_note=note,
        context=context or {},
        due_at=due_time(kind, candidate.timezone, now),
        to_email=candidate.email,
        created_at=now,
        updated_at=now,
    )
    db.session.add(notification)
    db.session.flush()
    _remember(notification.id)
    return notification


def expedite(notification: Notification, now: datetime | None = None) -> None:
    """An owed message may go now (e.g. the recruiter answered early); sent after commit."""
    notification.due_at = now or clock.now()
    _remember(notification.id)


def owe_many(rows: list[dict], now: datetime | None = None) -> list[int]:
    """Bulk form of `owe` for fan-out; each row holds Notification column values (the same
    columns in every row), written in the caller's transaction.

    On PostgreSQL the rows already due are written `queued` with the id of the send job that
    will carry them, in the batches `dispatch` would make, and `commit` enqueues those jobs
    right after the commit: one write per row instead of an insert now and an update after
    commit. If the enqueue never happens (crash, Redis down), they are queued rows without a
    job, which the reconciler dispatches again, as when `dispatch` fails between its mark
    and its enqueue. Rows due later, and every row on other databases, are written pending
    and dispatched after commit."""
    if not rows:
        return []
    if not is_postgresql(db.session):
        ids = insert_many(db.session, Notification, rows, returning=Notification.id)
        for nid in sorted(ids):
            _remember(nid)
        return ids
    now = now or clock.now()
    ids = next_ids(db.session, Notification, len(rows))
    due = [
        (nid, row["kind"], row.get("attempts") or 0)
        for nid, row in zip(ids, rows, strict=True)
        if row.get("state", NState.PENDING.value) == NState.PENDING.value
        and row["due_at"] <= now + DUE_SLACK
    ]
    batches = batches_for(due)
    job_of = {nid: job_id for batch_ids, job_id in batches for nid in batch_ids}
    rows = [
        {
            **row,
            "id": nid,
            "state": NState.QUEUED.value if nid in job_of else row["state"],
            "job_id": job_of.get(nid),
            "queued_at": now if nid in job_of else None,
        }
        for nid, row in zip(ids, rows, strict=True)
    ]
    insert_many(db.session, Notification, rows)
    db.session.info.setdefault(_BATCHES_KEY, []).extend(batches)
    for nid in ids:
        if nid not in job_of:
            _remember(nid)
    return ids


def supersede_stale(application_id: int, *, newer_version: int, now: datetime | None = None) -> int:
    """Cancel messages about an older state of this application that have not left yet."""
    now = now or clock.now()
    replaced = db.session.execute(
        sa.update(Notification)
        .where(
            Notification.application_id == application_id,
            Notification.app_version < newer_version,
            Notification.state.in_(REPLACEABLE),
        )
        .values(state=NState.SUPERSEDED.value, superseded_at=now, updated_at=now)
        .returning(Notification.id, Notification.job_id, Notification.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    # A send job that carried only a replaced row has nothing left to do: after the commit
    # it is taken off the queue, so workers do not spend a run finding nothing to claim.
    idle = [r.job_id for r in replaced if r.job_id and r.job_id == job_id_for([r.id], r.attempts)]
    if idle:
        db.session.info.setdefault(_IDLE_JOBS_KEY, []).extend(idle)
    return len(replaced)


def supersede_many(application_ids: list[int], now: datetime) -> int:
    """Fan-out form: everything not yet sent for these applications is replaced."""
    total = 0
    for among in id_filters(db.session, Notification.application_id, application_ids):
        result = db.session.execute(
            sa.update(Notification)
            .where(among, Notification.state.in_(REPLACEABLE))
            .values(state=NState.SUPERSEDED.value, superseded_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        total += result.rowcount or 0
    return total


def discharge(
    notification_ids: list[int], *, reason: str, user_id: int | None, contact_id: int | None = None
) -> int:
    """Settle owed messages without email: a logged contact or a manager's exemption."""
    now = clock.now()
    settled = 0
    for chunk in chunks(notification_ids, 900):
        result = db.session.execute(
            sa.update(Notification)
            .where(
                Notification.id.in_(chunk),
                Notification.state.in_(DISCHARGEABLE),
            )
            .values(
                state=NState.DISCHARGED.value,
                discharged_at=now,
                discharge_reason=reason,
                discharged_by_id=user_id,
                contact_id=contact_id,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        settled += result.rowcount or 0
    return settled


def undeliverable_task_key(notification_id: int) -> str:
    """One task per message nobody can receive by email, whoever notices first (the send
    path when it fails, or a bulk change that already knows there is no address)."""
    return f"send_failed:{notification_id}"


def open_task(
    *,
    kind: str,
    title: str,
    dedupe_key: str,
    detail: str | None = None,
    candidate_id: int | None = None,
    application_id: int | None = None,
    notification_id: int | None = None,
    assignee_id: int | None = None,
    due_at: datetime | None = None,
) -> Task | None:
    """Create a task unless one with the same dedupe key exists."""
    if db.session.scalar(sa.select(Task.id).where(Task.dedupe_key == dedupe_key)):
        return None
    task = Task(
        kind=kind,
        title=title[:300],
        detail=detail,
        dedupe_key=dedupe_key,
        candidate_id=candidate_id,
        application_id=application_id,
        notification_id=notification_id,
        assignee_id=assignee_id,
        due_at=due_at,
        created_at=clock.now(),
    )
    db.session.add(task)
    return task


def commit() -> list[int]:
    """Commit the unit of work, then hand what it owes to the queue; returns the ids of
    every notification it owes.

    If dispatching fails (Redis down), the rows stay pending (or queued without a job) and
    the reconciler picks them up: the database, not the queue, is the record.
    """
    ids = list(db.session.info.pop(_OWED_KEY, []))
    batches = list(db.session.info.pop(_BATCHES_KEY, []))
    idle = list(db.session.info.pop(_IDLE_JOBS_KEY, []))
    db.session.commit()
    if idle:
        drop_idle_jobs_safely(idle)
    if ids or batches:
        dispatch_safely(ids, batches)
    return sorted(ids + [nid for batch_ids, _ in batches for nid in batch_ids])


@contextlib.contextmanager
def trial() -> Iterator[None]:
    """Changes made inside are always rolled back (a savepoint), and what they owed is
    forgotten with them, never dispatched: how previews run the real change."""
    before = {key: list(db.session.info.get(key, [])) for key in (_OWED_KEY, _IDLE_JOBS_KEY)}
    savepoint = db.session.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()
        for key, value in before.items():
            db.session.info.pop(key, None)
            if value:
                db.session.info[key] = value


def rollback() -> None:
    for key in (_OWED_KEY, _BATCHES_KEY, _IDLE_JOBS_KEY):
        db.session.info.pop(key, None)
    db.session.rollback()


def _remember(notification_id: int) -> None:
    db.session.info.setdefault(_OWED_KEY, []).append(notification_id)
