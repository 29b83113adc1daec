"""What a client's click on the decision page does, and the recruiter's confirmation.

*Need more time* moves the promised date and owes the candidate "still deciding, you will
hear by <new date>" through the outbox, so the pacing rules (digest window, quiet hours, the
daily cap, opt-out) apply as to any update. *Decline* and *move forward* change nothing the
candidate sees: they put a prepared stage change in the recruiter's queue, confirmed there in
one click (the pipeline's own move, with its undo window), or by itself after
CLIENT_DECISION_CONFIRM_HOURS when the agency turns that on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext

from app import clock
from app.business_days import get_calendar
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    ClientDecision,
    Decision,
    DecisionState,
    OutcomeReason,
    Position,
    Stage,
    Task,
    User,
)
from app.notifications import outbox
from app.pipeline import promised_dates
from app.pipeline.preview import Preview, preview_move
from app.pipeline.services import PipelineError, plan_move
from app.stored_words import words

TASK_KIND = "client_decision"
MAX_MORE_TIME_DAYS = 60
# The stage change each decision prepares.
MOVES = {
    Decision.DECLINE: (Stage.REJECTED, OutcomeReason.CLIENT_DECLINED),
    Decision.MOVE_FORWARD: (Stage.OFFER, None),
}


class DecisionError(ValueError):
    """Shown to the person as is."""


def contact(position: Position) -> tuple[str | None, str | None]:
    """Whom at the client decides on this position: its own contact, else the client's."""
    if position.contact_email:
        return position.contact_name, position.contact_email
    return position.client.contact_name, position.client.contact_email


def awaiting(position: Position) -> list[Application]:
    """Candidates waiting for this client's decision: interviewed, a decision date promised."""
    return list(
        db.session.scalars(
            sa.select(Application)
            .join(Candidate, Candidate.id == Application.candidate_id)
            .where(
                Application.position_id == position.id,
                Application.stage == Stage.INTERVIEW.value,
                Application.promised_response_at.is_not(None),
                Candidate.anonymised_at.is_(None),
            )
            .order_by(Application.promised_response_at, Application.id)
        )
    )


def pending_decision(application: Application) -> ClientDecision | None:
    return db.session.scalar(
        sa.select(ClientDecision).where(
            ClientDecision.application_id == application.id,
            ClientDecision.state == DecisionState.PREPARED.value,
        )
    )


def decide(
    position: Position,
    application_id: int,
    decision: str,
    *,
    reason: str | None = None,
    feedback: str | None = None,
    new_date: date | None = None,
) -> ClientDecision:
    application = _waiting_application(position, application_id)
    if pending_decision(application) is not None:
        raise DecisionError(
            _("You have already decided on this candidate; the recruiter is on it.")
        )
    now = clock.now()
    record = ClientDecision(
        application_id=application.id,
        position_id=position.id,
        client_id=position.client_id,
        decision=Decision(decision).value,
        state=DecisionState.PREPARED.value,
        reason=(reason or "").strip()[:300] or None,
        feedback=(feedback or "").strip()[:2000] or None,
        promised_at=application.promised_response_at,
        contact_email=contact(position)[1],
        decided_at=now,
    )
    try:
        db.session.add(record)
        db.session.flush()
        if record.decision == Decision.MORE_TIME:
            _more_time(application, record, new_date, now)
        else:
            record.task_id = _prepare(application, record, now).id
    except DecisionError:
        db.session.rollback()  # nothing half-written
        raise
    db.session.commit()
    return record


def _waiting_application(position: Position, application_id: int) -> Application:
    # PostgreSQL: two clicks at once queue here instead of both passing the checks.
    application = db.session.scalar(
        sa.select(Application)
        .where(Application.id == application_id, Application.position_id == position.id)
        .with_for_update()
    )
    if application is None or application not in awaiting(position):
        raise DecisionError(_("This candidate is no longer waiting for your decision."))
    return application


def _more_time(application: Application, record: ClientDecision, day: date | None, now) -> None:
    calendar = get_calendar()
    today = calendar.local_date(now)
    if day is None or not today < day <= today + timedelta(days=MAX_MORE_TIME_DAYS):
        raise DecisionError(
            ngettext(
                "Choose a date after today and at most %(num)d day ahead.",
                "Choose a date after today and at most %(num)d days ahead.",
                MAX_MORE_TIME_DAYS,
            )
        )
    old = application.promised_response_at
    new = datetime.combine(day, time(17, 0), tzinfo=calendar.tz).astimezone(UTC)
    application.promised_response_at = new
    record.new_promised_at, record.state = new, DecisionState.APPLIED.value
    promised_dates.settle_promise_reminders(application, None, now)
    promised_dates.remind_before_promise(application, new, now)
    _resolve_missed(application, now)
    outbox.owe(
        application,
        "still_deciding",
        now=now,
        key_extra=f"client{record.id}",
        context={"promised_response_at": old.isoformat(), "new_expected_at": new.isoformat()},
    )


def _resolve_missed(application: Application, now: datetime) -> None:
    db.session.execute(
        sa.update(Task)
        .where(
            Task.application_id == application.id,
            Task.kind == "promise_missed",
            Task.resolved_at.is_(None),
        )
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )


def _prepare(application: Application, record: ClientDecision, now: datetime) -> Task:
    position, candidate = application.position, application.candidate
    client = position.client.name
    if record.decision == Decision.DECLINE:
        title = words("task.client_declined", client=client, name=candidate.name)
    else:
        title = words("task.client_forward", client=client, name=candidate.name)
    # The client's own words, quoted in ours.
    if record.reason and record.feedback:
        detail = words("detail.decision_both", reason=record.reason, feedback=record.feedback)
    elif record.reason:
        detail = words("detail.decision_reason", reason=record.reason)
    elif record.feedback:
        detail = words("detail.decision_feedback", feedback=record.feedback)
    else:
        detail = None
    hours = current_app.config["CLIENT_DECISION_CONFIRM_HOURS"]
    task = outbox.open_task(
        kind=TASK_KIND,
        title=title,
        detail=detail,
        dedupe_key=f"{TASK_KIND}:{record.id}",
        candidate_id=candidate.id,
        application_id=application.id,
        assignee_id=position.owner_id,
        due_at=now + timedelta(hours=hours or 24),
    )
    db.session.flush()
    return task


def decision_for_task(task: Task) -> ClientDecision | None:
    return db.session.scalar(sa.select(ClientDecision).where(ClientDecision.task_id == task.id))


def preview(task: Task) -> Preview | None:
    """The exact email confirming will send (rendered, then rolled back)."""
    record = decision_for_task(task)
    application = db.session.get(Application, task.application_id)
    if record is None or application is None or application.stage != Stage.INTERVIEW.value:
        return None
    stage, reason = MOVES[Decision(record.decision)]
    try:
        return preview_move(application, stage, actor=None, reason=reason)
    except PipelineError:
        return None


def confirm(task: Task, *, actor: User | None) -> ClientDecision:
    """Make the prepared stage change (its message owed as for any move) and close the task."""
    record = decision_for_task(task)
    if task.kind != TASK_KIND or task.resolved_at is not None or record is None:
        raise DecisionError(_("That decision has already been handled."))
    if record.state != DecisionState.PREPARED.value:
        raise DecisionError(_("That decision has already been handled."))
    application = db.session.scalar(
        sa.select(Application).where(Application.id == record.application_id).with_for_update()
    )
    now = clock.now()
    task.resolved_at, task.resolved_by_id = now, actor.id if actor else None
    if application.stage != Stage.INTERVIEW.value:
        record.state = DecisionState.OVERTAKEN.value
        db.session.commit()
        raise DecisionError(_("The application has moved on since: nothing was changed."))
    stage, reason = MOVES[Decision(record.decision)]
    plan_move(application, stage, actor, reason, None, now)
    record.state, record.confirmed_at = DecisionState.CONFIRMED.value, now
    record.confirmed_by_id = actor.id if actor else None
    db.session.commit()
    return record


def confirm_due(now: datetime | None = None) -> int:
    """With CLIENT_DECISION_CONFIRM_HOURS set, prepared decisions older than that go by
    themselves (through the same move, undo window included)."""
    hours = current_app.config["CLIENT_DECISION_CONFIRM_HOURS"]
    if not hours:
        return 0
    now = now or clock.now()
    due = db.session.scalars(
        sa.select(Task)
        .join(ClientDecision, ClientDecision.task_id == Task.id)
        .where(
            ClientDecision.state == DecisionState.PREPARED.value,
            ClientDecision.decided_at <= now - timedelta(hours=hours),
            Task.resolved_at.is_(None),
        )
        .limit(500)
    ).all()
    done = 0
    for task in due:
        try:
            confirm(task, actor=None)
            done += 1
        except DecisionError:
            continue
    return done
