"""Steady-state delivery: a stream of single stage changes, each owing one message.

Measured: applications moved one at a time from "sourced" to "submitted" with
`services.move_stage` (what the pipeline page calls; each change commits on its own and
owes its candidate one email, dispatched after the commit as a send job of one), as fast as
one producer can make them, until the SendGrid stand-in (devtools/sendgrid_stub.py, its own
process) has accepted every email and the database says each is sent. The undo window,
business hours, quiet hours and the digest window are off, so every message is due at its
commit: the path where one change is one RQ job. Then the same stream again on each worker
kind the project runs, `python -m workers worker` (RQ's fork `Worker`: a child process per
job) and `python -m workers worker --simple` (`SimpleWorker`: jobs in the worker process),
as many of them as `--workers`, each warmed up before the clock starts.

    make bench-steady        # or: .venv/bin/python bench/steady.py --n 400 --workers 2

The baseline, in the same run: RQ's own fork `Worker` running a job that does nothing, as
many workers, `--noop-n` jobs enqueued at once (what a fork per job costs before any of our
work). `owed_to_sent`: each message's `sent_at - created_at` from the database (the change's
commit to the provider's acceptance being recorded).

The database is BENCH_DATABASE_URL (or BENCH_DB_NAME on the local server; dropped and
created again), Redis BENCH_REDIS_URL or database 9 of REDIS_URL's server (flushed).

The last line is
`steady: messages=<n> per_second=<r> p50_owed_to_sent_ms=<x> p95_owed_to_sent_ms=<x>
baseline_per_second=<r> fork_per_second=<r> fork_backlog_per_second=<r> simple_...` (one
line), where the unprefixed figures are those of the worker kind `python -m workers worker`
runs by default. `*_backlog_per_second`: before each stream, `--backlog` changes are made
while no worker runs, then the workers start and send them: their capacity, whatever the
producer's pace (one producer makes the stream's changes, and may be the bound).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-steady)
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import common  # noqa: E402

NOOP_QUEUE = "steady-noop"
NOOP_JOB = "bench.steady.noop"
MODES = ("fork", "simple")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=400, help="stage changes per worker kind")
    parser.add_argument("--workers", type=int, default=2, help="RQ workers of each kind")
    parser.add_argument("--noop-n", type=int, default=400, help="no-op jobs for the baseline")
    parser.add_argument(
        "--backlog", type=int, default=400, help="changes made before the workers start"
    )
    parser.add_argument("--modes", default=",".join(MODES), help="worker kinds to run")
    parser.add_argument("--timeout", type=float, default=300, help="give up after this many s")
    return parser.parse_args(argv)


def noop() -> None:
    """The baseline's job: nothing at all."""


# -- the stream ------------------------------------------------------------------------------


def seed(tag: str, n: int) -> list[int]:
    """n applications at "sourced" in one position, inserted in bulk; their ids."""
    from bench.fanout import seed_position

    _, app_ids = seed_position(tag, n, stage="sourced")
    return app_ids


def stream(app_ids: list[int]) -> list[int]:
    """Move each application to "submitted", one change (and one commit) at a time, as the
    pipeline page does; returns the ids of the notifications owed."""
    from app.extensions import db
    from app.models import Application
    from app.pipeline import services

    owed = []
    for app_id in app_ids:
        application = db.session.get(Application, app_id)
        notification = services.move_stage(application, "submitted", actor=None)
        if notification is None:
            raise RuntimeError(f"moving application {app_id} owed no message")
        owed.append(notification.id)
        db.session.remove()  # one request each: nothing carried over to the next
    return owed


def sent_count(ids: list[int]) -> int:
    from app.extensions import db
    from app.models import Notification

    count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.id.in_(ids), Notification.state == "sent")
    )
    db.session.commit()
    return count


def owed_to_sent_ms(ids: list[int]) -> list[float]:
    from app.extensions import db
    from app.models import Notification

    rows = db.session.execute(
        sa.select(Notification.created_at, Notification.sent_at).where(Notification.id.in_(ids))
    ).all()
    db.session.commit()
    return sorted((r.sent_at - r.created_at).total_seconds() * 1000 for r in rows if r.sent_at)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run_mode(procs, app, env: dict, mode: str, ids: tuple[list[int], ...], args):
    app_ids, warm_ids, backlog_ids = ids
    with app.app_context():
        backlog = stream(backlog_ids)  # owed and dispatched while no worker runs
    workers = [
        common.start_worker(procs, env, f"steady-{mode}-{i}", simple=mode == "simple")
        for i in range(args.workers)
    ]
    if not common.wait_for_workers("notifications", args.workers):
        raise RuntimeError(f"{mode} workers did not start; see bench/out/steady-{mode}-*.log")
    with app.app_context():
        # The backlog first: a worker's capacity, whatever the producer's pace. (The
        # workers warm up on it; a cold start is part of a backlog after an outage.)
        b0 = time.perf_counter()
        drained = common.wait_until(lambda: sent_count(backlog) == len(backlog), args.timeout, 0.02)
        drain_seconds = time.perf_counter() - b0
        if not drained:
            raise RuntimeError(f"{mode}: the backlog was not sent within {args.timeout} s")
        warm = stream(warm_ids)  # imports, templates and connections ready in every worker
        if not common.wait_until(lambda: sent_count(warm) == len(warm), 60, 0.05):
            raise RuntimeError(f"{mode}: the warm-up messages were not sent within 60 s")
        t0 = time.perf_counter()
        owed = stream(app_ids)
        produced = time.perf_counter()
        done = common.wait_until(lambda: sent_count(owed) == len(owed), args.timeout, 0.02)
        end = time.perf_counter()
        latencies = owed_to_sent_ms(owed)
        from app.extensions import db

        db.session.remove()
    for w in workers:
        procs.stop(w)
    if not done:
        raise RuntimeError(f"{mode}: not every message was sent within {args.timeout} s")
    return {
        "seconds": end - t0,
        "per_second": len(owed) / (end - t0),
        "produced_per_second": len(owed) / (produced - t0),
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "backlog_per_second": len(backlog) / drain_seconds,
    }


# -- the baseline ----------------------------------------------------------------------------


def run_noop(procs, env: dict, args) -> float:
    """No-op jobs per second on RQ's fork Worker, as many workers."""
    from rq import Queue

    workers = [
        procs.start(f"steady-noop-{i}", ["-m", "bench.steady", "noop-worker"], env)
        for i in range(args.workers)
    ]
    if not common.wait_for_workers(NOOP_QUEUE, args.workers):
        raise RuntimeError("no-op workers did not start; see bench/out/steady-noop-*.log")
    queue = Queue(NOOP_QUEUE, connection=common.redis_conn())
    t0 = time.perf_counter()
    queue.enqueue_many(
        [Queue.prepare_data(NOOP_JOB, (), result_ttl=60) for _ in range(args.noop_n)]
    )
    done = common.wait_until(
        lambda: queue.finished_job_registry.count >= args.noop_n, args.timeout, 0.02
    )
    seconds = time.perf_counter() - t0
    for w in workers:
        procs.stop(w)
    if not done:
        raise RuntimeError(f"the no-op jobs did not finish within {args.timeout} s")
    return args.noop_n / seconds


def noop_worker() -> int:
    """`python -m bench.steady noop-worker`: RQ's fork Worker on the baseline's queue."""
    from rq import Worker

    Worker([NOOP_QUEUE], connection=common.redis_conn()).work(logging_level="WARNING")
    return 0


# -- report ----------------------------------------------------------------------------------


def default_mode() -> str:
    """The worker kind `python -m workers worker` runs without options."""
    from workers.__main__ import DEFAULT_SIMPLE

    return "simple" if DEFAULT_SIMPLE else "fork"


def report(args, results: dict, baseline: float) -> None:
    print(f"machine: {common.machine()}")
    print(f"stream: {args.n} single stage changes per worker kind, {args.workers} workers")
    for mode, r in results.items():
        print(
            f"  {mode}: all sent after {r['seconds']:.3f} s, {r['per_second']:.1f} messages/s "
            f"(changes made at {r['produced_per_second']:.1f}/s); owed->sent p50 "
            f"{r['p50']:.0f} ms, p95 {r['p95']:.0f} ms; a backlog of {args.backlog} made "
            f"before the workers started: {r['backlog_per_second']:.1f} messages/s"
        )
    print(f"baseline: RQ fork Worker, a job doing nothing: {baseline:.1f} jobs/s")
    main_mode = default_mode() if default_mode() in results else next(iter(results))
    r = results[main_mode]
    extra = " ".join(
        f"{mode}_per_second={results[mode]['per_second']:.1f} "
        f"{mode}_backlog_per_second={results[mode]['backlog_per_second']:.1f}"
        for mode in results
    )
    print(
        f"steady: messages={args.n} per_second={r['per_second']:.1f} "
        f"p50_owed_to_sent_ms={r['p50']:.0f} p95_owed_to_sent_ms={r['p95']:.0f} "
        f"baseline_per_second={baseline:.1f} {extra}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - set(MODES):
        raise SystemExit(f"--modes: some of {', '.join(MODES)}")
    env = common.base_env(
        UNDO_WINDOW_SECONDS=0,
        BUSINESS_HOURS_ENFORCED=0,
        QUIET_HOURS_ENFORCED=0,
        CANDIDATE_DIGEST_WINDOW_SECONDS=0,
    )
    common.reset_database(env)
    common.flush_redis()
    with common.Processes() as procs:
        url = common.start_stub(procs, env, "--counts-only", "--no-bodies")
        env.update(SENDGRID_API_HOST=url, SENDGRID_TIMEOUT_SECONDS="30")
        app = common.make_app(env)
        with app.app_context():
            ids = {
                m: (
                    seed(m, args.n),
                    seed(f"warm-{m}", 2 * args.workers),
                    seed(f"bl-{m}", args.backlog),
                )
                for m in modes
            }
        results = {mode: run_mode(procs, app, env, mode, ids[mode], args) for mode in modes}
        baseline = run_noop(procs, env, args)
    report(args, results, baseline)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["noop-worker"]:
        sys.exit(noop_worker())
    sys.exit(main())
