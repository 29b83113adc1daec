"""Read-only queries behind the dashboard. Who sees what is app/access.py's rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.access import candidate_filter, sees_everything, visible_positions
from app.extensions import db
from app.models import (
    Alert,
    Application,
    Candidate,
    Client,
    Notification,
    NState,
    Position,
    Stage,
    User,
)
from app.models.notifications import OWED


@dataclass(frozen=True)
class PositionRow:
    id: int
    client: str
    title: str
    location: str | None
    owner: str
    status: str
    stage_counts: dict[str, int]

    @property
    def active_count(self) -> int:
        return sum(self.stage_counts.get(s.value, 0) for s in _ACTIVE)


@dataclass(frozen=True)
class CandidateRow:
    id: int
    name: str
    email: str | None
    timezone: str | None
    created_at: datetime
    applications: list[tuple[str, str]] = field(default_factory=list)  # (position, stage)


@dataclass(frozen=True)
class OutboxSummary:
    by_state: dict[str, int]

    @property
    def owed(self) -> int:
        return sum(self.by_state.get(s, 0) for s in OWED)

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


_ACTIVE = (Stage.SOURCED, Stage.SUBMITTED, Stage.CLIENT_REVIEW, Stage.INTERVIEW, Stage.OFFER)


def positions_overview(user: User) -> list[PositionRow]:
    """Positions with client, owner, status and the number of applications in each stage."""
    rows = db.session.execute(
        sa.select(Position, Client.name, User.name)
        .join(Client, Position.client_id == Client.id)
        .join(User, Position.owner_id == User.id)
        .where(Position.id.in_(visible_positions(user)))
        .order_by(Client.name, Position.title, Position.id)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for position_id, stage, n in db.session.execute(
        sa.select(Application.position_id, Application.stage, sa.func.count())
        .where(Application.position_id.in_(visible_positions(user)))
        .group_by(Application.position_id, Application.stage)
    ):
        counts.setdefault(position_id, {})[stage] = n
    return [
        PositionRow(
            id=p.id,
            client=client_name,
            title=p.title,
            location=p.location,
            owner=owner_name,
            status=p.status,
            stage_counts=counts.get(p.id, {}),
        )
        for p, client_name, owner_name in rows
    ]


def recent_candidates(user: User, limit: int = 8) -> list[CandidateRow]:
    """The newest candidates `user` works with, each with their visible applications."""
    query = sa.select(Candidate).where(Candidate.anonymised_at.is_(None))
    mine = candidate_filter(user)
    if mine is not None:
        query = query.where(mine)
    candidates = db.session.scalars(
        query.order_by(Candidate.created_at.desc(), Candidate.id.desc()).limit(limit)
    ).all()
    applications: dict[int, list[tuple[str, str]]] = {}
    if candidates:
        for candidate_id, title, stage in db.session.execute(
            sa.select(Application.candidate_id, Position.title, Application.stage)
            .join(Position, Application.position_id == Position.id)
            .where(Application.candidate_id.in_([c.id for c in candidates]))
            .where(Application.position_id.in_(visible_positions(user)))
            .order_by(Application.stage_entered_at.desc(), Application.id.desc())
        ):
            applications.setdefault(candidate_id, []).append((title, stage))
    return [
        CandidateRow(
            id=c.id,
            name=c.name,
            email=c.email,
            timezone=c.timezone,
            created_at=c.created_at,
            applications=applications.get(c.id, []),
        )
        for c in candidates
    ]


def outbox_summary(user: User) -> OutboxSummary:
    """Notifications by state: for recruiters only their own share. (What is waiting on
    someone is My queue's count, app/candidates/worklist.counts.)"""
    notifications = sa.select(Notification.state, sa.func.count()).group_by(Notification.state)
    if not sees_everything(user):
        notifications = notifications.join(
            Application, Notification.application_id == Application.id
        ).where(Application.position_id.in_(visible_positions(user)))
    by_state = {state: n for state, n in db.session.execute(notifications)}
    return OutboxSummary(by_state={s.value: by_state.get(s.value, 0) for s in NState})


def open_alerts() -> list[Alert]:
    """Engine problems someone must fix (e.g. the provider refuses our key); shown to all
    staff because every recruiter's messages are held while they last."""
    return list(
        db.session.scalars(
            sa.select(Alert).where(Alert.resolved_at.is_(None)).order_by(Alert.last_seen_at.desc())
        )
    )
