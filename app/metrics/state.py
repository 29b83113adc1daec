"""Gauges read from the database and Redis when /metrics is scraped: what is owed, the
queues, the workers, the reconciler, the pause and the overdue report.

Every query is cheap at millions of notifications: the outbox is read only in its open
states (pending, queued, sending, failed), from the partial index `ix_notifications_open`
alone, never its history; overdue counts come from `overdue_counts`, which the scheduler
keeps exact; the reconciler's runs through their start time. Redis is read without RQ's
registry clean-ups, so a scrape changes nothing. A source that cannot be read says so in
`closeloop_state_source_up` and the others still answer.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from app import clock
from app.extensions import db
from app.models import Notification, OverdueCount, ReconcilerRun
from app.models.notifications import OWED, UNSENT

log = logging.getLogger(__name__)

OPEN = UNSENT
RECONCILER_ACTIONS = ("reclaimed", "repaired", "requeued", "dispatched", "escalated")
RQ_STATUSES = ("queued", "started", "scheduled", "failed")


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


class StateCollector(Collector):
    """Bound to one Flask app; collects inside its app context."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        with self.app.app_context():
            now = clock.now()
            up = _gauge(
                "closeloop_state_source_up",
                "1 if this scrape could read the source (database, redis), else 0",
                ["source"],
            )
            for source, read in (("database", _database), ("redis", _redis)):
                try:
                    families = list(read(now))
                except Exception:  # the scrape must answer whatever is down
                    log.exception("metrics: could not read the %s", source)
                    families = []
                    up.add_metric([source], 0)
                else:
                    up.add_metric([source], 1)
                finally:
                    if source == "database":
                        db.session.remove()
                yield from families
            yield up


def _database(now: datetime):
    yield from _outbox(now)
    yield from _reconciler(now)
    yield from _engine_flags(now)
    yield from _overdue()


def _outbox(now: datetime):
    sla = timedelta(seconds=current_app.config["NOTIFICATION_SLA_SECONDS"])
    past_sla_case = sa.case((Notification.created_at <= now - sla, 1), else_=0)
    rows = db.session.execute(
        sa.select(
            Notification.state,
            Notification.kind,
            sa.func.count(),
            sa.func.sum(past_sla_case),
            sa.func.min(Notification.created_at),
            sa.func.min(Notification.due_at),
        )
        # Constants in the SQL, never parameters: a generic plan of a prepared statement could
        # not prove that the partial index covers the rows asked for.
        .where(Notification.state.in_(sa.bindparam("open", OPEN, literal_execute=True)))
        .group_by(Notification.state, Notification.kind)
    ).all()
    open_ = _gauge(
        "closeloop_notifications_open",
        "Notifications still owed (pending, queued, sending) or failed, by state and kind",
        ["state", "kind"],
    )
    past_sla, oldest_owed, oldest_due = 0, None, None
    for state, kind, count, late, first_owed, first_due in rows:
        open_.add_metric([state, kind], count)
        if state in OWED:
            past_sla += late or 0
            oldest_owed = first_owed if oldest_owed is None else min(oldest_owed, first_owed)
            oldest_due = first_due if oldest_due is None else min(oldest_due, first_due)
    yield open_
    g = _gauge(
        "closeloop_notifications_owed_past_sla",
        "Notifications still owed longer than NOTIFICATION_SLA_SECONDS after they were owed",
    )
    g.add_metric([], past_sla)
    yield g
    g = _gauge(
        "closeloop_notifications_oldest_owed_age_seconds",
        "Age of the oldest notification still owed (0 if none), delays on purpose included",
    )
    g.add_metric([], _age(oldest_owed, now))
    yield g
    g = _gauge(
        "closeloop_notifications_oldest_due_wait_seconds",
        "How long the most overdue owed notification has been due without leaving (0 if none)",
    )
    g.add_metric([], _age(oldest_due, now))
    yield g


def _age(moment: datetime | None, now: datetime) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


def _reconciler(now: datetime):
    latest = db.session.execute(
        sa.select(ReconcilerRun.finished_at, ReconcilerRun.error)
        .where(ReconcilerRun.finished_at.is_not(None))
        .order_by(ReconcilerRun.started_at.desc())
        .limit(1)
    ).first()
    last_ok = db.session.scalar(
        sa.select(ReconcilerRun.finished_at)
        .where(ReconcilerRun.finished_at.is_not(None), ReconcilerRun.error.is_(None))
        .order_by(ReconcilerRun.started_at.desc())
        .limit(1)
    )
    g = _gauge(
        "closeloop_reconciler_last_success_timestamp_seconds",
        "When the reconciler last finished a pass without error (Unix time; 0 if never)",
    )
    g.add_metric([], last_ok.timestamp() if last_ok else 0.0)
    yield g
    g = _gauge(
        "closeloop_reconciler_last_run_failed",
        "1 if the reconciler's latest finished pass ended in an error",
    )
    g.add_metric([], 1 if latest is not None and latest.error else 0)
    yield g
    totals = (
        sa.func.coalesce(sa.func.sum(getattr(ReconcilerRun, a)), 0) for a in RECONCILER_ACTIONS
    )
    sums = db.session.execute(
        sa.select(*totals).where(ReconcilerRun.started_at >= now - timedelta(hours=1))
    ).one()
    g = _gauge(
        "closeloop_reconciler_repairs_last_hour",
        "What the reconciler's passes of the last hour did, by action",
        ["action"],
    )
    for action, total in zip(RECONCILER_ACTIONS, sums, strict=True):
        g.add_metric([action], total)
    yield g


def _engine_flags(now: datetime):
    from app.notifications.send import sending_paused
    from app.reports.overdue import last_refresh

    g = _gauge(
        "closeloop_sending_paused",
        "1 while sending is paused after a provider configuration error (e.g. a revoked key)",
    )
    g.add_metric([], 1 if sending_paused(now) is not None else 0)
    yield g
    refreshed_at, _ = last_refresh()
    g = _gauge(
        "closeloop_overdue_refreshed_timestamp_seconds",
        "When the scheduler last rebuilt the overdue report (Unix time; 0 if never)",
    )
    g.add_metric([], refreshed_at.timestamp() if refreshed_at else 0.0)
    yield g


def _overdue():
    from app.models import OverdueReason

    totals = dict(
        db.session.execute(
            sa.select(OverdueCount.reason, sa.func.sum(OverdueCount.n)).group_by(
                OverdueCount.reason
            )
        ).all()
    )
    g = _gauge(
        "closeloop_overdue_items",
        "Applications overdue in the managers' report, by reason (as of its last refresh)",
        ["reason"],
    )
    for reason in OverdueReason:
        g.add_metric([reason.value], totals.get(reason.value) or 0)
    yield g


def _redis(now: datetime):
    from rq import Queue, Worker
    from rq.job import Job
    from rq.utils import str_to_date

    from app.notifications.dispatch import MAINTENANCE_QUEUE, NOTIFICATIONS_QUEUE
    from app.redis_conn import get_redis
    from app.reports.dashboards import worker_alive

    conn = get_redis()
    names = (NOTIFICATIONS_QUEUE, MAINTENANCE_QUEUE)
    jobs = _gauge("closeloop_rq_jobs", "RQ jobs by queue and status", ["queue", "status"])
    oldest = _gauge(
        "closeloop_rq_oldest_queued_job_age_seconds",
        "How long the job at the head of the queue has waited (0 if the queue is empty)",
        ["queue"],
    )
    for name in names:
        q = Queue(name, connection=conn)
        counts = {
            "queued": q.count,
            "started": q.started_job_registry.get_job_count(cleanup=False),
            "scheduled": q.scheduled_job_registry.get_job_count(cleanup=False),
            "failed": q.failed_job_registry.get_job_count(cleanup=False),
        }
        for status in RQ_STATUSES:
            jobs.add_metric([name, status], counts[status])
        age = 0.0
        head = conn.lindex(q.key, 0)
        if head is not None:
            raw = conn.hget(Job.key_for(head.decode()), "enqueued_at")
            if raw:
                age = _age(str_to_date(raw), now)
        oldest.add_metric([name], age)
    yield jobs
    yield oldest
    live = dict.fromkeys(names, 0)
    for worker in Worker.all(connection=conn):
        if worker_alive(worker.last_heartbeat, now):
            for name in worker.queue_names():
                live[name] = live.get(name, 0) + 1
    g = _gauge(
        "closeloop_rq_workers",
        "RQ workers with a fresh heartbeat, by queue they listen on",
        ["queue"],
    )
    for name, count in live.items():
        g.add_metric([name], count)
    yield g
