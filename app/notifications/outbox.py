"""Owing messages: rows written in the caller's transaction, dispatched when it commits.

Dispatch after commit is a mechanism, not a convention. What a transaction owes the queue
(rows owed or expedited, the send jobs of a fan-out written `queued`, jobs whose only row was
superseded) is remembered on the session, with the transaction or savepoint it was recorded
in. When the outermost transaction commits, a session event hands it all to the queue; when
a transaction or a savepoint rolls back, what was recorded inside it is forgotten. So callers
just `db.session.commit()`, and a preview (`trial()`, a savepoint always rolled back) never
dispatches anything.

SQLAlchemy allows no SQL on a session inside its own after_commit event, and dispatching
reads and marks rows: it runs on a short session of its own, which records nothing (so it
cannot dispatch again in turn). If it fails (Redis down, the database busy), the request
still succeeds and the rows wait, pending or queued without a job, for the reconciler.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction

from app import clock, stored_words
from app.bulk_sql import id_filters, insert_many, is_postgresql, next_ids
from app.extensions import db
from app.models import Application, Notification, NState, Task
from app.models.notifications import DISCHARGEABLE, REPLACEABLE
from app.notifications import dispatch, pacing
from app.notifications.kinds import KINDS
from app.orm import chunks
from app.stored_words import Said

# session.info[_AFTER_COMMIT]: (transaction or savepoint, what, value) recorded during the
# session's current transaction. `what`: "owed" (a notification id to dispatch), "batch"
# ((ids, job id) written queued, to enqueue) or "idle" (a job id whose only row was
# superseded, to take off the queue).
_AFTER_COMMIT = "closeloop_after_commit"


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
    # The same computation the confirmation page shows (undo window, business hours,
    # digest window, quiet hours, daily cap), so what it says is when it leaves.
    leaving = pacing.departure(
        kind, candidate, now, application.promised_response_at, application.id
    )
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
        due_at=leaving.at,
        to_email=candidate.email,
        created_at=now,
        updated_at=now,
    )
    db.session.add(notification)
    db.session.flush()
    if notification.due_at <= now + dispatch.DUE_SLACK:
        _after_commit("owed", notification.id)
    # A row due later (undo window, digest window, business or quiet hours, daily cap) is the
    # dispatcher's at its time (reconcile.dispatch_due): handing it over after the commit
    # took a connection and two statements per stage change only to read it back not due.
    _DEPARTURES[notification] = (now, leaving.why)
    return notification


# Why each row owed in this process leaves when it does, for the preview that shows it in
# words (`departure_of`): computing it again counted the candidate's emails a second time.
_DEPARTURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def departure_of(notification: Notification, now: datetime) -> tuple[str, ...]:
    """Why `notification`, owed at `now`, leaves at its due time (pacing.departure's `why`)."""
    known = _DEPARTURES.get(notification)
    if known is not None and known[0] == now:
        return known[1]
    application = notification.application
    return pacing.departure(
        notification.kind,
        notification.candidate,
        now,
        application.promised_response_at,
        application.id,
    ).why


def expedite(notification: Notification, now: datetime | None = None) -> None:
    """An owed message may go now (e.g. the recruiter answered early); sent after commit."""
    notification.due_at = now or clock.now()
    _after_commit("owed", notification.id)


def owe_many(rows: list[dict], now: datetime | None = None) -> list[int]:
    """Bulk form of `owe` for fan-out; each row holds Notification column values (the same
    columns in every row), written in the caller's transaction.

    On PostgreSQL the rows already due are written `queued` with the id of the send job that
    will carry them, in the batches `dispatch` would make, and those jobs are enqueued right
    after the commit: one write per row instead of an insert now and an update after
    commit. If the enqueue never happens (crash, Redis down), they are queued rows without a
    job, which the reconciler dispatches again, as when `dispatch` fails between its mark
    and its enqueue. Rows due later, and every row on other databases, are written pending
    and dispatched after commit."""
    if not rows:
        return []
    if not is_postgresql(db.session):
        ids = insert_many(db.session, Notification, rows, returning=Notification.id)
        for nid in sorted(ids):
            _after_commit("owed", nid)
        return ids
    now = now or clock.now()
    ids = next_ids(db.session, Notification, len(rows))
    pending, queued, due_by = NState.PENDING.value, NState.QUEUED.value, now + dispatch.DUE_SLACK
    due = [
        (nid, row["kind"], row.get("attempts") or 0, row["candidate_id"])
        for nid, row in zip(ids, rows, strict=True)
        if row.get("state", pending) == pending and row["due_at"] <= due_by
    ]
    batches = dispatch.batches_for(due)
    job_of = {nid: job_id for batch_ids, job_id in batches for nid in batch_ids}
    rows = [
        {
            **row,
            "id": nid,
            "state": queued if nid in job_of else row["state"],
            "job_id": job_of.get(nid),
            "queued_at": now if nid in job_of else None,
        }
        for nid, row in zip(ids, rows, strict=True)
    ]
    insert_many(db.session, Notification, rows)
    for batch in batches:
        _after_commit("batch", batch)
    for nid in ids:
        if nid not in job_of:
            _after_commit("owed", nid)
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
    for r in replaced:
        if r.job_id and r.job_id == dispatch.job_id_for([r.id], r.attempts):
            _after_commit("idle", r.job_id)
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
    title: Said | str,
    dedupe_key: str,
    detail: Said | str | None = None,
    candidate_id: int | None = None,
    application_id: int | None = None,
    notification_id: int | None = None,
    assignee_id: int | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Task | None:
    """Create a task unless one with the same dedupe key exists. `title` and `detail` are
    stored words (app/stored_words.py) or someone's own text."""
    if db.session.scalar(sa.select(Task.id).where(Task.dedupe_key == dedupe_key)):
        return None
    task = Task(
        kind=kind,
        **stored_words.columns("title", title, limit=300),
        **stored_words.columns("detail", detail),
        dedupe_key=dedupe_key,
        candidate_id=candidate_id,
        application_id=application_id,
        notification_id=notification_id,
        assignee_id=assignee_id,
        due_at=due_at,
        # The caller's `now` when it has one: a sweep stamps its task and the message it
        # owes with the same moment.
        created_at=now or clock.now(),
    )
    db.session.add(task)
    return task


@contextlib.contextmanager
def trial() -> Iterator[None]:
    """Changes made inside are always rolled back (a savepoint), and what they owed is
    forgotten with them, never dispatched: how previews run the real change."""
    savepoint = db.session.begin_nested()
    try:
        yield
    finally:
        savepoint.rollback()


# -- dispatch after commit: the session events -------------------------------------------------


def _after_commit(what: str, value) -> None:
    """Remember `value` for when the current transaction commits. Always called right after
    a statement, so a transaction is in progress."""
    session = db.session()
    where = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_AFTER_COMMIT, []).append((where, what, value))


@sa.event.listens_for(db.session, "after_commit")
def _dispatch_what_was_owed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: what it owed now waits for the outer commit
    records = session.info.pop(_AFTER_COMMIT, None)
    if not records:
        return
    idle = [value for _, what, value in records if what == "idle"]
    if idle:
        dispatch.drop_idle_jobs_safely(idle)
    ids = [value for _, what, value in records if what == "owed"]
    batches = [value for _, what, value in records if what == "batch"]
    if ids or batches:
        with Session(db.engine) as own:
            dispatch.dispatch_safely(ids, batches, session=own)


@sa.event.listens_for(db.session, "after_soft_rollback")
def _forget_what_was_rolled_back(session: Session, previous: SessionTransaction) -> None:
    records = session.info.get(_AFTER_COMMIT)
    if records:
        records[:] = [r for r in records if not _inside(r[0], previous)]


@sa.event.listens_for(db.session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed (and dispatched), rolled back or closed
        session.info.pop(_AFTER_COMMIT, None)


def _inside(where: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while where is not None:
        if where is outer:
            return True
        where = where.parent
    return False
