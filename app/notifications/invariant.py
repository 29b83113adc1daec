"""The promise, written down as a query.

An application in a terminal stage must have, for its current outcome, a notification that
is owed, sent, or discharged (contact / exemption), or a manual contact logged since the
outcome. Anything this query returns is a candidate left without a response: the
reconciler repairs it and the overdue report shows it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.models import TERMINAL_STAGES, Application, Contact, Notification, NState
from app.models.notifications import RETURNED, UNDELIVERED
from app.orm import literal_in


def terminal_without_response(changed_since: datetime | None = None) -> sa.Select:
    """`changed_since`: only applications updated since then (the reconciler's regular pass,
    read through the partial index ix_applications_terminal_updated); None: all of them."""
    outcome_message = (
        sa.select(Notification.id)
        .where(
            Notification.application_id == Application.id,
            Notification.app_version == Application.version,
            Notification.category == "outcome",
            Notification.state != NState.SUPERSEDED.value,
        )
        .exists()
    )
    contact_since = (
        sa.select(Contact.id)
        .where(
            Contact.application_id == Application.id,
            Contact.occurred_at >= Application.stage_entered_at,
        )
        .exists()
    )
    query = sa.select(Application).where(
        literal_in(Application.stage, [s.value for s in TERMINAL_STAGES]),
        ~outcome_message,
        ~contact_since,
    )
    if changed_since is not None:
        query = query.where(Application.updated_at >= changed_since)
    return query


def undelivered_without_contact() -> sa.Select:
    """Messages that never reached the candidate (bounced, dropped, failed) with neither a
    manual contact logged since nor a later message about the same application (the
    recruiter corrected the address and sent it again, or newer news is owed): the debt is
    visible again until a person closes it. The later message answers for itself: owed,
    sent, or never arrived either, and then it is the one listed."""
    gave_up_at = sa.func.coalesce(
        Notification.bounced_at, Notification.dropped_at, Notification.failed_at
    )
    contact_since = (
        sa.select(Contact.id)
        .where(
            Contact.application_id == Notification.application_id,
            Contact.occurred_at >= gave_up_at,
        )
        .exists()
    )
    later = aliased(Notification)
    message_since = (
        sa.select(later.id)
        .where(
            later.application_id == Notification.application_id,
            later.id != Notification.id,
            later.created_at >= gave_up_at,
            later.state != NState.SUPERSEDED.value,
        )
        .exists()
    )
    # A contact answers a bounce or a drop (nothing is left to settle), but a failed message
    # is still owed: only ticking it on the contact form (discharged) or a later message
    # answers it, so a call about something else leaves it listed.
    answered_by_contact = sa.and_(Notification.state.in_(RETURNED), contact_since)
    return sa.select(Notification).where(
        Notification.state.in_(UNDELIVERED),
        ~answered_by_contact,
        ~message_since,
    )
