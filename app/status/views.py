"""What the status page shows: the candidate's own applications, in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app import clock
from app.extensions import db
from app.models import Application, Candidate, Notification, Position, PositionStatus, Stage, Task
from app.notifications.expectations import Expectation, next_expected
from app.status.services import last_update_request, next_request_allowed
from app.template_gettext import lazy_gettext as _l

CLOSED_REASONS = {
    "agency_decision": (_l("Closed"), _l("We decided not to put you forward for this role.")),
    "client_declined": (_l("Not selected"), _l("{client} decided not to move forward.")),
    "candidate_withdrew": (_l("Withdrawn"), _l("You withdrew from this role.")),
    "budget_cut": (
        _l("Role cancelled"),
        _l("{client} cancelled the role after its budget was cut."),
    ),
    "client_withdrew": (_l("Role cancelled"), _l("{client} is no longer hiring for this role.")),
    "filled_internally": (
        _l("Role filled"),
        _l("{client} filled the role from inside the company."),
    ),
    "filled_by_other": (_l("Role filled"), _l("{client} chose another candidate for this role.")),
    "hired": (_l("Hired"), _l("You accepted this role. Congratulations!")),
}
ACTIVE_WORDS = {
    Stage.SOURCED: (_l("Being prepared"), _l("We are preparing your application for {client}.")),
    Stage.SUBMITTED: (
        _l("Sent to the client"),
        _l("{client} has your profile and will tell us whether they would like to meet you."),
    ),
    Stage.CLIENT_REVIEW: (_l("With the client"), _l("{client} is reviewing your profile.")),
    Stage.INTERVIEW: (_l("Interview"), _l("You are at interview stage with {client}.")),
    Stage.OFFER: (
        _l("Offer"),
        _l("{client} would like to offer you the role. {recruiter} will go through it with you."),
    ),
}
EXPECTED_LABELS = {
    "interview": _l("Your interview"),
    "decision": _l("Decision expected by"),
    "update": _l("Next update from us by"),
}


@dataclass(frozen=True)
class ApplicationView:
    id: int
    position_title: str
    client_name: str
    location: str | None
    status_title: str
    status_text: str
    closed: bool
    last_update: datetime
    expected: Expectation | None
    expected_label: str | None
    decision_by: datetime | None  # the client's promised date, beside an upcoming interview
    recruiter_name: str
    recruiter_email: str
    recruiter_phone: str | None
    requested_at: datetime | None  # the last "request an update", if still in cooldown
    reply_due: datetime | None  # when the recruiter's answer is due, while still open
    can_request_update: bool


def applications_for(candidate: Candidate) -> list[ApplicationView]:
    """Only this candidate's applications: the query is scoped by their id, nothing else."""
    applications = list(
        db.session.scalars(
            sa.select(Application)
            .where(Application.candidate_id == candidate.id)
            .options(
                selectinload(Application.position).options(
                    selectinload(Position.client), selectinload(Position.owner)
                )
            )
        )
    )
    last_sent = dict(
        db.session.execute(
            sa.select(Notification.application_id, sa.func.max(Notification.sent_at))
            .where(Notification.candidate_id == candidate.id)
            .group_by(Notification.application_id)
        ).all()
    )
    views = [_view(a, last_sent.get(a.id)) for a in applications]
    # Open applications first, most recently changed first.
    return sorted(views, key=lambda v: (v.closed, -v.last_update.timestamp()))


def _view(a: Application, last_sent: datetime | None) -> ApplicationView:
    position, owner = a.position, a.position.owner
    title, text = _words(a)
    words = {"client": position.client.name, "recruiter": owner.name}
    expected = next_expected(a)
    requested_at = reply_due = None
    if not a.is_terminal and next_request_allowed(a) is not None:
        requested_at = last_update_request(a).created_at
        reply_due = db.session.scalar(
            sa.select(Task.due_at).where(
                Task.application_id == a.id,
                Task.kind == "update_request",
                Task.resolved_at.is_(None),
                Task.created_at >= requested_at,
            )
        )
    return ApplicationView(
        id=a.id,
        position_title=position.title,
        client_name=position.client.name,
        location=position.location,
        status_title=str(title),
        status_text=str(text).format(**words),
        closed=a.is_terminal,
        last_update=max(filter(None, (a.stage_entered_at, last_sent))),
        expected=expected,
        expected_label=str(EXPECTED_LABELS[expected.what]) if expected else None,
        decision_by=a.promised_response_at if expected and expected.what == "interview" else None,
        recruiter_name=owner.name,
        recruiter_email=owner.email,
        recruiter_phone=owner.phone,
        requested_at=requested_at,
        reply_due=reply_due,
        can_request_update=not a.is_terminal and requested_at is None,
    )


def _words(a: Application) -> tuple[str, str]:
    if a.is_terminal:
        closed = (_l("Closed"), _l("This application ended."))
        return CLOSED_REASONS.get(a.outcome_reason or "", closed)
    if a.position.status == PositionStatus.ON_HOLD:
        return _l("On hold"), _l("{client} has put this role on hold. Your application stays open.")
    title, text = ACTIVE_WORDS[Stage(a.stage)]
    if a.stage == Stage.INTERVIEW and a.interview_at and a.interview_at <= clock.now():
        text = _l("{client} is deciding after your interview.")
    return title, text
