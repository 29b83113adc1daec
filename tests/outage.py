"""Real outages for tests: the app's Redis connection pointed at a port where nothing listens;
RQ jobs that go from Redis as soon as they are read."""

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


def jobs_gone_once_fetched(monkeypatch) -> None:
    """Every RQ job fetched from now on is deleted from Redis right after it is read, as when
    its worker finishes and removes it, or another process deletes it, in that window: what
    our code then does with the job it holds meets a job Redis no longer has."""
    from rq.job import Job

    real_fetch = Job.fetch.__func__

    def fetch_then_gone(cls, job_id, connection=None, serializer=None):
        job = real_fetch(cls, job_id, connection=connection, serializer=serializer)
        connection.delete(job.key)
        return job

    monkeypatch.setattr(Job, "fetch", classmethod(fetch_then_gone))
