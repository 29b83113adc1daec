"""What "overdue" means, as queries, and the refresh that materialises it.

An application is overdue for a reason when, at `now`:

1. owed_unsent     a message it is owed (pending, queued, sending) was owed before the SLA
                   threshold (OVERDUE_SLA_BUSINESS_DAYS business days ago), or at all when
                   the candidate has no email address (it can never be sent); or one failed
                   permanently with no contact since (`undelivered_without_contact`); or it is
                   terminal with no outcome message at all (`terminal_without_response`).
2. undeliverable   its message bounced or was dropped, and neither a contact was logged nor
                   a later message owed since (a resend to a corrected address answers it).
3. promise_missed  it is at interview and the promised decision date has passed (until the
                   reconciler's sweep tells the candidate and moves the date); or that sweep
                   found the date missed, could not send "still deciding" (opted out, or too
                   many already), and nobody has resolved the recruiter's task.
4. reply_unanswered the candidate replied to one of our emails (app/replies/) and the
                   recruiter's "reply owed" task is open past its due time.
5. silent          it is active and nobody has contacted the candidate (an email sent, or a
                   logged contact for this application or for the candidate as a whole) for
                   more than SILENT_AFTER_BUSINESS_DAYS business days.

`overdue_rows(thresholds)` is the one definition; `refresh()` writes it to `overdue_items`
for the report, the CSV, the counts, the trend and the digest, which therefore always agree.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app import clock, stored_words
from app.business_days import get_calendar
from app.extensions import db
from app.models import (
    ACTIVE_STAGES,
    AGENCY_WIDE,
    SEVERITY,
    Application,
    Candidate,
    Contact,
    EngineFlag,
    Notification,
    NState,
    OverdueCount,
    OverdueDaily,
    OverdueItem,
    OverdueReason,
    Position,
    Stage,
    Task,
)
from app.models.notifications import OWED, RETURNED
from app.notifications.invariant import terminal_without_response, undelivered_without_contact

REFRESH_FLAG = "overdue_report"
# Any constant; both kinds of refresh take it so a full rebuild and a single application's
# never interleave (PostgreSQL; SQLite's write lock already serialises them).
_LOCK_KEY = 0x0CE10006
_CHUNK = 500


@dataclass(frozen=True)
class Thresholds:
    now: datetime
    sla_before: datetime  # owed before this and still unsent: overdue
    silent_before: datetime  # last contact before this: silent


def thresholds(now: datetime | None = None) -> Thresholds:
    now = now or clock.now()
    calendar, cfg = get_calendar(), current_app.config
    return Thresholds(
        now=now,
        sla_before=calendar.shift(now, -cfg["OVERDUE_SLA_BUSINESS_DAYS"]),
        silent_before=calendar.shift(now, -cfg["SILENT_AFTER_BUSINESS_DAYS"]),
    )


# -- the five reasons ---------------------------------------------------------------------

_COLUMNS = (
    "application_id",
    "since",
    "notification_id",
    "message_kind",
    "message_state",
    "note",
    "note_code",
    "note_args",
)


def _typed_null(type_):
    return sa.cast(sa.null(), type_)


def _notification_columns(since):
    n = Notification
    return (
        n.application_id.label("application_id"),
        since.label("since"),
        n.id.label("notification_id"),
        n.kind.label("message_kind"),
        n.state.label("message_state"),
        sa.func.substr(n.last_error, 1, 300).label("note"),
        n.last_error_code.label("note_code"),
        n.last_error_args.label("note_args"),
    )


def _note(code: str) -> tuple[sa.ColumnElement, ...]:
    """A fixed note (app/stored_words.py): its English, its code, no arguments."""
    english = stored_words.in_english(stored_words.words(code))
    return _note_columns(sa.literal(english, sa.String(300)), sa.literal(code, sa.String(40)))


def _note_columns(english, code) -> tuple[sa.ColumnElement, ...]:
    return (
        sa.cast(english, sa.String(300)).label("note"),
        sa.cast(code, sa.String(40)).label("note_code"),
        _typed_null(sa.JSON).label("note_args"),
    )


def _application_columns(since, note: tuple[sa.ColumnElement, ...]):
    """`note`: _note(code), or _note_columns(english, code) with expressions per row."""
    return (
        Application.id.label("application_id"),
        since.label("since"),
        _typed_null(sa.Integer).label("notification_id"),
        _typed_null(sa.String(40)).label("message_kind"),
        _typed_null(sa.String(20)).label("message_state"),
        *note,
    )


def cannot_be_sent() -> sa.ColumnElement[bool]:
    """The candidate has no email address: the message can never leave, so waiting out the
    SLA would only hide it. Overdue from the moment it is owed (a person must call)."""
    no_address = sa.select(Candidate.id).where(
        sa.or_(Candidate.email.is_(None), Candidate.email == "")
    )
    return Notification.candidate_id.in_(no_address)


def _owed_unsent(t: Thresholds, ids) -> list[sa.Select]:
    n = Notification
    late = sa.or_(n.created_at < t.sla_before, cannot_be_sent())
    unsent = sa.select(*_notification_columns(n.created_at)).where(n.state.in_(OWED), late)
    failed = (
        undelivered_without_contact()
        .with_only_columns(*_notification_columns(n.created_at))
        .where(n.state == NState.FAILED.value, late)
    )
    missing = (
        terminal_without_response()
        .with_only_columns(
            *_application_columns(Application.stage_entered_at, _note("note.no_outcome"))
        )
        .where(Application.stage_entered_at < t.sla_before)
    )
    if ids is not None:
        unsent, failed = (q.where(n.application_id.in_(ids)) for q in (unsent, failed))
        missing = missing.where(Application.id.in_(ids))
    return [unsent, failed, missing]


def _undeliverable(t: Thresholds, ids) -> list[sa.Select]:
    n = Notification
    gave_up = sa.func.coalesce(n.bounced_at, n.dropped_at, n.updated_at)
    query = (
        undelivered_without_contact()
        .with_only_columns(*_notification_columns(gave_up))
        .where(n.state.in_(RETURNED))
    )
    if ids is not None:
        query = query.where(n.application_id.in_(ids))
    return [query]


def _promise_missed(t: Thresholds, ids) -> list[sa.Select]:
    a = Application
    passed = sa.select(
        *_application_columns(a.promised_response_at, _note("note.promise_passed"))
    ).where(
        a.stage == Stage.INTERVIEW.value,
        a.promised_response_at.is_not(None),
        a.promised_response_at < t.now,
    )
    told_since = (
        sa.select(Notification.id)
        .where(
            Notification.application_id == Task.application_id,
            Notification.kind == "still_deciding",
            Notification.state != NState.SUPERSEDED.value,
            # The message the sweep owed with this task, or any sent after it.
            sa.or_(
                Notification.id == Task.notification_id,
                Notification.created_at >= Task.created_at,
            ),
        )
        .exists()
    )
    untold = (
        sa.select(
            Task.application_id.label("application_id"),
            Task.created_at.label("since"),
            _typed_null(sa.Integer).label("notification_id"),
            _typed_null(sa.String(40)).label("message_kind"),
            _typed_null(sa.String(20)).label("message_state"),
            *_note("note.promise_untold"),
        )
        .join(a, a.id == Task.application_id)
        .where(
            Task.kind == "promise_missed",
            Task.resolved_at.is_(None),
            a.stage == Stage.INTERVIEW.value,
            ~told_since,
        )
    )
    if ids is not None:
        passed, untold = passed.where(a.id.in_(ids)), untold.where(a.id.in_(ids))
    return [passed, untold]


def _silent(t: Thresholds, ids) -> list[sa.Select]:
    a = Application
    last = sa.func.coalesce(a.last_candidate_contact_at, a.created_at)
    candidate_contact = (
        sa.select(Contact.id)
        .where(
            Contact.candidate_id == a.candidate_id,
            Contact.application_id.is_(None),
            Contact.occurred_at >= t.silent_before,
        )
        .exists()
    )
    never = a.last_candidate_contact_at.is_(None)
    codes = ("note.never_contacted", "note.last_contact")
    english = [stored_words.in_english(stored_words.words(c)) for c in codes]
    note = _note_columns(
        sa.case((never, english[0]), else_=english[1]), sa.case((never, codes[0]), else_=codes[1])
    )
    query = sa.select(*_application_columns(last, note)).where(
        a.stage.in_([s.value for s in ACTIVE_STAGES]), last < t.silent_before, ~candidate_contact
    )
    if ids is not None:
        query = query.where(a.id.in_(ids))
    return [query]


def _reply_unanswered(t: Thresholds, ids) -> list[sa.Select]:
    """The candidate wrote to us (app/replies/) and the recruiter's "reply owed" task is
    still open past its due time."""
    query = sa.select(
        Task.application_id.label("application_id"),
        Task.due_at.label("since"),
        _typed_null(sa.Integer).label("notification_id"),
        _typed_null(sa.String(40)).label("message_kind"),
        _typed_null(sa.String(20)).label("message_state"),
        *_note("note.reply_waiting"),
    ).where(
        Task.kind == "reply_owed",
        Task.resolved_at.is_(None),
        Task.application_id.is_not(None),
        Task.due_at < t.now,
    )
    if ids is not None:
        query = query.where(Task.application_id.in_(ids))
    return [query]


BRANCHES = {
    OverdueReason.OWED_UNSENT: _owed_unsent,
    OverdueReason.UNDELIVERABLE: _undeliverable,
    OverdueReason.PROMISE_MISSED: _promise_missed,
    OverdueReason.SILENT: _silent,
    OverdueReason.REPLY_UNANSWERED: _reply_unanswered,
}


def _one_per_application(reason: str, parts: list[sa.Select]) -> sa.Select:
    """The oldest cause per application: one row per (application, reason)."""
    union = sa.union_all(*parts).subquery(f"u_{reason}")
    ranked = sa.select(
        *(union.c[name] for name in _COLUMNS),
        sa.func.row_number()
        .over(
            partition_by=union.c.application_id,
            order_by=(union.c.since, union.c.notification_id),
        )
        .label("rn"),
    ).subquery(f"r_{reason}")
    return sa.select(
        *(ranked.c[name] for name in _COLUMNS),
        sa.literal(reason, sa.String(20)).label("reason"),
        sa.literal(SEVERITY[reason], sa.SmallInteger).label("severity"),
    ).where(ranked.c.rn == 1)


def overdue_union(
    t: Thresholds, application_ids: list[int] | None = None, reasons: tuple[str, ...] = ()
) -> sa.Subquery:
    """The definition alone: (application_id, reason, severity, since, notification_id,
    message_kind, message_state, note). `application_ids` (a list or a subquery) and
    `reasons` narrow it; the recruiter's queue computes its own items live this way."""
    return sa.union_all(
        *(
            _one_per_application(r.value, f(t, application_ids))
            for r, f in BRANCHES.items()
            if not reasons or r.value in reasons
        )
    ).subquery("overdue")


def overdue_rows(
    t: Thresholds, application_ids: list[int] | None = None, reasons: tuple[str, ...] = ()
) -> sa.Select:
    """Every overdue (application, reason) with what the report stores about it."""
    union = overdue_union(t, application_ids, reasons)
    return (
        sa.select(
            union.c.application_id,
            union.c.reason,
            union.c.severity,
            union.c.since,
            union.c.notification_id,
            union.c.message_kind,
            union.c.message_state,
            union.c.note,
            union.c.note_code,
            union.c.note_args,
            Application.candidate_id,
            Application.position_id,
            Position.owner_id,
            Position.client_id,
            sa.literal(t.now, OverdueItem.__table__.c.computed_at.type).label("computed_at"),
        )
        .join(Application, Application.id == union.c.application_id)
        .join(Position, Position.id == Application.position_id)
    )


_ITEM_COLUMNS = [
    "application_id",
    "reason",
    "severity",
    "since",
    "notification_id",
    "message_kind",
    "message_state",
    "note",
    "note_code",
    "note_args",
    "candidate_id",
    "position_id",
    "owner_id",
    "client_id",
    "computed_at",
]


# -- refreshing -----------------------------------------------------------------------------


def refresh(now: datetime | None = None) -> dict:
    """Rebuild the whole report in one transaction; readers see the old one until commit."""
    started = time.perf_counter()
    t = thresholds(now)
    try:
        _lock()
        db.session.execute(sa.delete(OverdueItem))
        db.session.execute(
            sa.insert(OverdueItem).from_select(_ITEM_COLUMNS, overdue_rows(t)),
        )
        db.session.execute(sa.delete(OverdueCount))
        db.session.execute(
            sa.insert(OverdueCount).from_select(
                ["reason", "position_id", "owner_id", "client_id", "n"],
                sa.select(
                    OverdueItem.reason,
                    OverdueItem.position_id,
                    sa.func.min(OverdueItem.owner_id),
                    sa.func.min(OverdueItem.client_id),
                    sa.func.count(),
                ).group_by(OverdueItem.reason, OverdueItem.position_id),
            )
        )
        _record_day(t.now)
        _analyze()
        total = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(OverdueCount.n), 0)))
        seconds = time.perf_counter() - started
        _set_flag(t.now, {"items": total, "seconds": round(seconds, 3)})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return {"items": total, "seconds": round(seconds, 3)}


def refresh_applications(application_ids: list[int], now: datetime | None = None) -> int:
    """Recompute these applications only (right after someone resolved one); the counts
    are adjusted by the difference, so they stay exact without a full rebuild."""
    ids = sorted(set(application_ids))
    if not ids:
        return 0
    t = thresholds(now)
    written = 0
    try:
        _lock()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            old = _keys(sa.select(*_key_cols(OverdueItem)).where(_in(OverdueItem, chunk)))
            db.session.execute(sa.delete(OverdueItem).where(_in(OverdueItem, chunk)))
            db.session.execute(
                sa.insert(OverdueItem).from_select(_ITEM_COLUMNS, overdue_rows(t, chunk))
            )
            new = _keys(sa.select(*_key_cols(OverdueItem)).where(_in(OverdueItem, chunk)))
            _apply_deltas(old, new)
            written += len(new)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return written


def _in(model, ids):
    return model.application_id.in_(ids)


def _key_cols(model):
    return (model.reason, model.position_id, model.owner_id, model.client_id)


def _keys(query) -> list[tuple]:
    return [tuple(row) for row in db.session.execute(query)]


def _apply_deltas(old: list[tuple], new: list[tuple]) -> None:
    delta: dict[tuple, int] = {}
    for key in old:
        delta[key] = delta.get(key, 0) - 1
    for key in new:
        delta[key] = delta.get(key, 0) + 1
    for (reason, position_id, owner_id, client_id), change in delta.items():
        if not change:
            continue
        row = db.session.get(OverdueCount, (reason, position_id))
        if row is None:
            if change > 0:
                db.session.add(
                    OverdueCount(
                        reason=reason,
                        position_id=position_id,
                        owner_id=owner_id,
                        client_id=client_id,
                        n=change,
                    )
                )
            continue
        row.n += change
        row.owner_id, row.client_id = owner_id, client_id
        if row.n <= 0:
            db.session.delete(row)
    db.session.flush()


def _record_day(now: datetime) -> None:
    """Today's totals (agency time); the day's last refresh wins."""
    day = get_calendar().local_date(now)
    db.session.execute(sa.delete(OverdueDaily).where(OverdueDaily.day == day))
    db.session.execute(
        sa.insert(OverdueDaily).from_select(
            ["day", "reason", "owner_id", "client_id", "n"],
            sa.select(
                sa.literal(day, sa.Date),
                OverdueItem.reason,
                OverdueItem.owner_id,
                OverdueItem.client_id,
                sa.func.count(),
            ).group_by(OverdueItem.reason, OverdueItem.owner_id, OverdueItem.client_id),
        )
    )
    # Agency-wide, one row per reason, zeros included: a day with nothing overdue is a
    # point of the trend (the best days), not "no data".
    totals = dict(
        db.session.execute(
            sa.select(OverdueItem.reason, sa.func.count()).group_by(OverdueItem.reason)
        ).all()
    )
    db.session.add_all(
        OverdueDaily(
            day=day,
            reason=r.value,
            owner_id=AGENCY_WIDE,
            client_id=AGENCY_WIDE,
            n=int(totals.get(r.value, 0)),
        )
        for r in OverdueReason
    )
    db.session.flush()


def _analyze() -> None:
    """Fresh statistics for the rebuilt tables (PostgreSQL), inside the same transaction:
    autovacuum may take minutes to notice a million new rows, and until then the planner
    would walk the wrong index for a filtered page."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE overdue_items, overdue_counts"))


def _lock() -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def _set_flag(now: datetime, stats: dict) -> None:
    flag = db.session.get(EngineFlag, REFRESH_FLAG)
    value = json.dumps(stats)
    if flag is None:
        db.session.add(EngineFlag(name=REFRESH_FLAG, value=value, updated_at=now))
    else:
        flag.value, flag.updated_at = value, now


def last_refresh() -> tuple[datetime | None, dict]:
    flag = db.session.get(EngineFlag, REFRESH_FLAG)
    if flag is None:
        return None, {}
    try:
        return flag.updated_at, json.loads(flag.value or "{}")
    except ValueError:
        return flag.updated_at, {}
