"""Pipeline changes. Each one writes the state change, its history and what the candidate is
owed in ONE transaction and commits it; the commit dispatches what it owed (outbox.py's
session event). There is no other way to make a terminal change, so there is no terminal
change without its message.

This module holds a candidate's moves (add, move, withdraw, interview, undo) and is the one
surface pages, jobs and the API call: the position lifecycle (`lifecycle.py`), contacts and
exemptions (`contacts.py`) and promised dates (`promised_dates.py`) are imported here."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from app import clock, labels
from app.bulk_sql import insert_many
from app.extensions import db
from app.models import (
    ACTIVE_STAGES,
    TERMINAL_STAGES,
    Application,
    Candidate,
    Notification,
    OutcomeReason,
    Position,
    PositionStatus,
    Stage,
    StageEvent,
    User,
)
from app.models.notifications import UNDOABLE
from app.notifications import outbox
from app.notifications.kinds import STAGE_KIND, outcome_kind
from app.pipeline.base import PipelineError, actor_id, status_words

# The rest of the pipeline's surface, so callers need one import (`services.close_position`).
from app.pipeline.contacts import Settleable, exempt, log_contact, settleable
from app.pipeline.lifecycle import close_position, reopen_position
from app.pipeline.promised_dates import (
    promise_key,
    remind_before_promise,
    reopen_promise_reminder,
    settle_promise_reminders,
    sweep_promised_dates,
)


def add_to_position(candidate: Candidate, position: Position, *, actor: User | None) -> Application:
    application = plan_add_to_position(candidate, position, actor=actor)
    db.session.commit()
    return application


def plan_add_to_position(
    candidate: Candidate, position: Position, *, actor: User | None
) -> Application:
    """add_to_position without the commit (imports add many in one transaction)."""
    if position.status != PositionStatus.OPEN:
        raise PipelineError(
            _("%(title)s is %(status)s.", title=position.title, status=status_words(position))
        )
    exists = db.session.scalar(
        sa.select(Application.id).where(
            Application.candidate_id == candidate.id, Application.position_id == position.id
        )
    )
    if exists:
        raise PipelineError(
            _(
                "%(name)s is already in the pipeline for %(title)s.",
                name=candidate.name,
                title=position.title,
            )
        )
    now = clock.now()
    application = Application(
        candidate=candidate,
        position=position,
        stage=Stage.SOURCED.value,
        stage_entered_at=now,
        version=1,
        created_at=now,
        updated_at=now,
    )
    db.session.add(application)
    db.session.flush()
    db.session.add(
        StageEvent(
            application_id=application.id,
            actor_id=actor_id(actor),
            from_stage=None,
            to_stage=Stage.SOURCED.value,
            version=1,
            occurred_at=now,
        )
    )
    return application


def plan_add_many(candidate_ids: list[int], position: Position, *, actor: User | None) -> int:
    """plan_add_to_position for many candidates at once (an import): one INSERT for the
    applications and one for their history. The caller has checked that none is in the
    position yet; the unique (candidate, position) constraint stands behind that check."""
    if position.status != PositionStatus.OPEN:
        raise PipelineError(
            _("%(title)s is %(status)s.", title=position.title, status=status_words(position))
        )
    now = clock.now()
    application_ids = insert_many(
        db.session,
        Application,
        [
            {
                "candidate_id": candidate_id,
                "position_id": position.id,
                "stage": Stage.SOURCED.value,
                "stage_entered_at": now,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for candidate_id in candidate_ids
        ],
        returning=Application.id,
    )
    insert_many(
        db.session,
        StageEvent,
        [
            {
                "application_id": application_id,
                "actor_id": actor_id(actor),
                "to_stage": Stage.SOURCED.value,
                "version": 1,
                "occurred_at": now,
            }
            for application_id in application_ids
        ],
    )
    return len(application_ids)


def move_stage(
    application: Application,
    to_stage: str,
    *,
    actor: User | None,
    reason: str | None = None,
    note: str | None = None,
) -> Notification | None:
    """Move to `to_stage`; terminal stages need a reason, which picks the message."""
    notification = plan_move(application, Stage(to_stage), actor, reason, note, clock.now())
    db.session.commit()
    return notification


def withdraw(application: Application, *, actor: User | None, note: str | None = None):
    return move_stage(
        application,
        Stage.WITHDRAWN,
        actor=actor,
        reason=OutcomeReason.CANDIDATE_WITHDREW,
        note=note,
    )


def plan_move(
    application: Application,
    to_stage: Stage,
    actor: User | None,
    reason: str | None,
    note: str | None,
    now: datetime,
    *,
    owe_message: bool = True,
) -> Notification | None:
    """move_stage without the commit (previews and bulk work run it, then decide)."""
    if application.stage == to_stage:
        raise PipelineError(_("Already at %(stage)s.", stage=labels.phrase(labels.stage(to_stage))))
    kind = None
    if to_stage in TERMINAL_STAGES:
        try:
            kind = outcome_kind(to_stage, reason)
        except ValueError as exc:
            raise PipelineError(str(exc)) from None
    elif reason:
        raise PipelineError(_("A reason is only recorded when an application ends."))
    else:
        kind = STAGE_KIND[to_stage]
    if application.position.status != PositionStatus.OPEN and to_stage in ACTIVE_STAGES:
        raise PipelineError(_("The position is not open: reopen it before moving candidates on."))
    from_stage = application.stage
    application.version += 1
    application.stage = to_stage.value
    application.stage_entered_at = now
    application.outcome_reason = reason if to_stage in TERMINAL_STAGES else None
    application.updated_at = now
    db.session.add(
        StageEvent(
            application_id=application.id,
            actor_id=actor_id(actor),
            from_stage=from_stage,
            to_stage=to_stage.value,
            reason=reason,
            note=note,
            version=application.version,
            occurred_at=now,
        )
    )
    db.session.flush()
    if from_stage == Stage.INTERVIEW:
        settle_promise_reminders(application, actor, now)
    # Supersede, don't contradict: anything about the old state that has not left is void.
    outbox.supersede_stale(application.id, newer_version=application.version, now=now)
    if kind and owe_message:
        return outbox.owe(application, kind, reason=reason, note=note, now=now)
    return None


def record_interview(
    application: Application,
    *,
    actor: User | None,
    interview_at: datetime,
    interviewers: str | None,
    promised_response_at: datetime,
    client_contact: str | None,
    next_step: str | None,
    note: str | None = None,
) -> Notification | None:
    """The interview, who they meet, and by when the client promised to decide."""
    n = plan_interview(
        application,
        actor=actor,
        interview_at=interview_at,
        interviewers=interviewers,
        promised_response_at=promised_response_at,
        client_contact=client_contact,
        next_step=next_step,
        note=note,
        now=clock.now(),
    )
    db.session.commit()
    return n


def plan_interview(
    application: Application,
    *,
    actor: User | None,
    interview_at: datetime,
    interviewers: str | None,
    promised_response_at: datetime,
    client_contact: str | None,
    next_step: str | None,
    note: str | None,
    now: datetime,
) -> Notification | None:
    """record_interview without the commit (previews run it in a savepoint)."""
    if application.is_terminal:
        raise PipelineError(
            _("This application has ended; reopen it before recording an interview.")
        )
    if promised_response_at < interview_at:
        raise PipelineError(_("The client cannot decide before the interview takes place."))
    if application.stage != Stage.INTERVIEW:
        plan_move(application, Stage.INTERVIEW, actor, None, note, now, owe_message=False)
    else:
        application.version += 1
        outbox.supersede_stale(application.id, newer_version=application.version, now=now)
    application.interview_at = interview_at
    application.interviewers = interviewers
    application.promised_response_at = promised_response_at
    application.client_contact = client_contact
    application.next_step = next_step
    context = {
        "interview_at": interview_at.isoformat(),
        "promised_response_at": promised_response_at.isoformat(),
        "interviewers": interviewers,
        "client_contact": client_contact,
        "next_step": next_step,
    }
    settle_promise_reminders(
        application, actor, now, keep=promise_key(application, promised_response_at)
    )
    if promised_response_at <= now:
        # Recorded late, after its decision date: nothing is "arranged" any more, and the
        # candidate is owed the decision now. The overdue report and My queue list it at once
        # (decision date passed) and the promised-date sweep tells the candidate "still
        # deciding" if no decision is recorded before its next run.
        return None
    remind_before_promise(application, promised_response_at, now)
    return outbox.owe(application, "interview_scheduled", note=note, context=context, now=now)


def undo_last_change(application: Application, *, actor: User | None) -> None:
    """Take back a stage change whose message has not gone out yet (the undo window)."""
    plan_undo(application, actor=actor, now=clock.now())
    db.session.commit()


def plan_undo(application: Application, *, actor: User | None, now: datetime) -> None:
    """undo_last_change without the commit (bulk undo takes back many in one transaction)."""
    last = db.session.scalar(
        sa.select(StageEvent)
        .where(StageEvent.application_id == application.id)
        .order_by(StageEvent.id.desc())
        .limit(1)
    )
    if last is None or last.from_stage is None:
        raise PipelineError(_("There is nothing to undo."))
    gone = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(
            Notification.application_id == application.id,
            Notification.app_version == application.version,
            Notification.state.notin_(UNDOABLE),
        )
    )
    if gone:
        raise PipelineError(_("Too late to undo: the candidate has already been sent the message."))
    plan_move(application, Stage(last.from_stage), actor, None, "undo", now, owe_message=False)
    promised = application.promised_response_at
    if last.from_stage == Stage.INTERVIEW and promised is not None and promised > now:
        reopen_promise_reminder(application, promised, now)


__all__ = [
    "PipelineError",
    "add_to_position",
    "close_position",
    "exempt",
    "log_contact",
    "Settleable",
    "settleable",
    "move_stage",
    "plan_add_many",
    "plan_add_to_position",
    "plan_interview",
    "plan_move",
    "plan_undo",
    "record_interview",
    "reopen_position",
    "sweep_promised_dates",
    "undo_last_change",
    "withdraw",
]
