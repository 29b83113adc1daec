"""Position lifecycle: hold, cancel or fill a position. Every active candidate is told in the
same transaction as the change (the fan-out), with one statement per table."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app import clock
from app.bulk_sql import id_filters, insert_many
from app.extensions import db
from app.models import (
    ACTIVE_STAGES,
    Application,
    Candidate,
    NState,
    OutcomeReason,
    Position,
    PositionStatus,
    Stage,
    StageEvent,
    User,
)
from app.notifications import outbox
from app.notifications.kinds import KINDS, outcome_kind
from app.notifications.timing import due_time
from app.pipeline.base import PipelineError, actor_id


def close_position(position: Position, *, actor: User | None, status: str, reason: str) -> dict:
    """Cancel, fill or hold a position; every active candidate is told, in one transaction."""
    status = PositionStatus(status)
    if position.status not in (PositionStatus.OPEN, PositionStatus.ON_HOLD):
        raise PipelineError(f"{position.title} is already {position.status}.")
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
        owed = _hold(position, actor, reason, now)
    elif status in allowed:
        if reason not in allowed[status]:
            raise PipelineError(
                f"Choose why the position is {status}: " + ", ".join(allowed[status])
            )
        owed = _close_all(position, actor, reason, now)
    else:
        raise PipelineError("A position can be put on hold, cancelled or filled.")
    position.status = status.value
    position.status_reason = reason
    position.status_changed_at = now
    if status != PositionStatus.ON_HOLD:
        position.closed_at = now
    ids = outbox.commit()
    return {"applications": owed, "notification_ids": ids}


def _active_rows(position: Position):
    return db.session.execute(
        sa.select(
            Application.id,
            Application.version,
            Application.stage,
            Application.candidate_id,
            Candidate.timezone,
            Candidate.email,
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(
            Application.position_id == position.id,
            Application.stage.in_([s.value for s in ACTIVE_STAGES]),
        )
        .order_by(Application.id)
        .with_for_update(of=Application)
    ).all()


def _close_all(position: Position, actor: User | None, reason: str, now: datetime) -> int:
    rows = _active_rows(position)
    kind = outcome_kind(Stage.POSITION_CLOSED, reason)
    app_ids = [r.id for r in rows]
    for among in id_filters(db.session, Application.id, app_ids):
        db.session.execute(
            sa.update(Application)
            .where(among)
            .values(
                stage=Stage.POSITION_CLOSED.value,
                outcome_reason=reason,
                version=Application.version + 1,
                stage_entered_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    insert_many(
        db.session,
        StageEvent,
        [
            {
                "application_id": r.id,
                "actor_id": actor_id(actor),
                "from_stage": r.stage,
                "to_stage": Stage.POSITION_CLOSED.value,
                "reason": reason,
                "version": r.version + 1,
                "occurred_at": now,
            }
            for r in rows
        ],
    )
    outbox.supersede_many(app_ids, now)
    outbox.owe_many(_owed_rows(rows, kind, reason, now), now)
    return len(rows)


def _hold(position: Position, actor: User | None, reason: str, now: datetime) -> int:
    rows = _active_rows(position)
    app_ids = [r.id for r in rows]
    for among in id_filters(db.session, Application.id, app_ids):
        db.session.execute(
            sa.update(Application)
            .where(among)
            .values(version=Application.version + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    outbox.supersede_many(app_ids, now)
    outbox.owe_many(_owed_rows(rows, "position_on_hold", reason, now), now)
    return len(rows)


def _owed_rows(rows, kind: str, reason: str | None, now: datetime) -> list[dict]:
    # One due time per time zone: the same for everyone there (10,000 rows, a few zones).
    due = {tz: due_time(kind, tz, now) for tz in {r.timezone for r in rows}}
    return [_owed_row(r, kind, reason, now, due[r.timezone]) for r in rows]


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
