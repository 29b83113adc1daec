"""`make simulate` at a tiny size: a few weeks of an agency on real workers, the reconciler,
PostgreSQL, Redis and the SendGrid stand-in, driven through the pages' services on a
simulated clock. Nobody whose application ended is left untold, and nobody is told two
different stories."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid

import pytest

from tests.processes import ROOT

pytestmark = pytest.mark.workers

LAST_LINE = re.compile(
    r"simulate: owed=(?P<owed>\d+) told=(?P<told>\d+) untold=(?P<untold>\d+) "
    r"p95_seconds=(?P<p95>[\d.]+) promises_kept_pct=(?P<kept>[\d.]+) "
    r"max_per_day=(?P<max_per_day>\d+) contradictions=(?P<contradictions>\d+)"
)


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=root dbname=postgres") as conn:
        conn.autocommit = True
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_simulated_month_leaves_nobody_untold_and_tells_nobody_two_stories(redis_url, tmp_path):
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        # It makes its own database on the PostgreSQL server, as production runs: once per
        # CI run (the PostgreSQL pass) is enough for a minute-long simulation.
        pytest.skip("the simulation runs in the PostgreSQL pass of the suite")
    name = f"closeloop_sim_{uuid.uuid4().hex[:10]}"
    args = ["--scale", "0.003", "--weeks", "4", "--drain-days", "5", "--quiet"]
    env = dict(os.environ, BENCH_OUT=str(tmp_path), PYTHONUNBUFFERED="1")
    try:
        run = subprocess.run(  # noqa: S603 - our interpreter, our script
            [
                sys.executable,
                "bench/simulate.py",
                *args,
                "--db-name",
                name,
                "--redis-url",
                redis_url,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    finally:
        _drop(name)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.strip().splitlines()
    found = LAST_LINE.fullmatch(lines[-1])
    assert found, lines[-10:]
    figures = {k: float(v) for k, v in found.groupdict().items()}
    assert figures["owed"] > 0, run.stdout  # outcomes happened: the run proves something
    assert figures["untold"] == 0, run.stdout
    assert figures["told"] == figures["owed"]
    assert figures["contradictions"] == 0, run.stdout
    # Issue 18: at most two status emails a candidate-day (the default daily cap), and every
    # promised decision date answered on its day all the same.
    assert figures["max_per_day"] <= 2, run.stdout
    assert figures["kept"] == 100, run.stdout
