"""The reconciler: makes sure nothing owed is lost, whatever happened to Redis or a worker.

Every step is a conditional update or an idempotent insert, so two reconcilers running at
once do no harm (the scheduler still keeps only one active).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from rq.job import Job, JobStatus
from sqlalchemy.orm import selectinload

from app import clock, rq_jobs, stored_words
from app.extensions import db
from app.models import Application, Lease, Notification, NState, ReconcilerRun
from app.models.notifications import UNSENT
from app.notifications import dispatch, outbox
from app.notifications.invariant import terminal_without_response
from app.notifications.kinds import outcome_kind
from app.orm import chunks, literal_in
from app.redis_conn import get_redis
from app.stored_words import words

log = logging.getLogger(__name__)

SCAN_LIMIT = 20_000
# The regular pass checks the invariant for applications changed this recently: reading every
# terminal application (most of the table, over the years) at every pass cost a second at
# 400,000 applications (bench/reconcile.py). The whole table is checked by reconcile_everywhere
# (INVARIANT_SWEEP_SECONDS), so a break the window misses waits at most that long.
RECENT_CHANGES = timedelta(hours=1)


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def reconcile(now: datetime | None = None, *, everywhere: bool = False) -> dict:
    """One pass; returns what it did and records it in reconciler_runs. The invariant is
    checked for applications changed in the last hour, or for all of them (`everywhere`)."""
    now = now or clock.now()
    run = ReconcilerRun(holder=holder_name(), started_at=now)
    db.session.add(run)
    db.session.flush()
    run_id = run.id  # read before the commit expires it: no SELECT to read it back
    db.session.commit()
    counts = {}
    try:
        counts["reclaimed"] = reclaim_expired(now)
        counts["repaired"] = repair_invariant(now, None if everywhere else now - RECENT_CHANGES)
        counts["requeued"] = requeue_vanished(now)
        counts["dispatched"] = dispatch_due(now)
        counts["escalated"] = escalate_overdue(now)
    except Exception as exc:
        db.session.rollback()
        run = db.session.get(ReconcilerRun, run_id)
        run.error = f"{type(exc).__name__}: {exc}"[:2000]
        run.finished_at = clock.now()
        db.session.commit()
        raise
    db.session.execute(
        sa.update(ReconcilerRun)
        .where(ReconcilerRun.id == run_id)
        .values(**counts, finished_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    # Keep a month of history: enough for the engine-health page, bounded in size.
    db.session.execute(
        sa.delete(ReconcilerRun).where(ReconcilerRun.started_at < now - timedelta(days=30))
    )
    db.session.commit()
    if any(counts.values()):
        log.info("reconciler: %s", counts)
    return counts


def reconcile_everywhere() -> dict:
    """The pass that also checks every terminal application (INVARIANT_SWEEP_SECONDS)."""
    return reconcile(everywhere=True)


def reclaim_expired(now: datetime) -> int:
    """Rows stuck in `sending` past their lease: the worker died. Send again (at least once),
    and count the ambiguity: the provider may already have accepted it, so first give its
    "processed" event time to settle the question."""
    settle = timedelta(seconds=current_app.config["AMBIGUOUS_SETTLE_SECONDS"])
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.state == NState.SENDING.value, Notification.lease_expires_at < now)
        .values(
            state=NState.PENDING.value,
            due_at=now + settle,
            lease_expires_at=None,
            ambiguous_sends=Notification.ambiguous_sends + 1,
            error_kind="ambiguous",
            **stored_words.columns("last_error", words("error.worker_stopped")),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        db.session.commit()  # else nothing to make visible: the pass commits at its end
    return result.rowcount or 0


def dispatch_due(now: datetime | None = None) -> int:
    """Pending rows whose time has come (undo window over, lost enqueue after commit)."""
    now = now or clock.now()
    ids = list(
        db.session.scalars(
            sa.select(Notification.id)
            .where(Notification.state == NState.PENDING.value, Notification.due_at <= now)
            .order_by(Notification.due_at)
            .limit(SCAN_LIMIT)
        )
    )
    return dispatch.dispatch(ids, now=now) if ids else 0


def requeue_vanished(now: datetime) -> int:
    """`queued` rows whose job is gone (Redis flushed or restarted), finished without
    sending, stuck on a dead worker, or scheduled but never moved (the RQ scheduler died):
    put them back to pending and dispatch them again."""
    grace = timedelta(seconds=current_app.config["QUEUED_GRACE_SECONDS"])
    lease = timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    rows = db.session.execute(
        sa.select(Notification.id, Notification.job_id)
        .where(Notification.state == NState.QUEUED.value, Notification.due_at <= now - grace)
        .limit(SCAN_LIMIT)
    ).all()
    if not rows:
        return 0
    jobs = _job_info(sorted({r.job_id for r in rows if r.job_id}))
    lost, stale_jobs = [], set()
    for r in rows:
        status, started_at, in_queue = jobs.get(r.job_id, (None, None, False))
        if _is_lost(status, started_at, now - lease, in_queue):
            lost.append(r.id)
            if status is not None:
                stale_jobs.add(r.job_id)
    # A stale job hash would make RQ refuse the re-dispatch as a duplicate.
    for job_id in stale_jobs:
        job = rq_jobs.fetch(job_id, get_redis())
        if job is not None:
            rq_jobs.delete_quietly(job)
    for chunk in chunks(lost, 900):
        db.session.execute(
            sa.update(Notification)
            .where(Notification.id.in_(chunk), Notification.state == NState.QUEUED.value)
            .values(state=NState.PENDING.value, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    if lost:
        log.warning("reconciler: %d queued notification(s) had lost their job", len(lost))
        dispatch.dispatch(lost, now=now)
    return len(lost)


def _is_lost(
    status: JobStatus | None,
    started_at: datetime | None,
    dead_before: datetime,
    in_queue: bool = True,
):
    if status is None or status in dispatch.FINISHED_STATES:
        return True
    if status == JobStatus.STARTED:
        return started_at is None or started_at < dead_before
    if status == JobStatus.QUEUED:
        # Taken off the queue by a worker that died before starting it: RQ still says
        # "queued", but no worker will ever see it again.
        return not in_queue
    # Due for longer than the grace period, yet still waiting for RQ's scheduler.
    return status == JobStatus.SCHEDULED


def _job_info(job_ids: list[str]) -> dict[str, tuple[JobStatus | None, datetime | None, bool]]:
    conn = get_redis()
    pipe = conn.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hmget(Job.key_for(job_id), ["status", "started_at"])
    results = pipe.execute()
    waiting: set[bytes] = set()
    if any(raw_status == b"queued" for raw_status, _ in results):
        # One read of the queue, not one LPOS per job: with a backlog of thousands of
        # single-row jobs that would be quadratic, on every reconciler pass.
        waiting = set(conn.lrange(dispatch.queue().key, 0, -1))
    out = {}
    for job_id, (raw_status, raw_started) in zip(job_ids, results, strict=True):
        status = JobStatus(raw_status.decode()) if raw_status else None
        started = None
        if raw_started:
            with contextlib.suppress(ValueError):
                started = datetime.fromisoformat(raw_started.decode().replace("Z", "+00:00"))
                if started.tzinfo is None:
                    started = started.replace(tzinfo=UTC)
        out[job_id] = (status, started, job_id.encode() in waiting)
    return out


def repair_invariant(now: datetime, changed_since: datetime | None = None) -> int:
    """Terminal applications without a response get the message they are owed (those
    changed since `changed_since`, or all)."""
    repaired = 0
    silent = terminal_without_response(changed_since).limit(SCAN_LIMIT)
    for application in list(db.session.scalars(silent)):
        try:
            kind = outcome_kind(application.stage, application.outcome_reason)
        except ValueError:
            kind = "not_selected_agency"  # unknown reason: still never leave them silent
        n = outbox.owe(
            application, kind, reason=application.outcome_reason, now=now, key_extra="repair"
        )
        if n is not None:
            repaired += 1
            log.error("invariant repaired: application %s owed %s", application.id, kind)
    if repaired:
        db.session.commit()  # dispatches what was owed (outbox's session event)
    return repaired


def escalate_overdue(now: datetime) -> int:
    """Still unsent past the SLA (or failed): a task for the position's owner."""
    sla = timedelta(seconds=current_app.config["NOTIFICATION_SLA_SECONDS"])
    rows = list(
        db.session.scalars(
            sa.select(Notification)
            .options(
                selectinload(Notification.candidate),
                selectinload(Notification.application).selectinload(Application.position),
            )
            .where(
                literal_in(Notification.state, UNSENT),  # ix_notifications_unescalated
                Notification.created_at <= now - sla,
                Notification.escalated_at.is_(None),
            )
            .limit(SCAN_LIMIT)
        )
    )
    for n in rows:
        n.escalated_at = now
        position = n.application.position
        outbox.open_task(
            kind="overdue_message",
            title=words("task.still_owed", name=n.candidate.name, kind=n.kind),
            detail=stored_words.stored(n, "last_error"),
            dedupe_key=f"overdue:{n.id}",
            candidate_id=n.candidate_id,
            application_id=n.application_id,
            notification_id=n.id,
            assignee_id=position.owner_id,
            due_at=now,
        )
    if rows:
        db.session.commit()
    return len(rows)


def acquire_lease(name: str, holder: str, ttl_seconds: float) -> bool:
    """Take or renew a named lease; exactly one holder at a time (portable SQL)."""
    now = clock.now()
    expires = now + timedelta(seconds=ttl_seconds)
    result = db.session.execute(
        sa.update(Lease)
        .where(Lease.name == name, sa.or_(Lease.expires_at < now, Lease.holder == holder))
        .values(holder=holder, expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        db.session.commit()
        return True
    db.session.rollback()
    try:
        db.session.add(Lease(name=name, holder=holder, expires_at=expires))
        db.session.commit()
        return True
    except sa.exc.IntegrityError:
        db.session.rollback()
        return False


def release_lease(name: str, holder: str) -> None:
    db.session.execute(sa.delete(Lease).where(Lease.name == name, Lease.holder == holder))
    db.session.commit()


def counts_by_state() -> dict[str, int]:
    rows = db.session.execute(
        sa.select(Notification.state, sa.func.count()).group_by(Notification.state)
    ).all()
    return {state: count for state, count in rows}
