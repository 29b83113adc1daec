"""Putting a position on hold, cancelling or filling it: who will be told what (before),
and how far the fan-out of those messages has got (after).

The change itself is services.close_position; this module only describes it. The fan-out
is recognised without a table of its own: the rows close_position owes are the position's
notifications of the action's kind created at the moment of the change
(Position.status_changed_at, the same `now` close_position writes on both).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import selectinload

from app import clock, dates
from app.extensions import db
from app.models import (
    ACTIVE_STAGES,
    Application,
    Candidate,
    Notification,
    OutcomeReason,
    Position,
    PositionStatus,
    Stage,
    User,
)
from app.models.notifications import ACCEPTED, SETTLED, UNDELIVERED, WAITING
from app.notifications import outbox
from app.notifications.kinds import KINDS, outcome_kind
from app.notifications.timing import candidate_zone, due_time
from app.pipeline import preview
from app.pipeline.bulk import news_for
from app.pipeline.lifecycle import (
    STATUS_KINDS,
    closed_by_last_close,
    reopen_blocker,
    told_of_hold,
)
from app.pipeline.services import close_position, plan_move
from app.template_gettext import lazy_gettext as _l


@dataclass(frozen=True)
class Action:
    name: str
    status: PositionStatus
    verb: str  # "Cancel", for buttons and headings
    reasons: tuple[str, ...] = ()  # empty: a free-text reason (hold)


ACTIONS = {
    "hold": Action("hold", PositionStatus.ON_HOLD, _l("Put on hold")),
    "cancel": Action(
        "cancel",
        PositionStatus.CANCELLED,
        _l("Cancel"),
        (OutcomeReason.BUDGET_CUT, OutcomeReason.CLIENT_WITHDREW, OutcomeReason.FILLED_INTERNALLY),
    ),
    "fill": Action(
        "fill",
        PositionStatus.FILLED,
        _l("Mark filled"),
        (OutcomeReason.FILLED_BY_OTHER, OutcomeReason.FILLED_INTERNALLY),
    ),
}


def kind_for(action: Action, reason: str) -> str:
    if action.status == PositionStatus.ON_HOLD:
        return "position_on_hold"
    return outcome_kind(Stage.POSITION_CLOSED, reason)


def active_applications(position: Position) -> list[Application]:
    return list(
        db.session.scalars(
            sa.select(Application)
            .join(Candidate, Candidate.id == Application.candidate_id)
            .where(
                Application.position_id == position.id,
                Application.stage.in_([s.value for s in ACTIVE_STAGES]),
            )
            .order_by(Candidate.name, Application.id)
            .options(selectinload(Application.candidate))
        )
    )


@dataclass
class Group:
    kind: str
    news: str
    applications: list[Application]
    sample: preview.Preview | None


@dataclass
class ClosePlan:
    action: Action
    reason: str
    active: int = 0
    groups: list[Group] = field(default_factory=list)
    by_phone: list[Application] = field(default_factory=list)
    first_leaves: datetime | None = None
    last_leaves: datetime | None = None


def plan_close(position: Position, action: Action, reason: str, *, actor: User) -> ClosePlan:
    """Who will be told what, with one real rendered email per message (a dry run)."""
    plan = ClosePlan(action=action, reason=reason)
    applications = active_applications(position)
    plan.active = len(applications)
    if not applications or not reason:
        return plan
    kind = kind_for(action, reason)
    emailed = [a for a in applications if a.candidate.email]
    plan.by_phone = [a for a in applications if not a.candidate.email]
    if emailed:
        sample = _sample(emailed[0], action, reason, actor)
        plan.groups.append(Group(kind, news_for(kind, position), emailed, sample))
    now = clock.now()
    due = [due_time(kind, a.candidate.timezone, now, a.promised_response_at) for a in emailed]
    if due:
        plan.first_leaves, plan.last_leaves = min(due), max(due)
    return plan


def _sample(application: Application, action: Action, reason: str, actor: User):
    """The email close_position will owe this candidate, rendered and rolled back."""
    if action.status == PositionStatus.ON_HOLD:

        def change(now):
            # As lifecycle._hold: same application, next version, no reason in the message.
            application.version += 1
            return outbox.owe(application, "position_on_hold", now=now)

    else:

        def change(now):
            return plan_move(application, Stage.POSITION_CLOSED, actor, reason, None, now)

    return preview.dry_run(application, change)


@dataclass
class ReopenPlan:
    from_hold: bool
    blocker: str | None = None
    told: list[Application] = field(default_factory=list)  # hear "open again"
    untold: int = 0  # their hold message had not gone out: withdrawn, nothing to say
    back_to: dict[str, int] = field(default_factory=dict)  # undo a close: stage -> count
    sample: preview.Preview | None = None


def plan_reopen(position: Position, *, actor: User) -> ReopenPlan:
    """What reopening would do, with the email the first candidate told would get."""
    plan = ReopenPlan(
        from_hold=position.status == PositionStatus.ON_HOLD, blocker=reopen_blocker(position)
    )
    if plan.blocker:
        return plan
    if plan.from_hold:
        told = told_of_hold(position)
        active = active_applications(position)
        plan.told = [a for a in active if a.id in told]
        plan.untold = len(active) - len(plan.told)
        emailed = [a for a in plan.told if a.candidate.email]
        if emailed:
            plan.sample = _reopened_sample(emailed[0])
        return plan
    plan.back_to = dict(Counter(r.from_stage for r in closed_by_last_close(position)))
    return plan


def _reopened_sample(application: Application):
    def change(now):
        application.version += 1  # as reopen_position: next version, then owed
        return outbox.owe(application, "position_reopened", now=now)

    return preview.dry_run(application, change)


def close(position: Position, action: Action, reason: str, *, actor: User) -> dict:
    """close_position: its transaction also opens a phone task for every candidate without
    email (app/pipeline/lifecycle.py), so the task exists the moment the change does."""
    return close_position(position, actor=actor, status=action.status.value, reason=reason)


# -- the fan-out's progress ------------------------------------------------------------------


@dataclass
class Progress:
    owed: int = 0
    waiting: int = 0
    sending: int = 0
    handed_to_provider: int = 0
    needs_attention: int = 0
    settled: int = 0
    waiting_from: datetime | None = None
    waiting_until: datetime | None = None
    delayed: bool = True  # outcome news waits the undo window; a hold only the digest window

    @property
    def done(self) -> int:
        return self.handed_to_provider + self.needs_attention + self.settled

    @property
    def percent(self) -> int:
        return 100 if not self.owed else self.done * 100 // self.owed

    @property
    def finished(self) -> bool:
        return self.done >= self.owed


def progress(position: Position, now: datetime | None = None) -> Progress:
    now = now or clock.now()
    kinds = STATUS_KINDS.get(PositionStatus(position.status), ())
    later = Notification.due_at > now
    rows = db.session.execute(
        sa.select(
            Notification.state,
            later.label("later"),
            sa.func.count(),
            sa.func.min(Notification.due_at),
            sa.func.max(Notification.due_at),
        )
        .join(Application, Application.id == Notification.application_id)
        .where(
            Application.position_id == position.id,
            Notification.kind.in_(kinds),
            Notification.created_at == position.status_changed_at,
        )
        .group_by(Notification.state, later)
    ).all()
    result = Progress(delayed=any(KINDS[k].delayed for k in kinds))
    for state, is_later, count, first, last in rows:
        result.owed += count
        if state in WAITING and is_later:
            result.waiting += count
            result.waiting_from = _earliest(result.waiting_from, _aware(first))
            result.waiting_until = _latest(result.waiting_until, _aware(last))
        elif state in ACCEPTED:
            result.handed_to_provider += count
        elif state in UNDELIVERED:
            result.needs_attention += count
        elif state in SETTLED:
            result.settled += count
        else:  # due now, claimed or being sent
            result.sending += count
    return result


def _aware(value):
    # min()/max() bypass the column type: SQLite gives back naive UTC (or a string).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _earliest(a, b):
    return b if a is None or (b is not None and b < a) else a


def _latest(a, b):
    return b if a is None or (b is not None and b > a) else a


def describe(p: Progress, tz_name: str | None) -> str:
    """The progress in words, times in the reader's zone."""
    if not p.owed:
        return _("Nobody was active on this position: no messages were owed.")
    if p.finished and not p.needs_attention:
        return ngettext(
            "All %(count)s messages are handed to the mail provider or settled.",
            "All %(count)s messages are handed to the mail provider or settled.",
            p.owed,
            count=format(p.owed, ","),
        )
    parts = [
        _(
            "%(done)s of %(owed)s handed to the mail provider",
            done=format(p.handed_to_provider, ","),
            owed=format(p.owed, ","),
        )
    ]
    if p.sending:
        parts.append(_("%(n)s being sent now", n=format(p.sending, ",")))
    if p.waiting:
        at = clock_time(p.waiting_from, tz_name)
        if p.waiting_until and clock_time(p.waiting_until, tz_name) != at:
            at += f"–{clock_time(p.waiting_until, tz_name)}"
        rest = p.waiting == p.owed - p.done - p.sending
        if rest and p.delayed:
            parts.append(_("the rest leave at %(at)s, after the undo window", at=at))
        elif rest:
            parts.append(_("the rest leave at %(at)s, after the short digest window", at=at))
        elif p.delayed:
            parts.append(
                _("%(n)s leave at %(at)s, after the undo window", n=format(p.waiting, ","), at=at)
            )
        else:
            parts.append(
                _(
                    "%(n)s leave at %(at)s, after the short digest window",
                    n=format(p.waiting, ","),
                    at=at,
                )
            )
    if p.needs_attention:
        parts.append(
            _("%(n)s need a phone call (see your tasks)", n=format(p.needs_attention, ","))
        )
    if p.settled:
        parts.append(_("%(n)s settled without an email", n=format(p.settled, ",")))
    return _("%(parts)s.", parts="; ".join(parts))


def clock_time(moment: datetime | None, tz_name: str | None) -> str:
    if moment is None:
        return "–"
    local = moment.astimezone(candidate_zone(tz_name))
    today = clock.now().astimezone(local.tzinfo).date()
    form = "clock" if local.date() == today else "weekday_day_month_minute"
    return dates.moment(local, form, local.tzinfo)
