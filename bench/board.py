"""Pipeline-board benchmark: one position with 2,000 applications, in PostgreSQL.

Seeds its own database (`closeloop_bench_board`: see bench/common.py; dropped, created and
migrated here): one recruiter, two positions (2,000 and 20 applications), each application with
two messages (an older superseded one and a live one in a mix of states), some promised dates
and some logged contacts. Then, signed in through Flask's test client (query, template and
all):

1. `GET /positions/<big>` ~20 times: p50/p95, the number of SQL statements per request and
   the size of the HTML (each column paints its first cards; "Show N more" loads the rest);
2. the same page for the 20-application position: the baseline;
3. the big board with every card drawn (`?show_<stage>=N` for every column, what the page
   sent before it painted columns in parts), and one "Show N more" fetch
   (`/positions/<big>/cards`);
4. for comparison, the naive way of finding each card's latest message (one query per card),
   timed once over the 2,000 applications.

    make bench-board      # or: .venv/bin/python bench/board.py [--applications N] [--runs N]

The last line is `board: applications=<n> p50_ms=<x> p95_ms=<y> queries=<q>
baseline_p50_ms=<z> html_kb=<k> full_html_kb=<k> full_p50_ms=<x> more_p50_ms=<x>`.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-board)
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

DB_NAME = common.database_name("_board")  # BENCH_DATABASE_URL's name + "_board"
DATABASE_URL = common.database_url("_board")
EMAIL = "recruiter@bench.test"
PASSWORD = "bench-password"  # noqa: S105 - a throwaway local database
STAGES = ("sourced", "submitted", "client_review", "interview", "offer", "rejected")
STATES = ("pending", "queued", "sent", "delivered", "bounced", "failed")
KIND = {
    "sourced": "submitted",
    "submitted": "submitted",
    "client_review": "client_review",
    "interview": "interview_scheduled",
    "offer": "offer",
    "rejected": "not_selected_client",
}


def env() -> dict:
    return common.base_env(DATABASE_URL=DATABASE_URL, EMAIL_BACKEND="mailbox", SENDGRID_API_KEY="")


def seed(app, sizes: tuple[int, ...]) -> list[int]:
    import sqlalchemy as sa

    from app import clock
    from app.extensions import db
    from app.models import Application, Candidate, Client, Notification, Position, User

    rng = random.Random(4)  # noqa: S311 - test data, not security
    now = clock.now()
    with app.app_context():
        user = User(name="Bench Recruiter", email=EMAIL, role="recruiter", active=True)
        user.set_password(PASSWORD)
        client = Client(name="Bench Client")
        db.session.add_all([user, client])
        db.session.flush()
        position_ids = []
        for size in sizes:
            position = Position(client=client, title=f"Role x{size}", owner_id=user.id)
            db.session.add(position)
            db.session.flush()
            position_ids.append(position.id)
            cands = db.session.execute(
                sa.insert(Candidate).returning(Candidate.id),
                [{"name": f"Cand {size}-{i}", "email": f"c{size}-{i}@b.test"} for i in range(size)],
            ).scalars()
            apps = []
            for cid in cands:
                stage = rng.choice(STAGES)
                promised = now + timedelta(days=rng.randint(-5, 10))
                apps.append(
                    {
                        "candidate_id": cid,
                        "position_id": position.id,
                        "stage": stage,
                        "outcome_reason": "client_declined" if stage == "rejected" else None,
                        "stage_entered_at": now - timedelta(hours=rng.randint(1, 900)),
                        "version": 2,
                        "promised_response_at": promised if stage == "interview" else None,
                        "last_candidate_contact_at": now - timedelta(days=rng.randint(1, 30))
                        if rng.random() < 0.3
                        else None,
                    }
                )
            rows = db.session.execute(
                sa.insert(Application).returning(Application.id, Application.candidate_id), apps
            ).all()
            notes = []
            for (app_id, cid), a in zip(rows, apps, strict=True):
                for version, state in ((1, "superseded"), (2, rng.choice(STATES))):
                    sent = state in ("sent", "delivered", "bounced")
                    notes.append(
                        {
                            "application_id": app_id,
                            "candidate_id": cid,
                            "kind": KIND[a["stage"]],
                            "state": state,
                            "idempotency_key": f"bench:{app_id}:{version}",
                            "app_version": version,
                            "context": {},
                            "created_at": now - timedelta(hours=10 - version),
                            "due_at": now,
                            "sent_at": now - timedelta(hours=1) if sent else None,
                        }
                    )
            db.session.execute(sa.insert(Notification), notes)
        db.session.commit()
    return position_ids


def measure(app, url: str, runs: int) -> dict:
    import sqlalchemy as sa

    from app.extensions import db

    client = app.test_client()
    if client.post("/login", data={"email": EMAIL, "password": PASSWORD}).status_code != 302:
        raise RuntimeError("could not sign in as the bench recruiter")
    client.get(url)  # warm-up: template compilation, connection pool
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(*_args):
        statements.append("")

    times = []
    for i in range(runs):
        if i == 0:
            sa.event.listen(engine, "before_cursor_execute", count)
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        if i == 0:
            sa.event.remove(engine, "before_cursor_execute", count)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, round(0.95 * len(times)) - 1)],
        "queries": len(statements),
        "bytes": len(response.data),
    }


def naive_latest_ms(app, position_id: int) -> float:
    """What the board avoids: one query per card for its latest message."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import Application, Notification

    with app.app_context():
        ids = db.session.scalars(
            sa.select(Application.id).where(Application.position_id == position_id)
        ).all()
        t0 = time.perf_counter()
        for app_id in ids:
            db.session.execute(
                sa.select(Notification.state)
                .where(Notification.application_id == app_id, Notification.state != "superseded")
                .order_by(Notification.created_at.desc(), Notification.id.desc())
                .limit(1)
            ).first()
        return (time.perf_counter() - t0) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--applications", type=int, default=2000)
    parser.add_argument("--baseline", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)

    environment = env()
    print(common.machine(), flush=True)
    print(f"seeding {DB_NAME}: {args.applications} + {args.baseline} applications", flush=True)
    common.reset_database(environment, DB_NAME)
    os.environ.update(environment)
    from app import create_app

    app = create_app({"WTF_CSRF_ENABLED": False})
    big, small = seed(app, (args.applications, args.baseline))
    from app.models import ACTIVE_STAGES, TERMINAL_STAGES

    board = measure(app, f"/positions/{big}", args.runs)
    baseline = measure(app, f"/positions/{small}", args.runs)
    every = "&".join(
        f"show_{s.value}={args.applications}" for s in (*ACTIVE_STAGES, *TERMINAL_STAGES)
    )
    full = measure(app, f"/positions/{big}?{every}", max(3, args.runs // 4))
    more = measure(app, f"/positions/{big}/cards?stage={STAGES[0]}&offset=20", args.runs)
    naive = naive_latest_ms(app, big)
    print(
        f"board x{args.applications}: p50 {board['p50']:.1f} ms, p95 {board['p95']:.1f} ms, "
        f"{board['queries']} SQL statements, {board['bytes'] / 1024:.0f} KiB of HTML"
    )
    print(
        f"board x{args.applications}, every card drawn: p50 {full['p50']:.1f} ms, "
        f'{full["bytes"] / 1024:.0f} KiB of HTML; "Show N more" fetch: p50 {more["p50"]:.1f} ms, '
        f"{more['bytes'] / 1024:.0f} KiB"
    )
    print(
        f"board x{args.baseline}: p50 {baseline['p50']:.1f} ms, p95 {baseline['p95']:.1f} ms, "
        f"{baseline['queries']} SQL statements"
    )
    print(f"naive latest message, one query per card: {naive:.1f} ms for {args.applications}")
    print(
        f"board: applications={args.applications} p50_ms={board['p50']:.1f} "
        f"p95_ms={board['p95']:.1f} queries={board['queries']} "
        f"baseline_p50_ms={baseline['p50']:.1f} html_kb={board['bytes'] / 1024:.0f} "
        f"full_html_kb={full['bytes'] / 1024:.0f} full_p50_ms={full['p50']:.1f} "
        f"more_p50_ms={more['p50']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
