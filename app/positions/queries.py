"""Read-only queries for the workspace pages.

The board loads a fixed number of statements whatever the number of cards: applications
with their candidates in one, and the latest message per application (plus the last one that
was sent) in another, using window functions that SQLite and PostgreSQL both run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app import access, clock
from app.extensions import db
from app.models import (
    ACTIVE_STAGES,
    TERMINAL_STAGES,
    Application,
    Candidate,
    Client,
    Notification,
    NState,
    Position,
    PositionStatus,
    Role,
    User,
)

SEARCH_LIMIT = 200


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def clients(q: str | None) -> list:
    """Clients by name, with how many positions each has."""
    count = (
        sa.select(sa.func.count(Position.id))
        .where(Position.client_id == Client.id)
        .scalar_subquery()
    )
    query = sa.select(Client, count.label("positions")).order_by(Client.name)
    if q:
        query = query.where(sa.func.lower(Client.name).like(_like(q), escape="\\"))
    return db.session.execute(query.limit(SEARCH_LIMIT)).all()


def client_choices() -> list[tuple[int, str]]:
    """Every client as (id, name), for a position's client field."""
    return list(db.session.execute(sa.select(Client.id, Client.name).order_by(Client.name)).all())


def client_name_taken(name: str, *, except_id: int | None = None) -> bool:
    query = sa.select(Client.id).where(sa.func.lower(Client.name) == name.strip().lower())
    if except_id is not None:
        query = query.where(Client.id != except_id)
    return db.session.scalar(query) is not None


def positions(user: User, *, q: str | None = None, status: str | None = None, client_id=None):
    """The positions `user` may see, with active and total application counts."""
    active = sa.func.count(Application.id).filter(
        Application.stage.in_([s.value for s in ACTIVE_STAGES])
    )
    query = (
        sa.select(
            Position,
            Client.name.label("client_name"),
            User.name.label("owner_name"),
            active.label("active"),
            sa.func.count(Application.id).label("total"),
        )
        .join(Client, Client.id == Position.client_id)
        .join(User, User.id == Position.owner_id)
        .outerjoin(Application, Application.position_id == Position.id)
        .where(Position.id.in_(access.visible_positions(user)))
        .group_by(Position.id, Client.name, User.name)
        .order_by(Position.status != PositionStatus.OPEN.value, Client.name, Position.title)
    )
    if q:
        pattern = _like(q)
        query = query.where(
            sa.or_(
                sa.func.lower(Position.title).like(pattern, escape="\\"),
                sa.func.lower(Client.name).like(pattern, escape="\\"),
                sa.func.lower(sa.func.coalesce(Position.location, "")).like(pattern, escape="\\"),
            )
        )
    if status:
        query = query.where(Position.status == status)
    if client_id is not None:
        query = query.where(Position.client_id == client_id)
    return db.session.execute(query.limit(SEARCH_LIMIT)).all()


def assignable_owners() -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.active.is_(True), User.role == Role.RECRUITER.value)
            .order_by(User.name)
        )
    )


@dataclass(frozen=True)
class Card:
    id: int
    candidate_id: int
    name: str
    has_email: bool
    stage: str
    outcome_reason: str | None
    stage_entered_at: datetime
    last_contact_at: datetime | None
    promised_at: datetime | None
    promise_overdue: bool
    message_state: str | None
    message_kind: str | None
    # Erased on request: shown as such, with nothing to open or move (the profile is gone).
    erased: bool = False

    @property
    def terminal(self) -> bool:
        return self.stage in TERMINAL_STAGES


# A big board paints each column's first cards; "Show N more" loads the next ones.
BOARD_FIRST = 20
BOARD_MORE = 50
BOARD_MAX = 10_000  # the most one column shows through ?show_<stage>=N (no JavaScript)


@dataclass(frozen=True)
class Column:
    stage: str
    cards: list[Card]
    total: int  # every card in this stage, shown or not
    offset: int = 0  # the position of cards[0] in the whole column

    @property
    def shown_to(self) -> int:
        return self.offset + len(self.cards)

    @property
    def left(self) -> int:
        return max(0, self.total - self.shown_to)

    @property
    def next_batch(self) -> int:
        return min(BOARD_MORE, self.left)


def board(position: Position, shown: dict[str, int] | None = None) -> dict[str, Column]:
    """Columns per stage, in pipeline order (every stage present, possibly empty): each holds
    its first cards (BOARD_FIRST, or as many as `shown` asks for) and its true total."""
    shown = shown or {}
    stages = [s.value for s in (*ACTIVE_STAGES, *TERMINAL_STAGES)]
    limits = {s: min(BOARD_MAX, max(BOARD_FIRST, shown.get(s, BOARD_FIRST))) for s in stages}
    order = (Application.stage_entered_at.desc(), Application.id)
    ranked = (
        _card_rows(position.id)
        .add_columns(
            sa.func.row_number().over(partition_by=Application.stage, order_by=order).label("rank"),
            sa.func.count().over(partition_by=Application.stage).label("total"),
        )
        .order_by(None)
        .subquery()
    )
    limit = sa.case(limits, value=ranked.c.stage, else_=BOARD_FIRST)
    rows = db.session.execute(
        sa.select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c.stage, ranked.c.rank)
    ).all()
    cards = _cards(position.id, rows)
    per_stage: dict[str, list] = {s: [] for s in stages}
    totals: dict[str, int] = dict.fromkeys(stages, 0)
    for r in rows:
        per_stage.setdefault(r.stage, []).append(cards[r.id])
        totals[r.stage] = r.total
    return {stage: Column(stage, per_stage[stage], totals[stage]) for stage in per_stage}


def column(position: Position, stage: str, offset: int, limit: int = BOARD_MORE) -> Column:
    """One column's cards from `offset` on: what "Show N more" fetches."""
    total = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Application)
        .where(Application.position_id == position.id, Application.stage == stage)
    )
    rows = db.session.execute(
        _card_rows(position.id).where(Application.stage == stage).offset(offset).limit(limit)
    ).all()
    cards = _cards(position.id, rows)
    return Column(stage, [cards[r.id] for r in rows], total or 0, offset)


def _card_rows(position_id: int) -> sa.Select:
    return (
        sa.select(
            Application.id,
            Application.candidate_id,
            Application.stage,
            Application.outcome_reason,
            Application.stage_entered_at,
            Application.last_candidate_contact_at,
            Application.promised_response_at,
            Candidate.name,
            Candidate.email,
            Candidate.anonymised_at,
        )
        .join(Candidate, Candidate.id == Application.candidate_id)
        .where(Application.position_id == position_id)
        .order_by(Application.stage_entered_at.desc(), Application.id)
    )


def _cards(position_id: int, rows) -> dict[int, Card]:
    """Cards for these rows, with their latest message found in one query."""
    latest = latest_messages(position_id, [r.id for r in rows]) if rows else {}
    now = clock.now()
    cards = {}
    for r in rows:
        state, kind, last_sent = latest.get(r.id, (None, None, None))
        contacts = [t for t in (r.last_candidate_contact_at, last_sent) if t is not None]
        promised = r.promised_response_at
        overdue = bool(promised and promised < now and r.stage not in TERMINAL_STAGES)
        cards[r.id] = Card(
            id=r.id,
            candidate_id=r.candidate_id,
            name=r.name,
            has_email=bool(r.email),
            stage=r.stage,
            outcome_reason=r.outcome_reason,
            stage_entered_at=r.stage_entered_at,
            last_contact_at=max(contacts) if contacts else None,
            promised_at=promised,
            promise_overdue=overdue,
            message_state=state,
            message_kind=kind,
            erased=r.anonymised_at is not None,
        )
    return cards


def latest_messages(position_id: int, application_ids: list[int] | None = None) -> dict:
    """application id -> (state, kind, last sent_at) of its latest live message, in ONE query
    (for the whole position, or only these of its applications).

    Superseded rows are history nobody will receive, so the badge skips them."""
    n = Notification
    only = () if application_ids is None else (n.application_id.in_(application_ids),)
    ranked = (
        sa.select(
            n.application_id,
            n.state,
            n.kind,
            sa.func.max(n.sent_at).over(partition_by=n.application_id).label("last_sent"),
            sa.func.row_number()
            .over(partition_by=n.application_id, order_by=(n.created_at.desc(), n.id.desc()))
            .label("rank"),
        )
        .join(Application, Application.id == n.application_id)
        .where(Application.position_id == position_id, n.state != NState.SUPERSEDED.value, *only)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(ranked.c.application_id, ranked.c.state, ranked.c.kind, ranked.c.last_sent).where(
            ranked.c.rank == 1
        )
    ).all()
    return {r.application_id: (r.state, r.kind, r.last_sent) for r in rows}
