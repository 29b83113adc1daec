"""Periodic work, declared as data in one place. The scheduler process runs these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str
    every: str  # the config key holding the interval in seconds
    func: str  # "module:function", called inside an app context with no arguments


SCHEDULE: tuple[Periodic, ...] = (
    # Delayed messages whose undo window / business-hours wait is over.
    Periodic(
        "dispatch-due", "DISPATCH_INTERVAL_SECONDS", "app.notifications.reconcile:dispatch_due"
    ),
    # Lost jobs, dead workers, the invariant, SLA escalation, missed promised dates.
    Periodic("reconcile", "RECONCILE_INTERVAL_SECONDS", "app.notifications.reconcile:reconcile"),
)
