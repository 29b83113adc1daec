"""The SLA, promises and delivery dashboards, precomputed like the overdue report.

Computed from the outbox at every view, these took seconds at a million applications (the
SLA page reads every outcome message of its window, delivery health five day-by-day counts
over the notifications). `refresh()`, a periodic job on the maintenance queue, computes them
with the very functions of `app.reports.dashboards` and stores the figures in
`dashboard_snapshots`, one row each; the pages read that row. What is stored:

- sla        the page's default view (SLA_WEEKS weeks, everyone): weekly series, overall,
             per recruiter and per client. Another window or a filter is computed live.
- promises   PROMISE_WEEKS weeks of (promises due, kept): each week's figures stand alone,
             so any window up to that is served from it.
- delivery   DELIVERY_DAYS days of counts per day, likewise (the page's days go up to 90).

A snapshot is used only while it is fresh (younger than three refresh intervals) and covers
the page's window exactly (the same current week or day, the same SLA setting); otherwise
the page computes live, as before. The pages say when their figures were computed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app import clock
from app.business_days import get_calendar
from app.extensions import db
from app.models import DashboardSnapshot
from app.reports import dashboards

SLA_WEEKS = 12  # the SLA page's default window
PROMISE_WEEKS = 52  # the most the SLA page offers
DELIVERY_DAYS = 90  # the most the delivery page offers


@dataclass(frozen=True)
class Summary:
    """A `dashboards.Latency` as the pages read it, without its list of hours."""

    count: int
    median: float | None
    p95: float | None
    told_in_sla: int
    due: int

    @property
    def share_in_sla(self) -> float | None:
        return self.told_in_sla / self.due if self.due else None


@dataclass(frozen=True)
class Snapshot:
    value: object
    computed_at: datetime


# -- computing ------------------------------------------------------------------------------


def refresh(now: datetime | None = None) -> dict:
    """Recompute every dashboard snapshot in one transaction (the scheduler's job)."""
    started = time.perf_counter()
    now = now or clock.now()
    try:
        sla = dashboards.sla_report(SLA_WEEKS, now)
        promises = dashboards.promises_kept(PROMISE_WEEKS, now)
        delivery = dashboards.delivery_per_day(DELIVERY_DAYS, now)
        _store("sla", now, _sla_data(sla))
        _store("promises", now, {"weeks": [[w.isoformat(), d, k] for w, d, k in promises.weeks]})
        _store("delivery", now, {"days": [[d.isoformat(), per] for d, per in delivery]})
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return {"seconds": round(time.perf_counter() - started, 3)}


def _store(name: str, now: datetime, data: dict) -> None:
    db.session.execute(sa.delete(DashboardSnapshot).where(DashboardSnapshot.name == name))
    db.session.add(DashboardSnapshot(name=name, computed_at=now, data=data))


def _summary(latency) -> dict:
    return {
        "count": latency.count,
        "median": latency.median,
        "p95": latency.p95,
        "told_in_sla": latency.told_in_sla,
        "due": latency.due,
    }


def _sla_data(report: dashboards.SlaReport) -> dict:
    return {
        "sla_days": report.sla_days,
        "weeks": [[w.isoformat(), _summary(s)] for w, s in report.weeks],
        "overall": _summary(report.overall),
        "by_owner": [[name, _summary(s)] for name, s in report.by_owner],
        "by_client": [[name, _summary(s)] for name, s in report.by_client],
    }


# -- reading --------------------------------------------------------------------------------


def _fresh(name: str, now: datetime) -> DashboardSnapshot | None:
    row = db.session.get(DashboardSnapshot, name)
    max_age = 3 * current_app.config["DASHBOARD_REFRESH_SECONDS"]
    if row is None or not (now - timedelta(seconds=max_age) <= row.computed_at <= now):
        return None
    return row


def sla_report(
    weeks: int, now: datetime | None = None, *, owner_id=None, client_id=None
) -> Snapshot | None:
    """The SLA page's default view from the last refresh, when it covers this request."""
    if weeks != SLA_WEEKS or owner_id is not None or client_id is not None:
        return None
    now = now or clock.now()
    row = _fresh("sla", now)
    if row is None:
        return None
    data = row.data
    first = dashboards.week_start(get_calendar().local_date(now)) - timedelta(weeks=weeks - 1)
    if (
        data["sla_days"] != current_app.config["OVERDUE_SLA_BUSINESS_DAYS"]
        or not data["weeks"]
        or data["weeks"][0][0] != first.isoformat()
    ):
        return None
    report = dashboards.SlaReport(
        weeks=[(date.fromisoformat(w), Summary(**s)) for w, s in data["weeks"]],
        overall=Summary(**data["overall"]),
        by_owner=[(name, Summary(**s)) for name, s in data["by_owner"]],
        by_client=[(name, Summary(**s)) for name, s in data["by_client"]],
        sla_days=data["sla_days"],
    )
    return Snapshot(report, row.computed_at)


def promises_kept(weeks: int, now: datetime | None = None) -> Snapshot | None:
    """The last `weeks` weeks of promises kept from the last refresh, when it covers them."""
    now = now or clock.now()
    row = _fresh("promises", now)
    stored = row.data["weeks"] if row is not None else []
    current = dashboards.week_start(get_calendar().local_date(now))
    if not stored or stored[-1][0] != current.isoformat() or weeks > len(stored):
        return None
    rows = [(date.fromisoformat(w), due, kept) for w, due, kept in stored[-weeks:]]
    promises = dashboards.Promises(
        weeks=rows, made=sum(r[1] for r in rows), kept=sum(r[2] for r in rows)
    )
    return Snapshot(promises, row.computed_at)


def delivery_per_day(days: int, now: datetime | None = None) -> Snapshot | None:
    """The last `days` days of delivery counts from the last refresh, when it covers them."""
    now = now or clock.now()
    row = _fresh("delivery", now)
    stored = row.data["days"] if row is not None else []
    if not stored or stored[-1][0] != now.date().isoformat() or days > len(stored):
        return None
    table = [(date.fromisoformat(d), per) for d, per in stored[-days:]]
    return Snapshot(table, row.computed_at)
