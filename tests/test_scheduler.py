"""The schedule is data; long entries go to a worker queue, never stacked twice."""

from __future__ import annotations

from rq import Queue

from app.redis_conn import get_redis
from workers.schedule import SCHEDULE, Periodic
from workers.scheduler import _enqueue, _resolve


def test_every_entry_resolves_and_has_an_interval(app):
    for p in SCHEDULE:
        assert callable(_resolve(p))
        assert float(app.config[p.every]) > 0


def test_the_reconciler_runs_in_the_scheduler_itself(app):
    inline = {p.name for p in SCHEDULE if p.queue is None}
    assert {"dispatch-due", "reconcile"} <= inline


def test_the_pipelines_sweeps_are_entries_of_their_own(app):
    """The engine (app/notifications) never imports the pipeline: the sweeps that owe
    messages because time passed are scheduled beside the reconciler, not inside it."""
    entries = {p.name: p for p in SCHEDULE}
    assert entries["promised-dates"].func == "app.pipeline.promised_dates:sweep_promised_dates"
    assert entries["after-interview"].func == "app.pipeline.followups:sweep_after_interviews"
    assert entries["promised-dates"].queue is None and entries["after-interview"].queue is None


def test_queued_entries_are_enqueued_once_at_a_time(app):
    p = Periodic(
        "probe",
        "RECONCILE_INTERVAL_SECONDS",
        "app.notifications.reconcile:reconcile",
        queue="maintenance",
    )
    assert _enqueue(p) == "periodic-probe"
    assert _enqueue(p) is None  # still waiting: not stacked
    q = Queue("maintenance", connection=get_redis())
    assert q.job_ids == ["periodic-probe"]
    job = q.fetch_job("periodic-probe")
    assert job.func_name == "workers.jobs.run_periodic" and job.args == (p.func,)


def test_the_hourly_full_reconciler_pass_stands_in_for_the_regular_one(app, db):
    """Both due at once (every hour): one pass checks everything, not two back to back."""
    import time

    import sqlalchemy as sa

    from app.models import ReconcilerRun
    from workers.scheduler import _run_due

    next_run = {p.name: 0.0 for p in SCHEDULE}
    _run_due(next_run)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconcilerRun)) == 1
    # The regular pass comes back at its own interval after the full one.
    assert next_run["reconcile"] > time.monotonic()


def test_a_stop_request_ends_the_tick_between_entries(app, db):
    """SIGTERM during a tick (a deploy, a test's teardown) does not wait for every entry:
    the one running finishes, the rest are left due for the next tick or holder."""
    import sqlalchemy as sa

    from app.models import ReconcilerRun
    from workers.scheduler import _run_due

    next_run = {p.name: 0.0 for p in SCHEDULE}
    asked: list[str] = []

    def stop_after_first() -> bool:
        asked.append("?")
        return len(asked) > 1

    _run_due(next_run, stop_requested=stop_after_first)
    ran = [name for name, at in next_run.items() if at > 0]
    assert ran == [SCHEDULE[0].name]  # dispatch-due ran; nothing after the request
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconcilerRun)) == 0
    _run_due(next_run)  # the next tick runs what was left, the reconciler included
    assert all(at > 0 for at in next_run.values())
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReconcilerRun)) == 1
