"""Pipeline changes. Each one writes the state change, its history and what the candidate is
owed in ONE transaction (`outbox.commit()`), then dispatches. There is no other way to make
a terminal change, so there is no terminal change without its message."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from app import clock
from app.bulk_sql import id_filters, insert_many
from app.extensions import db
from app.models import (
    ACTIVE_STAGES,
    TERMINAL_STAGES,
    Application,
    Candidate,
    Contact,
    ContactChannel,
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
from app.notifications import outbox
from app.notifications.kinds import KINDS, STAGE_KIND, outcome_kind
from app.notifications.timing import due_time


class PipelineError(ValueError):
    """A change that is not allowed; the message is shown to the user as is."""


def add_to_position(candidate: Candidate, position: Position, *, actor: User | None) -> Application:
    application = plan_add_to_position(candidate, position, actor=actor)
    outbox.commit()
    return application


def plan_add_to_position(
    candidate: Candidate, position: Position, *, actor: User | None
) -> Application:
    """add_to_position without the commit (imports add many in one transaction)."""
    if position.status != PositionStatus.OPEN:
        raise PipelineError(f"{position.title} is {position.status.replace('_', ' ')}.")
    exists = db.session.scalar(
        sa.select(Application.id).where(
            Application.candidate_id == candidate.id, Application.position_id == position.id
        )
    )
    if exists:
        raise PipelineError(f"{candidate.name} is already in the pipeline for {position.title}.")
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
            actor_id=_id(actor),
            from_stage=None,
            to_stage=Stage.SOURCED.value,
            version=1,
            occurred_at=now,
        )
    )
    return application


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
    outbox.commit()
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
        raise PipelineError(f"Already at {to_stage.value.replace('_', ' ')}.")
    kind = None
    if to_stage in TERMINAL_STAGES:
        try:
            kind = outcome_kind(to_stage, reason)
        except ValueError as exc:
            raise PipelineError(str(exc)) from None
    elif reason:
        raise PipelineError("A reason is only recorded when an application ends.")
    else:
        kind = STAGE_KIND[to_stage]
    if application.position.status != PositionStatus.OPEN and to_stage in ACTIVE_STAGES:
        raise PipelineError("The position is not open: reopen it before moving candidates on.")
    from_stage = application.stage
    application.version += 1
    application.stage = to_stage.value
    application.stage_entered_at = now
    application.outcome_reason = reason if to_stage in TERMINAL_STAGES else None
    application.updated_at = now
    db.session.add(
        StageEvent(
            application_id=application.id,
            actor_id=_id(actor),
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
        _settle_promise_reminders(application, actor, now)
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
    outbox.commit()
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
        raise PipelineError("This application has ended; reopen it before recording an interview.")
    if promised_response_at <= now:
        raise PipelineError("The promised response date must be in the future.")
    if promised_response_at < interview_at:
        raise PipelineError("The client cannot decide before the interview takes place.")
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
    _settle_promise_reminders(
        application, actor, now, keep=_promise_key(application, promised_response_at)
    )
    _remind_before_promise(application, promised_response_at, now)
    return outbox.owe(application, "interview_scheduled", note=note, context=context, now=now)


def _promise_key(application: Application, promised: datetime) -> str:
    return f"promise_due:{application.id}:{promised.isoformat()}"


def _settle_promise_reminders(
    application: Application, actor: User | None, now: datetime, keep: str = ""
) -> None:
    """A decision was recorded (or a new date promised): the old reminder has no object."""
    db.session.execute(
        sa.update(Task)
        .where(
            Task.application_id == application.id,
            Task.kind == "promised_date_due",
            Task.resolved_at.is_(None),
            Task.dedupe_key != keep,
        )
        .values(resolved_at=now, resolved_by_id=_id(actor))
        .execution_options(synchronize_session=False)
    )


def _remind_before_promise(application: Application, promised: datetime, now: datetime) -> None:
    """sweep_promised_dates acts only once the date has passed: give the recruiter a task a
    business day before, so they can chase the client while the promise still holds."""
    due = promised - timedelta(days=1)
    while due.weekday() >= 5:  # Saturday, Sunday
        due -= timedelta(days=1)
    outbox.open_task(
        kind="promised_date_due",
        title=f"Chase {application.position.client.name} for a decision on "
        f"{application.candidate.name} (promised by {promised:%d %b})",
        dedupe_key=_promise_key(application, promised),
        candidate_id=application.candidate_id,
        application_id=application.id,
        assignee_id=application.position.owner_id,
        due_at=max(due, now),
    )


def undo_last_change(application: Application, *, actor: User | None) -> None:
    """Take back a stage change whose message has not gone out yet (the undo window)."""
    plan_undo(application, actor=actor, now=clock.now())
    outbox.commit()


def plan_undo(application: Application, *, actor: User | None, now: datetime) -> None:
    """undo_last_change without the commit (bulk undo takes back many in one transaction)."""
    last = db.session.scalar(
        sa.select(StageEvent)
        .where(StageEvent.application_id == application.id)
        .order_by(StageEvent.id.desc())
        .limit(1)
    )
    if last is None or last.from_stage is None:
        raise PipelineError("There is nothing to undo.")
    gone = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(
            Notification.application_id == application.id,
            Notification.app_version == application.version,
            Notification.state.notin_(
                (NState.PENDING.value, NState.QUEUED.value, NState.SUPERSEDED.value)
            ),
        )
    )
    if gone:
        raise PipelineError("Too late to undo: the candidate has already been sent the message.")
    plan_move(application, Stage(last.from_stage), actor, None, "undo", now, owe_message=False)
    promised = application.promised_response_at
    if last.from_stage == Stage.INTERVIEW and promised is not None and promised > now:
        _reopen_promise_reminder(application, promised, now)


def _reopen_promise_reminder(application: Application, promised: datetime, now: datetime) -> None:
    """Back at interview after an undo: the promise stands again, and so does its reminder."""
    task = db.session.scalar(
        sa.select(Task).where(Task.dedupe_key == _promise_key(application, promised))
    )
    if task is None:
        _remind_before_promise(application, promised, now)
    else:
        task.resolved_at = task.resolved_by_id = None


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
                "actor_id": _id(actor),
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


def log_contact(
    candidate: Candidate,
    *,
    actor: User,
    channel: str,
    summary: str,
    application: Application | None = None,
    occurred_at: datetime | None = None,
    discharge: bool = True,
) -> Contact:
    """A call or meeting; it settles what the application owed and closes its tasks."""
    now = clock.now()
    if not summary or not summary.strip():
        raise PipelineError("Say briefly what was discussed.")
    contact = Contact(
        candidate_id=candidate.id,
        application_id=application.id if application else None,
        user_id=actor.id,
        channel=ContactChannel(channel).value,
        summary=summary.strip(),
        occurred_at=occurred_at or now,
        created_at=now,
    )
    db.session.add(contact)
    db.session.flush()
    if application is not None:
        application.last_candidate_contact_at = contact.occurred_at
        if discharge:
            owed = list(
                db.session.scalars(
                    sa.select(Notification.id).where(
                        Notification.application_id == application.id,
                        Notification.state.in_(
                            (NState.PENDING.value, NState.QUEUED.value, NState.FAILED.value)
                        ),
                    )
                )
            )
            outbox.discharge(
                owed,
                reason=f"{channel}: {contact.summary}"[:2000],
                user_id=actor.id,
                contact_id=contact.id,
            )
        db.session.execute(
            sa.update(Task)
            .where(Task.application_id == application.id, Task.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by_id=actor.id)
            .execution_options(synchronize_session=False)
        )
    outbox.commit()
    return contact


def exempt(notification: Notification, *, actor: User, reason: str) -> None:
    """A manager's recorded decision that this message must not be sent."""
    if not actor.has_role("manager"):
        raise PermissionError("Only a manager can exempt a message.")
    if not reason or not reason.strip():
        raise PipelineError("An exemption needs a reason.")
    if (
        outbox.discharge([notification.id], reason=f"exempt: {reason.strip()}", user_id=actor.id)
        == 0
    ):
        raise PipelineError("That message is no longer owed.")
    outbox.commit()


def sweep_promised_dates(
    now: datetime | None = None, *, followup_days: int = 2, max_updates: int = 3
) -> int:
    """Promised date passed with no decision: tell the candidate, push the date, remind the
    recruiter. After `max_updates` such messages only the recruiter is reminded."""
    now = now or clock.now()
    apps = list(
        db.session.scalars(
            sa.select(Application)
            .where(
                Application.stage == Stage.INTERVIEW.value,
                Application.promised_response_at.is_not(None),
                Application.promised_response_at < now,
            )
            .limit(2000)
        )
    )
    owed = 0
    for application in apps:
        promised = application.promised_response_at
        new_date = promised + timedelta(days=followup_days)
        while new_date < now:
            new_date += timedelta(days=followup_days)
        sent_before = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(
                Notification.application_id == application.id,
                Notification.kind == "still_deciding",
                Notification.state != NState.SUPERSEDED.value,
            )
        )
        outbox.open_task(
            kind="promise_missed",
            title=f"{application.position.client.name} missed its decision date for "
            f"{application.candidate.name}",
            dedupe_key=f"promise_missed:{application.id}:{promised.isoformat()}",
            candidate_id=application.candidate_id,
            application_id=application.id,
            assignee_id=application.position.owner_id,
            due_at=now,
        )
        if sent_before < max_updates and application.candidate.optional_updates:
            n = outbox.owe(
                application,
                "still_deciding",
                now=now,
                key_extra=f"p{int(promised.timestamp())}",
                context={
                    "promised_response_at": promised.isoformat(),
                    "new_expected_at": new_date.isoformat(),
                },
            )
            owed += n is not None
        application.promised_response_at = new_date
    outbox.commit()
    return owed


def _id(user: User | None) -> int | None:
    return user.id if user is not None else None
