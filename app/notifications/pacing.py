"""Nuisance limits, applied when a message is about to leave (so every way of owing one,
bulk fan-out included, is covered):

- digest: a candidate's status messages that are owed together leave as one email. Owed
  messages wait CANDIDATE_DIGEST_WINDOW_SECONDS (timing.due_time); the job that sends the
  first one also claims the candidate's other waiting messages (`siblings`).
- quiet hours: no status email in the candidate's night (timing.in_quiet_hours).
- daily cap: at most MAX_STATUS_EMAILS_PER_DAY status emails per candidate per local day.
  Beyond it a message is delayed to the next morning — never dropped, outcomes included.

Messages that answer the candidate's own action (`Kind.requested`) are exempt: they go at
once and alone, and do not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g

from app import stored_words
from app.bulk_sql import id_filters, ids_in
from app.extensions import db
from app.models import Candidate, Notification, NState
from app.models.notifications import CLAIMABLE
from app.notifications.kinds import DELAYED_KINDS, KINDS, PACED_KINDS
from app.notifications.timing import (
    candidate_zone,
    in_quiet_hours,
    morning_after,
    outside_quiet_hours,
    planned_time,
)
from app.stored_words import Said, words


@dataclass(frozen=True)
class Departure:
    """When a message owed now will leave, and why then: the one computation behind both the
    row's due time (outbox.owe) and what the confirmation page says (pipeline/preview.py)."""

    at: datetime
    why: tuple[str, ...]  # "requested", "undo", "business_hours", "digest", "quiet_hours",
    # "daily_cap", in the order they applied


def departure(
    kind: str, candidate: Candidate, now: datetime, promised: datetime | None = None
) -> Departure:
    """`promised`: the application's promised decision date (timing.planned_time)."""
    at, why = planned_time(kind, candidate.timezone, now, promised)
    if KINDS[kind].requested:
        return Departure(at, tuple(why))
    slot = next_slot(candidate, at)
    if slot != at:
        why.append("daily_cap")
    return Departure(slot, tuple(why))


def hold_reason(candidate: Candidate, now: datetime) -> Said:
    """Why the sender holds a status email back, as stored words (the time is shown beside
    it): the reader's language when a page shows it."""
    if in_quiet_hours(now, candidate.timezone):
        return words("error.quiet_hours")
    return words("error.daily_cap", cap=current_app.config["MAX_STATUS_EMAILS_PER_DAY"])


def next_slot(candidate: Candidate, now: datetime) -> datetime:
    """The earliest moment, from `now`, at which one more status email may go to them."""
    moment = outside_quiet_hours(now, candidate.timezone)
    cap = current_app.config["MAX_STATUS_EMAILS_PER_DAY"]
    if cap <= 0:
        return moment
    for _ in range(3):  # today, then tomorrow morning (nothing is sent in the future)
        if emails_on_day(candidate, moment) < cap:
            return moment
        moment = outside_quiet_hours(morning_after(moment, candidate.timezone), candidate.timezone)
    return moment


_EMAIL_KEY = sa.func.coalesce(Notification.provider_message_id, sa.cast(Notification.id, sa.String))


def prefetch_sent(candidate_ids: list[int], now: datetime) -> None:
    """Load, in one query, what each of these candidates was sent in the last three days,
    so a batch of 500 does not ask 500 times (`emails_on_day` reads it from `g`)."""
    cache: dict[int, list[tuple[datetime, str]]] = {cid: [] for cid in candidate_ids}
    for among in id_filters(db.session, Notification.candidate_id, candidate_ids):
        rows = db.session.execute(
            sa.select(Notification.candidate_id, Notification.sent_at, _EMAIL_KEY).where(
                among,
                Notification.kind.in_(PACED_KINDS),
                Notification.sent_at >= now - timedelta(days=3),
            )
        )
        for cid, sent_at, key in rows:
            cache[cid].append((sent_at, key))
    g.closeloop_sent_cache = (now, cache)


def forget_prefetched() -> None:
    g.pop("closeloop_sent_cache", None)


def emails_on_day(candidate: Candidate, moment: datetime) -> int:
    """Status emails sent to the candidate on the local day of `moment`. A digest is one
    email: its rows share the provider's message id."""
    zone = candidate_zone(candidate.timezone)
    local = moment.astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=1)).replace(hour=0)
    fetched_at, cache = g.get("closeloop_sent_cache", (None, {}))
    if candidate.id in cache and start >= fetched_at - timedelta(days=2):
        return len({key for sent_at, key in cache[candidate.id] if start <= sent_at < end})
    email = _EMAIL_KEY
    return (
        db.session.scalar(
            sa.select(sa.func.count(sa.distinct(email))).where(
                Notification.candidate_id == candidate.id,
                Notification.kind.in_(PACED_KINDS),
                Notification.sent_at >= start,
                Notification.sent_at < end,
            )
        )
        or 0
    )


def siblings(claimed: list[int], now: datetime) -> sa.Select | None:
    """The other status messages still waiting for the candidates of `claimed`, so they
    leave in the same email (the caller claims them). Outcomes still inside their undo
    window stay behind."""
    candidate_ids = sorted(
        set(
            db.session.scalars(
                sa.select(Notification.candidate_id).where(
                    ids_in(db.session, Notification.id, claimed),
                    Notification.kind.in_(PACED_KINDS),
                )
            )
        )
    )
    if not candidate_ids:
        return None
    pullable = sa.or_(
        Notification.kind.notin_(DELAYED_KINDS),
        Notification.due_at <= now + timedelta(seconds=5),
    )
    return sa.select(Notification.id).where(
        ids_in(db.session, Notification.candidate_id, candidate_ids),
        sa.not_(ids_in(db.session, Notification.id, claimed)),
        Notification.kind.in_(PACED_KINDS),
        Notification.state.in_(CLAIMABLE),
        pullable,
    )


def hold(ids: list[int], until: datetime, reason: Said | str, now: datetime) -> None:
    """Give claimed rows back, owed, for `until` (not an attempt: nothing was tried)."""
    db.session.execute(
        sa.update(Notification)
        .where(Notification.id.in_(ids), Notification.state == NState.SENDING.value)
        .values(
            state=NState.PENDING.value,
            due_at=until,
            lease_expires_at=None,
            attempts=Notification.attempts - 1,
            **stored_words.columns("last_error", reason, limit=2000),
            error_kind="paced",
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
