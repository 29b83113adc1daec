"""The scheduler loop: runs SCHEDULE while holding the `scheduler` lease.

Start as many as you like; exactly one is active, the others wait to take over when its
lease expires (e.g. it was killed).
"""

from __future__ import annotations

import importlib
import logging
import signal
import time

from app import clock, tracing
from workers.context import get_app
from workers.schedule import ENTRIES, SCHEDULE, Periodic

log = logging.getLogger("closeloop.scheduler")
TICK_SECONDS = 1.0


def _resolve(p: Periodic):
    module, _, name = p.func.partition(":")
    return getattr(importlib.import_module(module), name)


def run(*, ticks: int | None = None, tick_seconds: float = TICK_SECONDS) -> None:
    from app.extensions import db
    from app.notifications.reconcile import acquire_lease, holder_name, release_lease

    app = get_app()
    holder = holder_name()
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    next_run = {p.name: 0.0 for p in SCHEDULE}
    active = False
    count = 0
    log.info("scheduler %s started: %s", holder, ", ".join(p.name for p in SCHEDULE))
    while not stopping and (ticks is None or count < ticks):
        count += 1
        with app.app_context():
            try:
                active = acquire_lease("scheduler", holder, app.config["SCHEDULER_LEASE_SECONDS"])
            except Exception:
                log.exception("could not reach the database for the scheduler lease")
                active = False
            if active:
                _run_due(next_run, stop_requested=lambda: stopping)
            db.session.remove()
        time.sleep(tick_seconds)
    if active:
        with app.app_context():
            release_lease("scheduler", holder)
            db.session.remove()
    log.info("scheduler %s stopped", holder)


def _enqueue(p: Periodic) -> str | None:
    """One job per entry at a time: a slow run is not stacked up behind itself."""
    from rq import Queue
    from rq.exceptions import DuplicateJobError

    from app.redis_conn import get_redis

    job_id = f"periodic-{p.name}"
    try:
        Queue(p.queue, connection=get_redis()).enqueue(
            "workers.jobs.run_periodic",
            p.func,
            job_id=job_id,
            unique=True,
            result_ttl=0,
            failure_ttl=600,  # a failed run must not block the next one for long
            job_timeout=3600,
            meta=tracing.job_meta(),
        )
    except DuplicateJobError:
        return None  # the previous run is still queued or running
    return job_id


def _run_due(next_run: dict[str, float], stop_requested=lambda: False) -> None:
    """Run the entries that are due. A stop request (SIGTERM) is honoured between entries:
    a first tick runs every entry, seconds of work, and a deploy or a test's teardown should
    not wait for all of it; the entries left over are still due at the next holder's tick."""
    from flask import current_app

    from app.extensions import db

    now = time.monotonic()
    for p in SCHEDULE:
        if stop_requested():
            return
        if next_run[p.name] > now:
            continue
        next_run[p.name] = now + float(current_app.config[p.every])
        started = clock.now()
        # One id per run: its log lines, the rows it writes and the jobs it enqueues share it.
        with tracing.bound(tracing.new_id(f"{p.name}-")):
            try:
                result = _enqueue(p) if p.queue else _resolve(p)()
            except Exception:
                # Keep the loop alive: the next tick retries, and the run row records the error.
                db.session.rollback()
                log.exception("periodic %s failed", p.name)
                continue
            if p.covers:
                next_run[p.covers] = now + float(current_app.config[ENTRIES[p.covers].every])
            if result and (not isinstance(result, dict) or any(result.values())):
                log.info("%s at %s: %s", p.name, started.isoformat(), result)
