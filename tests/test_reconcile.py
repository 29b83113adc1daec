"""The reconciler in-process: lost jobs, dead workers, the invariant, SLA escalation."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from rq.job import Job

from app import clock
from app.models import (
    Application,
    Contact,
    Notification,
    NState,
    OutcomeReason,
    ReconcilerRun,
    Stage,
    Task,
)
from app.notifications import invariant
from app.notifications.dispatch import queue
from app.notifications.reconcile import acquire_lease, reconcile
from app.notifications.send import claim
from app.pipeline import services
from app.redis_conn import get_redis
from tests import factories as f
from tests.outage import jobs_gone_once_fetched, redis_down


def _missing(db):
    return [a.id for a in db.session.scalars(invariant.terminal_without_response())]


def test_invariant_query_finds_terminal_applications_left_silent(db):
    ok = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    services.move_stage(ok, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION)
    # Written behind the services' back, as a bug or a manual SQL fix might:
    silent = f.application(stage=Stage.REJECTED)
    silent.outcome_reason = OutcomeReason.CLIENT_DECLINED
    called = f.application(stage=Stage.WITHDRAWN)
    called.outcome_reason = OutcomeReason.CANDIDATE_WITHDREW
    db.session.add(
        Contact(
            candidate_id=called.candidate_id,
            application_id=called.id,
            user_id=called.position.owner_id,
            channel="phone",
            summary="talked",
            occurred_at=clock.now() + timedelta(seconds=1),
        )
    )
    active = f.application(stage=Stage.OFFER)
    db.session.commit()
    assert _missing(db) == [silent.id]
    assert ok.id not in _missing(db) and called.id not in _missing(db)
    assert active.id not in _missing(db)


def test_superseded_outcome_does_not_count(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.REJECTED, actor=None, reason=OutcomeReason.AGENCY_DECISION)
    n.state = NState.SUPERSEDED.value
    db.session.commit()
    assert _missing(db) == [a.id]


def test_reconcile_repairs_the_invariant(db):
    silent = f.application(stage=Stage.REJECTED)
    silent.outcome_reason = OutcomeReason.CLIENT_DECLINED
    db.session.commit()
    result = reconcile()
    assert result["repaired"] == 1
    assert _missing(db) == []
    n = db.session.scalar(sa.select(Notification))
    assert n.kind == "not_selected_client" and n.state in (NState.PENDING, NState.QUEUED)
    assert reconcile()["repaired"] == 0
    run = db.session.scalars(sa.select(ReconcilerRun).order_by(ReconcilerRun.id)).first()
    assert run.repaired == 1 and run.finished_at is not None


def test_the_regular_pass_checks_recent_changes_and_the_hourly_one_every_application(db):
    silent = f.application(stage=Stage.REJECTED)
    silent.outcome_reason = OutcomeReason.CLIENT_DECLINED
    db.session.commit()
    # Left silent two hours ago (a manual SQL fix, say): older than the regular pass looks.
    db.session.execute(
        sa.update(Application)
        .where(Application.id == silent.id)
        .values(updated_at=clock.now() - timedelta(hours=2))
    )
    db.session.commit()
    assert reconcile()["repaired"] == 0
    assert _missing(db) == [silent.id]  # the overdue report still lists it meanwhile
    assert reconcile(everywhere=True)["repaired"] == 1
    assert _missing(db) == []


def test_redis_flush_loses_nothing(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    assert n.state == NState.QUEUED and queue().count == 1
    get_redis().flushdb()  # all the app has in Redis (flushall would reach other xdist workers)
    # Within the grace period the job is assumed to be on its way...
    assert reconcile()["requeued"] == 0
    later = clock.now() + timedelta(minutes=2)
    with clock.frozen(later):
        assert reconcile(later)["requeued"] == 1
    db.session.refresh(n)
    assert n.state == NState.QUEUED and queue().count == 1
    assert Job.fetch(n.job_id, connection=get_redis()).args == ([n.id],)


def test_dead_worker_lease_is_reclaimed_and_counted(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    assert claim([n.id], clock.now()) == [n.id]  # ...and then the worker is killed
    assert reconcile()["reclaimed"] == 0  # lease still running
    later = clock.now() + timedelta(minutes=3)
    with clock.frozen(later):
        assert reconcile(later)["reclaimed"] == 1
    db.session.refresh(n)
    # The provider may have it: wait for its "processed" event before sending again.
    assert n.state == NState.PENDING and n.ambiguous_sends == 1
    assert n.due_at == later + timedelta(seconds=120)
    settled = later + timedelta(seconds=121)
    with clock.frozen(settled):
        assert reconcile(settled)["dispatched"] == 1
    db.session.refresh(n)
    assert n.state == NState.QUEUED


def test_enqueue_lost_after_commit_is_dispatched(app, db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    # Redis was unreachable when the commit dispatched: the row is queued, no job exists.
    from app.notifications import outbox

    n = outbox.owe(a, "client_review")
    with redis_down(app):
        db.session.commit()
    assert queue().count == 0 and db.session.get(Notification, n.id).state == NState.QUEUED
    later = clock.now() + timedelta(seconds=61)
    with clock.frozen(later):
        assert reconcile(later)["requeued"] == 1 and queue().count == 1


def test_overdue_messages_escalate_once(db):
    a = f.application(stage=Stage.INTERVIEW)
    a.candidate.email = None
    db.session.commit()
    services.move_stage(a, Stage.OFFER, actor=None)
    later = clock.now() + timedelta(days=2)
    with clock.frozen(later):
        assert reconcile(later)["escalated"] == 1
        assert reconcile(later)["escalated"] == 0
    tasks = db.session.scalars(sa.select(Task)).all()
    assert [t.kind for t in tasks] == ["overdue_message"]


def test_lease_has_one_holder(db):
    assert acquire_lease("scheduler", "a", 30)
    assert not acquire_lease("scheduler", "b", 30)
    assert acquire_lease("scheduler", "a", 30)  # renewal
    later = clock.now() + timedelta(seconds=31)
    with clock.frozen(later):
        assert acquire_lease("scheduler", "b", 30)


def test_reconcile_leaves_healthy_rows_alone(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    services.move_stage(a, Stage.OFFER, actor=None)
    result = reconcile()
    assert result == {
        "reclaimed": 0,
        "repaired": 0,
        "requeued": 0,
        "dispatched": 0,
        "escalated": 0,
    }
    assert db.session.get(Application, a.id).stage == Stage.OFFER


def test_undelivered_stays_visible_until_someone_makes_contact(db):
    from app.notifications.events import apply_events

    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.HIRED, actor=None, reason=OutcomeReason.HIRED)
    n.state = NState.SENT.value
    db.session.commit()
    assert list(db.session.scalars(invariant.undelivered_without_contact())) == []
    apply_events(
        [
            {
                "event": "bounce",
                "type": "bounce",
                "sg_event_id": "b1",
                "notification_id": str(n.id),
                "reason": "550 mailbox unavailable",
                "email": a.candidate.email,
                "timestamp": 1_700_000_000,
            }
        ]
    )
    assert [x.id for x in db.session.scalars(invariant.undelivered_without_contact())] == [n.id]
    # The terminal application still has its message (bounced), so the repair leaves it be.
    assert _missing(db) == []
    later = clock.now() + timedelta(minutes=5)
    with clock.frozen(later):
        services.log_contact(
            a.candidate,
            actor=a.position.owner,
            channel="phone",
            summary="Called to congratulate; email address was wrong",
            application=a,
            settle=[s.id for s in services.settleable([a.id])[a.id]],
        )
    assert list(db.session.scalars(invariant.undelivered_without_contact())) == []


def test_owing_survives_redis_being_down(app, make_app):
    from app.extensions import db as _db

    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens there
    with broken.app_context():
        a = f.application(stage=Stage.INTERVIEW)
        _db.session.commit()
        n = services.move_stage(a, Stage.OFFER, actor=None)  # must not raise
        _db.session.refresh(n)
        # Committed and owed; the reconciler will hand it over once Redis is back.
        assert n.state in (NState.PENDING, NState.QUEUED)
        assert _db.session.get(Application, a.id).stage == Stage.OFFER
        _db.session.remove()


def test_job_stuck_in_rq_scheduler_is_redispatched(db):
    from app.notifications.dispatch import SEND_JOB

    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    q = queue()
    # The retry was scheduled in RQ, but no RQ scheduler is alive to move it to the queue.
    Job.fetch(n.job_id, connection=get_redis()).delete()
    q.enqueue_at(clock.now() + timedelta(hours=1), SEND_JOB, [n.id], job_id=n.job_id)
    assert q.scheduled_job_registry.count == 1 and q.count == 0
    later = clock.now() + timedelta(minutes=2)
    with clock.frozen(later):
        assert reconcile(later)["requeued"] == 1
    assert q.count == 1 and q.scheduled_job_registry.count == 0


def test_job_started_on_a_dead_worker_is_redispatched(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    job = Job.fetch(n.job_id, connection=get_redis())
    # A worker took the job and died before claiming the row.
    job.set_status("started")
    get_redis().hset(job.key, "started_at", "2026-01-01T00:00:00.000000Z")
    get_redis().lrem(queue().key, 0, job.id)
    later = clock.now() + timedelta(minutes=2)
    with clock.frozen(later):
        assert reconcile(later)["requeued"] == 1
    assert queue().count == 1


def test_job_taken_by_a_worker_that_died_before_starting_it_is_redispatched(db):
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    # The worker popped the job off the queue and died: RQ still says "queued".
    get_redis().lrem(queue().key, 0, n.job_id)
    assert Job.fetch(n.job_id, connection=get_redis()).get_status() == "queued"
    later = clock.now() + timedelta(minutes=2)
    with clock.frozen(later):
        assert reconcile(later)["requeued"] == 1
    assert queue().count == 1


def test_processed_event_settles_a_row_still_sending(db):
    from app.notifications.events import apply_events
    from app.notifications.send import claim

    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    assert claim([n.id], clock.now()) == [n.id]
    apply_events(
        [
            {
                "event": "processed",
                "sg_event_id": "p1",
                "notification_id": str(n.id),
                "email": a.candidate.email,
                "timestamp": 1_700_000_000,
            }
        ]
    )
    db.session.refresh(n)
    assert n.state == NState.SENT  # a later timeout finds nothing to send again


def test_delivered_after_an_ambiguous_row_was_superseded_is_recorded(db):
    from app.notifications.events import apply_events

    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    n.ambiguous_sends = 1
    db.session.commit()
    services.move_stage(a, Stage.HIRED, actor=None, reason=OutcomeReason.HIRED)
    db.session.refresh(n)
    assert n.state == NState.SUPERSEDED
    apply_events(
        [
            {
                "event": "delivered",
                "sg_event_id": "d1",
                "notification_id": str(n.id),
                "email": a.candidate.email,
                "timestamp": 1_700_000_000,
            }
        ]
    )
    db.session.refresh(n)
    assert n.state == NState.DELIVERED  # the candidate did get it; the record says so


def test_a_stale_job_gone_while_the_reconciler_clears_it_is_still_redispatched(db, monkeypatch):
    """The reconciler deletes a lost row's stale job before dispatching the row again. If the
    job goes between its fetch and its delete, RQ's delete raises InvalidJobOperation: make
    simulate's hourly pass died there, and whatever the pass had left to do waited an hour."""
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    job = Job.fetch(n.job_id, connection=get_redis())
    job.set_status("started")  # on a worker that died before claiming the row
    get_redis().hset(job.key, "started_at", "2026-01-01T00:00:00.000000Z")
    get_redis().lrem(queue().key, 0, job.id)
    jobs_gone_once_fetched(monkeypatch)
    later = clock.now() + timedelta(minutes=2)
    with clock.frozen(later):
        counts = reconcile(later)
    assert counts["requeued"] == 1
    db.session.refresh(n)
    assert n.state == NState.QUEUED and queue().count == 1
