"""`flask notifications status | reconcile | retry-failed | resume`."""

from __future__ import annotations

import sqlalchemy as sa

from app.models import Notification, NState, ReconcilerRun, Stage
from app.notifications.send import deliver, pause_sending
from app.pipeline import services
from tests import factories as f


def _failed_for_missing_email(db) -> Notification:
    a = f.application(stage=Stage.INTERVIEW, candidate_=f.candidate(email=None))
    db.session.commit()
    n = services.move_stage(a, Stage.OFFER, actor=None)
    deliver([n.id])
    db.session.refresh(n)
    assert n.state == NState.FAILED
    return n


def test_status_counts_by_state_and_shows_pause(db, runner):
    _failed_for_missing_email(db)
    a = f.application(stage=Stage.INTERVIEW)
    db.session.commit()
    services.move_stage(a, Stage.OFFER, actor=None)
    result = runner.invoke(args=["notifications", "status"])
    assert result.exit_code == 0
    lines = dict(
        line.split(None, 1)
        for line in result.output.splitlines()
        if line[:1].islower() and len(line.split()) == 2
    )
    assert lines["failed"].strip() == "1" and lines["queued"].strip() == "1"
    assert "oldest owed" in result.output
    pause_sending("SendGrid rejected our API key (401): check SENDGRID_API_KEY")
    assert "SENDING PAUSED" in runner.invoke(args=["notifications", "status"]).output


def test_reconcile_runs_a_pass_and_records_it(db, runner):
    silent = f.application(stage=Stage.REJECTED)
    silent.outcome_reason = "client_declined"
    db.session.commit()
    result = runner.invoke(args=["notifications", "reconcile"])
    assert result.exit_code == 0 and "repaired=1" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconcilerRun)) == 1


def test_retry_failed_after_fixing_the_address(db, runner):
    n = _failed_for_missing_email(db)
    n.candidate.email = "fixed@example.test"
    db.session.commit()
    result = runner.invoke(args=["notifications", "retry-failed"])
    assert result.exit_code == 0 and "retrying 1 failed" in result.output
    db.session.refresh(n)
    assert n.state == NState.QUEUED and n.to_email == "fixed@example.test"
    assert deliver([n.id])["sent"] == 1


def test_resume_lifts_the_pause(db, runner):
    from app import clock
    from app.notifications.send import sending_paused

    pause_sending("bad key")
    assert sending_paused(clock.now()) is not None
    assert runner.invoke(args=["notifications", "resume"]).exit_code == 0
    assert sending_paused(clock.now()) is None
