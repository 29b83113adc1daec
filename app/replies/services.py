"""A candidate's reply, stored once, and the answer it is owed.

A reply from the candidate (or, flagged, from another address) to one of our emails opens a
"reply owed" task for the position's recruiter, due within UPDATE_REQUEST_SLA_HOURS business
hours; past that it is overdue ("reply unanswered", app/reports/overdue.py). The recruiter's
answer is an owed message like any other (kind `reply_answer`), sent through the outbox.
Automatic mail, bounces, and replies to addresses we cannot trust are recorded and owe
nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app import clock
from app.extensions import db
from app.models import Application, InboundReply, Notification, ReplyStatus, Task, User
from app.notifications import outbox, reply_tokens
from app.replies.parsing import InboundPost, automatic, latest_reply
from app.status.services import reply_due
from app.stored_words import words

TASK_KIND = "reply_owed"


class ReplyError(ValueError):
    """The answer cannot be sent; the message is shown to the recruiter as is."""


def receive(post: InboundPost) -> tuple[InboundReply, bool]:
    """Store one post (once, however often it is delivered); returns (reply, new)."""
    key = post.dedupe_key()
    existing = _by_key(key)
    if existing is not None:
        return existing, False
    reply = InboundReply(
        dedupe_key=key,
        from_email=post.from_email or None,
        to_email=(post.to[0] if post.to else None),
        subject=post.subject or None,
        body=latest_reply(post.text),
        full_text=post.text or None,
        attachments=[a.as_dict() for a in post.attachments],
        received_at=clock.now(),
    )
    reply.status, reply.note = _classify(post, reply)
    try:
        with db.session.begin_nested():
            db.session.add(reply)
            db.session.flush()
            if reply.status in (ReplyStatus.ACCEPTED, ReplyStatus.OTHER_SENDER):
                task = _open_task(reply)
                db.session.flush()
                reply.task_id = task.id
    except IntegrityError:  # the same post, delivered twice at once
        db.session.rollback()
        return _by_key(key), False
    db.session.commit()
    return reply, True


def _by_key(key: str) -> InboundReply | None:
    return db.session.scalar(sa.select(InboundReply).where(InboundReply.dedupe_key == key))


def _classify(post: InboundPost, reply: InboundReply) -> tuple[str, str | None]:
    """The reply's status (linking it to its message when the token holds) and a note."""
    tokens = [t for t in (reply_tokens.token_in(a) for a in post.to) if t is not None]
    if not tokens:
        return ReplyStatus.NO_TOKEN, "not sent to a reply address of ours"
    try:
        token = reply_tokens.read_token(tokens[0])
    except reply_tokens.TokenError as exc:
        return exc.reason, None
    n = db.session.get(Notification, token.notification_id)
    if n is None or n.candidate is None or n.candidate.anonymised_at is not None:
        return ReplyStatus.UNKNOWN, "the message it answers is no longer on file"
    reply.notification_id, reply.application_id = n.id, n.application_id
    reply.candidate_id = n.candidate_id
    auto = automatic(post)
    if auto is not None:
        return auto, None
    candidate_email = (n.candidate.email or "").strip().lower()
    if not post.from_email or post.from_email != candidate_email:
        return ReplyStatus.OTHER_SENDER, f"sent from {post.from_email or 'no address'}"[:300]
    return ReplyStatus.ACCEPTED, None


def _open_task(reply: InboundReply) -> Task:
    application = db.session.get(Application, reply.application_id)
    candidate, position = application.candidate, application.position
    about = {"name": candidate.name, "position": position.title, "client": position.client.name}
    body = (reply.body or "")[:1000]
    if reply.status == ReplyStatus.OTHER_SENDER:
        title = words("task.reply_other_sender", **about)
        detail = words(
            "detail.reply_other_sender",
            email=reply.from_email,
            body=body or None,
        )
    else:
        title = words("task.reply", **about)
        detail = body or words("detail.reply_no_text")  # the candidate's own words as they are
    now = reply.received_at
    return outbox.open_task(
        kind=TASK_KIND,
        title=title,
        detail=detail,
        dedupe_key=f"{TASK_KIND}:{reply.id}",
        candidate_id=candidate.id,
        application_id=application.id,
        notification_id=reply.notification_id,
        assignee_id=position.owner_id,
        due_at=reply_due(candidate, now),
    )


def reply_for_task(task: Task) -> InboundReply | None:
    return db.session.scalar(sa.select(InboundReply).where(InboundReply.task_id == task.id))


def answer(task: Task, *, actor: User, message: str) -> Notification:
    """The recruiter's answer, owed now and sent through the outbox like any message."""
    message = (message or "").strip()
    if task.kind != TASK_KIND or task.resolved_at is not None:
        raise ReplyError(_("That reply has already been answered."))
    if not message:
        raise ReplyError(_("Write a short answer for the candidate."))
    application = db.session.get(Application, task.application_id)
    if application is None or application.candidate.anonymised_at is not None:
        raise ReplyError(_("This candidate's data has been erased: there is nobody to answer."))
    now = clock.now()
    owed = outbox.owe(
        application, "reply_answer", note=message, key_extra=f"answer{task.id}", now=now
    )
    if owed is None:
        raise ReplyError(_("That reply has already been answered."))
    task.resolved_at, task.resolved_by_id = now, actor.id
    db.session.commit()
    return owed


def for_application(application_id: int) -> list[InboundReply]:
    return list(
        db.session.scalars(
            sa.select(InboundReply)
            .where(InboundReply.application_id == application_id)
            .order_by(InboundReply.received_at.desc(), InboundReply.id.desc())
        )
    )
