"""One Flask app per worker process, one app context per job."""

from __future__ import annotations

import contextlib
import os

from flask import Flask

_app: Flask | None = None
_pid: int | None = None


def get_app() -> Flask:
    global _app, _pid
    if _app is None:
        from app import create_app

        _app = create_app(worker=True)  # no API, dashboard or migrations: a smaller process
        _pid = os.getpid()
    return _app


@contextlib.contextmanager
def job_context():
    """Push a fresh app context for one job and clean up its session afterwards.

    The fork worker runs each job in a child process: connections inherited from the parent
    must not be shared, so the pool is reset (without closing the parent's sockets).
    The job's log lines and the rows it writes carry the id of the request that enqueued it
    (from the job's meta), or a fresh one.
    """
    global _pid
    from rq import get_current_job

    from app import sentry, tracing
    from app.extensions import db

    app = get_app()
    job = get_current_job()
    request_id = tracing.from_job(job) if job is not None else None
    with app.app_context(), tracing.bound(request_id or tracing.new_id("job-")) as bound:
        sentry.tag_request(bound)  # RQ reports a failure after this context has closed
        if _pid != os.getpid():
            db.engine.dispose(close=False)
            app.extensions.pop("closeloop_redis", None)
            _pid = os.getpid()
        try:
            yield app
        finally:
            db.session.remove()
