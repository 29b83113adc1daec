"""The morning digest: overdue work emailed to staff, through the same queue and backend.

Managers (and admins) get the agency's overdue counts and the ten oldest items; recruiters get
their own list. Each user chooses whether and at what hour (their time zone); nothing is sent
on a day off or when there is nothing to say.

Delivery follows the candidate outbox's pattern with a table of its own (`staff_messages`,
see app/models/reports.py for why): the message is written first, keyed by user and day so a
day is never built twice; then a job on the `notifications` queue claims it (SKIP LOCKED on
PostgreSQL), sends it with `get_backend()` and records the result. `tick()` runs on the
scheduler: it builds the digests that are due and re-dispatches anything still owed, so a
lost job or a Redis restart delays a digest but never loses it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis
import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import ngettext
from rq.exceptions import DuplicateJobError
from rq.job import JobStatus

from app import clock, rq_jobs, stored_words
from app.access import sees_everything
from app.business_days import get_calendar
from app.extensions import db
from app.models import (
    DigestSetting,
    StaffMessage,
    StaffMessageState,
    User,
)
from app.notifications.backends import OutgoingEmail, get_backend
from app.notifications.errors import ConfigurationError, PermanentSendError, SendError
from app.reports import promises, queries
from app.stored_words import words

log = logging.getLogger(__name__)

KIND = "overdue_digest"
SEND_JOB = "workers.jobs.send_staff_messages"
MANAGER_ITEMS = 10
RECRUITER_ITEMS = 100
_PENDING = StaffMessageState.PENDING.value
_SENDING = StaffMessageState.SENDING.value


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str
    item_count: int


# -- settings -------------------------------------------------------------------------------


def settings_for(user: User) -> tuple[bool, int]:
    row = db.session.get(DigestSetting, user.id)
    if row is None:
        return True, current_app.config["DIGEST_HOUR"]
    return row.enabled, row.hour


def save_settings(user: User, *, enabled: bool, hour: int) -> None:
    if not 0 <= hour <= 23:
        raise ValueError("hour must be between 0 and 23")
    row = db.session.get(DigestSetting, user.id)
    if row is None:
        db.session.add(DigestSetting(user_id=user.id, enabled=enabled, hour=hour))
    else:
        row.enabled, row.hour = enabled, hour
    db.session.commit()


# -- content --------------------------------------------------------------------------------


def is_manager(user: User) -> bool:
    # A manager's digest covers what they see: the whole agency.
    return sees_everything(user)


def build_digest(user: User, now: datetime | None = None) -> Digest | None:
    """What `user` should read this morning, or None when nothing is overdue for them."""
    now = now or clock.now()
    scope = queries.Filters() if is_manager(user) else queries.Filters(owner_id=user.id)
    counts = queries.counts(scope)
    if counts.total == 0:
        return None
    limit = MANAGER_ITEMS if is_manager(user) else RECRUITER_ITEMS
    rows = queries.oldest(scope, limit)
    base = current_app.config["APP_BASE_URL"].rstrip("/")
    context = {
        "user": user,
        "manager": is_manager(user),
        "counts": counts,
        "rows": rows,
        "more": max(0, counts.total - len(rows)),
        "base_url": base,
        "report_url": f"{base}/reports/overdue",
        "applications_url": f"{base}/reports/applications/",
        "settings_url": f"{base}/reports/digest",
        "agency": current_app.config["AGENCY_NAME"],
        "today": get_calendar().local_date(now),
        "late_clients": promises.late_clients() if is_manager(user) else [],
    }
    if is_manager(user):
        subject = ngettext(
            "Closeloop: %(num)d overdue item across the agency",
            "Closeloop: %(num)d overdue items across the agency",
            counts.total,
        )
    else:
        subject = ngettext(
            "Closeloop: %(num)d overdue item on your positions",
            "Closeloop: %(num)d overdue items on your positions",
            counts.total,
        )
    return Digest(
        subject=subject[:300],
        text=render_template("reports/email/digest.txt", **context),
        html=render_template("reports/email/digest.html", **context),
        item_count=counts.total,
    )


# -- building the day's digests ---------------------------------------------------------------


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or current_app.config["AGENCY_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def idempotency_key(user_id: int, local_day) -> str:
    return f"{KIND}:u{user_id}:{local_day.isoformat()}"


def skipped_key(user_id: int, local_day, hour: int) -> str:
    """ "Nothing overdue at this hour": settles only that hour's run, so a day whose hour is
    changed later gets its digest at the new hour, with what is overdue then."""
    return f"{idempotency_key(user_id, local_day)}:empty-at-{hour:02d}"


def build_due(now: datetime | None = None) -> list[int]:
    """Write today's digest for every user whose hour has come; returns ids to send."""
    now = now or clock.now()
    calendar = get_calendar()
    users = list(db.session.scalars(sa.select(User).where(User.active.is_(True))))
    settings = {s.user_id: s for s in db.session.scalars(sa.select(DigestSetting))}
    due = []
    for user in users:
        setting = settings.get(user.id)
        enabled = setting.enabled if setting else True
        hour = setting.hour if setting else current_app.config["DIGEST_HOUR"]
        local = now.astimezone(_zone(user.timezone))
        if enabled and local.hour >= hour and calendar.is_business_day(local.date()):
            day = local.date()
            keys = (idempotency_key(user.id, day), skipped_key(user.id, day, hour))
            due.append((user, keys))
    if not due:
        return []
    existing = set(
        db.session.scalars(
            sa.select(StaffMessage.idempotency_key).where(
                StaffMessage.idempotency_key.in_([key for _, keys in due for key in keys])
            )
        )
    )
    created = []
    for user, keys in due:
        if existing.intersection(keys):
            continue
        message = _write(user, keys, now)
        if message is not None and message.state == _PENDING:
            created.append(message.id)
    return created


def _write(user: User, keys: tuple[str, str], now: datetime) -> StaffMessage | None:
    digest = build_digest(user, now)
    message = StaffMessage(
        user_id=user.id,
        kind=KIND,
        idempotency_key=keys[0] if digest else keys[1],
        state=_PENDING if digest else StaffMessageState.SKIPPED.value,
        to_email=user.email,
        subject=digest.subject if digest else "(nothing overdue)",
        body_text=digest.text if digest else "",
        body_html=digest.html if digest else None,
        item_count=digest.item_count if digest else 0,
        due_at=now,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(message)
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()  # another scheduler wrote this user's day first
        return None
    return message


# -- the periodic tick and dispatch -----------------------------------------------------------


def tick(now: datetime | None = None) -> dict:
    """Scheduler entry point: reclaim dead sends, build what is due, dispatch what is owed."""
    now = now or clock.now()
    reclaimed = reclaim_expired(now)
    built = build_due(now)
    owed = list(
        db.session.scalars(
            sa.select(StaffMessage.id)
            .where(StaffMessage.state == _PENDING, StaffMessage.due_at <= now)
            .order_by(StaffMessage.id)
            .limit(1000)
        )
    )
    db.session.commit()
    return {"reclaimed": reclaimed, "built": len(built), "dispatched": dispatch(owed)}


def reclaim_expired(now: datetime) -> int:
    result = db.session.execute(
        sa.update(StaffMessage)
        .where(StaffMessage.state == _SENDING, StaffMessage.lease_expires_at < now)
        .values(
            state=_PENDING,
            lease_expires_at=None,
            **stored_words.columns("last_error", words("error.staff_worker_stopped")),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:
        db.session.commit()  # else nothing to make visible: tick commits at its end
    return result.rowcount or 0


def dispatch(ids: list[int]) -> int:
    """Enqueue a send job per message; Redis trouble leaves them owed for the next tick."""
    from app.notifications.dispatch import JOB_RETRY, queue

    handed = 0
    if not ids:
        return 0  # the usual hour: nothing owed, no query and no Redis
    try:
        q = queue()
        for message_id, attempts in db.session.execute(
            sa.select(StaffMessage.id, StaffMessage.attempts).where(StaffMessage.id.in_(ids))
        ).all():
            job_id = f"staff-{message_id}-a{attempts}"
            if _enqueue(q, job_id, message_id, JOB_RETRY):
                handed += 1
    except (redis.exceptions.RedisError, OSError) as exc:
        log.warning("digest dispatch deferred to the next tick: %s", exc)
    return handed


def _enqueue(q, job_id: str, message_id: int, retry) -> bool:
    for _ in range(2):
        try:
            q.enqueue(
                SEND_JOB,
                [message_id],
                job_id=job_id,
                unique=True,
                retry=retry,
                job_timeout=60,
                result_ttl=300,
                failure_ttl=7 * 24 * 3600,
                description=f"send staff message #{message_id}",
            )
            return True
        except DuplicateJobError:
            job = rq_jobs.fetch(job_id, q.connection)
            if job is None:
                continue
            state = rq_jobs.status(job)
            if state is not None and state not in (JobStatus.FINISHED, JobStatus.FAILED):
                return False  # a live job already carries it
            if state is not None:
                rq_jobs.delete_quietly(job)
    return False


# -- the send job ---------------------------------------------------------------------------


def send_staff_messages(ids: list[int]) -> dict:
    """Claim, send one by one (a digest is one person's), record. Called by the job."""
    from app.notifications.send import pause_sending, sending_paused

    now = clock.now()
    if sending_paused(now) is not None:
        return {"paused": len(ids)}  # stays pending; the tick dispatches it after the pause
    claimed = claim(ids, now)
    counts = {"claimed": len(claimed), "sent": 0, "failed": 0, "retry": 0}
    outgoing = [
        (
            m.id,
            m.attempts,
            OutgoingEmail(
                # Not a candidate notification: no notification id, so provider events can
                # never be mistaken for one; the header names the staff message instead.
                notification_id=None,
                to_email=m.to_email,
                # Client mail (app/decisions/chase.py) rides here too, to the client's contact.
                to_name=m.user.name if m.user and m.user.email == m.to_email else "",
                subject=m.subject,
                text=m.body_text,
                html=m.body_html,
                category=m.kind,
                headers={"X-Closeloop-Staff-Message": str(m.id)},
                custom_args={"staff_message_id": str(m.id)},
            ),
        )
        for m in db.session.scalars(sa.select(StaffMessage).where(StaffMessage.id.in_(claimed)))
    ]
    # No transaction (on SQLite: no lock) is held while the provider is called.
    db.session.commit()
    backend = get_backend()
    for message_id, attempts, email in outgoing:
        try:
            provider_id = backend.send_batch([email])[0]
        except PermanentSendError as exc:
            _finish(message_id, StaffMessageState.FAILED, error=exc.reason)
            counts["failed"] += 1
        except ConfigurationError as exc:
            _retry(message_id, pause_sending(exc.reason), exc.reason)
            counts["retry"] += 1
        except SendError as exc:
            _retry(message_id, _backoff(attempts), exc.reason)
            counts["retry"] += 1
        else:
            _finish(message_id, StaffMessageState.SENT, provider_id=provider_id)
            counts["sent"] += 1
    return counts


def claim(ids: list[int], now: datetime) -> list[int]:
    lease = now + timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    candidates = (
        sa.select(StaffMessage.id)
        .where(
            StaffMessage.id.in_(ids),
            StaffMessage.state == _PENDING,
            StaffMessage.due_at <= now,
        )
        .with_for_update(skip_locked=True)
    )
    result = db.session.execute(
        sa.update(StaffMessage)
        .where(StaffMessage.id.in_(candidates.scalar_subquery()), StaffMessage.state == _PENDING)
        .values(state=_SENDING, lease_expires_at=lease, attempts=StaffMessage.attempts + 1)
        .returning(StaffMessage.id)
        .execution_options(synchronize_session=False)
    )
    claimed = sorted(result.scalars())
    db.session.commit()
    return claimed


def _finish(message_id: int, state, *, error: str | None = None, provider_id=None) -> None:
    message = db.session.get(StaffMessage, message_id)
    now = clock.now()
    message.state = state.value
    message.lease_expires_at = None
    if state == StaffMessageState.SENT:
        message.sent_at, message.provider_message_id = now, provider_id
        stored_words.put(message, "last_error", None)
    else:
        message.failed_at = now
        stored_words.put(message, "last_error", error or "", limit=2000)  # the provider's words
        log.error("staff message %s failed: %s", message_id, error)
    db.session.commit()


def _retry(message_id: int, until: datetime, reason: str) -> None:
    message = db.session.get(StaffMessage, message_id)
    message.state, message.due_at = _PENDING, until
    message.lease_expires_at = None
    stored_words.put(message, "last_error", reason, limit=2000)
    db.session.commit()


def _backoff(attempts: int) -> datetime:
    schedule = current_app.config["SEND_BACKOFF_SECONDS"]
    base = schedule[max(0, min(attempts, len(schedule)) - 1)]
    return clock.now() + timedelta(seconds=base * (1 + random.random() * 0.2))
