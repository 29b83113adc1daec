"""Between claiming and sending: load the claimed rows, put each candidate's status messages
into one email (a digest when there are several), apply their preferences and the nuisance
limits (pacing.py), and render. Nothing here talks to the provider."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, load_only, selectinload

from app import clock, stored_words
from app.bulk_sql import ids_in
from app.extensions import db
from app.models import Application, Notification, NState, Position
from app.notifications import outbox, pacing, reply_tokens
from app.notifications.backends import OutgoingEmail
from app.notifications.kinds import KINDS
from app.notifications.render import Rendered, RenderError, render_email
from app.notifications.stencils import Stencils
from app.stored_words import Said, words

SLACK = timedelta(seconds=5)
OPTED_OUT = "candidate opted out of optional updates"


@dataclass(frozen=True)
class Prepared:
    """Everything needed to send and record one email, as plain data: no database access
    (and on SQLite, no lock) is held while the provider is called. A digest carries the
    ids of every notification it answers; the first is the one the provider reports on."""

    ids: tuple[int, ...]
    application_ids: tuple[int, ...]
    attempts: int
    message: OutgoingEmail
    rendered: Rendered

    @property
    def id(self) -> int:
        return self.ids[0]


@dataclass
class Plan:
    ready: list[Prepared] = field(default_factory=list)
    failed: int = 0
    held: int = 0
    skipped: int = 0
    # Could not be rendered: kind -> (ids, highest attempts, the error). Our templates or
    # code are at fault, not the candidate's data: the caller keeps them owed.
    unrendered: dict[str, tuple[list[int], int, str]] = field(default_factory=dict)
    rendered_kinds: set[str] = field(default_factory=set)


def prepare(ids: list[int], now: datetime) -> Plan:
    """Turn claimed rows into emails; the caller commits."""
    groups = _groups(_load(ids))
    candidate_ids = sorted({group[0].candidate_id for group in groups})
    pacing.decide_alone(candidate_ids)  # held until the caller commits what was decided
    pacing.prefetch_sent(candidate_ids, now, mine=ids)
    try:
        return _plan(groups, now)
    finally:
        pacing.forget_prefetched()


def _plan(groups: list[list[Notification]], now: datetime) -> Plan:
    plan = Plan()
    stencils = Stencils()  # this batch's layouts, never shared with another job
    for group in groups:
        candidate = group[0].candidate
        if not candidate.email:
            for n in group:
                fail(n, words("error.no_address"), "no_address")
            plan.failed += len(group)
            continue
        group = _without_opted_out(group, plan)
        if not group:
            continue
        if not KINDS[group[0].kind].requested:
            slot, why = pacing.slot(candidate, now, pacing.answering(group))
            if slot > now + SLACK:
                if why == ["last_of_day"]:
                    reason = pacing.LAST_OF_DAY_HELD
                else:
                    reason = pacing.hold_reason(candidate, now)
                pacing.hold([n.id for n in group], slot, reason, now)
                plan.held += len(group)
                continue
        try:
            rendered = render_email(group, stencils)
        except RenderError as exc:
            ids, attempts, _ = plan.unrendered.get(group[0].kind, ([], 0, ""))
            ids += [n.id for n in group]
            attempts = max(attempts, *(n.attempts for n in group))
            plan.unrendered[group[0].kind] = (ids, attempts, str(exc))
            continue
        plan.rendered_kinds.update(n.kind for n in group)
        plan.ready.append(_prepared(group, rendered))
    if stencils.upgrades:
        # The first email of a shape that got a stencil joins the rest of its shape, so the
        # whole shape goes in one request.
        plan.ready = [_upgraded(p, stencils.upgrades.get(p.id)) for p in plan.ready]
    return plan


def _upgraded(p: Prepared, upgrade) -> Prepared:
    if upgrade is None:
        return p
    shared, fills = upgrade
    return replace(
        p,
        message=replace(p.message, shared=shared, fills=fills),
        rendered=replace(p.rendered, shared=shared, fills=fills),
    )


def _groups(rows: list[Notification]) -> list[list[Notification]]:
    """Answers to the candidate's own actions go alone; the rest, one email per candidate."""
    groups: list[list[Notification]] = []
    by_candidate: dict[int, list[Notification]] = {}
    for n in rows:
        if KINDS[n.kind].requested:
            groups.append([n])
        else:
            by_candidate.setdefault(n.candidate_id, []).append(n)
    return groups + list(by_candidate.values())


def _without_opted_out(group: list[Notification], plan: Plan) -> list[Notification]:
    """Optional updates the candidate switched off are settled, with the reason, unsent."""
    if group[0].candidate.optional_updates:
        return group
    dropped = [n.id for n in group if KINDS[n.kind].category == "optional"]
    if dropped:
        db.session.execute(
            sa.update(Notification)
            .where(Notification.id.in_(dropped), Notification.state == NState.SENDING.value)
            .values(state=NState.PENDING.value, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        plan.skipped += outbox.discharge(dropped, reason=OPTED_OUT, user_id=None)
    return [n for n in group if n.id not in dropped]


def _prepared(group: list[Notification], r: Rendered) -> Prepared:
    lead = group[0]
    message = OutgoingEmail(
        notification_id=lead.id,
        to_email=lead.candidate.email,
        to_name=lead.candidate.name,
        subject=r.subject,
        text=r.text,
        html=r.html,
        category=lead.kind if len(group) == 1 else "digest",
        headers=dict(r.headers),
        reply_to=reply_tokens.reply_to(lead.id, lead.application.position.owner.email),
        member_ids=tuple(n.id for n in group[1:]),
        shared=r.shared,
        fills=r.fills,
    )
    return Prepared(
        ids=tuple(n.id for n in group),
        application_ids=tuple(sorted({n.application_id for n in group})),
        attempts=max(n.attempts for n in group),
        message=message,
        rendered=r,
    )


# What preparing and rendering read of a row; any other column still loads on first use.
_COLUMNS = (
    Notification.id,
    Notification.application_id,
    Notification.candidate_id,
    Notification.kind,
    Notification.category,
    Notification.state,
    Notification.app_version,
    Notification.attempts,
    Notification.reason,
    Notification.personal_note,
    Notification.context,
    Notification.due_at,
)


def _load(ids: list[int]) -> list[Notification]:
    # One query for the rows with their candidate and application (one of each per row);
    # positions, clients and recruiters are few per batch and come in their own queries.
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(ids_in(db.session, Notification.id, ids))
            .options(
                load_only(*_COLUMNS),
                joinedload(Notification.candidate, innerjoin=True),
                joinedload(Notification.application, innerjoin=True)
                .selectinload(Application.position)
                .options(selectinload(Position.client), selectinload(Position.owner)),
            )
            .order_by(Notification.id)
        )
    )


def warm_up() -> None:
    """Load the newest notification the way a send job does, and forget it: the ORM sets up
    its loader strategies on first use (some 80 ms), which a fork worker would otherwise
    pay in every job's child. Read-only."""
    newest = db.session.scalar(sa.select(sa.func.max(Notification.id)))
    if newest is not None:
        _load([newest])
    db.session.rollback()


def fail(n: Notification, reason: Said | str, kind: str) -> None:
    """A permanent failure: the debt stays visible as a task for the recruiter. `reason`:
    stored words (app/stored_words.py), or the provider's own text."""
    now = clock.now()
    n.state = NState.FAILED.value
    n.failed_at = now
    stored_words.put(n, "last_error", reason)
    n.error_kind = kind
    n.lease_expires_at = None
    position = n.application.position
    outbox.open_task(
        kind="send_failed",
        title=words("task.send_failed", name=n.candidate.name),
        detail=reason,
        dedupe_key=outbox.undeliverable_task_key(n.id),
        candidate_id=n.candidate_id,
        application_id=n.application_id,
        notification_id=n.id,
        assignee_id=position.owner_id,
        due_at=now + timedelta(days=1),
    )
