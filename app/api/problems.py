"""RFC 9457 problem details: every error under /api answers `application/problem+json`
with `type`, `title`, `status` and `detail`, and for refused input `errors`, one entry per
field (`field` is its dotted path in the body, `message` says what is wrong)."""

from __future__ import annotations

from http import HTTPStatus

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "application/problem+json"
API_PREFIX = "/api/"


class ApiProblem(Exception):
    """Raised anywhere in an API view: answered as problem+json."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        errors: list[dict] | None = None,
        headers: dict | None = None,
        title: str | None = None,
    ):
        super().__init__(detail or "")
        self.status, self.detail, self.errors = status, detail, errors
        self.headers, self.title = headers or {}, title


def field_error(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    errors: list[dict] | None = None,
    headers: dict | None = None,
    title: str | None = None,
) -> Response:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX) or request.path == "/api"


def from_exception(error) -> Response:
    """An ApiProblem or any HTTP error (404 of an unknown URL, 405, 413, 500) as a problem."""
    if isinstance(error, ApiProblem):
        return problem_response(
            error.status,
            error.detail,
            errors=error.errors,
            headers=error.headers,
            title=error.title,
        )
    if isinstance(error, HTTPException):
        headers = {}
        if error.code == 405 and error.valid_methods:
            headers["Allow"] = ", ".join(sorted(error.valid_methods))
        says_why = getattr(error, "says_why", False)
        detail = error.description if says_why else None
        return problem_response(error.code or 500, detail, headers=headers)
    return problem_response(500)
