"""The Redis connection used for RQ. REDIS_URL is required: the embedded server that `make run`
and the tests start for a laptop lives in devtools/, which production never imports."""

from __future__ import annotations

import redis
from flask import current_app

MISSING_REDIS_URL = (
    "REDIS_URL is not set: Closeloop needs a Redis server for its queues "
    "(e.g. REDIS_URL=redis://127.0.0.1:6379/0). `make run` and `make test` start an embedded "
    "one for development; production must name a real one."
)


def require_redis_url(config) -> str:
    """The configured Redis URL, or a startup error that says what to set."""
    url = (config.get("REDIS_URL") or "").strip()
    if not url:
        raise RuntimeError(MISSING_REDIS_URL)
    return url


def get_redis() -> redis.Redis:
    """One connection pool per app."""
    ext = current_app.extensions
    conn = ext.get("closeloop_redis")
    if conn is None:
        url = require_redis_url(current_app.config)
        conn = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        ext["closeloop_redis"] = conn
    return conn


def close_redis(app) -> None:
    """Close `app`'s Redis connections now. A pool left to the garbage collector may have its
    sockets finalised before the connections that own them (an "unclosed socket" warning)."""
    conn = app.extensions.pop("closeloop_redis", None)
    if conn is not None:
        conn.close()  # the client made its pool, so this disconnects the pool too
