"""`make bench-smoke` (bench/smoke.py): every benchmark in bench/ is in its table, and a last
line is judged the way a reader of the figures would judge it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import smoke

BENCH = Path(smoke.__file__).parent
HELPERS = {
    "__init__.py",
    "common.py",
    "naive.py",
    "smoke.py",
    "sim_agency.py",
    "sim_measure.py",
}  # not benchmarks themselves


def test_every_benchmark_script_is_in_the_smoke_table():
    scripts = {p.name for p in BENCH.glob("*.py")} - HELPERS
    tabled = {Path(b.args[0]).name for b in smoke.BENCHMARKS if b.args[0].startswith("bench/")}
    assert scripts - tabled == set(), "add it to BENCHMARKS in bench/smoke.py"
    assert len({b.name for b in smoke.BENCHMARKS}) == len(smoke.BENCHMARKS)


def _bench(name: str) -> smoke.Benchmark:
    return next(b for b in smoke.BENCHMARKS if b.name == name)


def test_the_fanout_line_carries_the_floor():
    line = (
        "fanout: n=300 seconds=0.912 per_second=328.8 naive_per_second=4.5 ratio=73.5 "
        "floor_seconds=0.138"
    )
    pairs, problems = smoke.check_line(_bench("fanout"), line)
    assert problems == [] and pairs["floor_seconds"] == "0.138"


@pytest.mark.parametrize(
    "line,problem",
    [
        ("Traceback (most recent call last):", "does not start with 'fanout:'"),
        ("fanout: n=300 seconds=0.9 per_second=3 naive_per_second=4 ratio=7", "no floor_seconds"),
        (
            "fanout: n=300 seconds=nan? per_second=3 naive_per_second=4 ratio=7 floor_seconds=1",
            "seconds='nan?' is not a number",
        ),
        ("", "does not start with 'fanout:'"),
    ],
)
def test_a_broken_last_line_is_named(line, problem):
    _, problems = smoke.check_line(_bench("fanout"), line)
    assert any(problem in p for p in problems), problems


def test_a_soak_that_lost_a_message_fails_whatever_its_size():
    line = "soak: owed=34 sent=33 discharged=0 lost=1 duplicates=0 seconds=34.1"
    _, problems = smoke.check_line(_bench("soak"), line)
    assert problems == ["lost=1, expected lost=0"]
