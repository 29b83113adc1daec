"""Settling what is owed without an email: a logged call or meeting, or a manager's recorded
exemption. These are the only two ways a person can discharge a candidate's message."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

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
from app.notifications.kinds import KINDS
from app.orm import chunks
from app.pipeline.base import PipelineError


@dataclass(frozen=True)
class Settleable:
    """A message an application still owes that a logged contact could settle."""

    id: int
    application_id: int
    kind: str
    state: str
    has_address: bool = True  # False: the candidate has no email address, a call is all

    @property
    def in_writing(self) -> bool:
        """News the candidate still needs in writing (an offer, an outcome), when an email
        can reach them at all."""
        return KINDS[self.kind].in_writing and self.has_address

    @property
    def ticked_by_default(self) -> bool:
        """An offer or an outcome the candidate still needs in writing: never by default.
        With no address nothing can be written: the call is how they hear it."""
        return not self.in_writing


def settleable(application_ids: Collection[int]) -> dict[int, list[Settleable]]:
    """What each of these applications still owes, oldest first: the contact form's list."""
    found: dict[int, list[Settleable]] = {i: [] for i in application_ids}
    ids = sorted(found)
    for chunk in chunks(ids, 900):
        rows = db.session.execute(
            sa.select(
                Notification.id,
                Notification.application_id,
                Notification.kind,
                Notification.state,
                Candidate.email.is_not(None) & (Candidate.email != ""),
            )
            .join(Candidate, Candidate.id == Notification.candidate_id)
            .where(Notification.application_id.in_(chunk), Notification.state.in_(DISCHARGEABLE))
            .order_by(Notification.id)
        )
        for row in rows:
            found[row.application_id].append(Settleable(*row))
    return found


def log_contact(
    candidate: Candidate,
    *,
    actor: User,
    channel: str,
    summary: str,
    application: Application | None = None,
    occurred_at: datetime | None = None,
    settle: Collection[int] = (),
) -> Contact:
    """A call or meeting about the candidate or one application. It settles exactly the
    owed messages of that application listed in `settle` (the ones the recruiter ticked;
    none by default) and closes the application's tasks, except those about a message it
    leaves owed."""
    if not access.can_log_contact(actor, candidate, application):
        raise PermissionError(_("That application is not one you can open."))
    now = clock.now()
    if not summary or not summary.strip():
        raise PipelineError(_("Say briefly what was discussed."))
    settle = set(settle)
    if settle and application is None:
        raise PipelineError(
            _("Choose the application the contact was about to settle the messages you ticked.")
        )
    owed: set[int] = set()
    if application is not None:
        owed = {s.id for s in settleable([application.id])[application.id]}
        if settle - owed:
            raise PipelineError(
                _(
                    "A message you ticked is no longer owed by this application (or belongs to "
                    "another one): check the list and log the contact again."
                )
            )
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
        outbox.discharge(
            sorted(settle),
            reason=f"{labels.channel(channel)}: {contact.summary}"[:2000],
            user_id=actor.id,
            contact_id=contact.id,
        )
        still_owed = sorted(owed - settle)
        tasks = sa.update(Task).where(
            Task.application_id == application.id, Task.resolved_at.is_(None)
        )
        if still_owed:
            tasks = tasks.where(
                sa.or_(Task.notification_id.is_(None), Task.notification_id.notin_(still_owed))
            )
        db.session.execute(
            tasks.values(resolved_at=now, resolved_by_id=actor.id).execution_options(
                synchronize_session=False
            )
        )
    db.session.commit()
    return contact


def exempt(notification: Notification, *, actor: User, reason: str) -> None:
    """A manager's recorded decision that this message must not be sent."""
    if not access.can_exempt(actor):
        raise PermissionError(_("Only a manager can exempt a message."))
    if not reason or not reason.strip():
        raise PipelineError(_("An exemption needs a reason."))
    if (
        outbox.discharge([notification.id], reason=f"exempt: {reason.strip()}", user_id=actor.id)
        == 0
    ):
        raise PipelineError(_("That message is no longer owed."))
    audit.record(actor, "message.exempted", notification, reason.strip())
    db.session.commit()
