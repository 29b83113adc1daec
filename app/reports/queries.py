"""Reading the overdue report: one page of rows, the counts, the trend, the CSV rows.

Everything reads the materialised tables (see overdue.py), so the list, the counts and the
CSV describe the same refresh. Pages, jobs (the digest) and a future REST API call these.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app import clock
from app.business_days import get_calendar
from app.extensions import db
from app.models import (
    AGENCY_WIDE,
    SEVERITY,
    Candidate,
    Client,
    OverdueCount,
    OverdueDaily,
    OverdueItem,
    OverdueReason,
    Position,
    User,
)

REASONS = list(OverdueReason)


@dataclass(frozen=True)
class Filters:
    owner_id: int | None = None
    client_id: int | None = None
    position_id: int | None = None
    reason: str | None = None
    min_age_days: int | None = None

    @classmethod
    def from_args(cls, args) -> Filters:
        """From a query string; anything malformed is ignored rather than an error page."""
        reason = args.get("reason") or None
        return cls(
            owner_id=_int(args.get("recruiter")),
            client_id=_int(args.get("client")),
            position_id=_int(args.get("position")),
            reason=reason if reason in SEVERITY else None,
            min_age_days=_int(args.get("min_age"), upper=3650),
        )

    def as_args(self, **changes) -> dict:
        values = {
            "recruiter": self.owner_id,
            "client": self.client_id,
            "position": self.position_id,
            "reason": self.reason,
            "min_age": self.min_age_days,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def any(self) -> bool:
        return bool(self.as_args())


def _int(raw, upper: int = 2**31 - 1) -> int | None:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 0 <= value <= upper else None


@dataclass(frozen=True)
class Row:
    application_id: int
    reason: str
    severity: int
    since: datetime
    age: timedelta
    business_days: int
    candidate: str
    position_id: int
    position: str
    client_id: int
    client: str
    owner_id: int
    owner: str
    message_kind: str | None
    message_state: str | None
    note: str | None
    # The note's words in the reader's language (app/stored_words.py): `row | said("note")`.
    note_code: str | None = None
    note_args: dict | None = None


@dataclass
class Counts:
    total: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_owner: list[tuple[int, str, dict[str, int], int]] = field(default_factory=list)
    by_client: list[tuple[int, str, dict[str, int], int]] = field(default_factory=list)


def _where(query: sa.Select, model, f: Filters, *, with_age: bool = True) -> sa.Select:
    if f.owner_id is not None:
        query = query.where(model.owner_id == f.owner_id)
    if f.client_id is not None:
        query = query.where(model.client_id == f.client_id)
    if f.position_id is not None:
        query = query.where(model.position_id == f.position_id)
    if f.reason is not None:
        query = query.where(model.reason == f.reason)
        if model is OverdueItem:  # one reason is one severity: lets the index seek to it
            query = query.where(OverdueItem.severity == SEVERITY[f.reason])
    if with_age and f.min_age_days is not None and model is OverdueItem:
        query = query.where(OverdueItem.since <= clock.now() - timedelta(days=f.min_age_days))
    return query


def _rows_query(f: Filters) -> sa.Select:
    i = OverdueItem
    query = (
        sa.select(
            i.application_id,
            i.reason,
            i.severity,
            i.since,
            sa.func.coalesce(Candidate.name, "(candidate removed)"),
            i.position_id,
            sa.func.coalesce(Position.title, "(position removed)"),
            i.client_id,
            sa.func.coalesce(Client.name, ""),
            i.owner_id,
            sa.func.coalesce(User.name, ""),
            i.message_kind,
            i.message_state,
            i.note,
            i.note_code,
            i.note_args,
        )
        .outerjoin(Candidate, Candidate.id == i.candidate_id)
        .outerjoin(Position, Position.id == i.position_id)
        .outerjoin(Client, Client.id == i.client_id)
        .outerjoin(User, User.id == i.owner_id)
        # Severity first, then the longest-waiting: the index's own order.
        .order_by(i.severity, i.since, i.application_id)
    )
    return _where(query, i, f)


def _row(values, now: datetime, calendar) -> Row:
    (
        app_id,
        reason,
        severity,
        since,
        cand,
        pos_id,
        pos,
        cl_id,
        cl,
        own_id,
        own,
        kind,
        state,
        note,
        note_code,
        note_args,
    ) = values
    return Row(
        application_id=app_id,
        reason=reason,
        severity=severity,
        since=since,
        age=now - since,
        business_days=calendar.days_between(since, now),
        candidate=cand,
        position_id=pos_id,
        position=pos,
        client_id=cl_id,
        client=cl,
        owner_id=own_id,
        owner=own,
        message_kind=kind,
        message_state=state,
        note=note,
        note_code=note_code,
        note_args=note_args,
    )


def page(f: Filters, number: int = 1, per_page: int = 50) -> tuple[list[Row], bool]:
    """One page of rows and whether another follows (no COUNT over the items)."""
    number = max(1, number)
    now, calendar = clock.now(), get_calendar()
    rows = db.session.execute(
        _rows_query(f).limit(per_page + 1).offset((number - 1) * per_page)
    ).all()
    return [_row(r, now, calendar) for r in rows[:per_page]], len(rows) > per_page


def oldest(f: Filters, limit: int) -> list[Row]:
    """The longest-waiting items first, whatever their reason (the digest's list)."""
    now, calendar = clock.now(), get_calendar()
    query = (
        _rows_query(f)
        .order_by(None)
        .order_by(OverdueItem.since, OverdueItem.application_id)
        .limit(limit)
    )
    return [_row(r, now, calendar) for r in db.session.execute(query)]


def iter_rows(f: Filters, batch: int = 5000) -> Iterator[Row]:
    """Every row, streamed from a server-side cursor: constant memory for any size."""
    now, calendar = clock.now(), get_calendar()
    result = db.session.execute(_rows_query(f).execution_options(yield_per=batch))
    for values in result:
        yield _row(values, now, calendar)


def counts(f: Filters | None = None, *, top: int | None = None) -> Counts:
    """Totals per reason, recruiter and client, from the kept counts (age filter ignored).

    Three small GROUP BYs in the database over at most five rows per position; `top` keeps
    only the largest recruiters and clients (the page), None keeps all (digest, export)."""
    f = f or Filters()
    c = OverdueCount
    result = Counts(by_reason={r.value: 0 for r in REASONS})
    for reason, n in db.session.execute(
        _where(sa.select(c.reason, sa.func.sum(c.n)).group_by(c.reason), c, f, with_age=False)
    ):
        result.by_reason[reason] = int(n)
    result.total = sum(result.by_reason.values())
    result.by_owner = _grouped(c.owner_id, User, f, top)
    result.by_client = _grouped(c.client_id, Client, f, top)
    return result


def _grouped(column, model, f: Filters, top: int | None) -> list:
    c = OverdueCount
    per_key = sa.select(column.label("key"), sa.func.sum(c.n).label("total")).group_by(column)
    per_key = _where(per_key, c, f, with_age=False).order_by(sa.desc("total"), column)
    if top is not None:
        per_key = per_key.limit(top)
    keys = {key: int(total) for key, total in db.session.execute(per_key)}
    if not keys:
        return []
    per_reason: dict[int, dict[str, int]] = {k: {} for k in keys}
    split = _where(
        sa.select(column, c.reason, sa.func.sum(c.n))
        .where(column.in_(list(keys)))
        .group_by(column, c.reason),
        c,
        f,
        with_age=False,
    )
    for key, reason, n in db.session.execute(split):
        per_reason[key][reason] = int(n)
    names = dict(
        db.session.execute(sa.select(model.id, model.name).where(model.id.in_(list(keys)))).all()
    )
    rows = [(k, names.get(k, f"#{k}"), per_reason[k], total) for k, total in keys.items()]
    return sorted(rows, key=lambda r: (-r[3], r[1]))


def count_of(column_name: str, f: Filters | None = None) -> int:
    """How many distinct recruiters or clients have overdue items (for "N more")."""
    c = OverdueCount
    column = getattr(c, column_name)
    query = _where(sa.select(sa.func.count(sa.distinct(column))), c, f or Filters(), with_age=False)
    return db.session.scalar(query) or 0


def trend(days: int = 30, f: Filters | None = None) -> list[tuple[date, dict[str, int]]]:
    """Daily totals per reason for the last `days` days (days without a refresh are absent;
    a refreshed day with nothing overdue is a zero)."""
    f = f or Filters()
    d = OverdueDaily
    first = get_calendar().local_date(clock.now()) - timedelta(days=days - 1)
    query = (
        sa.select(d.day, d.reason, sa.func.sum(d.n))
        .where(d.day >= first)
        .group_by(d.day, d.reason)
        .order_by(d.day)
    )
    if f.owner_id is not None:
        query = query.where(d.owner_id == f.owner_id)
    if f.client_id is not None:
        query = query.where(d.client_id == f.client_id)
    if f.owner_id is None and f.client_id is None:
        query = query.where(d.owner_id == AGENCY_WIDE, d.client_id == AGENCY_WIDE)
    if f.reason is not None:
        query = query.where(d.reason == f.reason)
    # Every refreshed day is a point, zero when nothing (for this filter) was overdue.
    refreshed = sa.select(d.day).where(
        d.day >= first, d.owner_id == AGENCY_WIDE, d.client_id == AGENCY_WIDE
    )
    series: dict[date, dict[str, int]] = {
        day: {r.value: 0 for r in REASONS} for day in db.session.scalars(refreshed.distinct())
    }
    for day, reason, n in db.session.execute(query):
        series.setdefault(day, {r.value: 0 for r in REASONS})[reason] = int(n)
    return sorted(series.items())


def filter_choices() -> dict:
    """Recruiters and clients that have overdue items, for the filter menus."""
    owners = db.session.execute(
        sa.select(User.id, User.name)
        .where(User.id.in_(sa.select(OverdueCount.owner_id).distinct()))
        .order_by(User.name)
    ).all()
    clients = db.session.execute(
        sa.select(Client.id, Client.name)
        .where(Client.id.in_(sa.select(OverdueCount.client_id).distinct()))
        .order_by(Client.name)
    ).all()
    return {"owners": owners, "clients": clients}


def label_for(f: Filters) -> dict:
    """Names of the filtered recruiter, client and position, for the page heading."""
    out = {}
    if f.owner_id is not None:
        out["recruiter"] = db.session.scalar(sa.select(User.name).where(User.id == f.owner_id))
    if f.client_id is not None:
        out["client"] = db.session.scalar(sa.select(Client.name).where(Client.id == f.client_id))
    if f.position_id is not None:
        out["position"] = db.session.scalar(
            sa.select(Position.title).where(Position.id == f.position_id)
        )
    return out


def items_for_application(application_id: int) -> list[OverdueItem]:
    return list(
        db.session.scalars(
            sa.select(OverdueItem)
            .where(OverdueItem.application_id == application_id)
            .order_by(OverdueItem.severity)
        )
    )
