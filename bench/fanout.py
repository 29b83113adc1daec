"""Fan-out benchmark: one position cancelled, 10,000 candidates told, against a naive peer.

Measured: the wall time from calling `close_position(..., status="cancelled",
reason="budget_cut")` on a position with N active applications (one transaction owes N
messages, then dispatches them in batches to RQ) until the local SendGrid stub, a separate
process on 127.0.0.1, has accepted all N personalizations (polled on /_stub/stats). The undo
window and business hours are off so every message is due at once. The workers are RQ's fork
workers, started as production starts them (`python -m workers worker`; `--simple` measures
SimpleWorkers instead), and warmed up before the clock starts. Then the naive peer: one RQ
job per email on RQ's default fork `Worker` (bench/naive.py), timed over a sample, with the
same number of workers.

    make bench-fanout      # or: .venv/bin/python bench/fanout.py --n 10000 --workers 2

Then, in the same run, the physical limit (`run_floor`): the same rows written with one
plain INSERT and the same emails, rendered beforehand, sent as N/1,000 requests of 1,000
personalizations. Goals: seconds <= 4 x floor_seconds, ratio >= 100.

The database is BENCH_DATABASE_URL (or BENCH_DB_NAME on the local server; dropped and
created again), Redis BENCH_REDIS_URL or database 9 of REDIS_URL's server (flushed).

The last line is
`fanout: n=<n> seconds=<s> per_second=<r> naive_per_second=<r> ratio=<x> floor_seconds=<f>`.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-fanout)
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import common  # noqa: E402

STAGES = ("sourced", "submitted", "client_review", "interview", "offer")
ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney", None)
NAIVE_JOB = "bench.naive.send_one"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="active applications to tell")
    parser.add_argument("--naive-n", type=int, default=1_000, help="naive peer sample size")
    parser.add_argument("--workers", type=int, default=2, help="RQ workers, for both sides")
    parser.add_argument(
        "--simple",
        action="store_true",
        help="engine on RQ SimpleWorkers (no fork per job) instead of the fork workers we ship",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="SEND_BATCH_SIZE override")
    parser.add_argument("--timeout", type=float, default=300, help="give up after this many s")
    return parser.parse_args(argv)


# -- seeding --------------------------------------------------------------------------------


def seed_position(tag: str, n: int, *, stage: str | None = None) -> tuple[int, list[int]]:
    """A position with n applications, inserted in bulk; returns (position id, app ids)."""
    from app.extensions import db
    from app.models import Application, Candidate, Client, Position, User

    owner = User(name=f"Owner {tag}", email=f"owner-{tag}@agency.test", password_hash="!")  # noqa: S106
    position = Position(client=Client(name=f"Client {tag}"), title=f"Engineer {tag}", owner=owner)
    db.session.add(position)
    db.session.flush()
    now = datetime.now(UTC)
    candidates = [
        {
            "name": f"Candidate {tag}-{i}",
            "email": f"c-{tag}-{i}@example.test",
            "timezone": ZONES[i % len(ZONES)],
            "token_secret": secrets.token_urlsafe(32),
        }
        for i in range(n)
    ]
    insert = sa.insert(Candidate).returning(Candidate.id, sort_by_parameter_order=True)
    candidate_ids = list(db.session.scalars(insert, candidates))
    rows = [
        {
            "candidate_id": cid,
            "position_id": position.id,
            "stage": stage or STAGES[i % len(STAGES)],
            "outcome_reason": "budget_cut" if stage == "position_closed" else None,
            "stage_entered_at": now,
            "version": 1,
        }
        for i, cid in enumerate(candidate_ids)
    ]
    insert = sa.insert(Application).returning(Application.id, sort_by_parameter_order=True)
    app_ids = list(db.session.scalars(insert, rows))
    db.session.commit()
    return position.id, app_ids


def seed_naive(n: int) -> list[int]:
    """n owed cancellation messages for the naive peer, never due for the engine."""
    from app.extensions import db
    from app.models import Application, Notification

    _, app_ids = seed_position("naive", n, stage="position_closed")
    apps = db.session.execute(
        sa.select(Application.id, Application.candidate_id).where(Application.id.in_(app_ids))
    ).all()
    later = datetime.now(UTC) + timedelta(days=365)
    rows = [
        {
            "application_id": a.id,
            "candidate_id": a.candidate_id,
            "kind": "position_cancelled",
            "category": "outcome",
            "state": "pending",
            "idempotency_key": f"naive:{a.id}",
            "app_version": 1,
            "reason": "budget_cut",
            "context": {},
            "due_at": later,
        }
        for a in apps
    ]
    insert = sa.insert(Notification).returning(Notification.id, sort_by_parameter_order=True)
    ids = list(db.session.scalars(insert, rows))
    db.session.commit()
    return ids


# -- the engine ---------------------------------------------------------------------------


@contextlib.contextmanager
def timed_dispatch(timings: dict):
    """Split close_position's time into the transaction and the dispatch after commit.

    The engine dispatches from the session's after_commit listener (app.notifications.outbox):
    one listener of ours goes first (the commit is done), one last (the dispatch is done).
    Nothing of the engine is replaced."""
    from app.extensions import db
    from app.notifications import outbox  # noqa: F401 - its listener is registered first

    def committed(session) -> None:
        if not session.in_nested_transaction():
            timings["committed"] = time.perf_counter()

    def dispatched(session) -> None:
        if not session.in_nested_transaction():
            timings["dispatched"] = time.perf_counter()

    sa.event.listen(db.session, "after_commit", committed, insert=True)
    sa.event.listen(db.session, "after_commit", dispatched)
    try:
        yield
    finally:
        sa.event.remove(db.session, "after_commit", committed)
        sa.event.remove(db.session, "after_commit", dispatched)


def accepted(url: str) -> int:
    return common.stub_stats(url)["accepted"]


def wait_accepted(url: str, target: int, timeout: float) -> float | None:
    """perf_counter() when the stub has accepted `target` personalizations, or None."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if accepted(url) >= target:
            return time.perf_counter()
        time.sleep(0.02)
    return None


def warm_up(app, url: str, workers: int) -> None:
    """A small fan-out per worker first: imports, templates and connections are ready."""
    from app.extensions import db
    from app.models import Position
    from app.pipeline import services

    base = accepted(url)
    with app.app_context():
        ids = [seed_position(f"warm{i}", 20)[0] for i in range(workers)]
        for pid in ids:
            position = db.session.get(Position, pid)
            services.close_position(position, actor=None, status="cancelled", reason="budget_cut")
        db.session.remove()
    if wait_accepted(url, base + 20 * workers, 60) is None:
        raise RuntimeError("warm-up messages were not accepted within 60 s")


def run_engine(procs, app, env: dict, url: str, position_id: int, args) -> dict:
    from app.extensions import db
    from app.models import Position
    from app.pipeline import services

    workers = [
        common.start_worker(procs, env, f"engine-{i}", simple=args.simple)
        for i in range(args.workers)
    ]
    if not common.wait_for_workers("notifications", args.workers):
        raise RuntimeError("engine workers did not start; see bench/out/engine-*.log")
    warm_up(app, url, args.workers)
    base = accepted(url)
    timings: dict = {}
    with app.app_context():
        position = db.session.get(Position, position_id)
        with timed_dispatch(timings):
            wall0, t0 = datetime.now(UTC), time.perf_counter()
            result = services.close_position(
                position, actor=None, status="cancelled", reason="budget_cut"
            )
            returned = time.perf_counter()
        done = wait_accepted(url, base + args.n, args.timeout)
        recorded = wait_recorded(result["notification_ids"], args.timeout)
        duplicates = common.stub_stats(url)["duplicates"]  # before the floor resends them
        db.session.remove()
    for w in workers:
        procs.stop(w)
    if done is None:
        raise RuntimeError(f"the stub did not accept all {args.n} within {args.timeout} s")
    if "committed" not in timings or "dispatched" not in timings:
        raise RuntimeError("close_position did not commit through the session (no timings)")
    return {
        "notification_ids": result["notification_ids"],
        "duplicates": duplicates,
        "seconds": done - t0,
        "transaction": timings["committed"] - t0,
        "dispatch": timings["dispatched"] - timings["committed"],
        "close_position": returned - t0,
        "recorded": (recorded - t0) if recorded else None,
        "jobs": job_timeline(wall0),
    }


def wait_recorded(ids: list[int], timeout: float) -> float | None:
    """perf_counter() when the database says every one of `ids` is sent."""
    from app.extensions import db
    from app.models import Notification

    def all_sent() -> bool:
        count = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.id.in_(ids), Notification.state != "sent")
        )
        db.session.commit()
        return count == 0

    return time.perf_counter() if common.wait_until(all_sent, timeout, 0.05) else None


def job_timeline(wall0: datetime) -> list[dict]:
    """Start and end of every send job, in seconds after the clock started."""
    from rq import Queue
    from rq.job import Job

    queue = Queue("notifications", connection=common.redis_conn())
    ids = queue.finished_job_registry.get_job_ids()
    jobs = [j for j in Job.fetch_many(ids, connection=queue.connection) if j is not None]

    def since(moment) -> float:
        return (moment.replace(tzinfo=UTC) - wall0).total_seconds()

    rows = [
        {
            "start": since(j.started_at),
            "end": since(j.ended_at),
            "worker": j.worker_name,
            "result": j.return_value(),
        }
        for j in jobs
        if j.started_at and j.started_at.replace(tzinfo=UTC) >= wall0
    ]
    return sorted(rows, key=lambda r: r["start"])


# -- the physical limit ----------------------------------------------------------------------

FLOOR_CHUNK = 1_000  # SendGrid's limit of personalizations per request
FLOOR_COLUMNS = (
    "application_id",
    "candidate_id",
    "kind",
    "category",
    "app_version",
    "reason",
    "personal_note",
    "context",
    "created_at",
    "updated_at",
    "request_id",
)


def run_floor(app, url: str, ids: list[int], args) -> dict:
    """The least the same work can cost on this machine, measured in the same run: the same N
    notification rows (copies of the engine's, owed a year from now so nothing sends them)
    written with one plain INSERT in one transaction (`INSERT ... SELECT FROM unnest(...)`,
    the single statement the engine's own bulk writes use), then the same N emails, rendered
    beforehand exactly as a send job renders them (stencils included), sent as N/1,000
    requests of 1,000 personalizations to the same stub, on as many threads as the engine
    had workers. No claiming, no state changes, no job queue: what is left is the database
    write and the provider's requests."""
    from concurrent.futures import ThreadPoolExecutor

    from app.bulk_sql import insert_many
    from app.extensions import db
    from app.models import Notification
    from app.notifications import prepare
    from app.notifications.render import render_email
    from app.notifications.sendgrid_backend import SendGridBackend
    from app.notifications.stencils import Stencils

    later = datetime.now(UTC) + timedelta(days=365)
    with app.app_context():
        chunks: list[list] = []
        rows: list[dict] = []
        for start in range(0, len(ids), FLOOR_CHUNK):
            loaded = prepare._load(ids[start : start + FLOOR_CHUNK])  # noqa: SLF001
            stencils = Stencils()  # as a send job: one per batch
            ready = [prepare._prepared([n], render_email([n], stencils)) for n in loaded]  # noqa: SLF001
            ready = [prepare._upgraded(r, stencils.upgrades.get(r.id)) for r in ready]  # noqa: SLF001
            chunks.append([r.message for r in ready])
            rows += [
                {
                    **{c: getattr(n, c) for c in FLOOR_COLUMNS},
                    "state": "pending",
                    "idempotency_key": f"floor:{n.id}",
                    "due_at": later,
                }
                for n in loaded
            ]
        db.session.remove()

    def send(messages: list) -> int:
        with app.app_context():
            backend = SendGridBackend.from_config(app.config)
            return len(set(backend.send_batch(messages)))

    base = accepted(url)
    with ThreadPoolExecutor(max_workers=args.workers) as pool, app.app_context():
        t0 = time.perf_counter()
        insert_many(db.session, Notification, rows)  # one statement (PostgreSQL: from arrays)
        db.session.commit()
        inserted = time.perf_counter()
        requests = sum(pool.map(send, chunks))
        done = time.perf_counter()
        db.session.remove()
    if accepted(url) - base != len(ids):
        raise RuntimeError(f"the floor's requests were not all accepted ({accepted(url) - base})")
    return {
        "seconds": done - t0,
        "insert": inserted - t0,
        "send": done - inserted,
        "requests": requests,
    }


# -- the naive peer -------------------------------------------------------------------------


def run_naive(procs, env: dict, url: str, ids: list[int], args) -> dict:
    from rq import Queue

    workers = [
        procs.start(f"naive-{i}", ["-m", "bench.naive", f"naive-{i}"], env)
        for i in range(args.workers)
    ]
    if not common.wait_for_workers("naive", args.workers):
        raise RuntimeError("naive workers did not start; see bench/out/naive-*.log")
    queue = Queue("naive", connection=common.redis_conn())
    base = accepted(url)
    t0 = time.perf_counter()
    queue.enqueue_many(
        [Queue.prepare_data(NAIVE_JOB, (nid,), result_ttl=60, failure_ttl=600) for nid in ids]
    )
    done = wait_accepted(url, base + len(ids), args.timeout)
    for w in workers:
        procs.stop(w)
    if done is None:
        raise RuntimeError(f"the naive peer did not send {len(ids)} within {args.timeout} s")
    return {"seconds": done - t0, "failed": queue.failed_job_registry.count}


# -- report ---------------------------------------------------------------------------------


def print_jobs(jobs: list[dict]) -> None:
    if not jobs:
        print("  (no job timeline)")
        return
    busy: dict[str, float] = {}
    for j in jobs:
        busy[j["worker"]] = busy.get(j["worker"], 0.0) + j["end"] - j["start"]
    durations = sorted(j["end"] - j["start"] for j in jobs)
    print(
        f"  jobs: {len(jobs)}, first start {jobs[0]['start']:.3f} s, last end "
        f"{max(j['end'] for j in jobs):.3f} s, per job median {durations[len(jobs) // 2]:.3f} s "
        f"(min {durations[0]:.3f}, max {durations[-1]:.3f})"
    )
    for worker, seconds in sorted(busy.items()):
        print(f"  worker {worker}: busy {seconds:.3f} s")


def report(args, engine: dict, floor: dict, naive: dict, stats: dict) -> None:
    n = args.n
    per_second = n / engine["seconds"]
    naive_rate = args.naive_n / naive["seconds"]
    mode = "simple" if args.simple else "fork"
    print(f"machine: {common.machine()}")
    print(f"engine: {args.workers} {mode} workers, SEND_BATCH_SIZE={args.batch_size}")
    print(f"  close_position returned after {engine['close_position']:.3f} s")
    print(f"    transaction (owe {n} rows, commit): {engine['transaction']:.3f} s")
    print(f"    dispatch (enqueue the queued batches): {engine['dispatch']:.3f} s")
    print(f"  stub accepted all {n}: {engine['seconds']:.3f} s")
    recorded = engine["recorded"]
    print(f"  database says all sent: {recorded:.3f} s" if recorded else "  (never all sent)")
    print_jobs(engine["jobs"])
    print(f"  stub: duplicates={engine['duplicates']}, whole run {stats['requests_by_status']}")
    print(
        f"floor: one INSERT of {n} rows {floor['insert']:.3f} s, then {floor['requests']} "
        f"requests of up to {FLOOR_CHUNK} personalizations (rendered beforehand) on "
        f"{args.workers} threads {floor['send']:.3f} s: {floor['seconds']:.3f} s; "
        f"engine/floor {engine['seconds'] / floor['seconds']:.2f}"
    )
    print(
        f"naive: {args.workers} fork workers, one job and one request per email: "
        f"{args.naive_n} in {naive['seconds']:.3f} s, failed jobs {naive['failed']}"
    )
    print(
        f"fanout: n={n} seconds={engine['seconds']:.3f} per_second={per_second:.1f} "
        f"naive_per_second={naive_rate:.1f} ratio={per_second / naive_rate:.1f} "
        f"floor_seconds={floor['seconds']:.3f}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    # Due at once: no undo window, no business hours, no quiet hours (the candidate's night).
    env = common.base_env(UNDO_WINDOW_SECONDS=0, BUSINESS_HOURS_ENFORCED=0, QUIET_HOURS_ENFORCED=0)
    if args.batch_size:
        env["SEND_BATCH_SIZE"] = str(args.batch_size)
    common.reset_database(env)
    common.flush_redis()
    with common.Processes() as procs:
        url = common.start_stub(procs, env, "--counts-only", "--no-bodies")
        env.update(SENDGRID_API_HOST=url, SENDGRID_TIMEOUT_SECONDS="60")
        app = common.make_app(env)
        args.batch_size = app.config["SEND_BATCH_SIZE"]  # for the report
        with app.app_context():
            position_id, _ = seed_position("fanout", args.n)
            naive_ids = seed_naive(args.naive_n)
        engine = run_engine(procs, app, env, url, position_id, args)
        floor = run_floor(app, url, engine["notification_ids"], args)
        naive = run_naive(procs, env, url, naive_ids, args)
        stats = common.stub_stats(url)
    report(args, engine, floor, naive, stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
