"""RFC 9457 problem details: every error under /api answers `application/problem+json`
with `type`, `title`, `status`, `detail` and `code`, and for refused input `errors`, one
entry per field (`field` is its dotted path in the body, `message` says what is wrong).

The API is a machine contract with the agency's ATS, so its words are English on purpose:
`title` and `detail` are for the developer reading a log, never negotiated
(Accept-Language is ignored), and may be reworded. A client maps `code` (CODES: stable,
snake_case, only ever added to) to its own words."""

from __future__ import annotations

from http import HTTPStatus

from flask import Response, json, request
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE = "application/problem+json"
API_PREFIX = "/api/"

# Each problem's code, and what it means. A status's general code when nothing more is said.
CODES = {
    "bad_request": "The request cannot be read.",
    "unauthorized": "No valid API token.",
    "token_missing": "No `Authorization: Bearer <token>` header.",
    "token_invalid": "The token is unknown or revoked, or its user is deactivated.",
    "forbidden": "The token's user may not do this.",
    "not_found": "No such record among those the token's user may open, or no such URL.",
    "method_not_allowed": "The URL does not take this method (see Allow).",
    "conflict": "The record's state does not allow this now.",
    "duplicate_email": "Another candidate already has this email address.",
    "stale_etag": "If-Match names an older version of the record.",
    "too_large": "The body is too large.",
    "unsupported_media_type": "The body is not application/json.",
    "invalid_json": "The body is not valid JSON.",
    "invalid": "The input is not acceptable; `errors` names the fields.",
    "invalid_cursor": "The cursor is not one this API gave out.",
    "use_interview_operation": "Moving to interview takes the interview operation.",
    "idempotency_key_invalid": "The Idempotency-Key header is not a usable key.",
    "idempotency_key_reused": "The Idempotency-Key was used with another request.",
    "idempotency_key_busy": "A request with this Idempotency-Key is still being handled.",
    "rate_limited": "Too many requests a minute with this token (see Retry-After).",
    "server_error": "Something failed on our side; the request may be retried.",
}
_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "stale_etag",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def code_for(status: int) -> str:
    return _BY_STATUS.get(status, "bad_request" if status < 500 else "server_error")


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
        code: str | None = None,
    ):
        super().__init__(detail or "")
        self.status, self.detail, self.errors = status, detail, errors
        self.headers, self.title = headers or {}, title
        self.code = code or code_for(status)  # tests/test_i18n_dates.py: each one in CODES


def field_error(field: str, message: str) -> dict:
    return {"field": field, "message": message}


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    errors: list[dict] | None = None,
    headers: dict | None = None,
    title: str | None = None,
    code: str | None = None,
) -> Response:
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
        "code": code or code_for(status),
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
            code=error.code,
        )
    if isinstance(error, HTTPException):
        headers = {}
        if error.code == 405 and error.valid_methods:
            headers["Allow"] = ", ".join(sorted(error.valid_methods))
        says_why = getattr(error, "says_why", False)
        detail = error.description if says_why else None
        return problem_response(error.code or 500, detail, headers=headers)
    return problem_response(500)
