"""Overdue-report benchmark: 1,000,000 applications and 3,000,000 notifications in PostgreSQL.

Seeds its own database (`closeloop_bench_report`: see bench/common.py; dropped and created
here, then migrated) with COPY through psycopg: 200 recruiters, 1,000 clients, 20,000
positions, 800,000 candidates, the applications, three notifications each, contacts, promise
tasks and bounce events. The agency is deliberately unhealthy (most applications are overdue
for at least one reason) so that the full CSV export is about a million rows. Then:

1. the report is computed once (`app.reports.overdue.refresh`, the scheduler's job), timed;
2. in a fresh process, the report page (`GET /reports/overdue` through Flask's test client,
   signed in as a manager: query, template and all) is requested 30 times unfiltered and
   10 times for each filter, and the counts function is timed; p50 is the unfiltered page;
3. in another fresh process, the full CSV (`GET /reports/overdue.csv`) is streamed and
   counted; its peak memory is that whole process's peak RSS (interpreter and app included);
4. the SLA dashboard (`/reports/sla`) and delivery health (`/reports/delivery`), each in a
   fresh process: first computed live at every view (no snapshot: the baseline, 3 runs), then,
   after the dashboards' refresh job (`app.reports.snapshots.refresh`, timed), from its
   snapshot (`--page-runs` runs).

    make bench-report      # or: .venv/bin/python bench/report.py [--applications N] [--skip-seed]

The database is the benchmarks' own with `_report` appended (bench/common.py, default
`closeloop_bench_report`); `--skip-seed` reuses
it as it is (migrated to the head first). The last line is `report: applications=<n>
p50_ms=<x> csv_seconds=<s> csv_peak_mb=<m> sla_ms=<p50> delivery_ms=<p50>
sla_live_ms=<p50> delivery_live_ms=<p50>` (the `_live_` ones: the same pages computed at
every view, as before the snapshots). `--dashboards-only` stops after step 4 and prints
`report: applications=<n> sla_ms=... delivery_ms=... sla_live_ms=... delivery_live_ms=...`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-report)
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

DB_NAME = common.database_name("_report")  # BENCH_DATABASE_URL's name + "_report"
DATABASE_URL = common.database_url("_report")
PG_DSN = common.pg_dsn(DB_NAME)
MANAGER_EMAIL = "manager@bench.test"
PASSWORD = "bench-password"  # noqa: S105 - a throwaway local database
RECRUITERS, CLIENTS, POSITIONS = 200, 1_000, 20_000
ACTIVE = ("sourced", "submitted", "client_review", "interview", "offer")
TERMINAL = (
    ("hired", "hired", "hired"),
    ("rejected", "client_declined", "not_selected_client"),
    ("rejected", "agency_decision", "not_selected_agency"),
    ("withdrawn", "candidate_withdrew", "withdrawal_ack"),
    ("position_closed", "budget_cut", "position_cancelled"),
)
UPDATE_KIND = {
    "sourced": "submitted",
    "submitted": "submitted",
    "client_review": "client_review",
    "interview": "interview_scheduled",
    "offer": "offer",
}
BOUNCES = (
    "550 5.1.1 The email account that you tried to reach does not exist",
    "552 5.2.2 Mailbox full",
    "550 5.7.1 Message rejected as spam",
    "Bounced Address",
    "554 5.7.9 Message not accepted for policy reasons",
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--page-runs", type=int, default=30)
    parser.add_argument("--skip-seed", action="store_true", help="reuse the seeded database")
    parser.add_argument(
        "--dashboards-only", action="store_true", help="time the SLA and delivery pages only"
    )
    parser.add_argument("--measure", choices=["pages", "csv", "dashboards"], help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def env() -> dict:
    return common.base_env(
        DATABASE_URL=DATABASE_URL,
        EMAIL_BACKEND="mailbox",
        SENDGRID_API_KEY="",
        HOLIDAY_COUNTRY="GB",
        HOLIDAY_SUBDIVISION="ENG",
        # No scheduler runs here to refresh the dashboards' snapshot: keep the one made below.
        DASHBOARD_REFRESH_SECONDS=86400,
    )


# -- seeding --------------------------------------------------------------------------------


class Stamps:
    """Timestamps as COPY text, precomputed at 10-minute steps over two years."""

    def __init__(self, now: datetime):
        self.now = now
        self.step = 600
        self.count = 2 * 366 * 24 * 6
        start = now - timedelta(seconds=self.step * self.count)
        self.text = [
            (start + timedelta(seconds=self.step * i)).strftime("%Y-%m-%d %H:%M:%S+00")
            for i in range(self.count + 1)
        ]

    def ago(self, seconds: float) -> int:
        """Index of the stamp `seconds` before now (clamped to the range)."""
        return max(0, min(self.count, self.count - int(seconds // self.step)))


def copy_rows(conn, table: str, columns: tuple[str, ...], lines) -> int:
    """COPY text lines (tab-separated, \\N for NULL) in large chunks."""
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        buffer = []
        for line in lines:
            buffer.append(line)
            n += 1
            if len(buffer) >= 20_000:
                cp.write("\n".join(buffer) + "\n")
                buffer.clear()
        if buffer:
            cp.write("\n".join(buffer) + "\n")
    return n


def seed(n_apps: int) -> dict:
    import psycopg
    from werkzeug.security import generate_password_hash

    rng = random.Random(20261125)
    now = datetime.now(UTC)
    stamps = Stamps(now)
    ts = stamps.text
    day = 86400
    future = (now + timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S+00")
    n_candidates = max(1, n_apps * 4 // 5)
    counts = {}
    with psycopg.connect(PG_DSN) as conn:
        pw = generate_password_hash(PASSWORD)
        users = [
            f"Bench Manager\t{MANAGER_EMAIL}\t{pw}\tmanager\tt\tEurope/London\t{ts[-1]}\t{ts[-1]}"
        ]
        users += [
            f"Recruiter {i}\trecruiter{i}@bench.test\t!\trecruiter\tt\tEurope/London"
            f"\t{ts[-1]}\t{ts[-1]}"
            for i in range(1, RECRUITERS + 1)
        ]
        ucols = ("name", "email", "password_hash", "role", "active", "timezone")
        counts["users"] = copy_rows(conn, "users", (*ucols, "created_at", "updated_at"), users)
        counts["clients"] = copy_rows(
            conn,
            "clients",
            ("name", "created_at", "updated_at"),
            (f"Client {i}\t{ts[-1]}\t{ts[-1]}" for i in range(1, CLIENTS + 1)),
        )
        counts["positions"] = copy_rows(
            conn,
            "positions",
            (
                "client_id",
                "title",
                "location",
                "owner_id",
                "status",
                "status_changed_at",
                "opened_at",
                "created_at",
                "updated_at",
            ),  # fmt: skip
            (
                f"{rng.randint(1, CLIENTS)}\tPosition {i}\tLeeds\t{rng.randint(2, RECRUITERS + 1)}"
                f"\topen\t{ts[0]}\t{ts[0]}\t{ts[0]}\t{ts[0]}"
                for i in range(1, POSITIONS + 1)
            ),
        )
        counts["candidates"] = copy_rows(
            conn,
            "candidates",
            (
                "name",
                "email",
                "phone",
                "timezone",
                "optional_updates",
                "preferred_channel",
                "token_version",
                "token_secret",
                "created_at",
                "updated_at",
            ),  # fmt: skip
            (
                f"Candidate {i}\tc{i}@example.test\t+44 7700 900000\tEurope/London\tt\temail"
                f"\t1\tsecret{i}\t{ts[0]}\t{ts[0]}"
                for i in range(1, n_candidates + 1)
            ),
        )
        apps, notes, contacts, tasks, events = [], [], [], [], []
        for i in range(n_apps):
            a_id = i + 1
            cand = i % n_candidates + 1
            pos = (i * 7919 + i // n_candidates) % POSITIONS + 1
            created = stamps.ago(rng.uniform(20 * day, 700 * day))
            entered = min(stamps.count, created + rng.randint(0, 30 * 24 * 6))
            r = rng.random()
            promised = interview = r"\N"
            if r < 0.45:  # active
                stage = rng.choices(ACTIVE, weights=(10, 25, 25, 30, 10))[0]
                reason, kind3, cat3 = r"\N", UPDATE_KIND[stage], "update"
                # Most have been silent well over seven business days; some were called.
                last = stamps.ago(rng.uniform(12 * day, 60 * day) if rng.random() < 0.8 else
                                  rng.uniform(0, 2 * day))  # fmt: skip
                if stage == "interview":
                    interview = ts[stamps.ago(rng.uniform(5 * day, 20 * day))]
                    missed = rng.random() < 0.7
                    promised = ts[stamps.ago(rng.uniform(1 * day, 4 * day))] if missed else future
                    if missed and rng.random() < 0.2:
                        tasks.append((a_id, cand, ts[stamps.ago(3 * day)]))
            else:
                stage, reason, kind3 = TERMINAL[rng.randrange(len(TERMINAL))]
                cat3 = "outcome"
                last = entered
            version = 3
            apps.append(
                f"{cand}\t{pos}\t{stage}\t{reason}\t{ts[entered]}\t{version}\t{interview}"
                f"\t{promised}\t{ts[last]}\t{ts[created]}\t{ts[entered]}"
            )
            # Three messages: the first two went out long ago, the third is this stage's.
            for v, kind, cat, at in (
                (1, "submitted", "update", created),
                (2, "client_review", "update", min(stamps.count, created + 6 * 24 * 2)),
                (3, kind3, cat3, entered),
            ):
                state = _state(rng, v, cat)
                notes.append(_notification(a_id, cand, kind, cat, v, state, ts, at, stamps, rng))
                if state in ("bounced", "dropped") and rng.random() < 0.3:
                    events.append((len(notes), state, at))
            if rng.random() < 0.03:  # a contact the day after the stage change: a near miss
                contacts.append((cand, a_id, ts[min(stamps.count, entered + 6 * 24)]))
        counts["applications"] = copy_rows(
            conn,
            "applications",
            (
                "candidate_id",
                "position_id",
                "stage",
                "outcome_reason",
                "stage_entered_at",
                "version",
                "interview_at",
                "promised_response_at",
                "last_candidate_contact_at",
                "created_at",
                "updated_at",
            ),  # fmt: skip
            apps,
        )
        del apps
        counts["notifications"] = copy_rows(conn, "notifications", NOTIFICATION_COLUMNS, notes)
        del notes
        counts["contacts"] = copy_rows(
            conn,
            "contacts",
            (
                "candidate_id",
                "application_id",
                "user_id",
                "channel",
                "summary",
                "occurred_at",
                "created_at",
            ),  # fmt: skip
            (f"{c}\t{a}\t2\tphone\tCalled them\t{t}\t{t}" for c, a, t in contacts),
        )
        counts["tasks"] = copy_rows(
            conn,
            "tasks",
            (
                "kind",
                "title",
                "candidate_id",
                "application_id",
                "dedupe_key",
                "due_at",
                "created_at",
            ),  # fmt: skip
            (
                f"promise_missed\tDecision date missed\t{c}\t{a}\tpromise_missed:{a}:{t}\t{t}\t{t}"
                for a, c, t in tasks
            ),
        )
        counts["delivery_events"] = copy_rows(
            conn,
            "delivery_events",
            (
                "sg_event_id",
                "notification_id",
                "event",
                "reason",
                "occurred_at",
                "received_at",
                "payload",
            ),  # fmt: skip
            (
                f"ev{k}\t{nid}\t{'bounce' if st == 'bounced' else 'dropped'}"
                f"\t{BOUNCES[k % len(BOUNCES)]}\t{ts[at]}\t{ts[at]}\t{{}}"
                for k, (nid, st, at) in enumerate(events)
            ),
        )
        conn.commit()
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return counts


NOTIFICATION_COLUMNS = (
    "application_id", "candidate_id", "kind", "category", "state", "idempotency_key",
    "app_version", "context", "due_at", "attempts", "ambiguous_sends", "to_email",
    "created_at", "updated_at", "sent_at", "delivered_at", "bounced_at", "dropped_at",
    "failed_at", "last_error", "discharged_at", "discharge_reason",
)  # fmt: skip


def _state(rng: random.Random, version: int, category: str) -> str:
    r = rng.random()
    if version < 3:
        return "delivered" if r < 0.92 else ("bounced" if r < 0.97 else "dropped")
    if category == "outcome":
        table = ((0.30, "delivered"), (0.38, "sent"), (0.62, "pending"), (0.78, "failed"),
                 (0.90, "bounced"), (0.94, "dropped"))  # fmt: skip
    else:
        table = ((0.45, "delivered"), (0.55, "sent"), (0.80, "pending"), (0.85, "queued"),
                 (0.92, "bounced"), (0.95, "dropped"))  # fmt: skip
    for bound, state in table:
        if r < bound:
            return state
    return "discharged"


def _notification(a_id, cand, kind, cat, v, state, ts, at, stamps, rng) -> str:
    n = r"\N"
    sent = ts[min(stamps.count, at + rng.randint(0, 12))] if state not in (
        "pending", "queued", "failed", "discharged") else n  # fmt: skip
    delivered = sent if state == "delivered" else n
    bounced = sent if state == "bounced" else n
    dropped = sent if state == "dropped" else n
    failed = ts[at] if state == "failed" else n
    error = "invalid address" if state == "failed" else (
        f"{state}: mailbox unavailable" if state in ("bounced", "dropped") else n)  # fmt: skip
    discharged = ts[at] if state == "discharged" else n
    why = "exempt: bench" if state == "discharged" else n
    return (
        f"{a_id}\t{cand}\t{kind}\t{cat}\t{state}\t{kind}:a{a_id}:v{v}\t{v}\t{{}}\t{ts[at]}\t1\t0"
        f"\tc{cand}@example.test\t{ts[at]}\t{ts[at]}\t{sent}\t{delivered}\t{bounced}\t{dropped}"
        f"\t{failed}\t{error}\t{discharged}\t{why}"
    )


# -- measuring (each in a fresh process) -------------------------------------------------------


def _app():
    os.environ.update(env())
    from app import create_app

    return create_app({"WTF_CSRF_ENABLED": False})


def _signed_in(app):
    client = app.test_client()
    response = client.post("/login", data={"email": MANAGER_EMAIL, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError("could not sign in as the bench manager")
    return client


def _time_get(client, url: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return times


def measure_pages(runs: int) -> dict:
    from app.reports import queries

    app = _app()
    client = _signed_in(app)
    out = {}
    with app.app_context():
        counts = queries.counts()
        owner = max(counts.by_owner, key=lambda r: r[3])[0]
        client_id = max(counts.by_client, key=lambda r: r[3])[0]
    urls = {
        "unfiltered": "/reports/overdue",
        "recruiter": f"/reports/overdue?recruiter={owner}",
        "client": f"/reports/overdue?client={client_id}",
        "reason=silent": "/reports/overdue?reason=silent",
        "min_age=30": "/reports/overdue?min_age=30",
        "page 50": "/reports/overdue?page=50",
    }
    _time_get(client, urls["unfiltered"], 3)  # warm-up: imports, templates, connections
    for name, url in urls.items():
        times = _time_get(client, url, runs if name == "unfiltered" else max(5, runs // 3))
        out[name] = {"p50": statistics.median(times), "max": max(times)}
    with app.app_context():
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            queries.counts()
            times.append((time.perf_counter() - t0) * 1000)
        out["counts"] = {"p50": statistics.median(times), "max": max(times)}
        out["total"] = queries.counts().total
        out["by_reason"] = queries.counts().by_reason
    times = _time_get(client, "/reports/engine", 3)
    out["engine"] = {"p50": statistics.median(times), "max": max(times)}
    return out


DASHBOARDS = {"sla": "/reports/sla", "delivery": "/reports/delivery"}


def measure_dashboards(runs: int) -> dict:
    """The SLA and delivery pages: p50 and max over `runs` views, after one warm-up, and
    whether their figures came from a snapshot (the page says "Figures as of")."""
    app = _app()
    client = _signed_in(app)
    out = {}
    for name, url in DASHBOARDS.items():
        page = client.get(url).get_data(as_text=True)  # warm-up: imports, templates
        times = _time_get(client, url, runs)
        out[name] = {
            "p50": statistics.median(times),
            "max": max(times),
            "snapshot": 'data-testid="as-of"' in page,
        }
    return out


def clear_snapshots() -> None:
    """No snapshot: the dashboards compute live, as before they had one (the baseline)."""
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute("DELETE FROM dashboard_snapshots")


def refresh_dashboards() -> float:
    app = _app()
    from app.extensions import db
    from app.reports import snapshots

    with app.app_context():
        t0 = time.perf_counter()
        snapshots.refresh()
        seconds = time.perf_counter() - t0
        db.session.remove()
        db.engine.dispose()
    return seconds


def measure_csv() -> dict:
    app = _app()
    client = _signed_in(app)
    t0 = time.perf_counter()
    response = client.get("/reports/overdue.csv")
    lines = 0
    size = 0
    for chunk in response.response:
        data = chunk if isinstance(chunk, bytes) else chunk.encode()
        lines += data.count(b"\n")
        size += len(data)
    seconds = time.perf_counter() - t0
    response.close()
    return {"rows": lines - 1, "seconds": seconds, "bytes": size, "peak_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """This process's own high-water mark (VmHWM). Not ru_maxrss: Linux carries that across
    fork and exec, so it would report the seeding parent's memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(kind: str, args, runs: int | None = None) -> dict:
    runs = args.page_runs if runs is None else runs
    result = subprocess.run(
        [sys.executable, __file__, "--measure", kind, "--page-runs", str(runs)],
        cwd=ROOT,
        env=env(),
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def refresh_once() -> dict:
    app = _app()
    from app.extensions import db
    from app.reports import overdue

    with app.app_context():
        t0 = time.perf_counter()
        result = overdue.refresh()
        seconds = time.perf_counter() - t0
        db.session.remove()
        db.engine.dispose()
    return {"items": result["items"], "seconds": seconds}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.measure:
        measure = {"pages": measure_pages, "dashboards": measure_dashboards}.get(args.measure)
        print(json.dumps(measure(args.page_runs) if measure else measure_csv()))
        return 0
    print(f"machine: {common.machine()}", flush=True)
    if not args.skip_seed:
        common.reset_database(env(), DB_NAME)
        t0 = time.perf_counter()
        counts = seed(args.applications)
        print(f"seeded in {time.perf_counter() - t0:.1f} s: {counts}", flush=True)
    else:  # the seeded database may predate a migration
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
            cwd=ROOT, env=env(), check=True, capture_output=True, timeout=600,
        )  # fmt: skip
    clear_snapshots()
    live = run_child("dashboards", args, runs=3)
    refreshed = refresh_dashboards()
    fast = run_child("dashboards", args)
    print(f"dashboards' refresh (the scheduler's job): {refreshed:.2f} s", flush=True)
    for name, url in DASHBOARDS.items():
        if not fast[name]["snapshot"]:
            raise RuntimeError(f"{url} did not use its snapshot")
        print(
            f"  {url:<18} p50 {fast[name]['p50']:7.1f} ms  max {fast[name]['max']:7.1f} ms "
            f"from the snapshot; computed live: p50 {live[name]['p50']:7.1f} ms (3 runs)",
            flush=True,
        )
    if args.dashboards_only:
        print(
            f"report: applications={args.applications} "
            f"sla_ms={fast['sla']['p50']:.1f} delivery_ms={fast['delivery']['p50']:.1f} "
            f"sla_live_ms={live['sla']['p50']:.1f} "
            f"delivery_live_ms={live['delivery']['p50']:.1f}"
        )
        return 0
    refresh = refresh_once()
    print(f"refresh (the scheduler's job): {refresh['items']} items in {refresh['seconds']:.2f} s")
    pages = run_child("pages", args)
    print(f"overdue items: {pages['total']} {pages['by_reason']}")
    for name in ("unfiltered", "recruiter", "client", "reason=silent", "min_age=30", "page 50"):
        p = pages[name]
        print(f"  page {name:<14} p50 {p['p50']:7.1f} ms  max {p['max']:7.1f} ms")
    print(f"  counts()             p50 {pages['counts']['p50']:7.1f} ms")
    print(f"  /reports/engine     p50 {pages['engine']['p50']:7.1f} ms (3 runs)")
    csv = run_child("csv", args)
    print(
        f"csv: {csv['rows']} rows, {csv['bytes'] / 1e6:.1f} MB in {csv['seconds']:.2f} s, "
        f"peak RSS of the exporting process {csv['peak_mb']:.0f} MB"
    )
    print(
        f"report: applications={args.applications} p50_ms={pages['unfiltered']['p50']:.1f} "
        f"csv_seconds={csv['seconds']:.2f} csv_peak_mb={csv['peak_mb']:.0f} "
        f"sla_ms={fast['sla']['p50']:.1f} delivery_ms={fast['delivery']['p50']:.1f} "
        f"sla_live_ms={live['sla']['p50']:.1f} delivery_live_ms={live['delivery']['p50']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
