"""A stand-in for the RQ worker in tests that move a frozen clock: each owed row is sent
exactly when it falls due (the real `deliver`), so what a candidate receives and when can be
read off the clock."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import Notification, NState
from app.notifications.send import deliver


def run_sender_until(moment: datetime, clk) -> None:
    """Send each owed row when it falls due, up to `moment`; the clock ends at `moment`."""
    while True:
        row = db.session.execute(
            sa.select(Notification.id, Notification.due_at)
            .where(Notification.state.in_((NState.PENDING.value, NState.QUEUED.value)))
            .order_by(Notification.due_at)
            .limit(1)
        ).first()
        if row is None or row.due_at > moment:
            break
        clk.current = max(clk.current, row.due_at)
        deliver([row.id])
    clk.current = max(clk.current, moment)
