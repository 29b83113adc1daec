"""rq-dashboard, mounted as it is at /admin/rq for admins: job-level detail of our queues.

Three things are ours, the rest is the package's:
- access: every request of its blueprint passes our admin check first (login, then role);
- Redis: its per-request "connect from a URL" hook is replaced by one handing it our own
  connection (`get_redis()`: the same pool, timeouts and embedded server as the app);
- CSRF: its buttons POST with jQuery and send the token it finds in the `_csrf_token`
  cookie as `X-CSRFToken`, the header Flask-WTF checks; we set that cookie on its pages.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app.models import Role

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
    hooks[:] = [_admins_only, _our_redis] + [h for h in hooks if h is not push_rq_connection]
    app.after_request_funcs.setdefault(BLUEPRINT, []).append(_csrf_cookie)


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
