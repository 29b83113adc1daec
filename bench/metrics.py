"""/metrics benchmark: a Prometheus scrape of the web at 1,000,000 notifications (PostgreSQL).

Seeds its own database (BENCH_DATABASE_URL or BENCH_DB_NAME, default `closeloop_bench`;
dropped, created and migrated here) with SQL alone: 250,000 candidates, 1,000,000 applications
and one notification each (98% sent, 1% owed - a third of those past the SLA - and 1% failed),
a month of reconciler runs (86,400, one every 30 seconds) and the overdue counts of 1,000
positions. Then, in this process, `GET /metrics` (bearer token, through Flask's test client,
every gauge read from the database and Redis) is requested 30 times after 3 warm-ups, and its
SQL statements are counted.

The baseline, in the same run and database: counting the whole outbox by state and kind (the
obvious way to get "notifications by state and kind"), which the scrape avoids by reading
only the open states through `ix_notifications_state_due`.

    make bench-metrics      # or: .venv/bin/python bench/metrics.py [--notifications N]

The last line is `metrics: notifications=<n> p50_ms=<x> p95_ms=<y> statements=<k>
full_count_ms=<z>`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-metrics)
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

TOKEN = "bench-metrics-token"  # noqa: S105 - a throwaway local database
PG_DSN = common.pg_dsn()
KINDS = ("submitted", "client_review", "interview_scheduled", "offer", "not_selected_client")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notifications", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    return parser.parse_args(argv)


def seed(n: int) -> dict:
    """Everything with INSERT ... SELECT generate_series: seconds, not minutes."""
    import psycopg

    candidates = max(1, n // 4)
    kinds = "ARRAY[" + ",".join(f"'{k}'" for k in KINDS) + "]"
    statements = [
        "INSERT INTO users (name, email, password_hash, role, active, timezone, created_at,"
        " updated_at) VALUES ('Owner', 'owner@bench.test', '!', 'recruiter', true,"
        " 'Europe/London', now(), now())",
        "INSERT INTO clients (name, created_at, updated_at)"
        " SELECT 'Client ' || i, now(), now() FROM generate_series(1, 100) i",
        "INSERT INTO positions (client_id, title, owner_id, status, status_changed_at, opened_at,"
        " created_at, updated_at) SELECT 1 + i % 100, 'Position ' || i, 1, 'open', now(), now(),"
        " now(), now() FROM generate_series(1, 1000) i",
        "INSERT INTO candidates (name, email, optional_updates, preferred_channel, token_version,"
        " token_secret, created_at, updated_at) SELECT 'Candidate ' || i,"
        " 'c' || i || '@example.test', true, 'email', 1, md5(i::text), now(), now()"
        f" FROM generate_series(1, {candidates}) i",
        "INSERT INTO applications (candidate_id, position_id, stage, stage_entered_at, version,"
        f" created_at, updated_at) SELECT 1 + i % {candidates}, 1 + (i / {candidates}) % 1000,"
        " 'client_review',"
        f" now(), 1, now(), now() FROM generate_series(0, {n - 1}) i",
        # i % 100: 0 failed, 1 owed (pending/queued/sending by i % 3), the rest sent. Owed rows
        # were owed between now and 3 days ago, so about a third are past a one-day SLA.
        "INSERT INTO notifications (application_id, candidate_id, kind, category, state,"
        " idempotency_key, app_version, context, due_at, attempts, ambiguous_sends, created_at,"
        " updated_at, sent_at) SELECT a.id, a.candidate_id,"
        f" ({kinds})[1 + a.id % {len(KINDS)}], 'update',"
        " CASE WHEN a.id % 100 = 0 THEN 'failed' WHEN a.id % 100 = 1 THEN"
        " (ARRAY['pending','queued','sending'])[1 + a.id % 3] ELSE 'sent' END,"
        " 'bench:' || a.id, 1, '{}', now() - (a.id % 4320) * interval '1 minute', 1, 0,"
        " now() - (a.id % 4320) * interval '1 minute', now(),"
        " CASE WHEN a.id % 100 > 1 THEN now() END FROM applications a",
        "INSERT INTO reconciler_runs (holder, started_at, finished_at, dispatched, requeued,"
        " reclaimed, escalated, repaired) SELECT 'bench:1', now() - i * interval '30 seconds',"
        " now() - i * interval '30 seconds' + interval '1 second', i % 3, 0, 0, 0, i % 7"
        " FROM generate_series(0, 86399) i",
        "INSERT INTO overdue_counts (reason, position_id, owner_id, client_id, n)"
        " SELECT r, p, 1, 1 + p % 100, 1 + p % 17 FROM generate_series(1, 1000) p,"
        " unnest(ARRAY['owed_unsent','undeliverable','promise_missed','silent']) r",
    ]
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)
        conn.execute("VACUUM ANALYZE")
        counts = dict(
            conn.execute("SELECT state, count(*) FROM notifications GROUP BY state").fetchall()
        )
    return counts


def timed(fn, runs: int) -> list[float]:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return sorted(samples)


def percentile(samples: list[float], q: float) -> float:
    return samples[min(len(samples) - 1, int(q * len(samples)))]


def main(argv=None) -> int:
    import sqlalchemy as sa

    args = parse_args(argv)
    print(f"machine: {common.machine()}")
    env = common.base_env(EMAIL_BACKEND="mailbox", SENDGRID_API_KEY="", METRICS_TOKEN=TOKEN)
    common.reset_database(env)
    common.flush_redis()
    t0 = time.perf_counter()
    counts = seed(args.notifications)
    print(f"seeded in {time.perf_counter() - t0:.1f} s: notifications by state {counts}")

    app = common.make_app(env)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def scrape():
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    body = scrape()
    for line in body.splitlines():
        if line.startswith(("closeloop_notifications_owed_past_sla", "closeloop_state_source")):
            print(f"  {line}")
    from app.extensions import db

    statements = []
    with app.app_context():
        engine = db.engine

    def count(*_):
        statements.append(1)

    sa.event.listen(engine, "before_cursor_execute", count)
    scrape()
    sa.event.remove(engine, "before_cursor_execute", count)
    samples = timed(scrape, args.runs)

    def full_count():
        with engine.connect() as conn:
            conn.execute(
                sa.text("SELECT state, kind, count(*) FROM notifications GROUP BY state, kind")
            ).all()

    baseline = timed(full_count, max(5, args.runs // 3))
    p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
    print(f"scrape: p50 {p50:.1f} ms  p95 {p95:.1f} ms  max {samples[-1]:.1f} ms")
    print(f"baseline, the whole outbox by state and kind: p50 {percentile(baseline, 0.5):.1f} ms")
    print(
        f"metrics: notifications={args.notifications} p50_ms={p50:.1f} p95_ms={p95:.1f} "
        f"statements={len(statements)} full_count_ms={percentile(baseline, 0.5):.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
