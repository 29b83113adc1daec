"""rq-dashboard, mounted as it is at /admin/rq for admins: job-level detail of our queues.

What is ours, the rest is the package's:
- access: every request of its blueprint passes our admin check first (login, then role);
- bad addresses: URL parts it would fail on (an unknown registry, a page of 0 or "x") and
  jobs that do not exist (or cannot be requeued) answer 404 / 409 instead of an error page;
- Redis: its per-request "connect from a URL" hook is replaced by one handing it our own
  connection (`get_redis()`: the same pool, timeouts and embedded server as the app);
- CSRF: its buttons POST with jQuery and send the token it finds in the `_csrf_token`
  cookie as `X-CSRFToken`, the header Flask-WTF checks; we set that cookie on its pages.
"""

from __future__ import annotations

import re

from flask import Flask, abort, current_app, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from rq.exceptions import InvalidJobOperation, NoSuchJobError

from app.models import Role
from app.orm import parse_id

URL_PREFIX = "/admin/rq"
BLUEPRINT = "rq_dashboard"


def register_rq_dashboard(app: Flask) -> None:
    import rq_dashboard
    from rq_dashboard.web import push_rq_connection

    # A label, not a URL: its instance picker shows this, and nothing is connected from it.
    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", ["closeloop"])
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 5000)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
    # Flask copied the blueprint's hooks into this app when registering: edit this app's
    # copy only, so the package's module-level blueprint stays untouched.
    hooks = app.before_request_funcs.setdefault(BLUEPRINT, [])
    hooks[:] = [_admins_only, _our_redis, _known_parts] + [
        h for h in hooks if h is not push_rq_connection
    ]
    app.after_request_funcs.setdefault(BLUEPRINT, []).append(_csrf_cookie)
    app.register_error_handler(NoSuchJobError, lambda _: abort_page(404))
    app.register_error_handler(InvalidJobOperation, lambda _: abort_page(409))


def _admins_only():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.has_role(Role.ADMIN):
        abort(403)
    if request.endpoint == f"{BLUEPRINT}.requeue_all" and request.method != "POST":
        abort(405)  # it also answers GET; a link must not requeue every failed job
    return None


def _our_redis():
    from app.redis_conn import get_redis

    instance = (request.view_args or {}).get("instance_number")
    if instance not in (None, 0):
        abort(404)  # one Redis only
    current_app.redis_conn = get_redis()


# What RQ accepts as a job id; the registries its pages list jobs from, and their orders.
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
REGISTRIES = ("queued", "failed", "deferred", "started", "finished", "scheduled", "canceled")
ORDERS = ("asc", "dsc")
MAX_PER_PAGE = 1000


def _known_parts():
    """Refuse URL parts the package does not check and would fail on: a job id RQ cannot
    hold (it raises), a queue that does not exist (compacting it is a Redis error), an
    unknown registry (an unbound variable), a page size of 0 or "x" (division, int())."""
    # Parts left out of the URL take the package's defaults (the jobs page: no queue yet).
    args = {k: v for k, v in (request.view_args or {}).items() if v is not None}
    if "job_id" in args and not JOB_ID.fullmatch(args["job_id"]):
        abort(404)
    if "queue_name" in args and args["queue_name"] not in _queue_names():
        abort(404)
    if "registry_name" in args and args["registry_name"] not in REGISTRIES:
        abort(404)
    if "order" in args and args["order"] not in ORDERS:
        abort(404)
    for name, top in (("per_page", MAX_PER_PAGE), ("page", 10**6)):
        if name in args and parse_id(args[name], top) is None:
            abort(404)
    if request.endpoint == f"{BLUEPRINT}.compact_queue" and not _queue(args["queue_name"]).count:
        return jsonify(status="OK")  # nothing to compact (RQ would rename a missing key)
    return None


def _queue_names() -> set[str]:
    from rq import Queue

    from app.notifications.dispatch import MAINTENANCE_QUEUE, NOTIFICATIONS_QUEUE

    return {NOTIFICATIONS_QUEUE, MAINTENANCE_QUEUE} | {
        q.name for q in Queue.all(connection=current_app.redis_conn)
    }


def _queue(name: str):
    from rq import Queue

    return Queue(name, connection=current_app.redis_conn)


def abort_page(code: int):
    """The app's own error page for `code`, from an error handler (where abort() cannot be
    raised): a job that is gone is 404, one that cannot be requeued 409."""
    from werkzeug.exceptions import default_exceptions

    return current_app.handle_http_exception(default_exceptions[code]())


def _csrf_cookie(response):
    response.set_cookie(
        "_csrf_token",
        generate_csrf(),
        path=URL_PREFIX,
        samesite="Strict",
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        httponly=False,  # read by the dashboard's own script, by design
    )
    return response
