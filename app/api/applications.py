"""Applications (add a candidate to a position, move, record an interview, undo) and the
messages they owe, through app.pipeline.services: the one path to a stage change, so every
change owes its message in the same transaction, whoever makes it."""

from __future__ import annotations

import sqlalchemy as sa
from flask import url_for

from app import access, labels
from app.api import bp
from app.api.auth import user
from app.api.common import check_if_match, conflict, etag_of, page_of
from app.api.problems import ApiProblem, field_error
from app.api.schemas import (
    ApplicationIn,
    ApplicationOut,
    ApplicationPage,
    ApplicationQuery,
    DeliveryEventOut,
    InterviewIn,
    MoveIn,
    NotificationOut,
    NotificationPage,
    NotificationQuery,
)
from app.api.spec import operation
from app.extensions import db
from app.models import Application, DeliveryEvent, Notification, Stage
from app.pipeline import services
from app.pipeline.base import PipelineError


def _out(application: Application) -> ApplicationOut:
    return ApplicationOut.model_validate(application)


def _visible() -> sa.Select:
    return sa.select(Application).where(
        Application.position_id.in_(access.visible_positions(user()))
    )


@operation(
    bp,
    "GET",
    "/applications",
    summary="List applications",
    tag="applications",
    query=ApplicationQuery,
    response=ApplicationPage,
)
def list_applications(query: ApplicationQuery):
    select = _visible()
    if query.position_id:
        select = select.where(Application.position_id == query.position_id)
    if query.candidate_id:
        select = select.where(Application.candidate_id == query.candidate_id)
    return ApplicationPage(**page_of(select, Application.id, query, _out))


@operation(
    bp,
    "POST",
    "/applications",
    summary="Add a candidate to a position",
    tag="applications",
    body=ApplicationIn,
    response=ApplicationOut,
    status=201,
    etag=True,
)
def add_application(body: ApplicationIn):
    position = access.position_or_404(user(), body.position_id)
    candidate = access.candidate_or_404(user(), body.candidate_id)
    try:
        application = services.add_to_position(candidate, position, actor=user())
    except PipelineError as exc:
        raise conflict(exc) from None
    out = _out(application)
    location = url_for("api.get_application", application_id=application.id)
    return out, {"ETag": etag_of(out), "Location": location}


@operation(
    bp,
    "GET",
    "/applications/<int:application_id>",
    summary="Read an application",
    tag="applications",
    response=ApplicationOut,
    etag=True,
)
def get_application(application_id: int):
    out = _out(access.application_or_404(user(), application_id))
    return out, {"ETag": etag_of(out)}


def _changed(application: Application):
    out = _out(application)
    return out, {"ETag": etag_of(out)}


@operation(
    bp,
    "POST",
    "/applications/<int:application_id>/move",
    summary="Move to a stage",
    tag="applications",
    body=MoveIn,
    response=ApplicationOut,
    etag=True,
)
def move_application(application_id: int, body: MoveIn):
    """Terminal stages (hired, rejected, withdrawn) need a `reason`: it picks the message
    the candidate gets. Send If-Match to refuse the move if the application changed since
    you read it. Moving to interview needs its details: use /interview."""
    application = access.application_or_404(user(), application_id)
    check_if_match(application, _out)
    if body.to_stage == Stage.INTERVIEW and application.stage != Stage.INTERVIEW:
        raise ApiProblem(
            422,
            "Record the interview (POST …/interview): its message needs the date and the "
            "client's promised decision date.",
            errors=[field_error("to_stage", "Use the interview operation.")],
            code="use_interview_operation",
        )
    try:
        services.move_stage(
            application,
            body.to_stage.value,
            actor=user(),
            reason=body.reason.value if body.reason else None,
            note=body.note,
        )
    except PipelineError as exc:
        raise conflict(exc) from None
    return _changed(application)


@operation(
    bp,
    "POST",
    "/applications/<int:application_id>/interview",
    summary="Record an interview",
    tag="applications",
    body=InterviewIn,
    response=ApplicationOut,
    etag=True,
)
def record_interview(application_id: int, body: InterviewIn):
    """The interview, who the candidate meets, and by when the client promised to decide;
    the candidate is told, and reminded before the promised date."""
    application = access.application_or_404(user(), application_id)
    check_if_match(application, _out)
    try:
        services.record_interview(application, actor=user(), **body.model_dump())
    except PipelineError as exc:
        raise conflict(exc) from None
    return _changed(application)


@operation(
    bp,
    "POST",
    "/applications/<int:application_id>/undo",
    summary="Undo the last move",
    tag="applications",
    response=ApplicationOut,
    etag=True,
)
def undo_application(application_id: int):
    """Only while the message the move owed has not left (as on the board)."""
    application = access.application_or_404(user(), application_id)
    check_if_match(application, _out)
    try:
        services.undo_last_change(application, actor=user())
    except PipelineError as exc:
        raise conflict(exc) from None
    return _changed(application)


# -- notifications --------------------------------------------------------------------------


def _notification(n: Notification) -> NotificationOut:
    events = db.session.scalars(
        sa.select(DeliveryEvent)
        .where(DeliveryEvent.notification_id == n.id)
        .order_by(DeliveryEvent.occurred_at, DeliveryEvent.id)
    )
    return NotificationOut(
        id=n.id,
        application_id=n.application_id,
        candidate_id=n.candidate_id,
        kind=n.kind,
        kind_label=labels.kind(n.kind),
        state=n.state,
        state_label=labels.state(n.state),
        reason=n.reason,
        due_at=n.due_at,
        created_at=n.created_at,
        sent_at=n.sent_at,
        delivered_at=n.delivered_at,
        events=[DeliveryEventOut.model_validate(e) for e in events],
    )


def _visible_notifications() -> sa.Select:
    return sa.select(Notification).where(
        Notification.application_id.in_(_visible().with_only_columns(Application.id))
    )


@operation(
    bp,
    "GET",
    "/notifications",
    summary="List messages",
    tag="notifications",
    query=NotificationQuery,
    response=NotificationPage,
)
def list_notifications(query: NotificationQuery):
    """What candidates were or will be told, with delivery events, for the applications you
    may open; narrowed to one application or candidate."""
    select = _visible_notifications()
    if query.application_id:
        select = select.where(Notification.application_id == query.application_id)
    if query.candidate_id:
        select = select.where(Notification.candidate_id == query.candidate_id)
    return NotificationPage(**page_of(select, Notification.id, query, _notification))


@operation(
    bp,
    "GET",
    "/notifications/<int:notification_id>",
    summary="Read a message",
    tag="notifications",
    response=NotificationOut,
)
def get_notification(notification_id: int):
    found = db.session.scalar(_visible_notifications().where(Notification.id == notification_id))
    if found is None:
        raise ApiProblem(404, "No such message among the applications you may open.")
    return _notification(found)
