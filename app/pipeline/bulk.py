"""Bulk changes from a position's board: many applications moved (or rejected) at once, each
candidate shown the exact email first, all written in ONE transaction or not at all, and
undone together while the undo window lasts.

The rules for one move stay in services.plan_move; this module only decides which of the
selected applications may take part and what the recruiter must be told.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from app import clock, labels
from app.extensions import db
from app.models import (
    ACTIVE_STAGES,
    Application,
    Notification,
    NState,
    Position,
    Stage,
    StageEvent,
    Task,
    User,
)
from app.models.notifications import WAITING
from app.notifications import outbox
from app.orm import parse_id
from app.pipeline import preview
from app.pipeline.services import PipelineError, plan_move, plan_undo
from app.stored_words import words
from app.template_gettext import and_list
from app.template_gettext import fast_gettext as _
from app.template_gettext import fast_ngettext as ngettext

MAX_SELECTION = 500


def news_for(kind: str, position: Position) -> str:
    return labels.phone_news(kind, position.client.name, position.title)


def target_stage(action: str | None, stage: str | None) -> Stage:
    """The board's bulk bar: reject, or move to an active stage."""
    if action == "reject":
        return Stage.REJECTED
    if action == "move":
        try:
            to_stage = Stage(stage or "")
        except ValueError:
            raise PipelineError(_("Choose the stage to move the selected candidates to.")) from None
        if to_stage not in ACTIVE_STAGES:
            raise PipelineError(_("Use “Reject selected” to end applications."))
        return to_stage
    raise PipelineError(_("Choose what to do with the selected candidates."))


def parse_ids(values: list[str]) -> tuple[list[int], list[str]]:
    """Distinct ids in the order given; anything that is not an id is named, not dropped."""
    ids: list[int] = []
    refused: list[str] = []
    for value in values:
        application_id = parse_id(value)
        if application_id is None:
            refused.append(_("“%(value)s” is not an application id.", value=value[:40]))
        elif application_id not in ids:
            ids.append(application_id)
    if len(ids) > MAX_SELECTION:
        refused.append(
            ngettext(
                "Select at most %(num)d candidate at a time.",
                "Select at most %(num)d candidates at a time.",
                MAX_SELECTION,
            )
        )
        ids = ids[:MAX_SELECTION]
    return ids, refused


def select(position: Position, ids: list[int]) -> tuple[list[Application], list[str]]:
    """The applications that may take part, and a message for each one that may not.

    The position is already checked to be the user's; an application of any other
    position (their own or someone else's) is refused without saying whose it is.
    """
    found = {
        a.id: a for a in db.session.scalars(sa.select(Application).where(Application.id.in_(ids)))
    }
    chosen: list[Application] = []
    refused: list[str] = []
    for app_id in ids:
        application = found.get(app_id)
        if application is None or application.position_id != position.id:
            refused.append(
                _(
                    "Application #%(id)s is not on the board of %(title)s.",
                    id=app_id,
                    title=position.title,
                )
            )
        elif application.is_terminal:
            label = labels.phrase(labels.stage(application.stage))
            refused.append(
                _(
                    "%(name)s has already ended (%(stage)s).",
                    name=application.candidate.name,
                    stage=label,
                )
            )
        else:
            chosen.append(application)
    chosen.sort(key=lambda a: (a.candidate.name.casefold(), a.id))
    return chosen, refused


def load(position: Position, ids: list[int]) -> list[Application]:
    """This position's applications among `ids` (for the result page and undo)."""
    if not ids:
        return []
    return list(
        db.session.scalars(
            sa.select(Application)
            .where(Application.id.in_(ids), Application.position_id == position.id)
            .order_by(Application.id)
        )
    )


@dataclass(frozen=True)
class Row:
    application: Application
    preview: preview.Preview | None = None
    error: str | None = None  # the move itself is not allowed for this one


@dataclass
class Review:
    to_stage: Stage
    rows: list[Row] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    needs_reason: bool = False

    @property
    def blocked(self) -> list[Row]:
        return [r for r in self.rows if r.preview and r.preview.blocked]

    @property
    def errors(self) -> list[Row]:
        return [r for r in self.rows if r.error]

    @property
    def by_phone(self) -> list[Row]:
        return [r for r in self.rows if r.preview and r.preview.contact_by_phone]

    @property
    def emails(self) -> list[Row]:
        return [r for r in self.rows if r.preview and r.preview.kind and r.preview.to_email]

    @property
    def ready_for_chosen(self) -> bool:
        """Every chosen application can go; refused ones (named) are left out."""
        return bool(self.rows) and not (self.needs_reason or self.blocked or self.errors)

    @property
    def ready(self) -> bool:
        return self.ready_for_chosen and not self.refused

    def blocked_message(self) -> str:
        """Candidates missing the same fields are named together, in one sentence."""
        by_gap: dict[str, list[str]] = {}
        for r in self.blocked:
            missing = r.preview.missing
            others = [p.rstrip(".") for p in r.preview.problems[len(missing) :]]
            gap = and_list([*missing, *others])
            by_gap.setdefault(gap, []).append(r.application.candidate.name)
        return " ".join(
            ngettext(
                "%(names)s is missing %(gap)s.",
                "%(names)s are missing %(gap)s.",
                len(names),
                names=and_list(names),
                gap=gap,
            )
            for gap, names in by_gap.items()
        )


def review(
    applications: list[Application],
    to_stage: Stage,
    *,
    actor: User,
    reason: str | None,
    note: str | None,
    refused: list[str] | None = None,
) -> Review:
    """Each candidate's exact email, rendered by running their move in a savepoint."""
    result = Review(to_stage=to_stage, refused=list(refused or []))
    if to_stage == Stage.REJECTED and not reason:
        result.needs_reason = True
        result.rows = [Row(a) for a in applications]
        return result
    for application in applications:
        try:
            shown = preview.preview_move(
                application, to_stage, actor=actor, reason=reason, note=note
            )
            result.rows.append(Row(application, preview=shown))
        except PipelineError as exc:
            result.rows.append(Row(application, error=str(exc)))
    return result


def apply(
    applications: list[Application],
    to_stage: Stage,
    *,
    actor: User,
    reason: str | None,
    note: str | None,
) -> list[int]:
    """Every move, its history, the messages owed and the phone tasks, in one commit.
    A PipelineError from any move rolls back all of them; it names the candidate."""
    now = clock.now()
    try:
        lock(applications)
        for application in applications:
            name = application.candidate.name
            if application.is_terminal:
                raise PipelineError(
                    _("%(name)s has already ended: nothing was changed.", name=name)
                )
            try:
                n = plan_move(application, to_stage, actor, reason, note, now)
            except PipelineError as exc:
                raise PipelineError(
                    _("%(name)s: %(problem)s Nothing was changed.", name=name, problem=exc)
                ) from None
            if n is not None and not application.candidate.email:
                open_phone_task(n, application)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return [a.id for a in applications]


def lock(applications: list[Application]) -> None:
    """Lock the rows and re-read them: a change another recruiter committed since the
    preview is seen (and refused by plan_move), not overwritten."""
    if applications:
        db.session.scalars(
            sa.select(Application)
            .where(Application.id.in_([a.id for a in applications]))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()


def open_phone_task(n: Notification, application: Application) -> Task | None:
    """The candidate has no email: ask the recruiter to call them now.

    The send path opens a task under the same key when such a message comes due, so it
    finds this one and adds none.
    """
    candidate = application.candidate
    position = application.position
    return outbox.open_task(
        kind="call_candidate",
        title=words(
            "task.call_candidate",
            name=candidate.name,
            news=[n.kind, position.client.name, position.title],
        ),
        detail=words("detail.call_candidate", phone=candidate.phone or None),
        dedupe_key=outbox.undeliverable_task_key(n.id),
        candidate_id=candidate.id,
        application_id=application.id,
        notification_id=n.id,
        assignee_id=position.owner_id,
        due_at=n.due_at,
    )


@dataclass
class Outcome:
    """What a bulk move left behind, read back from the database for the result page."""

    to_stage: Stage
    moved: list[Application] = field(default_factory=list)
    changed_since: list[Application] = field(default_factory=list)
    owed: list[Notification] = field(default_factory=list)
    left: int = 0  # messages already handed over: undo is no longer possible for those
    phone_tasks: list[Task] = field(default_factory=list)

    @property
    def first_leaves(self):
        due = [n.due_at for n in self.owed]
        return min(due) if due else None

    @property
    def last_leaves(self):
        due = [n.due_at for n in self.owed]
        return max(due) if due else None

    @property
    def can_undo(self) -> bool:
        return bool(self.moved) and self.left == 0


def outcome(applications: list[Application], to_stage: Stage) -> Outcome:
    result = Outcome(to_stage=to_stage)
    for a in applications:
        (result.moved if a.stage == to_stage else result.changed_since).append(a)
    ids = [a.id for a in result.moved]
    if not ids:
        return result
    versions = {a.id: a.version for a in result.moved}
    current = [
        n
        for n in db.session.scalars(
            sa.select(Notification)
            .where(Notification.application_id.in_(ids))
            .order_by(Notification.due_at, Notification.id)
        )
        if n.app_version == versions[n.application_id]
    ]
    result.owed = [n for n in current if n.state in WAITING and n.to_email]
    result.left = sum(1 for n in current if n.state not in WAITING)
    result.phone_tasks = list(
        db.session.scalars(
            sa.select(Task)
            .where(Task.notification_id.in_([n.id for n in current]), Task.resolved_at.is_(None))
            .order_by(Task.id)
        )
    )
    return result


def undo_all(applications: list[Application], to_stage: Stage, *, actor: User) -> list[str]:
    """Take the whole bulk move back in one transaction. Candidates whose email has left
    (or who were changed again since) stay as they are; the returned messages name them."""
    now = clock.now()
    skipped: list[str] = []
    undone: list[Application] = []
    try:
        lock(applications)
        for application in applications:
            name = application.candidate.name
            if application.stage != to_stage or not _last_move_was(application, to_stage):
                skipped.append(_("%(name)s has been changed since: left as they are.", name=name))
                continue
            try:
                with db.session.begin_nested():
                    plan_undo(application, actor=actor, now=now)
            except PipelineError as exc:
                skipped.append(f"{name}: {exc}")
                continue
            undone.append(application)
        _resolve_phone_tasks([a.id for a in undone], actor, now)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return skipped


def _last_move_was(application: Application, to_stage: Stage) -> bool:
    last = db.session.scalar(
        sa.select(StageEvent.to_stage)
        .where(StageEvent.application_id == application.id)
        .order_by(StageEvent.id.desc())
        .limit(1)
    )
    return last == to_stage.value


def _resolve_phone_tasks(application_ids: list[int], actor: User, now) -> None:
    """The call is no longer needed once the message it stood for was taken back."""
    if not application_ids:
        return
    superseded = sa.select(Notification.id).where(
        Notification.application_id.in_(application_ids),
        Notification.state == NState.SUPERSEDED.value,
    )
    db.session.execute(
        sa.update(Task)
        .where(Task.notification_id.in_(superseded), Task.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by_id=actor.id)
        .execution_options(synchronize_session=False)
    )
