"""Candidates: create and edit them, log a contact (and say what it settled), and handle an
undeliverable message by correcting the address and sending it again."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from app import clock, labels, stored_words
from app.access import can_see_candidate
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    CandidateAction,
    Contact,
    Notification,
    NState,
    Task,
    User,
)
from app.notifications import outbox
from app.notifications.invariant import undelivered_without_contact
from app.pipeline import services as pipeline
from app.pipeline.services import PipelineError
from app.stored_words import words
from app.template_gettext import and_list

UNDELIVERABLE_TASKS = ("undeliverable", "send_failed")
# A contact "in the future" is a typo in the date, not a plan.
_FUTURE_SLACK = timedelta(minutes=5)


class DuplicateEmail(PipelineError):
    """The address is another candidate's. The message does not name them: whether the
    user may know who it is depends on who asks (see `duplicate_message`)."""

    def __init__(self, existing: Candidate):
        super().__init__(_("Another candidate already has this email address."))
        self.existing = existing


def duplicate_message(user: User, existing: Candidate) -> str:
    """What `user` is told about the candidate who already has an address: their name if
    `user` may open their record; otherwise only that it is someone they cannot see, and
    whom to ask (a manager sees everyone)."""
    if can_see_candidate(user, existing):
        return _("%(name)s already has this email address.", name=existing.name)
    return _(
        "This email address belongs to a candidate you cannot see (another recruiter's). "
        "Check the address with the candidate, or ask a manager."
    )


def find_by_email(email: str | None, *, exclude_id: int | None = None) -> Candidate | None:
    if not email:
        return None
    query = sa.select(Candidate).where(
        sa.func.lower(Candidate.email) == email.strip().lower(), Candidate.anonymised_at.is_(None)
    )
    if exclude_id is not None:
        query = query.where(Candidate.id != exclude_id)
    return db.session.scalar(query.order_by(Candidate.id).limit(1))


def save_candidate(candidate: Candidate | None, *, actor: User, data: dict) -> Candidate:
    """Create (candidate None) or update; `data` holds name, email, phone, timezone,
    language and optional_updates. One address, one person: a second record would split
    their history."""
    email = (data.get("email") or "").strip() or None
    existing = find_by_email(email, exclude_id=candidate.id if candidate else None)
    if existing is not None:
        raise DuplicateEmail(existing)
    now = clock.now()
    if candidate is None:
        candidate = Candidate(owner_id=actor.id, created_at=now)
        db.session.add(candidate)
    elif candidate.optional_updates != bool(data["optional_updates"]):
        _record_preference(candidate, actor, bool(data["optional_updates"]), now)
    candidate.name = data["name"].strip()
    candidate.email = email
    candidate.phone = (data.get("phone") or "").strip() or None
    candidate.timezone = data["timezone"]
    if "language" in data:  # BCP 47, normalised by the form or the import (None: the agency's)
        language = data["language"] or None
        if candidate.id is not None and candidate.language != language:
            _record_language(candidate, actor, language, now)
        candidate.language = language
    candidate.optional_updates = bool(data["optional_updates"])
    candidate.updated_at = now
    _commit_unless_taken(email, candidate.id)
    return candidate


def _commit_unless_taken(email: str | None, candidate_id: int | None) -> None:
    """Commit; if another request gave the address to someone else since we looked, the
    database's unique index refuses it and the user hears who has it, as with the check."""
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        existing = find_by_email(email, exclude_id=candidate_id)
        if existing is None:
            raise
        raise DuplicateEmail(existing) from None


def _record_preference(candidate: Candidate, actor: User, enabled: bool, now: datetime) -> None:
    db.session.add(
        CandidateAction(
            candidate_id=candidate.id,
            action="preferences_changed",
            actor_id=actor.id,
            **stored_words.columns(
                "detail", words(f"action.updates_{'on' if enabled else 'off'}_by_staff")
            ),
            created_at=now,
        )
    )


def _record_language(candidate: Candidate, actor: User, language: str | None, now: datetime):
    db.session.add(
        CandidateAction(
            candidate_id=candidate.id,
            action="language_changed",
            actor_id=actor.id,
            **stored_words.columns(
                "detail", words("action.language_by_staff", language=language or None)
            ),
            created_at=now,
        )
    )


@dataclass
class ContactOutcome:
    contact: Contact
    # What the contact settled besides itself, in words ("the bounced rejection email").
    settled: list[str] = field(default_factory=list)
    tasks_closed: int = 0

    def summary(self) -> str:
        parts = list(dict.fromkeys(self.settled))
        if self.tasks_closed:
            parts.append(ngettext("%(num)d open task", "%(num)d open tasks", self.tasks_closed))
        return _("This also settles %(what)s.", what=and_list(parts)) if parts else ""


def log_contact(
    candidate: Candidate,
    *,
    actor: User,
    channel: str,
    summary: str,
    application: Application | None,
    occurred_at: datetime | None,
    settle: Collection[int] = (),
) -> ContactOutcome:
    """pipeline.log_contact, plus what it settled: owed or failed messages it discharged,
    bounced ones the contact answers (contact after the bounce), and tasks it closed."""
    now = clock.now()
    if occurred_at is not None and occurred_at > now + _FUTURE_SLACK:
        raise PipelineError(_("The contact cannot be in the future: check the date and time."))
    when = occurred_at or now
    undelivered: dict[int, str] = {}
    tasks = 0
    if application is not None:
        undelivered = {
            n.id: _(
                "the %(state)s %(message)s",
                state=labels.phrase(labels.state(n.state)),
                message=labels.kind_phrase(n.kind),
            )
            for n in _undelivered_before(application, when)
        }
        tasks = _open_tasks(application)
    contact = pipeline.log_contact(
        candidate,
        actor=actor,
        channel=channel,
        summary=summary,
        application=application,
        occurred_at=when,
        settle=settle,
    )
    if application is not None:
        tasks -= _open_tasks(application)
    discharged = db.session.execute(
        sa.select(Notification.id, Notification.kind).where(Notification.contact_id == contact.id)
    ).all()
    # A failed message counts only if it was ticked (discharged); a bounce or a drop is
    # answered by the contact itself.
    answered = {nid for nid, _ in discharged}
    undelivered = {
        nid: words
        for nid, words in undelivered.items()
        if nid in answered or nid not in _failed(undelivered)
    }
    settled = list(undelivered.values()) + [
        _("the owed %(message)s", message=labels.kind_phrase(kind))
        for nid, kind in discharged
        if nid not in undelivered
    ]
    return ContactOutcome(contact, settled, tasks or 0)


def _open_tasks(application: Application) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Task)
            .where(Task.application_id == application.id, Task.resolved_at.is_(None))
        )
        or 0
    )


def _failed(ids) -> set[int]:
    if not ids:
        return set()
    return set(
        db.session.scalars(
            sa.select(Notification.id).where(
                Notification.id.in_(list(ids)), Notification.failed_at.is_not(None)
            )
        )
    )


def _undelivered_before(application: Application, when: datetime) -> list[Notification]:
    """Messages that never reached the candidate and that a contact at `when` answers."""
    gave_up = sa.func.coalesce(
        Notification.bounced_at, Notification.dropped_at, Notification.failed_at
    )
    return list(
        db.session.scalars(
            undelivered_without_contact().where(
                Notification.application_id == application.id, gave_up <= when
            )
        )
    )


def fix_email_and_retry(task: Task, *, actor: User, email: str) -> Notification | None:
    """The address was wrong: correct it and send the message again. Returns the message
    that will go (None when the application has moved on and newer news replaces it)."""
    if task.kind not in UNDELIVERABLE_TASKS or task.resolved_at is not None:
        raise PipelineError(_("That problem has already been handled."))
    candidate = db.session.get(Candidate, task.candidate_id)
    existing = find_by_email(email, exclude_id=candidate.id)
    if existing is not None:
        raise DuplicateEmail(existing)
    now = clock.now()
    candidate.email, candidate.updated_at = email.strip(), now
    retry = _resend(db.session.get(Notification, task.notification_id), task, now)
    task.resolved_at, task.resolved_by_id = now, actor.id
    _commit_unless_taken(email, candidate.id)
    return retry


def _resend(n: Notification | None, task: Task, now: datetime) -> Notification | None:
    if n is None:
        return None
    if n.state == NState.FAILED:
        # Same row again, as `flask notifications retry-failed` does: it never left.
        n.state, n.failed_at, n.error_kind = NState.PENDING.value, None, None
        stored_words.put(n, "last_error", None)
        n.to_email = db.session.get(Candidate, n.candidate_id).email
        outbox.expedite(n, now)
        return n
    application = db.session.get(Application, n.application_id)
    if n.app_version != application.version:
        return None  # a newer message about this application has been owed since
    # A bounced row keeps its history; a fresh copy goes to the corrected address.
    retry = outbox.owe(
        application,
        n.kind,
        reason=n.reason,
        note=n.personal_note,
        context=dict(n.context or {}),
        key_extra=f"retry{task.id}",
        now=now,
    )
    if retry is not None:
        outbox.expedite(retry, now)
    return retry


def mark_task_done(task: Task, *, actor: User) -> None:
    """Close a task whose settling happened outside Closeloop (the client was told, or
    chased); who closed it and when is kept on the task."""
    if task.resolved_at is not None:
        raise PipelineError(_("That task has already been handled."))
    task.resolved_at, task.resolved_by_id = clock.now(), actor.id
    db.session.commit()
