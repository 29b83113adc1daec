"""Positions: the recruiter's own (managers: all), created and changed through the pages'
services; hold, cancel, fill and reopen through the same lifecycle as the bulk pages."""

from __future__ import annotations

import sqlalchemy as sa
from flask import url_for

from app import access
from app.api import bp
from app.api.auth import user
from app.api.common import check_if_match, conflict, etag_of, page_of, refused
from app.api.schemas import (
    LifecycleIn,
    LifecycleOut,
    PositionIn,
    PositionOut,
    PositionPage,
    PositionPatch,
    PositionQuery,
)
from app.api.spec import operation
from app.models import Position
from app.pipeline import fanout
from app.pipeline.base import PipelineError
from app.pipeline.services import reopen_position
from app.positions import services
from app.positions.services import Refused


def _out(position: Position) -> PositionOut:
    return PositionOut.model_validate(position)


@operation(
    bp,
    "GET",
    "/positions",
    summary="List positions",
    tag="positions",
    query=PositionQuery,
    response=PositionPage,
)
def list_positions(query: PositionQuery):
    """The positions you may open (yours; a manager's: all), filtered as on the page."""
    select = sa.select(Position).where(Position.id.in_(access.visible_positions(user())))
    if query.status:
        select = select.where(Position.status == query.status.value)
    if query.client_id:
        select = select.where(Position.client_id == query.client_id)
    return PositionPage(**page_of(select, Position.id, query, _out))


@operation(
    bp,
    "POST",
    "/positions",
    summary="Open a position",
    tag="positions",
    body=PositionIn,
    response=PositionOut,
    status=201,
    etag=True,
)
def create_position(body: PositionIn):
    try:
        position = services.save_position(None, actor=user(), **body.model_dump())
    except Refused as exc:
        raise refused(exc) from None
    out = _out(position)
    location = url_for("api.get_position", position_id=position.id)
    return out, {"ETag": etag_of(out), "Location": location}


@operation(
    bp,
    "GET",
    "/positions/<int:position_id>",
    summary="Read a position",
    tag="positions",
    response=PositionOut,
    etag=True,
)
def get_position(position_id: int):
    out = _out(access.position_or_404(user(), position_id))
    return out, {"ETag": etag_of(out)}


@operation(
    bp,
    "PATCH",
    "/positions/<int:position_id>",
    summary="Change a position",
    tag="positions",
    body=PositionPatch,
    response=PositionOut,
    etag=True,
)
def update_position(position_id: int, body: PositionPatch):
    position = access.position_or_404(user(), position_id)
    check_if_match(position, _out)
    values = {
        "client_id": position.client_id,
        "title": position.title,
        "location": position.location,
        "owner_id": position.owner_id,
        **body.model_dump(exclude_unset=True),
    }
    try:
        position = services.save_position(position, actor=user(), **values)
    except Refused as exc:
        raise refused(exc) from None
    out = _out(position)
    return out, {"ETag": etag_of(out)}


@operation(
    bp,
    "POST",
    "/positions/<int:position_id>/lifecycle",
    summary="Hold, cancel or fill",
    tag="positions",
    body=LifecycleIn,
    response=LifecycleOut,
)
def change_lifecycle(position_id: int, body: LifecycleIn):
    """Every active candidate is told, as from the position's page (one message each)."""
    position = access.position_or_404(user(), position_id)
    try:
        result = fanout.close(position, fanout.ACTIONS[body.action], body.reason, actor=user())
    except PipelineError as exc:
        raise conflict(exc, "reason" if "Choose why" in str(exc) else None) from None
    return LifecycleOut(position=_out(position), applications=result["applications"])


@operation(
    bp,
    "POST",
    "/positions/<int:position_id>/reopen",
    summary="Reopen a position",
    tag="positions",
    response=LifecycleOut,
)
def reopen(position_id: int):
    """From a hold: those told of the hold hear it is open again. From a cancel or fill
    whose messages have not left: everything is put back and nobody is told."""
    position = access.position_or_404(user(), position_id)
    try:
        result = reopen_position(position, actor=user())
    except PipelineError as exc:
        raise conflict(exc) from None
    return LifecycleOut(position=_out(position), applications=result["applications"])
