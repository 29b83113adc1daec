"""Real outages for tests: the app's Redis connection pointed at a port where nothing listens."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


@contextlib.contextmanager
def redis_down(app) -> Iterator[None]:
    """Inside, every Redis call of `app` fails as it does when Redis is down (connection
    refused, no retries); afterwards the app has its own connection back."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    live = app.extensions.pop("closeloop_redis", None)
    dead = redis.Redis(port=dead_port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    app.extensions["closeloop_redis"] = dead
    try:
        yield
    finally:
        dead.close()
        del app.extensions["closeloop_redis"]
        if live is not None:
            app.extensions["closeloop_redis"] = live
