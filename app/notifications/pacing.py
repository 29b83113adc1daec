"""Nuisance limits, applied when a message is about to leave (so every way of owing one,
bulk fan-out included, is covered):

- digest: a candidate's status messages that are owed together leave as one email. Owed
  messages wait CANDIDATE_DIGEST_WINDOW_SECONDS (timing.due_time); the job that sends the
  first one also claims the candidate's other waiting messages (`siblings`).
- quiet hours: no status email in the candidate's night (timing.in_quiet_hours).
- daily cap: at most MAX_STATUS_EMAILS_PER_DAY status emails per candidate per local day
  (a digest is one). Beyond it a message is delayed to the next morning — never dropped,
  outcomes included. The day's last email is the one that must not be spent too early: if
  an answer is due to the candidate later that day (a decision date promised for that day,
  still open; or a decision already owed, inside its undo window), the last email waits for
  it and takes everything owed by then along (`last_of_day`). So a promised date is still
  answered on its day, and the day stays within the cap.

Messages that answer the candidate's own action (`Kind.requested`) are exempt: they go at
once and alone, and do not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g

from app import clock, stored_words
from app.bulk_sql import id_filters, ids_in, is_postgresql
from app.extensions import db
from app.models import Application, Candidate, Notification, NState, Stage
from app.models.notifications import CLAIMABLE
from app.notifications.kinds import DELAYED_KINDS, KINDS, PACED_KINDS
from app.notifications.timing import (
    candidate_zone,
    in_quiet_hours,
    morning_after,
    outside_quiet_hours,
    planned_time,
    promise_answered_by,
    promise_deadline,
)
from app.stored_words import Said, words


@dataclass(frozen=True)
class Departure:
    """When a message owed now will leave, and why then: the one computation behind both the
    row's due time (outbox.owe) and what the confirmation page says (pipeline/preview.py)."""

    at: datetime
    why: tuple[str, ...]  # "requested", "undo", "business_hours", "digest", "quiet_hours",
    # "daily_cap", "last_of_day", in the order they applied


def departure(
    kind: str,
    candidate: Candidate,
    now: datetime,
    promised: datetime | None = None,
    application_id: int | None = None,
) -> Departure:
    """`promised`: the application's promised decision date (timing.planned_time);
    `application_id`: the application the message is about (its own promise is what a
    decision or "still deciding" answers, so that one does not wait for itself)."""
    at, why = planned_time(kind, candidate.timezone, now, promised)
    if KINDS[kind].requested:
        return Departure(at, tuple(why))
    answering = (application_id,) if KINDS[kind].answers_promise and application_id else ()
    at, capped = slot(candidate, at, answering)
    return Departure(at, (*why, *capped))


def answering(rows) -> tuple[int, ...]:
    """The applications whose promised date these rows (about to leave together) answer."""
    return tuple(sorted({n.application_id for n in rows if KINDS[n.kind].answers_promise}))


# What a held row records when its day's last email waits for an answer due that day (the
# time is shown beside it).
LAST_OF_DAY_HELD = words("error.last_of_day")


def hold_reason(candidate: Candidate, now: datetime) -> Said:
    """Why the sender holds a status email back, as stored words (the time is shown beside
    it): the reader's language when a page shows it."""
    if in_quiet_hours(now, candidate.timezone):
        return words("error.quiet_hours")
    return words("error.daily_cap", cap=current_app.config["MAX_STATUS_EMAILS_PER_DAY"])


def next_slot(candidate: Candidate, now: datetime, answering: tuple[int, ...] = ()) -> datetime:
    """The earliest moment, from `now`, at which one more status email may go to them."""
    return slot(candidate, now, answering)[0]


def slot(
    candidate: Candidate, now: datetime, answering: tuple[int, ...] = ()
) -> tuple[datetime, list[str]]:
    """next_slot, with why it is later than `now` outside quiet hours: "daily_cap" (the day
    is full: the next morning), "last_of_day" (the day's last email waits for an answer due
    later that day, `answer_due`). `answering`: application ids the email itself answers."""
    moment = outside_quiet_hours(now, candidate.timezone)
    cap = current_app.config["MAX_STATUS_EMAILS_PER_DAY"]
    why: list[str] = []
    if cap <= 0:
        return moment, why
    for _ in range(3):  # today, then tomorrow morning (nothing is sent in the future)
        sent = emails_on_day(candidate, moment)
        if sent < cap - 1:
            return moment, why
        if sent == cap - 1:
            wait = answer_due(candidate, moment, answering)
            if wait is not None and wait > moment:
                why.append("last_of_day")
                return wait, why
            return moment, why
        if "daily_cap" not in why:
            why.append("daily_cap")
        moment = outside_quiet_hours(morning_after(moment, candidate.timezone), candidate.timezone)
    return moment, why


# How long the day's last email waits for a promised-dates sweep that is due but has not run
# yet (it runs with the reconciler, every RECONCILE_INTERVAL_SECONDS: workers/schedule.py).
SWEEP_GRACE = timedelta(minutes=5)


def answer_due(
    candidate: Candidate, moment: datetime, answering: tuple[int, ...] = ()
) -> datetime | None:
    """The latest moment, later on the local day of `moment`, at which an answer the candidate
    is due that day can leave: a decision date promised for that day and still open is
    answered by the promised-dates sweep at timing.promise_answered_by (if that moment has
    passed and the sweep has not acted yet, look again SWEEP_GRACE later); a decision already
    owed leaves at its due time (the undo window). None: nothing is due to them later that
    day."""
    promises, owed = _answers_owed(candidate, moment)
    zone = candidate_zone(candidate.timezone)
    day = moment.astimezone(zone).date()
    times = []
    for app_id, promised in promises:
        if app_id in answering or promised.astimezone(zone).date() != day:
            continue
        by = promise_answered_by(promised, candidate.timezone)
        if by <= moment:  # the sweep is due and owes the answer any moment now: look again
            by = min(moment + SWEEP_GRACE, promise_deadline(promised, candidate.timezone))
        times.append(by)
    times += [due for due in owed if due.astimezone(zone).date() == day]
    return max((t for t in times if t > moment), default=None)


# What answer_due reads, around `moment`: open promised dates (application id, date) within
# two days of it, and the due times of decisions owed within a day after it.
_PROMISE_SPAN = timedelta(days=2)
_OWED_SPAN = timedelta(days=1)


def _answers_owed(
    candidate: Candidate, moment: datetime
) -> tuple[list[tuple[int, datetime]], list[datetime]]:
    if "closeloop_answers_cache" not in g and "closeloop_answers_batch" in g:
        batch_at, batch = g.closeloop_answers_batch
        if candidate.id in batch:
            _prefetch_answers(batch, batch_at)
    fetched_at, cache = g.get("closeloop_answers_cache", (None, {}))
    if candidate.id in cache and fetched_at <= moment <= fetched_at + _OWED_SPAN:
        promises, owed = cache[candidate.id]
        return (
            [(a, p) for a, p in promises if abs(p - moment) < _PROMISE_SPAN],
            [d for d in owed if moment < d < moment + _OWED_SPAN],
        )
    promises = db.session.execute(
        sa.select(Application.id, Application.promised_response_at).where(
            Application.candidate_id == candidate.id,
            *_open_promises(moment - _PROMISE_SPAN, moment + _PROMISE_SPAN),
        )
    ).all()
    owed = db.session.scalars(
        sa.select(Notification.due_at).where(
            Notification.candidate_id == candidate.id,
            *_owed_decisions(moment, moment + _OWED_SPAN),
        )
    ).all()
    return [tuple(row) for row in promises], list(owed)


def _open_promises(after: datetime, before: datetime) -> tuple:
    return (
        Application.stage == Stage.INTERVIEW.value,
        Application.promised_response_at > after,
        Application.promised_response_at < before,
    )


def _owed_decisions(after: datetime, before: datetime) -> tuple:
    return (
        Notification.kind.in_(DELAYED_KINDS),
        Notification.state.in_(CLAIMABLE),
        Notification.due_at > after,
        Notification.due_at < before,
    )


_EMAIL_KEY = sa.func.coalesce(Notification.provider_message_id, sa.cast(Notification.id, sa.String))


# pg_advisory_xact_lock(namespace, candidate id): the send jobs' per-candidate decisions.
_DECIDING_LOCK_NAMESPACE = 0x0CE1


def decide_alone(candidate_ids: list[int]) -> None:
    """PostgreSQL: until this transaction ends, no other send job decides about these
    candidates (locks taken in ascending id order, so two jobs never wait for each other
    in a circle). Together with `prefetch_sent(..., mine=...)`, which counts another job's
    email still in flight, two jobs that claimed different messages for one candidate at
    the same moment cannot both spend the day's last email: the second to decide sees the
    first's choice. SQLite has one writer at a time and no such locks."""
    if not candidate_ids or not is_postgresql(db.session):
        return
    db.session.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(:namespace, k) "
            "FROM unnest(CAST(:ids AS integer[])) AS k ORDER BY k"
        ),
        {"namespace": _DECIDING_LOCK_NAMESPACE, "ids": sorted(set(candidate_ids))},
    )


def prefetch_sent(candidate_ids: list[int], now: datetime, mine: Sequence[int] = ()) -> None:
    """Load, in one query, what each of these candidates was sent in the last three days,
    so a batch of 500 does not ask 500 times (`emails_on_day` reads it from `g`). With
    `mine` (the rows this send job claimed): also the emails other jobs are sending them
    right now (claimed, lease not run out), each counted as one email of today."""
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
        if mine:
            _add_in_flight(cache, among, mine, now)
    g.closeloop_sent_cache = (now, cache)
    # answer_due's rows for the batch are loaded the first time one candidate needs them.
    g.closeloop_answers_batch = (now, candidate_ids)


def _add_in_flight(cache: dict, among, mine: Sequence[int], now: datetime) -> None:
    """Rows another job has claimed and is sending: one email per claim (the rows a job
    claims together share that moment, and all of a candidate's rows are claimed together),
    counted at that moment."""
    rows = db.session.execute(
        sa.select(Notification.candidate_id, Notification.sending_at)
        .where(
            among,
            Notification.kind.in_(PACED_KINDS),
            Notification.state == NState.SENDING.value,
            Notification.lease_expires_at > now,
            sa.not_(ids_in(db.session, Notification.id, mine)),
        )
        .distinct()
    )
    for cid, sending_at in rows:
        cache[cid].append((sending_at, f"in flight since {sending_at.isoformat()}"))


def _prefetch_answers(candidate_ids: list[int], now: datetime) -> None:
    """What `answer_due` reads for each of these candidates, in two queries for the batch
    (it is asked for every candidate of a fan-out with one email left that day)."""
    cache: dict[int, tuple[list, list]] = {cid: ([], []) for cid in candidate_ids}
    for among in id_filters(db.session, Application.candidate_id, candidate_ids):
        rows = db.session.execute(
            sa.select(
                Application.candidate_id, Application.id, Application.promised_response_at
            ).where(among, *_open_promises(now - _PROMISE_SPAN, now + _OWED_SPAN + _PROMISE_SPAN))
        )
        for cid, app_id, promised in rows:
            cache[cid][0].append((app_id, promised))
    for among in id_filters(db.session, Notification.candidate_id, candidate_ids):
        rows = db.session.execute(
            sa.select(Notification.candidate_id, Notification.due_at).where(
                among, *_owed_decisions(now, now + 2 * _OWED_SPAN)
            )
        )
        for cid, due in rows:
            cache[cid][1].append(due)
    g.closeloop_answers_cache = (now, cache)


def forget_prefetched() -> None:
    g.pop("closeloop_sent_cache", None)
    g.pop("closeloop_answers_cache", None)
    g.pop("closeloop_answers_batch", None)


def emails_on_day(candidate: Candidate, moment: datetime) -> int:
    """Status emails sent to the candidate on the local day of `moment`. A digest is one
    email: its rows share the provider's message id. An email a send job is sending them
    right now (claimed, its lease not run out) counts as sent at its claim, one per claim,
    as the send job itself counts it (`prefetch_sent`): the time a stage change's preview
    shows, and the due time its message is given, are then the time it leaves."""
    fetched_at, cache = g.get("closeloop_sent_cache", (None, {}))
    if fetched_at is not None and moment >= fetched_at and cache.get(candidate.id) == []:
        # Nothing in the prefetched three days, and the day of `moment` (from a day before
        # it) lies within them: none that day either. Most of a fan-out's candidates.
        return 0
    zone = candidate_zone(candidate.timezone)
    local = moment.astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=1)).replace(hour=0)
    if candidate.id in cache and start >= fetched_at - timedelta(days=2):
        return len({key for sent_at, key in cache[candidate.id] if start <= sent_at < end})
    t = Notification
    sent = sa.and_(t.sent_at >= start, t.sent_at < end)
    in_flight = sa.and_(
        t.state == NState.SENDING.value,
        t.lease_expires_at > clock.now(),
        t.sending_at >= start,
        t.sending_at < end,
    )
    sent_emails, claims = db.session.execute(
        sa.select(
            sa.func.count(sa.distinct(sa.case((sent, _EMAIL_KEY)))),
            sa.func.count(sa.distinct(sa.case((in_flight, t.sending_at)))),
        ).where(
            t.candidate_id == candidate.id,
            t.kind.in_(PACED_KINDS),
            sa.or_(sent, in_flight),
        )
    ).one()
    return sent_emails + claims


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
