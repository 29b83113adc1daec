"""Owing messages: written with the change, once per cause, superseded not contradicted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app import clock
from app.models import (
    Application,
    Notification,
    NState,
    OutcomeReason,
    PositionStatus,
    Stage,
    StageEvent,
    Task,
)
from app.notifications import outbox
from app.notifications.dispatch import job_id_for
from app.notifications.reconcile import reconcile
from app.pipeline import services
from app.pipeline.services import PipelineError
from tests import factories as f
from tests.outage import redis_down
from tests.web import Web, sign_in


def _notes(db, application_id=None):
    q = sa.select(Notification).order_by(Notification.id)
    if application_id:
        q = q.where(Notification.application_id == application_id)
    return list(db.session.scalars(q))


def test_stage_change_writes_event_and_notification_together(db):
    a = f.application(stage=Stage.SOURCED)
    db.session.commit()
    n = services.move_stage(a, Stage.SUBMITTED, actor=a.position.owner)
    assert n.kind == "submitted" and n.category == "update"
    events = db.session.scalars(sa.select(StageEvent).where(StageEvent.application_id == a.id))
    assert [(e.from_stage, e.to_stage) for e in events] == [("sourced", "submitted")]
    # dispatched right after commit: handed to the queue
    db.session.refresh(n)
    assert n.state == NState.QUEUED and n.job_id


def test_failed_transaction_owes_nothing(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    with pytest.raises(PipelineError):
        services.move_stage(a, Stage.REJECTED, actor=None, reason="not-a-reason")
    db.session.rollback()
    assert _notes(db) == []
    assert db.session.get(Application, a.id).stage == Stage.SUBMITTED


@pytest.mark.parametrize(
    "stage,reason,kind",
    [
        (Stage.REJECTED, OutcomeReason.AGENCY_DECISION, "not_selected_agency"),
        (Stage.REJECTED, OutcomeReason.CLIENT_DECLINED, "not_selected_client"),
        (Stage.WITHDRAWN, OutcomeReason.CANDIDATE_WITHDREW, "withdrawal_ack"),
        (Stage.HIRED, OutcomeReason.HIRED, "hired"),
    ],
)
def test_every_terminal_move_owes_its_outcome(db, stage, reason, kind):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, stage, actor=None, reason=reason)
    assert (n.kind, n.category, n.reason) == (kind, "outcome", reason)


def test_terminal_move_without_reason_is_refused(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    with pytest.raises(PipelineError, match="needs one of these reasons"):
        services.move_stage(a, Stage.REJECTED, actor=None)
    db.session.rollback()
    assert _notes(db) == []


def test_rejection_waits_for_undo_window_and_business_hours(app, make_app):
    app = make_app(BUSINESS_HOURS_ENFORCED=True, UNDO_WINDOW_SECONDS=1800)
    from app.extensions import db

    # Friday 17:50 in London -> undo window ends 18:20, outside hours -> Monday 09:00.
    friday = datetime(2026, 11, 27, 17, 50, tzinfo=UTC)
    with app.app_context(), clock.frozen(friday):
        a = f.application(stage=Stage.INTERVIEW)
        db.session.commit()
        n = services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED)
        assert n.due_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
        assert n.state == NState.PENDING  # not handed to the queue before it is due
        ny = f.candidate(timezone="America/New_York")
        b = f.application(stage=Stage.INTERVIEW, candidate_=ny)
        db.session.commit()
        m = services.move_stage(b, Stage.REJECTED, actor=None, reason=OutcomeReason.CLIENT_DECLINED)
        # 18:20 UTC is 13:20 in New York: inside business hours, so just the undo window.
        assert m.due_at == friday + timedelta(minutes=30)
        db.session.remove()


def test_supersede_rejection_when_moved_back(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    rejection = services.move_stage(
        a, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION
    )
    assert rejection.state == NState.PENDING
    services.move_stage(a, Stage.OFFER, actor=None)
    states = {n.kind: n.state for n in _notes(db, a.id)}
    assert states == {"not_selected_agency": NState.SUPERSEDED, "offer": NState.QUEUED}


def _queued_job_ids() -> set[str]:
    from app.notifications.dispatch import queue

    return set(queue().get_job_ids())


def test_a_superseded_message_takes_its_waiting_job_off_the_queue(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
    assert first.state == NState.QUEUED and _queued_job_ids() == {first.job_id}
    second = services.move_stage(a, Stage.INTERVIEW, actor=None)  # before it went out
    db.session.refresh(first)
    assert first.state == NState.SUPERSEDED
    # Only the current truth is waiting: no worker run is spent on the stale one.
    assert _queued_job_ids() == {second.job_id}


def test_redis_down_while_superseding_loses_nothing(app, db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
    with redis_down(app):
        second = services.move_stage(a, Stage.INTERVIEW, actor=None)  # the request succeeds
    db.session.refresh(first)
    assert first.state == NState.SUPERSEDED
    assert second.state in (NState.PENDING, NState.QUEUED)  # owed: the reconciler sends it
    assert _queued_job_ids() == {first.job_id}  # the stale job stays: it will claim nothing


# -- dispatch after commit: a session event, not a convention ----------------------------------


def test_a_plain_commit_hands_what_it_owed_to_the_queue_at_once(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    n = outbox.owe(a, "client_review")
    assert _queued_job_ids() == set()  # nothing is enqueued before the commit
    db.session.commit()
    db.session.refresh(n)
    # Not 30-60 s later through the reconciler: the job is waiting for a worker now.
    assert n.state == NState.QUEUED and _queued_job_ids() == {job_id_for([n.id], 0)}


def test_a_rollback_forgets_what_was_owed(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)  # its job is waiting
    # Replaces it (its job would be taken off the queue) and owes the next news...
    services.plan_move(a, Stage.INTERVIEW, None, None, None, clock.now())
    db.session.rollback()  # ...but none of it happened
    db.session.commit()  # a later commit has nothing of it to do
    assert _queued_job_ids() == {first.job_id}
    assert db.session.get(Notification, first.id).state == NState.QUEUED


def test_a_savepoint_owes_with_its_transaction_or_not_at_all(db):
    a, b = f.application(stage=Stage.SUBMITTED), f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    waiting = services.move_stage(b, Stage.CLIENT_REVIEW, actor=None)
    with db.session.begin_nested():  # released: part of the transaction
        kept = outbox.owe(a, "client_review")
    savepoint = db.session.begin_nested()
    services.plan_move(b, Stage.INTERVIEW, None, None, None, clock.now())  # replaces `waiting`
    savepoint.rollback()
    db.session.commit()
    db.session.refresh(kept)
    assert kept.state == NState.QUEUED
    assert _queued_job_ids() == {kept.job_id, waiting.job_id}
    assert db.session.get(Notification, waiting.id).state == NState.QUEUED


def test_a_preview_never_dispatches_even_when_the_session_commits_later(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    with outbox.trial():
        previewed = outbox.owe(a, "client_review").id  # due at once
    db.session.commit()
    assert _queued_job_ids() == set() and db.session.get(Notification, previewed) is None


def test_redis_down_at_commit_loses_nothing_and_the_request_succeeds(app, db, client):
    me = f.user()
    a = f.application(position_=f.position(owner=me), stage=Stage.SUBMITTED)
    web = sign_in(Web(client), me)
    with redis_down(client.application):
        response = web.post(f"/applications/{a.id}/move?to=client_review", data={"confirm": "1"})
    assert response.status_code == 302  # the change is made and the recruiter moves on
    n = db.session.scalar(sa.select(Notification).where(Notification.application_id == a.id))
    assert n.kind == "client_review" and n.state in (NState.PENDING, NState.QUEUED)
    assert _queued_job_ids() == set()
    # The reconciler finds it once its job has been missing for the grace period.
    later = clock.now() + timedelta(seconds=61)
    with clock.frozen(later):
        reconcile(later)
    assert _queued_job_ids() == {db.session.get(Notification, n.id).job_id}


def test_a_preview_of_a_change_leaves_the_queue_alone(db):
    from app.pipeline.preview import preview_move

    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    first = services.move_stage(a, Stage.CLIENT_REVIEW, actor=None)
    preview_move(a, Stage.INTERVIEW, actor=None)
    db.session.commit()  # what the preview superseded was rolled back: nothing to take off
    assert _queued_job_ids() == {first.job_id}
    assert db.session.get(Notification, first.id).state == NState.QUEUED


def test_undo_within_window_supersedes_and_owes_nothing_new(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION)
    services.undo_last_change(a, actor=None)
    assert a.stage == Stage.INTERVIEW
    assert [n.state for n in _notes(db, a.id)] == [NState.SUPERSEDED]


def test_undo_refused_once_message_has_gone(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.HIRED, actor=None, reason=OutcomeReason.HIRED)
    n.state = NState.SENT.value
    db.session.commit()
    with pytest.raises(PipelineError, match="Too late"):
        services.undo_last_change(a, actor=None)


def test_idempotency_key_owes_once(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    first = outbox.owe(a, "submitted")
    again = outbox.owe(a, "submitted")
    assert first is not None and again is None
    db.session.commit()
    assert len(_notes(db)) == 1


def test_duplicate_key_is_rejected_by_the_database(db):
    a = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    outbox.owe(a, "submitted")
    db.session.commit()
    row = _notes(db)[0]
    db.session.add(
        Notification(
            application_id=a.id,
            candidate_id=a.candidate_id,
            kind="submitted",
            idempotency_key=row.idempotency_key,
            app_version=a.version,
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_cancel_position_fans_out_in_one_transaction(db):
    p = f.position()
    apps = [
        f.application(position_=p, stage=s)
        for s in (Stage.SUBMITTED, Stage.INTERVIEW, Stage.OFFER, Stage.SOURCED)
    ]
    hired = f.application(position_=p, stage=Stage.HIRED)
    db.session.commit()
    # a pending update about the old state must be superseded by the cancellation
    stale = outbox.owe(apps[0], "client_review")
    db.session.commit()
    result = services.close_position(
        p, actor=p.owner, status=PositionStatus.CANCELLED, reason=OutcomeReason.BUDGET_CUT
    )
    assert result["applications"] == 4
    db.session.expire_all()
    assert {db.session.get(Application, x.id).stage for x in apps} == {Stage.POSITION_CLOSED}
    assert db.session.get(Application, hired.id).stage == Stage.HIRED
    owed = [n for n in _notes(db) if n.kind == "position_cancelled"]
    assert len(owed) == 4 and all(n.reason == "budget_cut" for n in owed)
    # No worker runs here: it was still queued, so the cancellation replaced it.
    assert db.session.get(Notification, stale.id).state == NState.SUPERSEDED
    assert p.status == PositionStatus.CANCELLED and p.closed_at is not None
    with pytest.raises(PipelineError):
        services.close_position(p, actor=None, status="cancelled", reason="budget_cut")


def test_hold_tells_active_candidates_without_ending_their_application(db):
    p = f.position()
    a = f.application(position_=p, stage=Stage.INTERVIEW)
    db.session.commit()
    services.close_position(p, actor=None, status="on_hold", reason="client reorganising")
    assert a.stage == Stage.INTERVIEW
    assert [n.kind for n in _notes(db, a.id)] == ["position_on_hold"]


def test_manual_contact_discharges_owed_and_resolves_tasks(db):
    a = f.application(stage=Stage.INTERVIEW)
    recruiter = a.position.owner
    db.session.commit()
    n = services.move_stage(
        a, Stage.REJECTED, actor=recruiter, reason=OutcomeReason.CLIENT_DECLINED
    )
    outbox.open_task(kind="x", title="t", dedupe_key="t1", application_id=a.id)
    db.session.commit()
    services.log_contact(
        a.candidate,
        actor=recruiter,
        channel="phone",
        summary="Called, explained the decision",
        application=a,
        settle=[n.id],
    )
    db.session.refresh(n)
    assert n.state == NState.DISCHARGED and n.contact_id is not None
    assert db.session.scalar(sa.select(Task.resolved_at)) is not None


def test_a_contact_settles_nothing_it_was_not_told_to(db):
    """Issue 17.2: an ordinary call no longer cancels an owed hired confirmation."""
    a = f.application(stage=Stage.OFFER)
    recruiter = a.position.owner
    db.session.commit()
    n = services.move_stage(a, Stage.HIRED, actor=recruiter, reason=OutcomeReason.HIRED)
    services.log_contact(
        a.candidate, actor=recruiter, channel="phone", summary="Chat about start", application=a
    )
    db.session.refresh(n)
    assert n.state in (NState.PENDING, NState.QUEUED) and n.contact_id is None
    other = f.application(stage=Stage.SUBMITTED)
    db.session.commit()
    stray = services.move_stage(other, Stage.CLIENT_REVIEW, actor=None)
    with pytest.raises(PipelineError, match="no longer owed by this application"):
        services.log_contact(
            a.candidate,
            actor=recruiter,
            channel="phone",
            summary="x",
            application=a,
            settle=[stray.id],
        )


def test_exemption_needs_manager_and_reason(db):
    a = f.application(stage=Stage.INTERVIEW)
    recruiter, manager = a.position.owner, f.user("manager")
    db.session.commit()
    n = services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION)
    with pytest.raises(PermissionError):
        services.exempt(n, actor=recruiter, reason="duplicate profile")
    with pytest.raises(PipelineError):
        services.exempt(n, actor=manager, reason=" ")
    services.exempt(n, actor=manager, reason="duplicate profile")
    db.session.refresh(n)
    assert n.state == NState.DISCHARGED and n.discharge_reason == "exempt: duplicate profile"


def test_record_interview_owes_timeline_and_validates(db):
    a = f.application(stage=Stage.CLIENT_REVIEW)
    db.session.commit()
    now = clock.now()
    with pytest.raises(PipelineError, match="cannot decide before the interview"):
        services.record_interview(
            a,
            actor=None,
            interview_at=now,
            interviewers="Ana",
            promised_response_at=now - timedelta(days=1),
            client_contact=None,
            next_step=None,
        )
    db.session.rollback()
    n = services.record_interview(
        a,
        actor=None,
        interview_at=now + timedelta(days=1),
        interviewers="Ana Ruiz",
        promised_response_at=now + timedelta(days=5),
        client_contact="Sam, 0113 496 0001",
        next_step="A short technical exercise",
    )
    assert a.stage == Stage.INTERVIEW and n.kind == "interview_scheduled"
    assert n.context["interviewers"] == "Ana Ruiz"


def test_promised_date_passing_owes_still_deciding_once(db):
    a = f.application(stage=Stage.CLIENT_REVIEW)
    db.session.commit()
    start = clock.now()
    services.record_interview(
        a,
        actor=None,
        interview_at=start + timedelta(hours=1),
        interviewers=None,
        promised_response_at=start + timedelta(days=2),
        client_contact=None,
        next_step=None,
    )
    later = start + timedelta(days=3)
    assert services.sweep_promised_dates(later) == 1
    assert services.sweep_promised_dates(later) == 0  # date moved on; not owed twice
    kinds = [n.kind for n in _notes(db, a.id)]
    assert kinds.count("still_deciding") == 1
    missed = sa.select(sa.func.count()).select_from(Task).where(Task.kind == "promise_missed")
    assert db.session.scalar(missed) == 1
    assert a.promised_response_at > later
