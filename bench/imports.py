"""CSV import benchmark: 5,000 new candidates imported into a position, in PostgreSQL.

Seeds its own database (`closeloop_bench_import`: see bench/common.py; dropped, created and
migrated here) with a recruiter and an open position, uploads a generated CSV (name, email,
phone, time zone) through `app.imports.services.create_preview`, confirms it
(`app.imports.running.confirm`, which queues it), then times the import as the maintenance job
runs it (`app.imports.running.execute`: re-validation, then candidates, applications and their
stage history in one transaction). In the same run, the baseline: the same rows written with
three plain multi-row INSERTs (candidates, applications, stage events), the floor any import
path has to pay.

    make bench-imports     # or: .venv/bin/python bench/imports.py --rows 5000

The last line is `imports: rows=<n> seconds=<s> per_second=<r> baseline_seconds=<s>`.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-imports)
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

DB_NAME = common.database_name("_import")  # BENCH_DATABASE_URL's name + "_import"
ZONES = ("Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney")


def csv_bytes(rows: int, tag: str) -> bytes:
    lines = ["name,email,phone,timezone"]
    lines += [
        f"Person {tag}{i},p{tag}{i}@example.com,+44 20 7946 {i:04d},{ZONES[i % len(ZONES)]}"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def seed(tag: str):
    from app.extensions import db
    from app.models import Client, Position, User

    user = User(name=f"Rita {tag}", email=f"rita-{tag}@agency.test", role="recruiter")
    user.set_password("correct horse")
    position = Position(client=Client(name=f"Client {tag}"), title=f"Engineer {tag}", owner=user)
    db.session.add(position)
    db.session.commit()
    return user, position


def timed_import(rows: int) -> float:
    from app.extensions import db
    from app.imports import running, services

    user, position = seed("engine")
    imp = services.create_preview(
        user, filename="people.csv", data=csv_bytes(rows, "e"), position=position
    )
    assert imp.valid_rows == rows, imp.valid_rows
    # IMPORT_INLINE_ROWS=0: confirm() claims it and hands it to the maintenance queue; the
    # job's work is timed here, in this process, as a worker runs it.
    assert running.confirm(user, imp).state == "queued"
    db.session.remove()
    started = time.perf_counter()
    state = running.execute(imp.id)
    seconds = time.perf_counter() - started
    assert state == "done", state
    return seconds


def timed_baseline(rows: int) -> float:
    """The same rows as three plain INSERTs in one transaction: no validation, no ORM."""
    import sqlalchemy as sa

    from app import clock
    from app.bulk_sql import insert_many
    from app.extensions import db
    from app.models import Application, Candidate, Stage, StageEvent

    user, position = seed("baseline")
    user_id, position_id = user.id, position.id
    db.session.remove()
    started = time.perf_counter()
    now = clock.now()
    people = [
        {
            "name": f"Person b{i}",
            "email": f"pb{i}@example.test",
            "phone": f"+44 20 7946 {i:04d}",
            "timezone": ZONES[i % len(ZONES)],
            "owner_id": user_id,
            "token_secret": secrets.token_urlsafe(32),
        }
        for i in range(rows)
    ]
    ids = insert_many(db.session, Candidate, people, returning=Candidate.id)
    apps = [
        {
            "candidate_id": cid,
            "position_id": position_id,
            "stage": Stage.SOURCED.value,
            "stage_entered_at": now,
            "version": 1,
        }
        for cid in ids
    ]
    app_ids = insert_many(db.session, Application, apps, returning=Application.id)
    events = [
        {"application_id": a, "to_stage": Stage.SOURCED.value, "version": 1, "occurred_at": now}
        for a in app_ids
    ]
    insert_many(db.session, StageEvent, events)
    db.session.commit()
    seconds = time.perf_counter() - started
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Application))
    assert count >= rows
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args(argv)
    env = common.base_env(
        DATABASE_URL=common.database_url("_import"),
        IMPORT_MAX_ROWS=max(args.rows, 5000),
        IMPORT_INLINE_ROWS=0,
    )
    common.reset_database(env, DB_NAME)
    common.flush_redis()
    app = common.make_app(env)
    with app.app_context():
        seconds = timed_import(args.rows)
        baseline = timed_baseline(args.rows)
    common.flush_redis()  # the job confirm() queued, which this process ran
    print(f"machine: {common.machine()}")
    print(
        f"imports: rows={args.rows} seconds={seconds:.3f} per_second={args.rows / seconds:.1f} "
        f"baseline_seconds={baseline:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
