"""Candidates (create, change, find by email), contacts (log one, list), tasks (list, answer
an update request, correct an address and send again): the pages' services and access rules."""

from __future__ import annotations

import sqlalchemy as sa
from flask import url_for

from app import access
from app.api import bp
from app.api.auth import user
from app.api.common import check_if_match, conflict, etag_of, page_of
from app.api.problems import ApiProblem, field_error
from app.api.schemas import (
    CandidateIn,
    CandidateOut,
    CandidatePage,
    CandidatePatch,
    CandidateQuery,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactResult,
    NotificationQuery,
    TaskOut,
    TaskPage,
    TaskQuery,
    TaskReplyIn,
    TaskRetryIn,
)
from app.api.spec import operation
from app.candidates import services
from app.candidates.services import UNDELIVERABLE_TASKS, DuplicateEmail, duplicate_message
from app.models import Candidate, Contact, Task
from app.pipeline.base import PipelineError
from app.status import services as status_services

TASK_KINDS = ("update_request", *UNDELIVERABLE_TASKS)


def _out(candidate: Candidate) -> CandidateOut:
    return CandidateOut.model_validate(candidate)


def _duplicate(exc: DuplicateEmail) -> ApiProblem:
    message = duplicate_message(user(), exc.existing)
    problem = conflict(exc, code="duplicate_email")
    problem.detail, problem.errors = message, [field_error("email", message)]
    return problem


def _visible_candidates() -> sa.Select:
    select = sa.select(Candidate).where(Candidate.anonymised_at.is_(None))
    where = access.candidate_filter(user())
    return select if where is None else select.where(where)


@operation(
    bp,
    "GET",
    "/candidates",
    summary="List or find candidates",
    tag="candidates",
    query=CandidateQuery,
    response=CandidatePage,
)
def list_candidates(query: CandidateQuery):
    """`email` finds the candidate with that address (any case), if you may see them."""
    select = _visible_candidates()
    if query.email is not None:
        select = select.where(sa.func.lower(Candidate.email) == query.email.strip().lower())
    return CandidatePage(**page_of(select, Candidate.id, query, _out))


@operation(
    bp,
    "POST",
    "/candidates",
    summary="Create a candidate",
    tag="candidates",
    body=CandidateIn,
    response=CandidateOut,
    status=201,
    etag=True,
)
def create_candidate(body: CandidateIn):
    try:
        candidate = services.save_candidate(None, actor=user(), data=body.model_dump())
    except DuplicateEmail as exc:
        raise _duplicate(exc) from None
    out = _out(candidate)
    location = url_for("api.get_candidate", candidate_id=candidate.id)
    return out, {"ETag": etag_of(out), "Location": location}


@operation(
    bp,
    "GET",
    "/candidates/<int:candidate_id>",
    summary="Read a candidate",
    tag="candidates",
    response=CandidateOut,
    etag=True,
)
def get_candidate(candidate_id: int):
    out = _out(access.candidate_or_404(user(), candidate_id))
    return out, {"ETag": etag_of(out)}


@operation(
    bp,
    "PATCH",
    "/candidates/<int:candidate_id>",
    summary="Change a candidate",
    tag="candidates",
    body=CandidatePatch,
    response=CandidateOut,
    etag=True,
)
def update_candidate(candidate_id: int, body: CandidatePatch):
    candidate = access.candidate_or_404(user(), candidate_id)
    check_if_match(candidate, _out)
    data = {
        "name": candidate.name,
        "email": candidate.email,
        "phone": candidate.phone,
        "timezone": candidate.timezone or "Europe/London",
        "optional_updates": candidate.optional_updates,
        **body.model_dump(exclude_unset=True),
    }
    for required in ("name", "timezone", "optional_updates"):
        if data[required] is None:
            raise ApiProblem(
                422,
                "Some fields are not valid.",
                errors=[field_error(required, "This field cannot be null.")],
            )
    try:
        candidate = services.save_candidate(candidate, actor=user(), data=data)
    except DuplicateEmail as exc:
        raise _duplicate(exc) from None
    out = _out(candidate)
    return out, {"ETag": etag_of(out)}


# -- contacts -------------------------------------------------------------------------------


@operation(
    bp,
    "GET",
    "/contacts",
    summary="List logged contacts",
    tag="contacts",
    query=NotificationQuery,
    response=ContactPage,
)
def list_contacts(query: NotificationQuery):
    """Contacts with the candidates you may see, optionally of one candidate or application."""
    select = sa.select(Contact).where(
        Contact.candidate_id.in_(_visible_candidates().with_only_columns(Candidate.id))
    )
    if query.candidate_id:
        select = select.where(Contact.candidate_id == query.candidate_id)
    if query.application_id:
        select = select.where(Contact.application_id == query.application_id)
    return ContactPage(**page_of(select, Contact.id, query, ContactOut.model_validate))


@operation(
    bp,
    "POST",
    "/contacts",
    summary="Log a contact",
    tag="contacts",
    body=ContactIn,
    response=ContactResult,
    status=201,
)
def log_contact(body: ContactIn):
    """A call or meeting with a candidate. About an application, it settles the owed messages
    listed in `settle` (they are not sent) and closes the application's tasks except those
    about a message still owed, as on the page."""
    candidate = access.candidate_or_404(user(), body.candidate_id)
    application = None
    if body.application_id is not None:
        application = access.application_or_404(user(), body.application_id, candidate=candidate)
    try:
        outcome = services.log_contact(
            candidate,
            actor=user(),
            channel=body.channel.value,
            summary=body.summary,
            application=application,
            occurred_at=body.occurred_at,
            settle=body.settle,
        )
    except PipelineError as exc:
        where = "settle" if body.settle and "ticked" in str(exc) else "occurred_at"
        raise ApiProblem(422, str(exc), errors=[field_error(where, str(exc))]) from None
    return ContactResult(
        contact=ContactOut.model_validate(outcome.contact), settled=outcome.summary()
    )


# -- tasks ----------------------------------------------------------------------------------


@operation(
    bp, "GET", "/tasks", summary="List your tasks", tag="tasks", query=TaskQuery, response=TaskPage
)
def list_tasks(query: TaskQuery):
    """Tasks assigned to you (a manager: everyone's); open ones unless `open=false`."""
    select = sa.select(Task)
    if not access.sees_everything(user()):
        select = select.where(Task.assignee_id == user().id)
    if query.open:
        select = select.where(Task.resolved_at.is_(None))
    return TaskPage(**page_of(select, Task.id, query, TaskOut.model_validate))


@operation(
    bp,
    "POST",
    "/tasks/<int:task_id>/reply",
    summary="Answer an update request",
    tag="tasks",
    body=TaskReplyIn,
    response=TaskOut,
)
def reply_to_task(task_id: int, body: TaskReplyIn):
    task = access.task_or_404(user(), task_id, ("update_request",))
    try:
        status_services.answer_update_request(task, actor=user(), message=body.message)
    except status_services.StatusError as exc:
        raise conflict(exc) from None
    return TaskOut.model_validate(task)


@operation(
    bp,
    "POST",
    "/tasks/<int:task_id>/retry",
    summary="Correct the address, send again",
    tag="tasks",
    body=TaskRetryIn,
    response=TaskOut,
)
def retry(task_id: int, body: TaskRetryIn):
    task = access.task_or_404(user(), task_id, UNDELIVERABLE_TASKS)
    try:
        services.fix_email_and_retry(task, actor=user(), email=body.email)
    except DuplicateEmail as exc:
        raise _duplicate(exc) from None
    except PipelineError as exc:
        raise conflict(exc) from None
    return TaskOut.model_validate(task)
