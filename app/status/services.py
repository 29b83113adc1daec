"""What a candidate can do about their own applications, without an account: ask for an
update, withdraw, choose their emails, get a fresh link. The status pages call these, and so
will a future API; every change is written with what it owes in one transaction."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis
import sqlalchemy as sa
from flask import current_app

from app import clock, languages, stored_words
from app.extensions import db
from app.models import Application, Candidate, CandidateAction, Notification, Task, User
from app.models.notifications import WAITING
from app.notifications import outbox
from app.notifications.dispatch import NOTIFICATIONS_QUEUE, queue
from app.notifications.timing import next_business_moment
from app.pipeline import services as pipeline
from app.stored_words import Said, words
from app.template_gettext import lazy_gettext as _l

LINK_BUCKET_SECONDS = 15 * 60
log = logging.getLogger(__name__)


class StatusError(ValueError):
    """A request we cannot carry out; the message is shown to the candidate as is."""


class TooSoon(StatusError):
    def __init__(self, message: str, requested_at: datetime):
        super().__init__(message)
        self.requested_at = requested_at


def own_application(candidate: Candidate, application_id: int) -> Application:
    """The application, only if it is this candidate's: a link never reaches anyone else's."""
    application = db.session.scalar(
        sa.select(Application).where(
            Application.id == application_id, Application.candidate_id == candidate.id
        )
    )
    if application is None:
        raise StatusError(_l("We could not find that application."))
    return application


def last_update_request(application: Application) -> CandidateAction | None:
    return db.session.scalar(
        sa.select(CandidateAction)
        .where(
            CandidateAction.application_id == application.id,
            CandidateAction.action == "update_requested",
        )
        .order_by(CandidateAction.created_at.desc(), CandidateAction.id.desc())
        .limit(1)
    )


def next_request_allowed(application: Application) -> datetime | None:
    """When the candidate may ask again (None: now)."""
    last = last_update_request(application)
    if last is None:
        return None
    cooldown = timedelta(hours=current_app.config["UPDATE_REQUEST_COOLDOWN_HOURS"])
    allowed = last.created_at + cooldown
    return allowed if allowed > clock.now() else None


def request_update(candidate: Candidate, application_id: int) -> Task:
    """One click on "request an update": a task in the recruiter's queue, and the reply owed
    now — sent by the recruiter from the task, or automatically (with the current status)
    when the SLA runs out. Rate-limited to one request per application per cooldown."""
    application = own_application(candidate, application_id)
    _lock(application)
    if application.is_terminal:
        raise StatusError(_l("This application has ended, so there is no update to ask for."))
    now = clock.now()
    last = last_update_request(application)
    if next_request_allowed(application) is not None:
        raise TooSoon(
            _l("You have already asked for an update on this application."), last.created_at
        )
    due = reply_due(candidate, now)
    n = outbox.owe(
        application,
        "update_reply",
        context={"requested_at": now.isoformat()},
        key_extra=f"r{int(now.timestamp())}",
        now=now,
    )
    if n is None:  # the same click twice within a second
        raise TooSoon(_l("You have already asked for an update on this application."), now)
    n.due_at = due
    position = application.position
    task = outbox.open_task(
        kind="update_request",
        title=words(
            "task.update_request",
            name=candidate.name,
            position=position.title,
            client=position.client.name,
        ),
        detail=words("detail.update_request"),
        dedupe_key=f"update_request:{n.id}",
        candidate_id=candidate.id,
        application_id=application.id,
        notification_id=n.id,
        assignee_id=position.owner_id,
        due_at=due,
    )
    _record(candidate, "update_requested", application, now=now)
    db.session.commit()
    return task


def reply_due(candidate: Candidate, now: datetime) -> datetime:
    due = now + timedelta(hours=current_app.config["UPDATE_REQUEST_SLA_HOURS"])
    if current_app.config["BUSINESS_HOURS_ENFORCED"]:
        due = next_business_moment(due, candidate.timezone)
    return due


def answer_update_request(task: Task, *, actor: User, message: str) -> Notification:
    """The recruiter's personal answer goes now, in place of the automatic one."""
    message = (message or "").strip()
    if task.kind != "update_request" or task.resolved_at is not None:
        raise StatusError(_l("That request has already been answered."))
    if not message:
        raise StatusError(_l("Write a short answer for the candidate."))
    now = clock.now()
    application = db.session.get(Application, task.application_id)
    if application.is_terminal:
        # The outcome answers the request. A reply now would go before the outcome's undo
        # window is over, and tell someone whose application ended that it is under way.
        task.resolved_at, task.resolved_by_id = now, actor.id
        db.session.commit()
        raise StatusError(
            _l(
                "This application has ended: the candidate is told its outcome, which answers "
                "their request, so no separate reply was sent."
            )
        )
    owed = db.session.get(Notification, task.notification_id) if task.notification_id else None
    if owed is not None and owed.state in WAITING:
        owed.personal_note = message
        outbox.expedite(owed, now)
        reply = owed
    else:  # already answered automatically, or overtaken by a change: answer again
        reply = outbox.owe(
            application, "update_reply", note=message, key_extra=f"answer{task.id}", now=now
        )
    task.resolved_at, task.resolved_by_id = now, actor.id
    db.session.commit()
    return reply


def withdraw(candidate: Candidate, application_id: int) -> Notification | None:
    """The candidate withdraws: the application ends, the acknowledgement goes at once and
    the recruiter gets a task to tell the client."""
    application = own_application(candidate, application_id)
    _lock(application)
    if application.is_terminal:
        raise StatusError(_l("This application has already ended."))
    position = application.position
    now = clock.now()
    outbox.open_task(
        kind="candidate_withdrew",
        title=words(
            "task.candidate_withdrew",
            name=candidate.name,
            position=position.title,
            client=position.client.name,
        ),
        dedupe_key=f"candidate_withdrew:{application.id}:v{application.version}",
        candidate_id=candidate.id,
        application_id=application.id,
        assignee_id=position.owner_id,
        due_at=now + timedelta(days=1),
    )
    _record(candidate, "withdrew", application, now=now)
    try:
        return pipeline.withdraw(application, actor=None)
    except pipeline.PipelineError as exc:
        db.session.rollback()
        raise StatusError(str(exc)) from None


def set_optional_updates(candidate: Candidate, enabled: bool, *, via: str = "page") -> bool:
    """Switch optional updates (still-deciding reminders, reminders in digests) on or off.
    Outcome messages ignore this. Returns whether anything changed."""
    if candidate.optional_updates == enabled:
        return False
    candidate.optional_updates = enabled
    action = "unsubscribed" if via == "unsubscribe" else "preferences_changed"
    _record(candidate, action, detail=words(f"action.updates_{'on' if enabled else 'off'}"))
    db.session.commit()
    return True


def set_language(candidate: Candidate, tag: str) -> bool:
    """The language of the candidate's emails and status page from now on ("Read this
    in…"); only the shipped ones are offered there. Returns whether anything changed."""
    if tag not in languages.SHIPPED:
        raise StatusError(_l("Choose one of the languages offered."))
    if candidate.language == tag:
        return False
    candidate.language = tag
    _record(candidate, "language_changed", detail=words("action.language", language=tag))
    db.session.commit()
    return True


LINK_JOB = "workers.jobs.send_status_link"


def request_link_later(email: str) -> None:
    """Hand "email me a new link" to a worker (`request_link` in a job). Looking the address
    up and owing the email take time only when it is on file: done in the request, the
    answer came twice as slowly for known addresses. Every request now does the same
    thing, whatever the address. If Redis cannot take the job, the work is done here rather
    than lost (while Redis is down, the per-address rate limit is off as well)."""
    try:
        queue(NOTIFICATIONS_QUEUE).enqueue(
            LINK_JOB, email, job_timeout=60, result_ttl=0, failure_ttl=24 * 3600
        )
    except (redis.exceptions.RedisError, OSError):
        log.warning("link request not queued (Redis unavailable): handled in the request")
        request_link(email)


def request_link(email: str) -> int:
    """Email a fresh status link to whoever has this address on file. Says nothing about
    whether anyone does; at most one link per candidate per quarter hour."""
    address = (email or "").strip().lower()
    if "@" not in address or len(address) > 320:
        return 0
    now = clock.now()
    bucket = int(now.timestamp()) // LINK_BUCKET_SECONDS
    owed = 0
    candidates = db.session.scalars(
        sa.select(Candidate).where(
            sa.func.lower(Candidate.email) == address, Candidate.anonymised_at.is_(None)
        )
    )
    for candidate in candidates:
        latest = _latest_application(candidate)
        if latest is None:
            continue  # nothing to show them
        n = outbox.owe(latest, "status_link", key_extra=f"link{bucket}", now=now)
        if n is not None:
            _record(candidate, "link_requested", now=now)
            owed += 1
    db.session.commit()
    return owed


def _latest_application(candidate: Candidate) -> Application | None:
    return db.session.scalar(
        sa.select(Application)
        .where(Application.candidate_id == candidate.id)
        .order_by(Application.updated_at.desc(), Application.id.desc())
        .limit(1)
    )


def _lock(application: Application) -> None:
    # PostgreSQL: two clicks at once queue here instead of both passing the checks.
    db.session.execute(
        sa.select(Application.id).where(Application.id == application.id).with_for_update()
    )
    db.session.refresh(application)


def _record(
    candidate: Candidate,
    action: str,
    application: Application | None = None,
    *,
    detail: Said | None = None,
    now: datetime | None = None,
) -> None:
    db.session.add(
        CandidateAction(
            candidate_id=candidate.id,
            application_id=application.id if application else None,
            action=action,
            **stored_words.columns("detail", detail, limit=300),
            created_at=now or clock.now(),
        )
    )
