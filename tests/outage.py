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
    refused, no retries); afterwards the app reconnects to REDIS_URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    app.extensions["closeloop_redis"] = redis.Redis(
        port=dead_port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        yield
    finally:
        app.extensions.pop("closeloop_redis", None)
