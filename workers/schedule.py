"""Periodic work, declared as data in one place. The scheduler process runs these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str
    every: str  # the config key holding the interval in seconds
    func: str  # "module:function", called inside an app context with no arguments
    # None: run inside the scheduler process (the reconciler must not depend on workers).
    # A queue name: enqueue it there instead, for long work that must not delay the rest.
    queue: str | None = None
    # Another entry whose whole work this one's run also does: when both are due together,
    # that one is not run again at the same moment (its next run counts from this one's).
    covers: str | None = None


SCHEDULE: tuple[Periodic, ...] = (
    # Delayed messages whose undo window / business-hours wait is over.
    Periodic(
        "dispatch-due", "DISPATCH_INTERVAL_SECONDS", "app.notifications.reconcile:dispatch_due"
    ),
    # The reconciler's pass checking every terminal application for its message, not only
    # the recently changed: the regular pass's work and more, so it stands in for it when
    # both are due (before it here, so it is the one that runs).
    Periodic(
        "reconcile-everywhere",
        "INVARIANT_SWEEP_SECONDS",
        "app.notifications.reconcile:reconcile_everywhere",
        covers="reconcile",
    ),
    # Lost jobs, dead workers, the invariant, SLA escalation.
    Periodic("reconcile", "RECONCILE_INTERVAL_SECONDS", "app.notifications.reconcile:reconcile"),
    # Messages owed because time passed (app/pipeline/): a promised decision date missed
    # ("still deciding"), and the note a little after an interview. As often as the reconciler.
    Periodic(
        "promised-dates",
        "RECONCILE_INTERVAL_SECONDS",
        "app.pipeline.promised_dates:sweep_promised_dates",
    ),
    # Clients chased for the decisions they promised: the email a business day before, one
    # reminder once missed, and prepared decisions confirmed by themselves if the agency
    # turned that on (app/decisions/chase.py).
    Periodic("client-decisions", "RECONCILE_INTERVAL_SECONDS", "app.decisions.chase:sweep"),
    Periodic(
        "after-interview",
        "RECONCILE_INTERVAL_SECONDS",
        "app.pipeline.followups:sweep_after_interviews",
    ),
    # The managers' overdue report, its counts and today's point of its trend (app/reports).
    Periodic(
        "overdue-refresh",
        "OVERDUE_REFRESH_SECONDS",
        "app.reports.overdue:refresh",
        queue="maintenance",
    ),
    # The SLA and delivery dashboards' figures (app/reports/snapshots.py).
    Periodic(
        "dashboard-refresh",
        "DASHBOARD_REFRESH_SECONDS",
        "app.reports.snapshots:refresh",
        queue="maintenance",
    ),
    # Outbound webhooks: owe subscribed endpoints the new events, enqueue the deliveries due.
    Periodic("webhooks", "WEBHOOK_SWEEP_SECONDS", "app.outbound.services:sweep"),
    # Idempotency-Keys of the REST API older than API_IDEMPOTENCY_HOURS.
    Periodic(
        "api-idempotency-purge",
        "API_IDEMPOTENCY_PURGE_SECONDS",
        "app.api.idempotency:purge",
        queue="maintenance",
    ),
    # Morning digests for staff: built when each user's hour comes, then sent like the rest.
    Periodic("digests", "DIGEST_INTERVAL_SECONDS", "app.reports.digest:tick"),
)

ENTRIES = {p.name: p for p in SCHEDULE}
