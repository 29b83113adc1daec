"""What every resource shares: cursor pages, ETags and If-Match, and the services' refusals
in problem+json."""

from __future__ import annotations

import base64
import binascii
import hashlib

import sqlalchemy as sa
from flask import request
from pydantic import BaseModel

from app.api.problems import ApiProblem, field_error
from app.extensions import db
from app.orm import MAX_INT
from app.pipeline.base import PipelineError
from app.positions.services import Refused


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, number = raw.partition(":")
        value = int(number)
        if prefix != "after" or not 0 <= value <= MAX_INT:
            raise ValueError(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiProblem(
            422,
            "The cursor is not one this API gave out.",
            errors=[field_error("cursor", "Use the next_cursor of the previous page.")],
            code="invalid_cursor",
        ) from None
    return value


def page_of(query: sa.Select, id_column, list_query, convert) -> dict:
    """A page of `query`'s rows after the cursor, in id order; `convert` makes each an
    output model."""
    after = decode_cursor(list_query.cursor)
    rows = list(
        db.session.scalars(
            query.where(id_column > after).order_by(id_column).limit(list_query.limit + 1)
        )
    )
    more = len(rows) > list_query.limit
    rows = rows[: list_query.limit]
    return {
        "data": [convert(r) for r in rows],
        "next_cursor": encode_cursor(rows[-1].id) if more and rows else None,
    }


def etag_of(model: BaseModel) -> str:
    return '"' + hashlib.sha256(model.model_dump_json().encode()).hexdigest()[:32] + '"'


def check_if_match(record, current: BaseModel) -> None:
    """412 when If-Match names another version than the record's. The row is locked first
    (PostgreSQL; SQLite's write lock is taken when the request's transaction begins), so
    two updates sent with the same ETag cannot both pass: the second sees the first's."""
    wanted = request.headers.get("If-Match")
    if wanted is None:
        return
    # Only the record's own row: it may have been loaded with its candidate, position and
    # client joined in (access.application_or_404), and PostgreSQL refuses FOR UPDATE on the
    # nullable side of an outer join.
    db.session.refresh(record, with_for_update={"of": type(record)})
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    if "*" not in tags and etag_of(current(record)) not in tags:
        raise ApiProblem(
            412,
            "The record changed since you read it: read it again (GET) and resend with its "
            "new ETag.",
        )


def refused(exc: Refused) -> ApiProblem:
    db.session.rollback()
    return ApiProblem(422, str(exc), errors=[field_error(exc.field, str(exc))])


def conflict(exc: PipelineError, field: str | None = None, code: str = "conflict") -> ApiProblem:
    """A change the record's state does not allow now (already at that stage, position not
    open, too late to undo): 409, in the pages' words."""
    db.session.rollback()
    errors = [field_error(field, str(exc))] if field else None
    return ApiProblem(409, str(exc), errors=errors, code=code)
