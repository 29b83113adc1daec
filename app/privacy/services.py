"""Export and erasure of one candidate's personal data.

Erasure anonymises every personal field but keeps the proof that each owed message was
dealt with: the notification rows stay, with their kind, state, times and provider id, and
a SHA-256 of the text that was sent (so a copy the candidate produces can be matched), while
the address, the bodies and free-text notes go. Applications still open are withdrawn in the
same transaction, their withdrawal message settled as "erased on request": there is nobody
left to write to, and the promise-as-a-query (invariant.py) stays true.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from app import audit, clock, labels, stored_words
from app.extensions import db
from app.models import (
    Application,
    Candidate,
    CandidateAction,
    Contact,
    DeliveryEvent,
    InboundReply,
    MailboxMessage,
    Notification,
    OutcomeReason,
    Stage,
    StageEvent,
    Task,
    User,
)
from app.models.notifications import DISCHARGEABLE
from app.notifications import layouts, links, outbox
from app.pipeline import services as pipeline
from app.stored_words import words

ERASED_REASON = "candidate data erased on request: nobody left to write to"
EXPORT_FORMAT = "closeloop.candidate-export.v1"


class PrivacyError(ValueError):
    """Shown to the admin as is."""


def find_candidate(ref: str) -> Candidate | None:
    """By id, or by email address (case-insensitive)."""
    ref = (ref or "").strip()
    if ref.isdigit():
        return db.session.get(Candidate, int(ref))
    return db.session.scalar(
        sa.select(Candidate)
        .where(sa.func.lower(Candidate.email) == ref.lower())
        .order_by(Candidate.id)
        .limit(1)
    )


def export_candidate(candidate: Candidate, *, actor: User | None = None) -> dict:
    """Everything we hold about the candidate, as JSON-ready data; logged as an action."""
    data = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(clock.now()),
        "candidate": _fields(
            candidate,
            "id name email phone timezone optional_updates preferred_channel created_at "
            "updated_at anonymised_at",
        ),
        "applications": [_application(a) for a in _applications(candidate)],
        "messages": [
            _fields(
                n,
                "id application_id kind category state created_at due_at sent_at "
                "delivered_at bounced_at dropped_at failed_at discharged_at discharge_reason "
                "to_email subject body_text personal_note",
            )
            for n in _rows(Notification, Notification.candidate_id == candidate.id)
        ],
        "delivery_events": [
            _fields(e, "notification_id event event_type reason occurred_at")
            for e in _rows(
                DeliveryEvent, DeliveryEvent.notification_id.in_(_message_ids(candidate))
            )
        ],
        "contacts": [
            _fields(c, "id application_id channel summary occurred_at")
            for c in _rows(Contact, Contact.candidate_id == candidate.id)
        ],
        "tasks": [
            _fields(t, "id application_id kind title detail created_at due_at resolved_at")
            for t in _rows(Task, Task.candidate_id == candidate.id)
        ],
        "requests": [
            _fields(r, "application_id action detail created_at")
            for r in _rows(CandidateAction, CandidateAction.candidate_id == candidate.id)
        ],
    }
    _record(candidate, "exported", actor)
    audit.record(actor, "candidate.exported", candidate)
    db.session.commit()
    return data


def erase_candidate(candidate: Candidate, *, actor: User | None = None) -> dict:
    """Anonymise the candidate in one transaction; returns what was done."""
    if candidate.anonymised_at is not None:
        raise PrivacyError(_("This candidate's data has already been erased."))
    now = clock.now()
    withdrawn = _withdraw_open(candidate, actor, now)
    ids = _message_ids(candidate)
    owed = list(
        db.session.scalars(
            sa.select(Notification.id).where(
                Notification.id.in_(ids),
                Notification.state.in_(DISCHARGEABLE),
            )
        )
    )
    settled = outbox.discharge(owed, reason=ERASED_REASON, user_id=actor.id if actor else None)
    _scrub_messages(ids)
    _scrub_history(candidate)
    candidate.name = f"Erased candidate {candidate.id}"
    candidate.email = candidate.phone = candidate.timezone = None
    candidate.optional_updates = False
    candidate.token_secret = secrets.token_urlsafe(32)
    links.revoke_links(candidate)
    candidate.anonymised_at = now
    _record(candidate, "erased", actor)
    audit.record(
        actor,
        "candidate.erased",
        candidate,
        words("audit.erased", withdrawn=withdrawn, settled=settled),
    )
    db.session.commit()
    return {"withdrawn": withdrawn, "settled": settled, "messages_kept_as_proof": len(ids)}


def revoke(candidate: Candidate, *, actor: User | None = None) -> None:
    """Every status link issued so far stops working (a lost or forwarded email)."""
    links.revoke_links(candidate)
    _record(candidate, "links_revoked", actor)
    audit.record(actor, "candidate.links_revoked", candidate)
    db.session.commit()


def _withdraw_open(candidate: Candidate, actor: User | None, now: datetime) -> int:
    count = 0
    for application in _applications(candidate):
        if application.is_terminal:
            continue
        # In the erasure's transaction (hence the service's inner step, not withdraw(),
        # which commits): the outcome is owed here and settled below with the reason.
        pipeline.plan_move(
            application, Stage.WITHDRAWN, actor, OutcomeReason.CANDIDATE_WITHDREW, None, now
        )
        count += 1
    return count


def _scrub_messages(ids: list[int]) -> None:
    """Keep the proof that a message went (its kind, states and times stay in their columns;
    a hash of the subject and text that were sent) and no personal text: a subject override
    may have said "... for Tara"."""
    used_layouts: set[int] = set()
    for n in _rows(Notification, Notification.id.in_(ids)):
        if n.layout_id is not None:
            used_layouts.add(n.layout_id)
        proof = {"erased": True}
        for name, value in (("subject_sha256", n.subject), ("body_sha256", n.body_text)):
            if value:
                proof[name] = hashlib.sha256(value.encode("utf-8")).hexdigest()
        n.context = proof
        n.subject = f"{labels.kind(n.kind)} (candidate erased)" if n.subject else None
        n.to_email = n.body_text = n.body_html = n.personal_note = None
        stored_words.put(n, "last_error", None)  # its arguments may quote the address
        if n.discharge_reason and n.discharge_reason != ERASED_REASON:
            n.discharge_reason = "[erased on request]"  # a contact's summary, an exemption
    # A layout holds none of a recipient's own values (names, links: fills, cleared above);
    # it goes once no email refers to it any more.
    db.session.flush()
    layouts.forget_unused(used_layouts)
    db.session.execute(sa.delete(MailboxMessage).where(MailboxMessage.notification_id.in_(ids)))
    for event in _rows(DeliveryEvent, DeliveryEvent.notification_id.in_(ids)):
        event.payload = {"event": event.event, "erased": True}
        event.reason = None


def _scrub_history(candidate: Candidate) -> None:
    app_ids = [a.id for a in _applications(candidate)]
    for event in _rows(StageEvent, StageEvent.application_id.in_(app_ids)):
        event.note = None
    for contact in _rows(Contact, Contact.candidate_id == candidate.id):
        contact.summary = "[erased on request]"
    for task in _rows(Task, Task.candidate_id == candidate.id):
        # The codes' arguments hold the candidate's name: replaced with the rest.
        stored_words.put(task, "title", words("task.erased", task_kind=task.kind))
        stored_words.put(task, "detail", None)
    for action in _rows(CandidateAction, CandidateAction.candidate_id == candidate.id):
        stored_words.put(action, "detail", None)
    for reply in _rows(InboundReply, InboundReply.candidate_id == candidate.id):
        reply.body = reply.full_text = reply.subject = reply.from_email = reply.to_email = None
        reply.attachments = []


def _applications(candidate: Candidate) -> list[Application]:
    return _rows(Application, Application.candidate_id == candidate.id)


def _application(a: Application) -> dict:
    data = _fields(
        a,
        "id stage outcome_reason stage_entered_at created_at interview_at interviewers "
        "promised_response_at client_contact next_step last_candidate_contact_at",
    )
    data["position"] = a.position.title
    data["client"] = a.position.client.name
    data["history"] = [
        _fields(e, "from_stage to_stage reason note occurred_at")
        for e in _rows(StageEvent, StageEvent.application_id == a.id)
    ]
    return data


def _message_ids(candidate: Candidate) -> list[int]:
    return list(
        db.session.scalars(
            sa.select(Notification.id).where(Notification.candidate_id == candidate.id)
        )
    )


def _rows(model, condition) -> list:
    return list(db.session.scalars(sa.select(model).where(condition).order_by(model.id)))


def _fields(obj, names: str) -> dict:
    return {name: _iso(getattr(obj, name)) for name in names.split()}


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _record(candidate: Candidate, action: str, actor: User | None) -> None:
    db.session.add(
        CandidateAction(
            candidate_id=candidate.id,
            action=action,
            actor_id=actor.id if actor else None,
            created_at=clock.now(),
        )
    )
