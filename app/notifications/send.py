"""The send job's work: claim rows atomically, render, hand to the provider, record.

Called by `workers.jobs.send_notifications` with ids only; everything is re-read from the
database, so a repeated or stale job is harmless: it finds nothing left to claim.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app import clock, stored_words
from app.bulk_sql import id_filters, ids_in, is_postgresql, update_many
from app.extensions import db
from app.models import Alert, Application, EngineFlag, Notification, NState
from app.models.notifications import CLAIMABLE, OWED
from app.notifications import dispatch, layouts, pacing, telemetry
from app.notifications.backends import get_backend
from app.notifications.errors import (
    AmbiguousSendError,
    ConfigurationError,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from app.notifications.prepare import Prepared, fail, prepare
from app.stored_words import Said, words

log = logging.getLogger(__name__)

PAUSE_FLAG = "sending_paused"
# A send job's requests are independent: after a rejected message or a server error the
# rest of the batch still goes, until this many requests of the job have failed.
MAX_FAILED_REQUESTS = 3
# For the transaction that records a batch sent (PostgreSQL), see _mark_sent.
_MARK_SENT_WORK_MEM = "64MB"


def deliver(
    ids: list[int], *, coalesce_waiting: bool = False, take_over_seconds: float = 0.0
) -> dict:
    """Send what is still owed among `ids`; returns counts for the job result. The send job
    also asks for `coalesce_waiting` (see coalesce) and, for `take_over_seconds` of its own
    run, goes on with the batches still waiting in the queue (see take_waiting_batch)."""
    started = time.monotonic()
    now = clock.now()
    pause = sending_paused(now)
    if pause is not None:
        _reschedule(ids, pause.until, reason=words("error.sending_paused", reason=pause.value))
        return {"paused": len(ids)}
    claimed = claim(ids, now)
    counts: dict = {"claimed": 0}
    while True:
        if claimed:
            if coalesce_waiting:
                claimed += coalesce(len(claimed), now)
            for key, value in _deliver_claimed(claimed, now).items():
                counts[key] = counts.get(key, 0) + value
        if time.monotonic() - started >= take_over_seconds:
            break
        now = clock.now()
        if sending_paused(now) is not None:
            break
        claimed = take_waiting_batch(now)
        if not claimed:
            break
        counts["taken_over"] = counts.get("taken_over", 0) + 1
    if counts.get("taken_over"):
        log.info("send job also sent %d batch(es) waiting in the queue", counts["taken_over"])
    return counts


def _deliver_claimed(claimed: list[int], now: datetime) -> dict:
    waiting = pacing.siblings(claimed, now)
    if waiting is not None:
        claimed += take(waiting, now)
    plan = prepare(claimed, now)
    # A kind that renders again clears its alert, in the commit the job makes anyway.
    _resolve_alerts([_render_alert_key(kind) for kind in sorted(plan.rendered_kinds)])
    db.session.commit()
    counts = {"claimed": len(claimed), "sent": 0, "failed": plan.failed}
    for key in ("held", "skipped"):
        if getattr(plan, key):
            counts[key] = getattr(plan, key)
    if plan.unrendered:
        counts["unrendered"] = _keep_unrendered(plan.unrendered)
    if plan.ready:
        _send(plan.ready, counts)
    return counts


def _render_alert_key(kind: str) -> str:
    return f"render:{kind}"


def _keep_unrendered(unrendered: dict[str, tuple[list[int], int, str]]) -> int:
    """A message that cannot be rendered is our fault (a template or the code), never the
    candidate's: it stays owed and is tried again with backoff, an admin is alerted, and
    once it has been owed past the SLA the reconciler gives its recruiter a task."""
    for kind, (ids, attempts, error) in sorted(unrendered.items()):
        raise_alert(
            "render",
            _render_alert_key(kind),
            words("alert.render_failed", kind_label=kind, error=error),
        )
        _release(ids, _backoff_after(attempts), error, "render")
    return sum(len(ids) for ids, _, _ in unrendered.values())


def claim(ids: list[int], now: datetime) -> list[int]:
    """pending/queued -> sending, atomically; rows another worker holds are skipped."""
    return take(
        sa.select(Notification.id).where(
            ids_in(db.session, Notification.id, ids),
            Notification.due_at <= now + dispatch.DUE_SLACK,
        ),
        now,
    )


def coalesce(claimed: int, now: datetime) -> list[int]:
    """Also claim due messages waiting alone in send jobs of their own that have not run
    yet (a stream of single changes, each dispatched at its commit), up to SEND_BATCH_SIZE,
    and take those jobs off the queue: a backlog then goes in one job and few requests
    instead of a job (and, on the fork worker, a process) per message. The same claim as
    any other (SKIP LOCKED, under this job's lease); a taken job that a worker has already
    started finds nothing left to claim."""
    room = current_app.config["SEND_BATCH_SIZE"] - claimed
    if room <= 0:
        return []
    t = Notification
    alone = sa.literal("notify-") + sa.cast(t.id, sa.String) + "-a" + sa.cast(t.attempts, sa.String)
    taken = take(
        sa.select(t.id)
        .where(
            t.state == NState.QUEUED.value,
            t.due_at <= now + dispatch.DUE_SLACK,
            t.job_id == alone,  # dispatch.job_id_for([id], attempts)
        )
        .order_by(t.due_at, t.id)
        .limit(room),
        now,
    )
    if taken:
        jobs = sorted(
            set(db.session.scalars(sa.select(t.job_id).where(ids_in(db.session, t.id, taken))))
        )
        db.session.commit()
        dispatch.drop_idle_jobs_safely(jobs)
    return taken


def take_waiting_batch(now: datetime) -> list[int]:
    """Claim the rows of the send job that is due and still waiting in the queue (the
    earliest due first), and take that job off the queue. A send job that has sent its own
    batch goes on with the next one: a fan-out of ten batches on two fork workers is then
    two processes, each with one database connection, instead of ten (the fork and a new
    connection cost a 1,000-row job about a fifth of its time). The batch is the one
    dispatch made (one kind; all of a candidate's rows together) and is sent as that job
    would have sent it. A worker that starts the job meanwhile finds nothing to claim."""
    t = Notification
    job_id = db.session.scalar(
        sa.select(t.job_id)
        .where(
            t.state == NState.QUEUED.value,
            t.due_at <= now + dispatch.DUE_SLACK,
            t.job_id.is_not(None),
        )
        .order_by(t.due_at)
        .limit(1)
        .with_for_update(skip_locked=True)  # not a row another job is claiming
    )
    if job_id is None:
        db.session.commit()
        return []
    taken = take(sa.select(t.id).where(t.job_id == job_id), now)
    if taken:
        dispatch.drop_idle_jobs_safely([job_id])
    return taken


def take(selection: sa.Select, now: datetime) -> list[int]:
    """Claim the claimable rows among `selection` (a SELECT of ids) for this worker, under
    a lease, and commit."""
    lease = now + timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    # PostgreSQL: never wait for, nor take, a row another worker is claiming.
    # SQLite ignores it; its single writer lock makes the UPDATE atomic anyway.
    locked = selection.where(Notification.state.in_(CLAIMABLE)).with_for_update(skip_locked=True)
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.id.in_(locked.scalar_subquery()), Notification.state.in_(CLAIMABLE))
        .values(
            state=NState.SENDING.value,
            sending_at=now,
            lease_expires_at=lease,
            attempts=Notification.attempts + 1,
            updated_at=now,
        )
        .returning(Notification.id)
        .execution_options(synchronize_session=False)
    )
    claimed = sorted(result.scalars())
    db.session.commit()
    return claimed


def _send(ready: list[Prepared], counts: dict, failures: int = 0) -> None:
    try:
        provider_ids = get_backend().send_batch([p.message for p in ready])
    except SendError as exc:
        telemetry.send_result(ready, None, exc)
        # A batch split into several requests can fail part-way: what was accepted is sent.
        accepted = getattr(exc, "accepted", None) or {}
        done = [p for p in ready if p.id in accepted]
        if done:
            _mark_sent(done, [accepted[p.id] for p in done])
            counts["sent"] += sum(len(p.ids) for p in done)
        rest = [p for p in ready if p.id not in accepted]
        attempted = getattr(exc, "attempted", None)
        failed = [p for p in rest if attempted is None or p.id in attempted]
        untried = [p for p in rest if attempted is not None and p.id not in attempted]
        if failed:
            _handle_error(exc, failed, counts)
        if untried:
            if _keep_going(exc) and failures + 1 < MAX_FAILED_REQUESTS:
                _send(untried, counts, failures + 1)
            else:
                _hold_back(exc, untried, counts)
        return
    _mark_sent(ready, provider_ids)
    telemetry.send_result(ready, provider_ids)
    counts["sent"] += sum(len(p.ids) for p in ready)


def _keep_going(exc: SendError) -> bool:
    """After this failure, may the job's other requests still go? Yes after a rejected
    message or a server error; not after a rate limit, an unanswered request (the provider
    may be struggling), a connection failure or our own misconfiguration."""
    if isinstance(exc, PermanentSendError):
        return True
    return (
        type(exc) is TransientSendError
        and exc.retry_after is None
        and exc.status is not None
        and exc.status >= 500
    )


def _hold_back(exc: SendError, untried: list[Prepared], counts: dict) -> None:
    """Requests not tried because an earlier one failed: owed again, never ambiguous."""
    if isinstance(exc, ConfigurationError):
        _handle_error(exc, untried, counts)
        return
    ids = [i for p in untried for i in p.ids]
    reason = f"Not tried: another request of the batch failed ({exc.reason})"
    _release(ids, _retry_time(exc, untried), reason, "transient")
    counts["held_back"] = counts.get("held_back", 0) + len(ids)


def _handle_error(exc: SendError, ready: list[Prepared], counts: dict) -> None:
    ids = [i for p in ready for i in p.ids]
    if isinstance(exc, PermanentSendError):
        if len(ready) > 1:
            # One bad address rejects the whole request. Where SendGrid named the
            # personalizations at fault, fail those and send the rest again together;
            # otherwise isolate the culprit by sending each alone.
            rejected = getattr(exc, "rejected", None) or {}
            named = [p for p in ready if p.id in rejected]
            if named and len(named) < len(ready):
                for p in named:
                    for nid in p.ids:
                        reason = words("error.rejected", reason=rejected[p.id])
                        fail(db.session.get(Notification, nid), reason, "permanent")
                    counts["failed"] += len(p.ids)
                db.session.commit()
                _send([p for p in ready if p.id not in rejected], counts)
                return
            for item in ready:
                _send([item], counts)
            return
        for nid in ready[0].ids:
            fail(db.session.get(Notification, nid), exc.reason, "permanent")
        db.session.commit()
        counts["failed"] += len(ready[0].ids)
    elif isinstance(exc, ConfigurationError):
        _release(ids, pause_sending(exc.reason), exc.reason, "config")
    elif isinstance(exc, AmbiguousSendError):
        # Wait for the provider's "processed" event to settle it before sending again.
        _store_rendered(ready)
        _release(ids, _settle_time(ready), exc.reason, "ambiguous", ambiguous=True)
    elif isinstance(exc, TransientSendError):
        _release(ids, _retry_time(exc, ready), exc.reason, "transient")
    else:
        raise exc


def _mark_sent(ready: list[Prepared], provider_ids: list[str]) -> None:
    now = clock.now()
    table = Notification.__table__
    # Every notification a digest answers is recorded as sent, with the same email.
    layout_ids = layouts.store(_shared(ready))
    rows = [
        {"id": nid, "provider_message_id": pid, **layouts.columns(p.rendered, layout_ids)}
        for p, pid in zip(ready, provider_ids, strict=True)
        for nid in p.ids
    ]
    if is_postgresql(db.session):
        # The rows (with whole bodies, up to about 5 MB per 1,000 emails rendered in full)
        # are read from arrays into a tuplestore; past work_mem (4 MB by default) it spills
        # to a temporary file.
        db.session.execute(sa.text(f"SET LOCAL work_mem = '{_MARK_SENT_WORK_MEM}'"))
    # From any owed state, not only sending: if our lease was taken back while the provider
    # accepted, the truth is still "sent". (or_() rather than in_(): this may be an
    # executemany.)
    update_many(
        db.session,
        table,
        rows,
        where=[sa.or_(*(table.c.state == state for state in OWED))],
        values=dict(
            state=NState.SENT.value,
            sent_at=now,
            updated_at=now,
            lease_expires_at=None,
            **stored_words.columns("last_error", None),
            error_kind=None,
        ),
    )
    # The provider's events may have got here first (processed/delivered while we waited
    # for its answer): the state is already right, but the audit trail still needs what
    # was sent and the provider's id. Looked up in one query first: per-row statements
    # filtering on "provider_message_id IS NULL" are planned on that index right after a
    # fan-out (statistics not updated yet) and then scan every owed row, once per row.
    missing: set[int] = set()
    for among in id_filters(db.session, table.c.id, [r["id"] for r in rows]):
        missing.update(
            db.session.scalars(
                sa.select(table.c.id).where(among, table.c.provider_message_id.is_(None))
            )
        )
    update_many(
        db.session,
        table,
        [r for r in rows if r["id"] in missing],
        where=[table.c.provider_message_id.is_(None)],
    )
    app_ids = sorted({a for p in ready for a in p.application_ids})
    for among in id_filters(db.session, Application.id, app_ids):
        db.session.execute(
            sa.update(Application)
            .where(among)
            .values(last_candidate_contact_at=now)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


def _shared(ready: list[Prepared]) -> list:
    """The layouts the batch's stencilled emails were filled into, each once."""
    return list(
        {p.rendered.shared.key: p.rendered.shared for p in ready if p.rendered.shared}.values()
    )


def _store_rendered(ready: list[Prepared]) -> None:
    """Keep what we (perhaps) sent, for the audit trail, even before we know."""
    layout_ids = layouts.store(_shared(ready))
    rows = [{"id": nid, **layouts.columns(p.rendered, layout_ids)} for p in ready for nid in p.ids]
    update_many(db.session, Notification.__table__, rows)
    db.session.commit()


def _settle_time(ready: list[Prepared]) -> datetime:
    settle = clock.now() + timedelta(seconds=current_app.config["AMBIGUOUS_SETTLE_SECONDS"])
    return max(settle, _backoff(ready))


def _release(
    ids: list[int], until: datetime, reason: Said | str, kind: str, *, ambiguous: bool = False
) -> None:
    """Give rows back as owed, to be retried at `until`."""
    now = clock.now()
    values = dict(
        state=NState.QUEUED.value,
        due_at=until,
        lease_expires_at=None,
        **stored_words.columns("last_error", reason, limit=2000),
        error_kind=kind,
        updated_at=now,
    )
    if ambiguous:
        values["ambiguous_sends"] = Notification.ambiguous_sends + 1
    attempts = (
        db.session.scalar(
            sa.select(sa.func.max(Notification.attempts)).where(Notification.id.in_(ids))
        )
        or 0
    )
    job_id = dispatch.job_id_for(ids, attempts)
    values["job_id"] = job_id
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id.in_(ids), Notification.state == NState.SENDING.value)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.info("retrying %d notification(s) at %s: %s", len(ids), until.isoformat(), reason)
    dispatch.enqueue_send(ids, job_id, at=until)


def _reschedule(ids: list[int], until: datetime, reason: Said) -> None:
    """While paused, owed rows wait in `queued` until the pause ends."""
    job_id = dispatch.job_id_for(ids, 0) + f"-p{int(until.timestamp())}"
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id.in_(ids), Notification.state.in_(CLAIMABLE))
        .values(
            state=NState.QUEUED.value,
            due_at=until,
            job_id=job_id,
            **stored_words.columns("last_error", reason),
            error_kind="config",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    dispatch.enqueue_send(ids, job_id, at=until)


def _retry_time(exc: SendError, ready: list[Prepared]) -> datetime:
    """The backoff, or later if the provider said when to come back (429)."""
    wait = _backoff(ready)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        wait = max(wait, clock.now() + timedelta(seconds=retry_after))
    return wait


def _backoff(ready: list[Prepared]) -> datetime:
    return _backoff_after(max(p.attempts for p in ready))


def _backoff_after(attempts: int) -> datetime:
    schedule = current_app.config["SEND_BACKOFF_SECONDS"]
    base = schedule[max(0, min(attempts, len(schedule)) - 1)]
    return clock.now() + timedelta(seconds=base * (1 + random.random() * 0.2))


def sending_paused(now: datetime) -> EngineFlag | None:
    flag = db.session.get(EngineFlag, PAUSE_FLAG)
    if flag is not None and flag.until is not None and flag.until > now:
        return flag
    return None


def pause_sending(reason: str) -> datetime:
    """Our own setup is wrong: stop sending for a while, tell an admin, lose nothing."""
    now = clock.now()
    until = now + timedelta(seconds=current_app.config["CONFIG_ERROR_PAUSE_SECONDS"])
    flag = db.session.get(EngineFlag, PAUSE_FLAG)
    if flag is None:
        db.session.add(EngineFlag(name=PAUSE_FLAG, value=reason, until=until, updated_at=now))
    else:
        flag.value, flag.until, flag.updated_at = reason, until, now
    raise_alert("email_config", "email_config", reason)
    db.session.commit()
    log.error("email sending paused until %s: %s", until.isoformat(), reason)
    return until


def raise_alert(kind: str, key: str, message: Said | str) -> None:
    """Open the alert `key` for admins (on the dashboard), or count one more occurrence of
    it if it is open already. In the caller's transaction. `message`: stored words
    (app/stored_words.py), or someone else's text (the provider's error)."""
    now = clock.now()
    alert = db.session.scalar(sa.select(Alert).where(Alert.dedupe_key == key))
    if alert is None or alert.resolved_at is not None:
        if alert is not None:
            db.session.delete(alert)
            db.session.flush()
        alert = Alert(kind=kind, dedupe_key=key, created_at=now, last_seen_at=now)
        db.session.add(alert)
    else:
        alert.occurrences += 1
        alert.last_seen_at = now
    stored_words.put(alert, "message", message)


def _resolve_alerts(keys: list[str]) -> None:
    """Resolve the open alerts among `keys`, in the caller's transaction."""
    if keys:
        db.session.execute(
            sa.update(Alert)
            .where(Alert.dedupe_key.in_(keys), Alert.resolved_at.is_(None))
            .values(resolved_at=clock.now())
            .execution_options(synchronize_session=False)
        )


def resume_sending() -> None:
    flag = db.session.get(EngineFlag, PAUSE_FLAG)
    if flag is not None:
        flag.until = clock.now()
    _resolve_alerts(["email_config"])
    db.session.commit()
