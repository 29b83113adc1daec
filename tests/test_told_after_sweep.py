"""Issue 17.1: a candidate the sweep told "still deciding" is not listed as "not told", in the
overdue report, in My queue or in the managers' digest, although the sweep stamps the message
with its start and the task a few milliseconds later (a real clock moves between the two)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app import clock
from app.candidates import worklist
from app.extensions import db
from app.models import Notification, OverdueItem, Stage, Task
from app.notifications.send import deliver
from app.pipeline import services
from app.reports import digest, overdue
from tests import factories as f

START = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # Wednesday, London = UTC


class Ticking(clock.FrozenClock):
    """Moves a millisecond every time anyone asks the time, as a real clock would."""

    def __call__(self) -> datetime:
        self.current += timedelta(milliseconds=1)
        return self.current


def _interview_decided_in_an_hour(clk):
    recruiter, manager = f.user("recruiter", name="Riley"), f.user("manager", name="Morgan")
    a = f.application(stage=Stage.SUBMITTED, position_=f.position(owner=recruiter))
    a.candidate.name = "Tara Told"
    db.session.commit()
    services.record_interview(
        a,
        actor=recruiter,
        interview_at=clk.current + timedelta(minutes=30),
        interviewers="Pat",
        promised_response_at=clk.current + timedelta(hours=1),
        client_contact=None,
        next_step=None,
    )
    return a, recruiter, manager


def test_still_deciding_sent_by_the_sweep_counts_as_told_everywhere(app):
    clk = Ticking(START)
    clock.set_source(clk)
    try:
        a, recruiter, manager = _interview_decided_in_an_hour(clk)
        clk.advance(hours=1, minutes=5)
        assert services.sweep_promised_dates() == 1
        task = db.session.scalar(sa.select(Task).where(Task.kind == "promise_missed"))
        told = db.session.scalar(
            sa.select(Notification).where(Notification.kind == "still_deciding")
        )
        assert told.created_at <= task.created_at
        deliver([told.id])
        db.session.refresh(told)
        assert told.state == "sent"

        overdue.refresh()
        notes = list(db.session.scalars(sa.select(OverdueItem.note)))
        assert "decision date missed, candidate not told" not in notes
        assert all(row.application_id != a.id for row in worklist.build(recruiter).owed)
        report = digest.build_digest(manager)
        assert report is None or "Tara Told" not in report.text
    finally:
        clock.set_source(None)


def test_a_candidate_the_sweep_could_not_tell_is_still_listed(app):
    """The near miss: opted out of optional updates, so nothing was sent: not told."""
    clk = Ticking(START)
    clock.set_source(clk)
    try:
        a, recruiter, manager = _interview_decided_in_an_hour(clk)
        a.candidate.optional_updates = False
        db.session.commit()
        clk.advance(hours=1, minutes=5)
        assert services.sweep_promised_dates() == 0
        overdue.refresh()
        notes = list(db.session.scalars(sa.select(OverdueItem.note)))
        assert notes == ["decision date missed, candidate not told"]
        # In My queue with the sweep's tasks (16.1): chase the client, and tell the candidate.
        queue = worklist.build(recruiter)
        listed = [
            r.application_id for name in ("owed", "due_soon", "calls") for r in getattr(queue, name)
        ]
        assert set(listed) == {a.id}
        assert "Tara Told" in digest.build_digest(manager).text
    finally:
        clock.set_source(None)
