"""Request ids: one id follows a piece of work from the click, through the RQ jobs it
enqueues, into the notification rows it writes and every log line on the way.

The web takes a sane incoming `X-Request-ID` (a load balancer's) or makes one; a job takes
the id of the request that enqueued it from its meta (`job_meta()`); the scheduler makes one
per periodic run. `Notification.request_id` defaults to the current id.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import uuid
from collections.abc import Iterator

HEADER = "X-Request-ID"
META_KEY = "request_id"
MAX_LENGTH = 64  # notifications.request_id is a VARCHAR(64)
# Letters, digits and a little punctuation: UUIDs, hex ids, "Root=1-abc" style ids. Never
# spaces, quotes or line breaks, which could forge log lines.
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]*")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "closeloop_request_id", default=None
)


def new_id(prefix: str = "") -> str:
    return prefix + uuid.uuid4().hex


def sane(value: str | None) -> str | None:
    """`value` if it is fit to be an id in our logs and rows, else None."""
    if value and len(value) <= MAX_LENGTH and _SANE.fullmatch(value):
        return value
    return None


def current() -> str | None:
    """The id of the work in progress in this context (request, job, periodic run)."""
    return _current.get()


def bind(request_id: str | None) -> contextvars.Token:
    return _current.set(request_id)


def unbind(token: contextvars.Token) -> None:
    _current.reset(token)


@contextlib.contextmanager
def bound(request_id: str | None) -> Iterator[str | None]:
    token = bind(request_id)
    try:
        yield request_id
    finally:
        unbind(token)


def job_meta() -> dict:
    """RQ job meta carrying the current id into the job (empty when there is none)."""
    request_id = current()
    return {META_KEY: request_id} if request_id else {}


def from_job(job) -> str | None:
    """The id a job was enqueued under, if any (older jobs have none)."""
    meta = getattr(job, "meta", None) or {}
    return sane(meta.get(META_KEY))


def init_app(app) -> None:
    """Bind an id to every request and answer it in the `X-Request-ID` header."""
    from flask import g, request

    @app.before_request
    def _bind_request_id():
        request_id = sane(request.headers.get(HEADER)) or new_id()
        g.request_id = request_id
        g._request_id_token = bind(request_id)

    @app.after_request
    def _answer_request_id(response):
        request_id = g.get("request_id")
        if request_id:
            response.headers[HEADER] = request_id
        return response

    @app.teardown_request
    def _unbind_request_id(_exc):
        token = g.pop("_request_id_token", None)
        if token is not None:
            with contextlib.suppress(ValueError):  # bound in another context: nothing to undo
                unbind(token)
