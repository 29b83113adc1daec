"""Job functions. Arguments are a versioned API: ids and plain values only; add keyword
arguments with defaults, never reorder."""

from __future__ import annotations

from workers.context import job_context


def send_notifications(notification_ids: list[int]) -> dict:
    from app.notifications.send import deliver

    with job_context():
        return deliver(list(notification_ids))


def reconcile() -> dict:
    from app.notifications.reconcile import reconcile as run

    with job_context():
        return run()
