"""Reconciler benchmark: one sweep over 1,000,000 settled notifications, and 10,000 stale ones.

Seeds its own database (the benchmarks' with `_reconcile` appended, see bench/common.py;
dropped, created and migrated here) with SQL alone (INSERT ... SELECT generate_series, then
VACUUM ANALYZE): 100 clients, 4,000 positions, 200,000 candidates, 400,000 applications (60%
in a terminal stage, each with its outcome message) and `--settled` notifications, two or three
per application, in a realistic mix of settled states (delivered 80%, sent 7%, superseded 5%,
discharged 3%, bounced 2%, dropped 1%, failed and escalated 1%, ...), spread over 90 days.

Then, in this process, with the app configured as the scheduler's (a real Redis, no workers):

1. idle: `app.notifications.reconcile:reconcile` — the function the scheduler calls
   (workers/schedule.py) — is timed `--runs` times with nothing to do; each of its SQL
   statements is then run again under EXPLAIN (ANALYZE, BUFFERS) (writes rolled back) and
   its plan's scans are printed: a sequential scan of a big table is flagged;
2. stale: `--stale` rows are added the way the reconciler finds them after trouble: half
   `pending` and due (their enqueue after commit was lost), half `queued` past the grace period
   with a job id Redis does not know (Redis lost its data). One `reconcile()` is timed: it puts
   the queued ones back to pending and dispatches all of them — marked `queued` in the database
   and enqueued in RQ (enqueue only: no worker runs, so the figure is the reconciler's own
   work, not the sending). Every row is checked to be queued with a live job afterwards.

Baselines from the same run and database: the floor, a `SELECT 1` round trip through the
same session; and the same idle sweep with PostgreSQL's index scans turned off (what it would
cost if its queries found no usable index: every sweep reading the whole outbox).

    make bench-reconcile    # or: .venv/bin/python bench/reconcile.py [--settled N --stale N]

Goals (issue 18): idle sweep <= 100 ms, re-dispatching 10,000 <= 2 s. The last line is
`reconcile: settled=<n> stale=<n> idle_ms=<p50> redispatch_seconds=<s> baseline_idle_ms=<p50
without indexes> select1_ms=<p50>`.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-reconcile)
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

DB_NAME = common.database_name("_reconcile")
DATABASE_URL = common.database_url("_reconcile")
PG_DSN = common.pg_dsn(DB_NAME)
UPDATE_KINDS = ("submitted", "client_review", "interview_scheduled", "offer", "still_deciding")
# (stage, outcome reason, outcome message kind) of the terminal applications.
TERMINAL = (
    ("hired", "hired", "hired"),
    ("rejected", "client_declined", "not_selected_client"),
    ("withdrawn", "candidate_withdrew", "withdrawal_confirmed"),
    ("position_closed", "budget_cut", "position_cancelled"),
)
ACTIVE = ("sourced", "submitted", "client_review", "interview", "offer")
# Settled states by i % 100, for messages other than the outcome (which is never superseded).
STATE_MIX = [("delivered", 80), ("sent", 7), ("superseded", 5), ("discharged", 3)] + [
    ("bounced", 2),
    ("dropped", 1),
    ("failed", 1),
    ("delivered", 1),
]
BIG_TABLES = ("notifications", "applications", "candidates")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settled", type=int, default=1_000_000)
    parser.add_argument("--stale", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20, help="idle sweeps timed")
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--plans", action="store_true", help="print every plan in full")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the seeded database (migrated to the head)"
    )
    return parser.parse_args(argv)


def _case(column: str, pairs) -> str:
    """CASE over `column` (0..99) choosing each value for its share of the hundred."""
    parts, upto = [], 0
    for value, share in pairs:
        upto += share
        parts.append(f"WHEN {column} < {upto} THEN '{value}'")
    return "CASE " + " ".join(parts) + " END"


def _array(values) -> str:
    return "ARRAY[" + ",".join(f"'{v}'" for v in values) + "]"


def seed(settled: int) -> dict:
    """Everything with INSERT ... SELECT generate_series: seconds, not minutes."""
    import psycopg

    apps = max(10, int(settled / 2.5))
    candidates = max(1, apps // 2)
    # Notification i belongs to application (i % apps) + 1 as its version i / apps + 1, so an
    # application's version is its number of messages; a terminal one's last is its outcome.
    t_stage = _array(t[0] for t in TERMINAL)
    t_reason = _array(t[1] for t in TERMINAL)
    t_kind = _array(t[2] for t in TERMINAL)
    statements = [
        "INSERT INTO users (name, email, password_hash, role, active, timezone, created_at,"
        " updated_at) VALUES ('Owner', 'owner@bench.test', '!', 'recruiter', true,"
        " 'Europe/London', now(), now())",
        "INSERT INTO clients (name, created_at, updated_at)"
        " SELECT 'Client ' || i, now(), now() FROM generate_series(1, 100) i",
        "INSERT INTO positions (client_id, title, owner_id, status, status_changed_at, opened_at,"
        " created_at, updated_at) SELECT 1 + i % 100, 'Position ' || i, 1, 'open', now(), now(),"
        " now(), now() FROM generate_series(1, 4000) i",
        "INSERT INTO candidates (name, email, optional_updates, preferred_channel, token_version,"
        " token_secret, created_at, updated_at) SELECT 'Candidate ' || i,"
        " 'c' || i || '@example.test', true, 'email', 1, md5(i::text), now(), now()"
        f" FROM generate_series(1, {candidates}) i",
        # a = id - 1; a % 10 < 6: terminal (60%), else active.
        "INSERT INTO applications (candidate_id, position_id, stage, outcome_reason,"
        " stage_entered_at, version, created_at, updated_at)"
        # A candidate's two applications (a and a + candidates) are on different positions.
        f" SELECT 1 + a % {candidates}, 1 + (a + a / {candidates}) % 4000,"
        f" CASE WHEN a % 10 < 6 THEN ({t_stage})[1 + a % 4] ELSE ({_array(ACTIVE)})[1 + a % 5]"
        f" END, CASE WHEN a % 10 < 6 THEN ({t_reason})[1 + a % 4] END,"
        # Entered their stage and last changed over 90 days, about 4,400 a day.
        " now() - (a % 129600) * interval '1 minute',"
        f" ({settled} - 1 - a) / {apps} + 1, now() - (a % 129600) * interval '1 minute' - interval"
        " '1 day', now() - (a % 129600) * interval '1 minute'"
        f" FROM generate_series(0, {apps - 1}) a",
        "INSERT INTO notifications (application_id, candidate_id, kind, category, state,"
        " idempotency_key, app_version, context, due_at, attempts, ambiguous_sends, created_at,"
        " updated_at, sent_at, delivered_at, escalated_at, failed_at, discharged_at)"
        " SELECT s.app_id, s.candidate_id, s.kind, s.category, s.state, 'bench:' || s.i,"
        " s.v, '{}', s.t, 1, 0, s.t, s.t + interval '2 minutes',"
        " CASE WHEN s.state IN ('sent','delivered','bounced','dropped') THEN s.t END,"
        " CASE WHEN s.state = 'delivered' THEN s.t + interval '1 minute' END,"
        " CASE WHEN s.state = 'failed' THEN s.t + interval '1 day' END,"
        " CASE WHEN s.state = 'failed' THEN s.t END,"
        " CASE WHEN s.state = 'discharged' THEN s.t END"
        " FROM (SELECT i, a.id AS app_id, a.candidate_id, i / " + str(apps) + " + 1 AS v,"
        " now() - (i % 129600) * interval '1 minute' AS t,"
        " CASE WHEN a.stage IN ('hired','rejected','withdrawn','position_closed')"
        f"  AND i / {apps} + 1 = a.version THEN ({t_kind})[1 + (a.id - 1) % 4]"
        f"  ELSE ({_array(UPDATE_KINDS)})[1 + i % {len(UPDATE_KINDS)}] END AS kind,"
        " CASE WHEN a.stage IN ('hired','rejected','withdrawn','position_closed')"
        f"  AND i / {apps} + 1 = a.version THEN 'outcome' ELSE 'update' END AS category,"
        " CASE WHEN a.stage IN ('hired','rejected','withdrawn','position_closed')"
        f"  AND i / {apps} + 1 = a.version THEN"
        f"  {_case('i % 100', [('delivered', 94), ('sent', 3), ('bounced', 2), ('discharged', 1)])}"
        f"  ELSE {_case('i % 100', STATE_MIX)} END AS state"
        f" FROM generate_series(0, {settled - 1}) i JOIN applications a ON a.id = i % {apps} + 1"
        " ) s",
        # A week of reconciler runs (one every 30 s), as the engine page and /metrics see them.
        "INSERT INTO reconciler_runs (holder, started_at, finished_at, dispatched, requeued,"
        " reclaimed, escalated, repaired) SELECT 'bench:1', now() - i * interval '30 seconds',"
        " now() - i * interval '30 seconds' + interval '1 second', i % 3, 0, 0, 0, 0"
        " FROM generate_series(1, 20160) i",
    ]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)
        conn.execute("VACUUM ANALYZE")
        return dict(
            conn.execute("SELECT state, count(*) FROM notifications GROUP BY state").fetchall()
        )


def reuse(env: dict) -> dict:
    """The database of an earlier run, migrated to the head, without its stale rows."""
    import psycopg

    common.migrate(env, timeout=600)
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        # Without the foreign keys' checks: before d2recon0013 indexed
        # notifications.superseded_by_id, each deleted row cost a scan of the whole table
        # (16 minutes for 10,000 at 1,000,000); the rows deleted here are the bench's own.
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM notifications WHERE idempotency_key LIKE 'stale:%'")
        conn.execute("SET session_replication_role = DEFAULT")
        conn.execute("VACUUM ANALYZE notifications")
        return dict(
            conn.execute("SELECT state, count(*) FROM notifications GROUP BY state").fetchall()
        )


def add_stale(n: int) -> None:
    """Half pending and due (lost enqueue), half queued past the grace period with a job
    Redis never heard of (Redis lost its data); all owed by active applications, owed in the
    last hour (not yet past the SLA, so nothing is escalated)."""
    import psycopg

    sql = (
        "INSERT INTO notifications (application_id, candidate_id, kind, category, state,"
        " idempotency_key, app_version, context, due_at, attempts, ambiguous_sends, created_at,"
        " updated_at, job_id, queued_at)"
        " SELECT a.id, a.candidate_id,"
        f" ({_array(UPDATE_KINDS)})[1 + s.i % {len(UPDATE_KINDS)}], 'update',"
        " CASE WHEN s.i % 2 = 0 THEN 'pending' ELSE 'queued' END, 'stale:' || s.i, a.version,"
        " '{}', now() - (120 + s.i % 3000) * interval '1 second', 0, 0,"
        " now() - interval '1 hour', now() - interval '1 hour',"
        " CASE WHEN s.i % 2 = 1 THEN 'notify-' || s.i || '-gone-a0' END,"
        " CASE WHEN s.i % 2 = 1 THEN now() - interval '1 hour' END"
        f" FROM generate_series(0, {n - 1}) s(i), (SELECT array_agg(id) AS ids FROM"
        " (SELECT id FROM applications WHERE stage IN"
        f" ({', '.join(repr(s) for s in ACTIVE)}) ORDER BY id LIMIT 1000) x) act"
        " JOIN applications a ON true WHERE a.id = act.ids[1 + s.i % array_length(act.ids, 1)]"
    )
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(sql)
        conn.execute("ANALYZE notifications")


def timed(fn, runs: int, warm: int = 2) -> list[float]:
    for _ in range(warm):
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return sorted(samples)


class StatementTimes:
    """Each statement's slowest run while attached: EXPLAIN shows a plan for the values
    given, but after a few runs psycopg prepares a statement and PostgreSQL may switch to one
    plan for any values, which only the timed runs show."""

    def __init__(self, engine):
        self.engine = engine
        self.slowest: dict[str, float] = {}

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        ms = (time.perf_counter() - conn.info.pop("bench_t0")) * 1000
        key = " ".join(statement.split())[:110]
        self.slowest[key] = max(ms, self.slowest.get(key, 0.0))

    def __enter__(self):
        import sqlalchemy as sa

        sa.event.listen(self.engine, "before_cursor_execute", self._before)
        sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        import sqlalchemy as sa

        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)

    def print(self, top: int = 4) -> None:
        for key, ms in sorted(self.slowest.items(), key=lambda kv: -kv[1])[:top]:
            print(f"  {ms:9.1f} ms  {key}")


def capture_statements(engine, fn) -> list[tuple[str, object]]:
    import sqlalchemy as sa

    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if not executemany:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


_SCAN = re.compile(
    r"((?:Parallel )?(?:Seq|Index|Index Only|Bitmap Heap|Bitmap Index) Scan.*?)\s+\("
)


def explain(engine, statements, full: bool) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) each statement of a sweep, writes rolled back; returns the
    big tables read sequentially."""
    flagged = []
    for statement, parameters in statements:
        if statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            continue
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
            conn.rollback()
        plan = [r[0] for r in rows]
        total = next((line for line in plan if line.startswith("Execution Time")), "")
        scans = sorted({m.group(1).strip() for line in plan for m in _SCAN.finditer(line)})
        sql = " ".join(statement.split())
        print(f"  {total.replace('Execution Time: ', ''):>12}  {sql[:110]}")
        for scan in scans:
            print(f"      {scan}")
            if scan.startswith(("Seq Scan", "Parallel Seq Scan")) and any(
                f" on {t}" in scan for t in BIG_TABLES
            ):
                flagged.append(f"{scan} in: {sql[:80]}")
        if full:
            print("\n".join("        " + line for line in plan))
    return flagged


def without_indexes(engine):
    """Every new connection plans without index scans (the baseline); undo by disposing."""
    import sqlalchemy as sa

    def off(dbapi_conn, record):
        with dbapi_conn.cursor() as cur:
            for setting in ("enable_indexscan", "enable_indexonlyscan", "enable_bitmapscan"):
                cur.execute(f"SET {setting} = off")
        dbapi_conn.commit()

    engine.dispose()
    sa.event.listen(engine, "connect", off)
    return lambda: (sa.event.remove(engine, "connect", off), engine.dispose())


def check_redispatched(stale: int) -> tuple[int, int]:
    """(stale rows now queued with a job RQ holds, jobs in the notifications queue)."""
    import sqlalchemy as sa
    from rq.job import Job

    from app.extensions import db
    from app.models import Notification
    from app.notifications import dispatch
    from app.redis_conn import get_redis

    rows = db.session.execute(
        sa.select(Notification.state, Notification.job_id).where(
            Notification.idempotency_key.like("stale:%")
        )
    ).all()
    db.session.commit()
    conn = get_redis()
    jobs = {r.job_id for r in rows if r.state == "queued" and r.job_id}
    pipe = conn.pipeline(transaction=False)
    for job_id in jobs:
        pipe.exists(Job.key_for(job_id))
    live = {j for j, ok in zip(jobs, pipe.execute(), strict=True) if ok}
    ok = sum(1 for r in rows if r.state == "queued" and r.job_id in live)
    return ok, dispatch.queue().count


def main(argv=None) -> int:
    import sqlalchemy as sa

    args = parse_args(argv)
    print(f"machine: {common.machine()}")
    env = common.base_env(DATABASE_URL=DATABASE_URL, EMAIL_BACKEND="mailbox", SENDGRID_API_KEY="")
    common.flush_redis()
    t0 = time.perf_counter()
    if args.reuse:
        counts = reuse(env)
    else:
        common.reset_database(env, DB_NAME)
        counts = seed(args.settled)
    print(f"seeded in {time.perf_counter() - t0:.1f} s: notifications by state {counts}")

    app = common.make_app(env)
    from app.extensions import db
    from app.notifications.reconcile import reconcile

    with app.app_context():
        engine = db.engine

        def sweep():
            result = reconcile()
            assert not any(result.values()), f"an idle sweep did something: {result}"

        with StatementTimes(engine) as times:
            idle = timed(sweep, args.runs)
        select1 = timed(lambda: db.session.execute(sa.text("SELECT 1")).all(), args.runs)
        db.session.commit()
        print(f"machine: {common.machine()}")
        print(
            f"idle sweep: p50 {statistics.median(idle):.1f} ms  min {idle[0]:.1f}  "
            f"max {idle[-1]:.1f} ms ({args.runs} runs); SELECT 1: p50 "
            f"{statistics.median(select1):.2f} ms"
        )
        print("the slowest statements of the timed sweeps (their slowest run):")
        times.print()
        print("the sweep's statements under EXPLAIN (ANALYZE, BUFFERS), writes rolled back:")
        statements = capture_statements(engine, sweep)
        flagged = explain(engine, statements, args.plans)
        for f in flagged:
            print(f"  !! sequential scan of a big table: {f}")
        restore = without_indexes(engine)
        try:
            baseline = timed(sweep, args.baseline_runs, warm=1)
        finally:
            restore()
        print(
            f"baseline, the same idle sweep without index scans: p50 "
            f"{statistics.median(baseline):.1f} ms ({args.baseline_runs} runs)"
        )

        add_stale(args.stale)
        db.session.commit()
        with StatementTimes(engine) as times:
            t0 = time.perf_counter()
            did = reconcile()
            redispatch = time.perf_counter() - t0
        ok, in_queue = check_redispatched(args.stale)
        print(f"machine: {common.machine()}")
        print(
            f"stale sweep: {did} in {redispatch:.3f} s; {ok} of {args.stale} stale rows queued "
            f"with a live job; {in_queue} jobs in the notifications queue (enqueue only)"
        )
        print("its slowest statements:")
        times.print()
        if ok != args.stale:
            raise SystemExit(f"only {ok} of {args.stale} stale rows were re-dispatched")
        db.session.remove()
        db.engine.dispose()
    print(
        f"reconcile: settled={sum(counts.values())} stale={args.stale} "
        f"idle_ms={statistics.median(idle):.1f} redispatch_seconds={redispatch:.3f} "
        f"baseline_idle_ms={statistics.median(baseline):.1f} "
        f"select1_ms={statistics.median(select1):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
