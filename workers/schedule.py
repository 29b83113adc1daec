"""Periodic work, declared as data in one place. The scheduler process runs these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str
    every_seconds: float
    func: str  # "module:function", called inside an app context with no arguments


SCHEDULE: tuple[Periodic, ...] = (
    # Delayed messages whose undo window / business-hours wait is over.
    Periodic("dispatch-due", 10, "app.notifications.reconcile:dispatch_due"),
    # Lost jobs, dead workers, the invariant, SLA escalation, missed promised dates.
    Periodic("reconcile", 30, "app.notifications.reconcile:reconcile"),
)
