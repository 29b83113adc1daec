"""Handing owed rows to RQ. The queue is only a wake-up call: losing it loses nothing,
because the reconciler re-dispatches whatever the database says is still owed."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from flask import current_app
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from sqlalchemy.orm import Session

from app import clock, rq_jobs, tracing
from app.bulk_sql import id_filters
from app.extensions import db
from app.models import Notification, NState
from app.redis_conn import get_redis

log = logging.getLogger(__name__)

NOTIFICATIONS_QUEUE = "notifications"
MAINTENANCE_QUEUE = "maintenance"
SEND_JOB = "workers.jobs.send_notifications"
# For crashes inside the job itself (database blip); provider errors are handled by us.
JOB_RETRY = Retry(max=3, interval=[5, 30, 120])
FINISHED_STATES = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
# Rows may be claimed a little before due_at (scheduler granularity).
DUE_SLACK = timedelta(seconds=5)


def queue(name: str = NOTIFICATIONS_QUEUE) -> Queue:
    return Queue(name, connection=get_redis())


def job_id_for(ids: list[int], attempt: int) -> str:
    """Derived from the notification ids and attempt, so dispatching the same rows twice
    (dispatcher racing the reconciler) is refused by RQ's unique enqueue."""
    if len(ids) == 1:
        return f"notify-{ids[0]}-a{attempt}"
    digest = hashlib.sha1(",".join(map(str, ids)).encode(), usedforsecurity=False).hexdigest()
    return f"notify-{ids[0]}-{ids[-1]}-{digest[:12]}-a{attempt}"


def batches_for(due: list[tuple[int, str, int, int]]) -> list[tuple[list[int], str]]:
    """(id, kind, attempts, candidate_id) of due rows -> (ids, job id) per send job, at most
    SEND_BATCH_SIZE rows each: one kind per batch, which keeps the provider's categories per
    request meaningful, except that all of one candidate's rows go in one batch (that of
    their first row's kind). In two jobs, run by two workers at the same moment, neither
    would see the other's row as waiting (pacing.siblings): the candidate would get two
    emails instead of one, past the daily cap (make simulate found a rejection and a
    "position filled" sent to one candidate at 10:30 sharp, a third email that day)."""
    batch_size = current_app.config["SEND_BATCH_SIZE"]
    first_kind: dict[int, str] = {}
    # kind -> candidate -> their rows, candidates in the order of their first row's id
    by_kind: dict[str, dict[int, list[tuple[int, int]]]] = {}
    for nid, kind, attempts, candidate_id in sorted(due):
        kind = first_kind.setdefault(candidate_id, kind)
        by_kind.setdefault(kind, {}).setdefault(candidate_id, []).append((nid, attempts))
    batches = []
    for groups in by_kind.values():
        chunk: list[tuple[int, int]] = []
        for rows in groups.values():
            if chunk and len(chunk) + len(rows) > batch_size:
                batches.append(_batch(chunk))
                chunk = []
            chunk.extend(rows)
            while len(chunk) > batch_size:  # one candidate with more rows than a batch
                batches.append(_batch(chunk[:batch_size]))
                chunk = chunk[batch_size:]
        if chunk:
            batches.append(_batch(chunk))
    return batches


def _batch(rows: list[tuple[int, int]]) -> tuple[list[int], str]:
    rows = sorted(rows)
    batch_ids = [r[0] for r in rows]
    return batch_ids, job_id_for(batch_ids, max(r[1] for r in rows))


def dispatch(ids: list[int], *, now: datetime | None = None, session: Session | None = None) -> int:
    """Enqueue the given rows that are pending and due; returns how many were handed over.
    Commits `session` (the app's by default)."""
    now = now or clock.now()
    session = session or db.session
    due: list[tuple[int, str, int, int]] = []
    for among in id_filters(session, Notification.id, sorted(set(ids))):
        due.extend(
            session.execute(
                sa.select(
                    Notification.id,
                    Notification.kind,
                    Notification.attempts,
                    Notification.candidate_id,
                ).where(
                    among,
                    Notification.state == NState.PENDING.value,
                    Notification.due_at <= now + DUE_SLACK,
                )
            ).all()
        )
    batches = batches_for(due)
    # Mark first, then enqueue: a crash in between leaves "queued" rows without a job, which
    # the reconciler re-dispatches after QUEUED_GRACE_SECONDS. The first batch goes alone so
    # a worker starts on it while the rest are marked and handed over in one round trip.
    for part in (batches[:1], batches[1:]):
        if not part:
            continue
        for batch_ids, job_id in part:
            for among in id_filters(session, Notification.id, batch_ids):
                session.execute(
                    sa.update(Notification)
                    .where(among, Notification.state == NState.PENDING.value)
                    .values(state=NState.QUEUED.value, job_id=job_id, queued_at=now, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
        session.commit()
        enqueue_sends(part)
    session.commit()
    return sum(len(b) for b, _ in batches)


def dispatch_safely(
    ids: list[int], batches: list[tuple[list[int], str]] = (), *, session: Session | None = None
) -> int:
    """Right after a commit (outbox's session event): enqueue the jobs of rows committed
    already `queued` (see outbox.owe_many), then dispatch `ids` on `session`. The commit has
    happened, so neither a Redis outage nor a database error here may fail the user's
    request: the reconciler finds both kinds of rows again (queued without a job, pending and
    due)."""
    session = session or db.session
    handed = 0
    try:
        for part in (batches[:1], batches[1:]):  # a worker starts on the first meanwhile
            enqueue_sends(part)
            handed += sum(len(batch_ids) for batch_ids, _ in part)
        return handed + (dispatch(ids, session=session) if ids else 0)
    except (redis.exceptions.RedisError, OSError, sa.exc.SQLAlchemyError) as exc:
        session.rollback()
        log.warning("dispatch of %d notifications deferred to the reconciler: %s", len(ids), exc)
        return handed


def _job_options(ids: list[int]) -> dict:
    return dict(
        retry=JOB_RETRY,
        result_ttl=300,
        failure_ttl=7 * 24 * 3600,
        description=f"send {len(ids)} notification(s) from #{ids[0]}",
        meta=tracing.job_meta(),  # the request id, for the job's log lines
    )


def send_job_timeout() -> int:
    """RQ's timeout for a send job: inside the lease on the rows it claims first."""
    return max(30, current_app.config["SEND_LEASE_SECONDS"] - 15)


def drop_idle_jobs_safely(job_ids: list[str]) -> int:
    """Take send jobs that have not started off the queue (their rows were superseded).
    Best effort: a job left behind only finds nothing to claim, so Redis being down here
    must not fail the user's request."""
    try:
        q = queue()
        dropped = 0
        for job in Job.fetch_many(job_ids, connection=q.connection):
            if job is not None and job.get_status(refresh=False) in (
                JobStatus.QUEUED,
                JobStatus.SCHEDULED,
            ):
                dropped += rq_jobs.delete_quietly(job)
        return dropped
    except (redis.exceptions.RedisError, OSError) as exc:
        log.warning("could not take %d idle send job(s) off the queue: %s", len(job_ids), exc)
        return 0


def enqueue_sends(batches: list[tuple[list[int], str]]) -> int:
    """Send jobs due now, in one round trip (RQ's enqueue_many); returns how many were
    enqueued. enqueue_many knows no `unique`, so job ids already in Redis are looked up
    first: a finished job is removed and replaced, a live one is left to carry its rows. (A
    job enqueued twice in a race is harmless: the second run finds nothing left to claim.)"""
    if len(batches) <= 1:
        return sum(enqueue_send(ids, job_id) is not None for ids, job_id in batches)
    q = queue()
    pipe = q.connection.pipeline(transaction=False)
    for _, job_id in batches:
        pipe.hget(Job.key_for(job_id), "status")
    fresh = []
    for (ids, job_id), raw in zip(batches, pipe.execute(), strict=True):
        if raw is None or _drop_if_finished(job_id, q):
            fresh.append((ids, job_id))
    q.enqueue_many(
        [
            Queue.prepare_data(
                SEND_JOB, (ids,), job_id=job_id, timeout=send_job_timeout(), **_job_options(ids)
            )
            for ids, job_id in fresh
        ]
    )
    return len(fresh)


def enqueue_send(ids: list[int], job_id: str, *, at: datetime | None = None) -> Job | None:
    q = queue()
    options = dict(job_id=job_id, job_timeout=send_job_timeout(), unique=True, **_job_options(ids))
    for _ in range(2):
        try:
            if at is not None and at > clock.now():
                return q.enqueue_at(at, SEND_JOB, ids, **options)
            return q.enqueue(SEND_JOB, ids, **options)
        except DuplicateJobError:
            if not _drop_if_finished(job_id, q):
                return None  # a live job already carries these rows
    return None


def _drop_if_finished(job_id: str, q: Queue) -> bool:
    """A finished or failed job with our id blocks a re-dispatch; remove it. True when no
    job with our id is left in the way."""
    job = rq_jobs.fetch(job_id, q.connection)
    if job is None:
        return True
    state = rq_jobs.status(job)
    if state is None:
        return True
    if state in FINISHED_STATES:
        return rq_jobs.delete_quietly(job) or rq_jobs.fetch(job_id, q.connection) is None
    return False
