"""Read-only queries of the candidates area: the list, a profile's applications, and the
positions a candidate can be added to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.access import candidate_filter, visible_positions
from app.extensions import db
from app.models import (
    ACTIVE_STAGES,
    Application,
    Candidate,
    Client,
    Position,
    PositionStatus,
    User,
)

PER_PAGE = 25


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def candidate_search(user: User, q: str = "") -> sa.Select:
    """Candidates `user` works with, matching `q` on name, email or phone."""
    query = sa.select(Candidate).where(Candidate.anonymised_at.is_(None))
    scope = candidate_filter(user)
    if scope is not None:
        query = query.where(scope)
    q = (q or "").strip()
    if q:
        pattern = _like(q)
        # A national number's leading 0 is dropped in the international form ("+44 7700").
        digits = "".join(ch for ch in q if ch.isdigit()).lstrip("0")
        matches = [
            sa.func.lower(Candidate.name).like(pattern, escape="\\"),
            sa.func.lower(Candidate.email).like(pattern, escape="\\"),
            sa.func.lower(Candidate.phone).like(pattern, escape="\\"),
        ]
        if len(digits) >= 3:
            # "07700 900123" finds "+44 7700 900123": compare digits only.
            stripped = Candidate.phone
            for ch in (" ", "-", "(", ")", "+", "."):
                stripped = sa.func.replace(stripped, ch, "")
            matches.append(stripped.like(f"%{digits}%"))
        query = query.where(sa.or_(*matches))
    return query.order_by(sa.func.lower(Candidate.name), Candidate.id)


def page_of_candidates(user: User, q: str, page: int):
    return db.paginate(candidate_search(user, q), page=page, per_page=PER_PAGE, error_out=False)


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    position_id: int
    position_title: str
    client_name: str
    stage: str
    promised_response_at: datetime | None
    owner_name: str
    position_status: str
    owner_id: int


def applications_of(candidate: Candidate) -> list[ApplicationRow]:
    """Every application, across all clients: a recruiter sees the whole picture of the
    person they talk to, even where another recruiter owns the position."""
    owner = sa.orm.aliased(User)
    rows = db.session.execute(
        sa.select(
            Application.id,
            Position.id,
            Position.title,
            Client.name,
            Application.stage,
            Application.promised_response_at,
            owner.name,
            Position.status,
            Position.owner_id,
        )
        .join(Position, Position.id == Application.position_id)
        .join(Client, Client.id == Position.client_id)
        .join(owner, owner.id == Position.owner_id)
        .where(Application.candidate_id == candidate.id)
        .order_by(Application.updated_at.desc(), Application.id.desc())
    ).all()
    return [ApplicationRow(*row) for row in rows]


def addable_positions(user: User, candidate: Candidate) -> list[tuple[int, str]]:
    """Open positions `user` may see that the candidate is not in yet, as select choices."""
    already = sa.select(Application.position_id).where(Application.candidate_id == candidate.id)
    rows = db.session.execute(
        sa.select(Position.id, Position.title, Client.name)
        .join(Client, Client.id == Position.client_id)
        .where(
            Position.status == PositionStatus.OPEN.value,
            Position.id.in_(visible_positions(user)),
            Position.id.notin_(already),
        )
        .order_by(Client.name, Position.title)
    ).all()
    return [(pid, f"{title} — {client}") for pid, title, client in rows]


def active_count(candidate_ids: list[int]) -> dict[int, list[str]]:
    """Active stages per candidate, for the list's small stage badges."""
    if not candidate_ids:
        return {}
    rows = db.session.execute(
        sa.select(Application.candidate_id, Application.stage).where(
            Application.candidate_id.in_(candidate_ids),
            Application.stage.in_([s.value for s in ACTIVE_STAGES]),
        )
    ).all()
    out: dict[int, list[str]] = {}
    for cid, stage in rows:
        out.setdefault(cid, []).append(stage)
    return out


def owner_names(user_ids: set[int | None]) -> dict[int, str]:
    ids = [i for i in user_ids if i]
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())
