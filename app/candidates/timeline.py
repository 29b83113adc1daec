"""One timeline per candidate, newest first: stage changes, every message with what happened
to it, manual contacts, what the candidate asked or did, and the tasks their case opened.

Each source is one query; merging happens here so every page and test sees one order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app import labels
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    CandidateAction,
    Client,
    Contact,
    DeliveryEvent,
    InboundReply,
    Notification,
    Position,
    StageEvent,
    Task,
    User,
)

# Same instant: the cause sorts after (below) its effects in a newest-first list.
_ORDER = {
    "stage": 0,
    "action": 1,
    "reply": 1,
    "task_opened": 2,
    "message": 3,
    "contact": 4,
    "task_resolved": 5,
}


@dataclass
class Entry:
    type: str  # stage, message, contact, action, reply, task_opened, task_resolved
    at: datetime
    item: object
    about: str | None = None  # "Position at Client"
    who: str | None = None
    events: list[DeliveryEvent] = field(default_factory=list)
    sort_id: int = 0


def timeline(candidate: Candidate) -> list[Entry]:
    about = _applications(candidate.id)
    names = _user_names()
    entries = (
        _stage_entries(candidate.id, about, names)
        + _message_entries(candidate.id, about)
        + _contact_entries(candidate.id, about, names)
        + _action_entries(candidate.id, about, names)
        + _task_entries(candidate.id, about, names)
        + _reply_entries(candidate.id, about)
    )
    entries.sort(key=lambda e: (e.at, _ORDER[e.type], e.sort_id), reverse=True)
    return entries


def _applications(candidate_id: int) -> dict[int, str]:
    rows = db.session.execute(
        sa.select(Application.id, Position.title, Client.name)
        .join(Position, Position.id == Application.position_id)
        .join(Client, Client.id == Position.client_id)
        .where(Application.candidate_id == candidate_id)
    ).all()
    return {aid: labels.position_at(title, client) for aid, title, client in rows}


def _user_names() -> dict[int, str]:
    # Staff are few; one small query beats a join per source.
    return dict(db.session.execute(sa.select(User.id, User.name)).all())


def _app_ids(candidate_id: int):
    return sa.select(Application.id).where(Application.candidate_id == candidate_id)


def _stage_entries(candidate_id, about, names) -> list[Entry]:
    rows = db.session.scalars(
        sa.select(StageEvent).where(StageEvent.application_id.in_(_app_ids(candidate_id)))
    )
    return [
        Entry(
            "stage",
            e.occurred_at,
            e,
            about.get(e.application_id),
            names.get(e.actor_id) if e.actor_id else "Closeloop",
            sort_id=e.id,
        )
        for e in rows
    ]


def _message_entries(candidate_id, about) -> list[Entry]:
    messages = list(
        db.session.scalars(sa.select(Notification).where(Notification.candidate_id == candidate_id))
    )
    events: dict[int, list[DeliveryEvent]] = {}
    if messages:
        rows = db.session.scalars(
            sa.select(DeliveryEvent)
            .where(DeliveryEvent.notification_id.in_([n.id for n in messages]))
            .order_by(DeliveryEvent.occurred_at, DeliveryEvent.id)
        )
        for event in rows:
            events.setdefault(event.notification_id, []).append(event)
    return [
        Entry(
            "message",
            n.sent_at or n.created_at,
            n,
            about.get(n.application_id),
            events=events.get(n.id, []),
            sort_id=n.id,
        )
        for n in messages
    ]


def _contact_entries(candidate_id, about, names) -> list[Entry]:
    rows = db.session.scalars(sa.select(Contact).where(Contact.candidate_id == candidate_id))
    return [
        Entry(
            "contact",
            c.occurred_at,
            c,
            about.get(c.application_id),
            names.get(c.user_id),
            sort_id=c.id,
        )
        for c in rows
    ]


def _action_entries(candidate_id, about, names) -> list[Entry]:
    rows = db.session.scalars(
        sa.select(CandidateAction).where(CandidateAction.candidate_id == candidate_id)
    )
    return [
        Entry(
            "action",
            a.created_at,
            a,
            about.get(a.application_id),
            names.get(a.actor_id) if a.actor_id else "The candidate",
            sort_id=a.id,
        )
        for a in rows
    ]


def _task_entries(candidate_id, about, names) -> list[Entry]:
    entries = []
    rows = db.session.scalars(
        sa.select(Task).where(
            sa.or_(
                Task.candidate_id == candidate_id,
                Task.application_id.in_(_app_ids(candidate_id)),
            )
        )
    )
    for t in rows:
        label = about.get(t.application_id)
        entries.append(
            Entry("task_opened", t.created_at, t, label, names.get(t.assignee_id), sort_id=t.id)
        )
        if t.resolved_at is not None:
            entries.append(
                Entry(
                    "task_resolved",
                    t.resolved_at,
                    t,
                    label,
                    names.get(t.resolved_by_id),
                    sort_id=t.id,
                )
            )
    return entries


def _reply_entries(candidate_id, about) -> list[Entry]:
    """What the candidate wrote back by email (app/replies/), automatic mail included."""
    rows = db.session.scalars(
        sa.select(InboundReply).where(InboundReply.candidate_id == candidate_id)
    )
    return [
        Entry("reply", r.received_at, r, about.get(r.application_id), r.from_email, sort_id=r.id)
        for r in rows
    ]
