"""Messages owed because time passed, not because someone acted (beside
promised_dates.sweep_promised_dates; both are entries of workers/schedule.py): after the
interview, tell the candidate when the decision is due and that we will write by then
either way."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app import clock
from app.extensions import db
from app.models import Application, Notification, NState, Stage
from app.notifications import outbox


def sweep_after_interviews(now: datetime | None = None, *, limit: int = 2000) -> int:
    """Owe `after_interview` once per recorded interview, a little after it started, while
    the client's promised date is still ahead (after it, still_deciding takes over)."""
    now = now or clock.now()
    delay = timedelta(hours=current_app.config["AFTER_INTERVIEW_DELAY_HOURS"])
    already = (
        sa.select(Notification.id)
        .where(
            Notification.application_id == Application.id,
            Notification.app_version == Application.version,
            Notification.kind == "after_interview",
            Notification.state != NState.SUPERSEDED.value,
        )
        .exists()
    )
    applications = list(
        db.session.scalars(
            sa.select(Application)
            .where(
                Application.stage == Stage.INTERVIEW.value,
                Application.interview_at.is_not(None),
                Application.interview_at <= now - delay,
                # Only recent interviews: an old one recorded late is not news any more.
                Application.interview_at > now - timedelta(days=7),
                Application.promised_response_at > now,
                ~already,
            )
            .order_by(Application.id)
            .limit(limit)
        )
    )
    owed = 0
    for application in applications:
        n = outbox.owe(
            application,
            "after_interview",
            now=now,
            key_extra=f"i{int(application.interview_at.timestamp())}",
            context={
                "interview_at": application.interview_at.isoformat(),
                "promised_response_at": application.promised_response_at.isoformat(),
            },
        )
        owed += n is not None
    db.session.commit()
    return owed
