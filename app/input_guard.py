"""Bad input stops at the door, once for every route: ids no column can hold and NUL bytes
never reach a view, a query or the database.

- `<int:...>` in every URL is `IdConverter`: at most what a PostgreSQL integer holds, so an
  id of 2**31 or more is a 404 like any other missing record (not a database error).
- `request.args.get(name, type=int)` (and `request.form`) returns the default for a number
  outside that range, as it already does for "abc" (`BoundedArgs`).
- `refuse_bad_input` answers 400 to a request with a NUL byte anywhere in its path, query string,
  form (names, values, upload file names) or JSON body, and to a JSON body PostgreSQL could
  not store (lone surrogates) or too deeply nested to read. A view that verifies a raw body
  itself (the signed SendGrid webhook) is marked `@raw_body` and handles its own.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Request, current_app, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from app.orm import MAX_INT

MAX_JSON_DEPTH = 64
SEARCH_TERM_LENGTH = 200


def search_term(name: str = "q", limit: int = SEARCH_TERM_LENGTH) -> str:
    """What to search for, from the query string: trimmed, and cut to `limit` characters
    (a longer term finds nothing more, and would only make the query expensive)."""
    return (request.args.get(name) or "").strip()[:limit]


def bounded_int(raw: str) -> int:
    """int(), refusing (ValueError) what no integer column holds: for `type=` arguments."""
    value = int(raw)
    if not -MAX_INT <= value <= MAX_INT:
        raise ValueError(f"{raw[:20]}… is out of range")
    return value


class IdConverter(IntegerConverter):
    """The app's `int` URL converter: a number beyond MAX_INT does not match the route."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_INT, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class BoundedArgs(ImmutableMultiDict):
    """Query and form values where `.get(name, type=int)` never yields an out-of-range id."""

    def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's signature
        return super().get(key, default, bounded_int if type is int else type)


class BoundedRequest(Request):
    parameter_storage_class = BoundedArgs


class RefusedInput(BadRequest):
    """400 with a description the error page shows as it is (it names what was wrong)."""

    says_why = True


def raw_body(view: Callable) -> Callable:
    """Mark a view that reads and checks its raw body itself (the guard leaves it alone)."""
    view.raw_body = True
    return view


def register(app: Flask) -> None:
    """Before any route is added: the converter has to be in place when rules are built."""
    app.url_map.converters["int"] = IdConverter
    app.request_class = BoundedRequest
    app.before_request(refuse_bad_input)


def refuse_bad_input():
    if "\x00" in request.path or b"%00" in request.query_string or b"\x00" in request.query_string:
        raise RefusedInput("The address contains a NUL character.")
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if getattr(view, "raw_body", False):
        return None
    if request.is_json:
        _check_json()
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _check_form()
    return None


def _check_form() -> None:
    for key, value in request.form.items(multi=True):
        if "\x00" in key or "\x00" in value:
            raise RefusedInput("A field contains a NUL character.")
    for key, upload in request.files.items(multi=True):
        if "\x00" in key or "\x00" in (upload.filename or ""):
            raise RefusedInput("An uploaded file's name contains a NUL character.")


def _check_json() -> None:
    body = request.get_data(cache=True)
    if b"\x00" in body:
        raise RefusedInput("The body contains a NUL byte.")
    try:
        # Parsed once: the view's get_json() gets this result (None if it is not JSON,
        # which the view answers in its own words).
        data = request.get_json(silent=True)
    except RecursionError:
        raise RefusedInput("The JSON body is nested too deeply.") from None
    problem = json_problem(data)
    if problem:
        raise RefusedInput(problem)
    return None


def json_problem(data) -> str | None:
    """What makes decoded JSON unfit to handle and store, or None: nesting deeper than
    MAX_JSON_DEPTH, NUL characters, or text that is not Unicode (lone surrogates)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return "The JSON body is nested too deeply."
        if isinstance(value, dict):
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            if "\x00" in value:
                return "The JSON body contains a NUL character."
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "The JSON body contains text that is not valid Unicode."
    return None
