"""Per client: the decision dates they promised, kept and broken, and how long they take
to decide; and which clients are late right now (the managers' daily digest names them).

A promise is made each time a decision date is set for a candidate (at the interview, or a
client's "need more time"): each opens the recruiter's "decision date due" task, keyed by
application and date. It is broken when the promised-dates sweep found it passed with no
decision ("decision date missed", keyed the same way), kept when it fell due without that.
Days to decision run from the interview to the stage change that recorded the client's
decision (offer, hired, or declined by the client).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app import clock
from app.extensions import db
from app.models import Application, Client, OutcomeReason, Position, Stage, StageEvent, Task


@dataclass(frozen=True)
class ClientPromises:
    client_id: int
    client: str
    made: int  # fallen due
    kept: int
    broken: int
    upcoming: int
    median_days: float | None
    late_now: int  # candidates waiting past a missed date, undecided


def _promises(kind: str) -> dict[int, set[tuple[int, str]]]:
    """client id -> {(application id, promised date)} from the tasks' keys."""
    rows = db.session.execute(
        sa.select(Task.dedupe_key, Position.client_id)
        .join(Application, Application.id == Task.application_id)
        .join(Position, Position.id == Application.position_id)
        .where(Task.kind == kind)
    ).all()
    out: dict[int, set[tuple[int, str]]] = {}
    for key, client_id in rows:
        parts = (key or "").split(":", 2)
        if len(parts) == 3 and parts[1].isdigit():
            out.setdefault(client_id, set()).add((int(parts[1]), parts[2]))
    return out


def _due(promised: str, now: datetime) -> bool:
    try:
        return datetime.fromisoformat(promised) < now
    except ValueError:
        return False


def _days_to_decision() -> dict[int, list[float]]:
    decided = sa.or_(
        StageEvent.to_stage.in_([Stage.OFFER.value, Stage.HIRED.value]),
        StageEvent.reason == OutcomeReason.CLIENT_DECLINED.value,
    )
    rows = db.session.execute(
        sa.select(Position.client_id, StageEvent.occurred_at, Application.interview_at)
        .select_from(StageEvent)
        .join(Application, Application.id == StageEvent.application_id)
        .join(Position, Position.id == Application.position_id)
        .where(
            StageEvent.from_stage == Stage.INTERVIEW.value,
            decided,
            Application.interview_at.is_not(None),
        )
    ).all()
    out: dict[int, list[float]] = {}
    for client_id, at, interview_at in rows:
        out.setdefault(client_id, []).append(max(0.0, (at - interview_at).total_seconds() / 86400))
    return out


def _late() -> dict[int, int]:
    rows = db.session.execute(
        sa.select(Position.client_id, sa.func.count(sa.distinct(Application.id)))
        .select_from(Task)
        .join(Application, Application.id == Task.application_id)
        .join(Position, Position.id == Application.position_id)
        .where(
            Task.kind == "promise_missed",
            Task.resolved_at.is_(None),
            Application.stage == Stage.INTERVIEW.value,
        )
        .group_by(Position.client_id)
    ).all()
    return dict(rows)


def client_promises(now: datetime | None = None) -> list[ClientPromises]:
    now = now or clock.now()
    made, missed = _promises("promised_date_due"), _promises("promise_missed")
    days, late = _days_to_decision(), _late()
    names = dict(db.session.execute(sa.select(Client.id, Client.name)).all())
    out = []
    for client_id in sorted(set(made) | set(missed) | set(days), key=lambda c: names.get(c, "")):
        broken = missed.get(client_id, set())
        promised = made.get(client_id, set()) | broken
        due = {p for p in promised if _due(p[1], now)}
        spans = days.get(client_id)
        out.append(
            ClientPromises(
                client_id=client_id,
                client=names.get(client_id, "?"),
                made=len(due),
                kept=len(due - broken),
                broken=len(broken & due),
                upcoming=len(promised - due),
                median_days=round(statistics.median(spans), 1) if spans else None,
                late_now=late.get(client_id, 0),
            )
        )
    return out


def late_clients() -> list[tuple[str, int]]:
    """(client, candidates waiting past a missed date), most late first."""
    late = _late()
    names = dict(db.session.execute(sa.select(Client.id, Client.name)).all())
    return sorted(((names.get(c, "?"), n) for c, n in late.items()), key=lambda r: (-r[1], r[0]))
