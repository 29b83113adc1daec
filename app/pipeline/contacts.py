"""Settling what is owed without an email: a logged call or meeting, or a manager's recorded
exemption. These are the only two ways a person can discharge a candidate's message."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app import access, audit, clock, labels
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    Contact,
    ContactChannel,
    Notification,
    Task,
    User,
)
from app.models.notifications import DISCHARGEABLE
from app.notifications import outbox
from app.pipeline.base import PipelineError


def log_contact(
    candidate: Candidate,
    *,
    actor: User,
    channel: str,
    summary: str,
    application: Application | None = None,
    occurred_at: datetime | None = None,
    discharge: bool = True,
) -> Contact:
    """A call or meeting; it settles what the application owed and closes its tasks."""
    if not access.can_log_contact(actor, candidate, application):
        raise PermissionError("That application is not one you can open.")
    now = clock.now()
    if not summary or not summary.strip():
        raise PipelineError("Say briefly what was discussed.")
    contact = Contact(
        candidate_id=candidate.id,
        application_id=application.id if application else None,
        user_id=actor.id,
        channel=ContactChannel(channel).value,
        summary=summary.strip(),
        occurred_at=occurred_at or now,
        created_at=now,
    )
    db.session.add(contact)
    db.session.flush()
    if application is not None:
        application.last_candidate_contact_at = contact.occurred_at
        if discharge:
            owed = list(
                db.session.scalars(
                    sa.select(Notification.id).where(
                        Notification.application_id == application.id,
                        Notification.state.in_(DISCHARGEABLE),
                    )
                )
            )
            outbox.discharge(
                owed,
                reason=f"{labels.channel(channel)}: {contact.summary}"[:2000],
                user_id=actor.id,
                contact_id=contact.id,
            )
        db.session.execute(
            sa.update(Task)
            .where(Task.application_id == application.id, Task.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by_id=actor.id)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    return contact


def exempt(notification: Notification, *, actor: User, reason: str) -> None:
    """A manager's recorded decision that this message must not be sent."""
    if not access.can_exempt(actor):
        raise PermissionError("Only a manager can exempt a message.")
    if not reason or not reason.strip():
        raise PipelineError("An exemption needs a reason.")
    if (
        outbox.discharge([notification.id], reason=f"exempt: {reason.strip()}", user_id=actor.id)
        == 0
    ):
        raise PipelineError("That message is no longer owed.")
    audit.record(actor, "message.exempted", notification, reason.strip())
    db.session.commit()
