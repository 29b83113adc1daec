"""Position lifecycle: hold, cancel or fill a position. Every active candidate is told in the
same transaction as the change (the fan-out), with one statement per table."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from app import clock, labels
from app.bulk_sql import id_filters, insert_many
from app.collector import collection_paused
from app.extensions import db
from app.models import (
    ACTIVE_STAGES,
    Application,
    Candidate,
    Notification,
    NState,
    OutcomeReason,
    Position,
    PositionStatus,
    Stage,
    StageEvent,
    Task,
    User,
)
from app.models.notifications import TOLD, UNDOABLE, WAITING
from app.notifications import outbox
from app.notifications.kinds import KINDS, outcome_kind
from app.notifications.timing import due_time
from app.pipeline.base import PipelineError, actor_id, status_words
from app.pipeline.promised_dates import PROMISE_TASKS


@collection_paused()  # a fan-out's bulk work: see app/collector.py
def close_position(position: Position, *, actor: User | None, status: str, reason: str) -> dict:
    """Cancel, fill or hold a position; every active candidate is told, in one transaction."""
    status = PositionStatus(status)
    if position.status not in (PositionStatus.OPEN, PositionStatus.ON_HOLD):
        raise PipelineError(
            _(
                "%(title)s is already %(status)s.",
                title=position.title,
                status=status_words(position),
            )
        )
    if status == PositionStatus.ON_HOLD and position.status == PositionStatus.ON_HOLD:
        raise PipelineError(
            _(
                "%(title)s is already %(status)s.",
                title=position.title,
                status=status_words(position),
            )
        )
    allowed = {
        PositionStatus.CANCELLED: (
            OutcomeReason.BUDGET_CUT,
            OutcomeReason.CLIENT_WITHDREW,
            OutcomeReason.FILLED_INTERNALLY,
        ),
        PositionStatus.FILLED: (OutcomeReason.FILLED_BY_OTHER, OutcomeReason.FILLED_INTERNALLY),
    }
    now = clock.now()
    if status == PositionStatus.ON_HOLD:
        ids = _hold(position, now)
    elif status in allowed:
        if reason not in allowed[status]:
            raise PipelineError(
                _(
                    "Choose why the position is %(status)s: %(reasons)s",
                    status=labels.phrase(labels.position_status(status)),
                    reasons="; ".join(labels.reason(r) for r in allowed[status]),
                )
            )
        ids = _close_all(position, actor, reason, now)
    else:
        raise PipelineError(_("A position can be put on hold, cancelled or filled."))
    position.status = status.value
    position.status_reason = reason
    position.status_changed_at = now
    if status != PositionStatus.ON_HOLD:
        position.closed_at = now
    db.session.commit()
    return {"applications": len(ids), "notification_ids": sorted(ids)}  # one message each


class _Active(NamedTuple):
    id: int
    version: int
    stage: str
    candidate_id: int
    timezone: str | None
    email: str | None
    promised_response_at: datetime | None


def _active_rows(position: Position) -> list[_Active]:
    """The position's active applications, locked, as plain tuples: a close reads some
    80,000 attributes of them, and a result row's attribute costs ten times a tuple's."""
    result = db.session.connection().execute(
        sa.select(
            Application.id,
            Application.version,
            Application.stage,
            Application.candidate_id,
            Candidate.timezone,
            Candidate.email,
            Application.promised_response_at,
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(
            Application.position_id == position.id,
            Application.stage.in_([s.value for s in ACTIVE_STAGES]),
        )
        .order_by(Application.id)
        .with_for_update(of=Application)
    )
    return list(map(_Active._make, result.all()))  # fetched at once, not row by row


def _close_all(position: Position, actor: User | None, reason: str, now: datetime) -> list[int]:
    rows = _active_rows(position)
    kind = outcome_kind(Stage.POSITION_CLOSED, reason)
    app_ids = [r.id for r in rows]
    _next_version(
        app_ids,
        now,
        stage=Stage.POSITION_CLOSED.value,
        outcome_reason=reason,
        stage_entered_at=now,
    )
    _record_moves(
        [(r.id, r.version + 1, r.stage, Stage.POSITION_CLOSED.value) for r in rows],
        actor,
        now,
        reason=reason,
    )
    outbox.supersede_many(app_ids, now)
    # A decision about the position answers every promise made about its interviews.
    _settle_promises(app_ids, actor, now)
    ids = outbox.owe_many(_owed_rows(rows, kind, reason, now), now)
    _phone_tasks(position, [r.id for r in rows if not r.email], now)
    return ids


def _hold(position: Position, now: datetime) -> list[int]:
    rows = _active_rows(position)
    app_ids = [r.id for r in rows]
    _next_version(app_ids, now)
    outbox.supersede_many(app_ids, now)
    # The reason is for the record (the position keeps it): candidates hear only that the
    # role is paused, so it is not part of their message (and could not be: a message's
    # reason is an outcome code of at most 40 characters).
    return outbox.owe_many(_owed_rows(rows, "position_on_hold", None, now), now)


def _settle_promises(app_ids: list[int], actor: User | None, now: datetime) -> None:
    """What settle_promise_reminders does for one move, for every application at once."""
    for among in id_filters(db.session, Task.application_id, app_ids):
        db.session.execute(
            sa.update(Task)
            .where(among, Task.kind.in_(PROMISE_TASKS), Task.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by_id=actor_id(actor))
            .execution_options(synchronize_session=False)
        )


def _phone_tasks(position: Position, app_ids: list[int], now: datetime) -> None:
    """Candidates with no email address hear the news by phone: their recruiter's task is
    open from the moment of the change, as a bulk move opens it (app/pipeline/bulk.py)."""
    if not app_ids:
        return
    from app.pipeline.bulk import open_phone_task  # bulk builds on services, which import us

    owed = db.session.scalars(
        sa.select(Notification)
        .join(Application, Application.id == Notification.application_id)
        .where(
            Notification.application_id.in_(app_ids),
            Notification.app_version == Application.version,
            Notification.state.in_(WAITING),
        )
    ).all()
    for n in owed:
        open_phone_task(n, n.application)


def _next_version(app_ids: list[int], now: datetime, **values) -> None:
    """These applications' next version (and `values`), in one statement per id batch."""
    for among in id_filters(db.session, Application.id, app_ids):
        db.session.execute(
            sa.update(Application)
            .where(among)
            .values(version=Application.version + 1, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )


def _record_moves(moves, actor: User | None, now: datetime, *, reason=None, note=None) -> None:
    """Stage history for (application id, new version, from stage, to stage) moves."""
    insert_many(
        db.session,
        StageEvent,
        [
            {
                "application_id": app_id,
                "actor_id": actor_id(actor),
                "from_stage": from_stage,
                "to_stage": to_stage,
                "reason": reason,
                "note": note,
                "version": version,
                "occurred_at": now,
            }
            for app_id, version, from_stage, to_stage in moves
        ],
    )


def _owed_rows(rows, kind: str, reason: str | None, now: datetime) -> list[dict]:
    # One due time per time zone: the same for everyone there (10,000 rows, a few zones).
    due = {tz: due_time(kind, tz, now) for tz in {r.timezone for r in rows}}
    # A candidate promised a decision keeps their own (timing.planned_time: the promised day).
    return [
        _owed_row(
            r,
            kind,
            reason,
            now,
            due_time(kind, r.timezone, now, promised)
            if (promised := getattr(r, "promised_response_at", None)) is not None
            else due[r.timezone],
        )
        for r in rows
    ]


def _owed_row(r, kind: str, reason: str | None, now: datetime, due_at: datetime) -> dict:
    version = r.version + 1
    return {
        "application_id": r.id,
        "candidate_id": r.candidate_id,
        "kind": kind,
        "category": KINDS[kind].category,
        "state": NState.PENDING.value,
        "idempotency_key": outbox.idempotency_key(kind, r.id, version),
        "app_version": version,
        "reason": reason,
        "context": {},
        "due_at": due_at,
        "to_email": r.email,
        "attempts": 0,
        "ambiguous_sends": 0,
        "created_at": now,
        "updated_at": now,
    }


# -- reopening ---------------------------------------------------------------------------------

# What each status's fan-out owed (the progress page follows these too).
STATUS_KINDS = {
    PositionStatus.ON_HOLD: ("position_on_hold",),
    PositionStatus.CANCELLED: ("position_cancelled", "position_filled"),
    PositionStatus.FILLED: ("position_filled",),
}


def _fanout_rows(position: Position):
    """The messages the position's current hold or close owed (written at
    status_changed_at): (id, application id, state) each."""
    return db.session.execute(
        sa.select(Notification.id, Notification.application_id, Notification.state)
        .join(Application, Application.id == Notification.application_id)
        .where(
            Application.position_id == position.id,
            Notification.kind.in_(STATUS_KINDS.get(PositionStatus(position.status), ())),
            Notification.created_at == position.status_changed_at,
        )
    ).all()


def told_of_hold(position: Position, fanout=None) -> set[int]:
    """Applications whose candidate was (or may have been) told of the current hold."""
    rows = _fanout_rows(position) if fanout is None else fanout
    # Heard of it by email (or perhaps, mid-send) or from a person.
    return {app_id for _, app_id, state in rows if state in TOLD}


def reopen_blocker(position: Position, fanout=None) -> str | None:
    """Why the position cannot be reopened now, or None."""
    status = PositionStatus(position.status)
    if status == PositionStatus.OPEN:
        return _("%(title)s is open.", title=position.title)
    if status == PositionStatus.ON_HOLD:
        return None
    rows = _fanout_rows(position) if fanout is None else fanout
    # A close can be undone while none of its messages has gone anywhere.
    left = [state for _, _, state in rows if state not in UNDOABLE]
    if left:
        return ngettext(
            "Too late to undo: %(num)d candidate has already been told (or called) that the "
            "role closed. Open a new position, and tell them yourself.",
            "Too late to undo: %(num)d candidates have already been told (or called) that the "
            "role closed. Open a new position, and tell them yourself.",
            len(left),
        )
    return None


def closed_by_last_close(position: Position):
    """(application id, version, stage before) of every application the current cancel or
    fill ended."""
    return db.session.execute(
        sa.select(Application.id, Application.version, StageEvent.from_stage)
        .join(
            StageEvent,
            sa.and_(
                StageEvent.application_id == Application.id,
                StageEvent.version == Application.version,
            ),
        )
        .where(
            Application.position_id == position.id,
            Application.stage == Stage.POSITION_CLOSED.value,
            Application.stage_entered_at == position.status_changed_at,
            StageEvent.to_stage == Stage.POSITION_CLOSED.value,
        )
    ).all()


@collection_paused()
def reopen_position(position: Position, *, actor: User | None) -> dict:
    """Open again, in one transaction.

    From a hold: the hold messages that have not gone out are withdrawn (superseded), and
    the candidates who were told of the hold are owed "the role is open again".
    From cancelled or filled, while none of its messages has left (the undo window): every
    application it closed is back at the stage it was in, its messages are withdrawn and
    nobody is told anything (nothing reached them); the position is back on hold if it was
    closed from a hold."""
    if position.status == PositionStatus.OPEN:
        raise PipelineError(_("%(title)s is open.", title=position.title))
    fanout = _fanout_rows(position)
    blocker = reopen_blocker(position, fanout)
    if blocker:
        raise PipelineError(blocker)
    now = clock.now()
    from_hold = position.status == PositionStatus.ON_HOLD
    # Calls the recruiter was asked to make about the hold or close are not needed now.
    _resolve_tasks([nid for nid, _, _ in fanout], actor, now)
    if from_hold:
        told = told_of_hold(position, fanout)
        rows = _active_rows(position)
        _next_version([r.id for r in rows], now)
        outbox.supersede_many([r.id for r in rows], now)
        owed = [r for r in rows if r.id in told]
        ids = outbox.owe_many(_owed_rows(owed, "position_reopened", None, now), now)
        status, affected = PositionStatus.OPEN, len(owed)
    else:
        ids = []  # nobody is told anything: nothing of the close had reached them
        affected = _undo_close(position, actor, now)
        status = PositionStatus.ON_HOLD if _held_before_close(position) else PositionStatus.OPEN
    position.status = status.value
    position.status_reason = None
    position.status_changed_at = now
    position.closed_at = None
    db.session.commit()
    return {
        "from_hold": from_hold,
        "status": status.value,
        "applications": affected,
        "notification_ids": sorted(ids),
    }


def _resolve_tasks(notification_ids: list[int], actor: User | None, now: datetime) -> None:
    for among in id_filters(db.session, Task.notification_id, notification_ids):
        db.session.execute(
            sa.update(Task)
            .where(among, Task.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by_id=actor_id(actor))
            .execution_options(synchronize_session=False)
        )


def _undo_close(position: Position, actor: User | None, now: datetime) -> int:
    """Every application the close ended goes back to where it was, one statement per stage."""
    closed = closed_by_last_close(position)
    by_stage: dict[str, list[int]] = {}
    for r in closed:
        by_stage.setdefault(r.from_stage, []).append(r.id)
    for stage, app_ids in by_stage.items():
        _next_version(app_ids, now, stage=stage, outcome_reason=None, stage_entered_at=now)
    _record_moves(
        [(r.id, r.version + 1, Stage.POSITION_CLOSED.value, r.from_stage) for r in closed],
        actor,
        now,
        note="undo",
    )
    outbox.supersede_many([r.id for r in closed], now)
    return len(closed)


def _held_before_close(position: Position) -> bool:
    """Was the position on hold when it was closed? Its latest hold or reopen message
    before the close says so (a hold with nobody to tell leaves no trace: then open)."""
    latest = db.session.scalar(
        sa.select(Notification.kind)
        .join(Application, Application.id == Notification.application_id)
        .where(
            Application.position_id == position.id,
            Notification.kind.in_(("position_on_hold", "position_reopened")),
            Notification.created_at < position.status_changed_at,
        )
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
    )
    return latest == "position_on_hold"
