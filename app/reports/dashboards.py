"""SLA, promises, delivery and engine health: the numbers behind the managers' dashboards.

Plain functions returning plain data; the pages draw them, a future API can serve them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app import clock
from app.business_days import get_calendar
from app.extensions import db
from app.models import (
    Application,
    Client,
    DeliveryEvent,
    Notification,
    NState,
    Position,
    ReconcilerRun,
    Task,
    User,
)
from app.models.notifications import ACCEPTED

HOUR = 3600.0


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (no interpolation: a real value)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Latency:
    """Decision → notification: hours from the outcome being owed to it being handed over."""

    hours: list[float] = field(default_factory=list)
    told_in_sla: int = 0
    due: int = 0  # outcomes whose SLA deadline has passed, or that were told already

    def add(self, hours: float | None, within: bool | None) -> None:
        if hours is not None:
            self.hours.append(hours)
        if within is not None:
            self.due += 1
            self.told_in_sla += within

    @property
    def count(self) -> int:
        return len(self.hours)

    def _sorted(self) -> list[float]:
        if not getattr(self, "_cache", None) or len(self._cache) != len(self.hours):
            self._cache = sorted(self.hours)
        return self._cache

    @property
    def median(self) -> float | None:
        return percentile(self._sorted(), 0.5)

    @property
    def p95(self) -> float | None:
        return percentile(self._sorted(), 0.95)

    @property
    def share_in_sla(self) -> float | None:
        return self.told_in_sla / self.due if self.due else None


@dataclass
class SlaReport:
    weeks: list[tuple[date, Latency]]
    overall: Latency
    by_owner: list[tuple[str, Latency]]
    by_client: list[tuple[str, Latency]]
    sla_days: int


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def sla_report(
    weeks: int = 12,
    now: datetime | None = None,
    *,
    owner_id: int | None = None,
    client_id: int | None = None,
) -> SlaReport:
    """Outcome messages owed in the last `weeks` weeks: how long until they went out, and
    the share told within the SLA (an email handed over, or a logged contact). Exempted
    outcomes are left out: a manager decided no message was to be sent. The weekly series
    can be narrowed to one recruiter or client."""
    now = now or clock.now()
    calendar = get_calendar()
    sla_days = current_app.config["OVERDUE_SLA_BUSINESS_DAYS"]
    first = week_start(calendar.local_date(now)) - timedelta(weeks=weeks - 1)
    n = Notification
    query = (
        sa.select(
            n.created_at,
            n.sent_at,
            n.discharged_at,
            n.contact_id,
            Position.owner_id,
            Position.client_id,
        )
        .join(Application, Application.id == n.application_id)
        .join(Position, Position.id == Application.position_id)
        .where(
            n.category == "outcome",
            n.state != NState.SUPERSEDED.value,
            sa.or_(n.state != NState.DISCHARGED.value, n.contact_id.is_not(None)),
            n.created_at >= _start_of(first, calendar),
        )
    )
    if owner_id is not None:
        query = query.where(Position.owner_id == owner_id)
    if client_id is not None:
        query = query.where(Position.client_id == client_id)
    rows = db.session.execute(query).all()
    by_week: dict[date, Latency] = defaultdict(Latency)
    by_owner: dict[int, Latency] = defaultdict(Latency)
    by_client: dict[int, Latency] = defaultdict(Latency)
    overall = Latency()
    for created, sent, discharged, contact_id, owner, client in rows:
        told = sent or (discharged if contact_id is not None else None)
        hours = (sent - created).total_seconds() / HOUR if sent else None
        deadline = calendar.shift(created, sla_days)
        within = (told <= deadline) if told else (False if deadline <= now else None)
        for bucket in (
            by_week[week_start(calendar.local_date(created))],
            by_owner[owner],
            by_client[client],
            overall,
        ):
            bucket.add(hours, within)
    weeks_list = [
        (first + timedelta(weeks=i), by_week.get(first + timedelta(weeks=i), Latency()))
        for i in range(weeks)
    ]
    return SlaReport(
        weeks=weeks_list,
        overall=overall,
        by_owner=_names(by_owner, User),
        by_client=_names(by_client, Client),
        sla_days=sla_days,
    )


def _start_of(day: date, calendar) -> datetime:
    return datetime.combine(day, datetime.min.time(), calendar.tz)


def _names(bucket: dict[int, Latency], model) -> list[tuple[str, Latency]]:
    names = {}
    if bucket:
        names = dict(
            db.session.execute(
                sa.select(model.id, model.name).where(model.id.in_(list(bucket)))
            ).all()
        )
    return sorted(
        ((names.get(k, f"#{k}"), v) for k, v in bucket.items()), key=lambda r: (-r[1].due, r[0])
    )


# -- promises -----------------------------------------------------------------------------


@dataclass
class Promises:
    weeks: list[tuple[date, int, int]]  # (week, promises due that week, kept)
    made: int
    kept: int

    @property
    def share(self) -> float | None:
        return self.kept / self.made if self.made else None


def promises_kept(weeks: int = 12, now: datetime | None = None) -> Promises:
    """Decision dates we told candidates (an interview message that went out) and that fell
    due in the window; kept unless the reconciler's sweep found the date missed."""
    now = now or clock.now()
    calendar = get_calendar()
    first = week_start(calendar.local_date(now)) - timedelta(weeks=weeks - 1)
    start = _start_of(first, calendar)
    n = Notification
    told = db.session.execute(
        sa.select(n.application_id, n.context).where(
            n.kind == "interview_scheduled",
            n.state.in_(ACCEPTED),
            # A promise can only fall due after it was made: bound the scan by that.
            n.created_at >= start - timedelta(days=365),
        )
    ).all()
    promised: set[tuple[int, datetime]] = set()
    for app_id, context in told:
        when = _parse((context or {}).get("promised_response_at"))
        if when is not None and start <= when < now:
            promised.add((app_id, when))
    missed = set()
    for (key,) in db.session.execute(
        sa.select(Task.dedupe_key).where(Task.kind == "promise_missed", Task.created_at >= start)
    ):
        _, app_id, when = (key or "").split(":", 2) if (key or "").count(":") >= 2 else ("", 0, "")
        parsed = _parse(when)
        if parsed is not None and str(app_id).isdigit():
            missed.add((int(app_id), parsed))
    per_week: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for app_id, when in promised:
        week = per_week[week_start(calendar.local_date(when))]
        week[0] += 1
        week[1] += (app_id, when) not in missed
    rows = [
        (first + timedelta(weeks=i), *per_week.get(first + timedelta(weeks=i), [0, 0]))
        for i in range(weeks)
    ]
    return Promises(weeks=rows, made=sum(r[1] for r in rows), kept=sum(r[2] for r in rows))


def _parse(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


# -- delivery -----------------------------------------------------------------------------

DELIVERY_SERIES = (
    ("sent", "sent_at"),
    ("delivered", "delivered_at"),
    ("bounced", "bounced_at"),
    ("dropped", "dropped_at"),
    ("failed", "failed_at"),
)


EVENT_LAG = timedelta(days=7)


def _utc_day(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def delivery_per_day(days: int = 30, now: datetime | None = None) -> list[tuple[date, dict]]:
    """Candidate messages sent, delivered, bounced, dropped and failed per day (UTC)."""
    now = now or clock.now()
    first = (now - timedelta(days=days - 1)).date()
    start = datetime.combine(first, datetime.min.time(), now.tzinfo)
    table: dict[date, dict[str, int]] = {
        first + timedelta(days=i): {name: 0 for name, _ in DELIVERY_SERIES} for i in range(days)
    }
    for name, attr in DELIVERY_SERIES:
        column = getattr(Notification, attr)
        day = _utc_day(column)
        query = sa.select(day, sa.func.count()).where(column >= start).group_by(day)
        if name == "failed":  # never handed over: found through the state index
            query = query.where(Notification.state == NState.FAILED.value)
        elif name != "sent":
            # Delivery events follow the hand-over within hours (SendGrid retries for 72 h at
            # most): bounding by sent_at lets ix_notifications_sent_at find the window.
            query = query.where(Notification.sent_at >= start - EVENT_LAG)
        for value, count in db.session.execute(query):
            key = value if isinstance(value, date) else date.fromisoformat(str(value))
            if key in table:
                table[key][name] = int(count)
    return sorted(table.items())


def top_bounce_reasons(days: int = 30, limit: int = 10, now: datetime | None = None) -> list:
    now = now or clock.now()
    e = DeliveryEvent
    reason = sa.func.coalesce(e.reason, "(no reason given)")
    return db.session.execute(
        sa.select(e.event, reason, sa.func.count().label("n"))
        .where(e.event.in_(("bounce", "dropped")), e.occurred_at >= now - timedelta(days=days))
        .group_by(e.event, reason)
        .order_by(sa.desc("n"), reason)
        .limit(limit)
    ).all()


# -- engine -------------------------------------------------------------------------------


@dataclass
class EngineHealth:
    queues: list[dict]
    workers: list[dict]
    redis_error: str | None
    runs: list[ReconcilerRun]
    paused: object | None
    overdue_refreshed_at: datetime | None
    overdue_stats: dict


def engine_health(now: datetime | None = None) -> EngineHealth:
    from redis.exceptions import RedisError
    from rq import Queue, Worker

    from app.notifications.dispatch import MAINTENANCE_QUEUE, NOTIFICATIONS_QUEUE
    from app.notifications.send import sending_paused
    from app.redis_conn import get_redis
    from app.reports.overdue import last_refresh

    now = now or clock.now()
    queues, workers, error = [], [], None
    try:
        conn = get_redis()
        for name in (NOTIFICATIONS_QUEUE, MAINTENANCE_QUEUE):
            q = Queue(name, connection=conn)
            queues.append(
                {
                    "name": name,
                    "depth": q.count,
                    "started": q.started_job_registry.count,
                    "scheduled": q.scheduled_job_registry.count,
                    "failed": q.failed_job_registry.count,
                }
            )
        for w in Worker.all(connection=conn):
            workers.append(
                {
                    "name": w.name,
                    "state": str(w.get_state()),
                    "queues": ", ".join(w.queue_names()),
                    "last_heartbeat": w.last_heartbeat,
                    "alive": worker_alive(w.last_heartbeat, now),
                }
            )
    except (RedisError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    runs = list(
        db.session.scalars(
            sa.select(ReconcilerRun).order_by(ReconcilerRun.started_at.desc()).limit(10)
        )
    )
    refreshed_at, stats = last_refresh()
    return EngineHealth(
        queues=queues,
        workers=sorted(workers, key=lambda w: w["name"]),
        redis_error=error,
        runs=runs,
        paused=sending_paused(now),
        overdue_refreshed_at=refreshed_at,
        overdue_stats=stats,
    )


def worker_alive(last_heartbeat: datetime | None, now: datetime) -> bool:
    """An RQ worker counts as alive while its heartbeat is this fresh."""
    return last_heartbeat is not None and (now - _aware(last_heartbeat)).total_seconds() < 120


def _aware(moment: datetime) -> datetime:
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
