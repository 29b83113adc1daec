"""`python -m workers worker|scheduler`."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from datetime import date

# `python -m workers worker` without --simple/--fork: RQ's fork Worker.
DEFAULT_SIMPLE = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers")
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="RQ worker (with scheduler) for the notification queues")
    w.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    w.add_argument(
        "--simple",
        action="store_true",
        help="run jobs in the worker process (faster, no per-job fork)",
    )
    w.add_argument("--name", default=None)
    s = sub.add_parser("scheduler", help="periodic reconciler; one active at a time")
    s.add_argument("--ticks", type=int, default=None, help="stop after N ticks (tests)")
    s.add_argument("--tick-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    from app import collection_paused, logs

    logs.configure(args.command)  # the app adds its secrets to the redaction when it is built
    try:
        if args.command == "worker":
            return run_worker(burst=args.burst, simple=args.simple, name=args.name)
        with collection_paused():  # start-up only (see app.collection_paused)
            from workers.context import get_app
            from workers.scheduler import run

            get_app()
        run(ticks=args.ticks, tick_seconds=args.tick_seconds)
        return 0
    finally:
        # On the way out nothing is left to collect: without this the interpreter's last
        # garbage collections walk every object of the app (a quarter of a scheduler's CPU
        # from start to exit, ~0.6 s of 2.2 s measured; every restart and every test's
        # teardown paid it). Objects are still released and atexit handlers still run.
        gc.freeze()


def run_worker(*, burst: bool, simple: bool, name: str | None) -> int:
    from app import collection_paused

    with collection_paused():  # start-up only: imports, the app and its warm-up
        from rq import SimpleWorker, Worker

        from app import metrics
        from app.metrics.exposition import serve_worker_metrics
        from app.notifications.dispatch import MAINTENANCE_QUEUE, NOTIFICATIONS_QUEUE
        from app.redis_conn import get_redis
        from workers.context import get_app

        metrics.mark_rq_worker()  # before the first fork: work horses count in one shared file
        app = get_app()  # built before forking, so each job's child inherits it
        with app.app_context():
            conn = get_redis()
            warm_up(app)
    if app.config["METRICS_PORT"] and app.config["METRICS_TOKEN"]:
        serve_worker_metrics(
            app.config["METRICS_PORT"],
            app.config["METRICS_TOKEN"],
            app.config["PROMETHEUS_MULTIPROC_DIR"] or None,
        )
    elif app.config["METRICS_PORT"]:
        logging.getLogger(__name__).warning("METRICS_PORT is set without METRICS_TOKEN: not served")
    # Everything loaded so far (app, models, templates) lives as long as the worker: keep it
    # out of the collector's scans, which otherwise walk it again during every big batch
    # (and, for the fork worker, would touch every page its children share).
    gc.collect()
    gc.freeze()
    cls = SimpleWorker if simple else Worker
    worker = cls([NOTIFICATIONS_QUEUE, MAINTENANCE_QUEUE], connection=conn, name=name)
    worker.work(with_scheduler=True, burst=burst, logging_level="INFO")
    return 0


def warm_up(app) -> None:
    """Import the send path, compile the email templates (and check which may be
    stencilled) and set up the ORM's loaders once, here: the fork worker's children inherit
    them instead of doing it again in every job."""
    from sqlalchemy.exc import SQLAlchemyError

    from app import clock
    from app.extensions import db
    from app.notifications import prepare, send, sendgrid_backend, stencils  # noqa: F401

    env = app.jinja_env
    for name in env.list_templates(filter_func=lambda n: n.startswith("email/")):
        stencils.checked_template(env, env.get_template(name))
    warm_calendar()
    warm_languages()
    try:
        prepare.warm_up()
        send.sending_paused(clock.now())  # every job asks first: its statement compiled
    except SQLAlchemyError as exc:  # the database is not up yet: jobs will manage without
        logging.getLogger(__name__).warning("worker warm-up skipped: %s", exc)
    # No connection is carried into the children (each job's child opens its own).
    db.session.remove()
    db.engine.dispose()


def warm_calendar() -> None:
    """The business calendar, with this year's and next year's public holidays: the
    `holidays` package imports its country's module when the calendar is built and works
    out a year's holidays when a date of it is first asked about. Done in every fork
    worker's child, that was most of a one-message send job (py-spy, bench/steady.py)."""
    from app import clock
    from app.business_days import get_calendar

    calendar = get_calendar()
    this_year = clock.now().year
    for year in (this_year - 1, this_year, this_year + 1):
        calendar.is_business_day(date(year, 6, 1))


def warm_languages() -> None:
    """Babel's locale data (day and month names) and the gettext catalogs of every shipped
    language, loaded on first use otherwise: in every fork worker's child (12% of a
    one-message job, py-spy)."""
    from flask_babel import force_locale

    from app import clock, languages
    from app.notifications.render import SUBJECTS

    now = clock.now()
    for lang in languages.SHIPPED:
        languages.format_moment(now, lang, with_time=True)
        with force_locale(lang):
            str(SUBJECTS["submitted"])


if __name__ == "__main__":
    sys.exit(main())
