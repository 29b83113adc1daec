"""Every benchmark at a tiny size: does each still run and print its last line?

Benchmarks are not tests, so nothing else runs them, and one that no longer runs goes
unnoticed until somebody needs its figures. This runs each one below (seconds each), reads
the last line it printed and checks it: the expected prefix (`fanout:`), then `key=value`
pairs with every expected key present and a number (and a few that must be exact, such as
the soak's `lost=0`). Any failure is printed loudly with the
end of that benchmark's output (the whole of it is in bench/out/smoke-<name>.log) and the
exit status is 1. The figures of a tiny run mean nothing; only that the benchmark works.

    make bench-smoke                       # all of them (CI runs this)
    .venv/bin/python bench/smoke.py fanout soak    # some of them
    .venv/bin/python bench/smoke.py --list

To add a benchmark, add one row to BENCHMARKS: its name, its command (arguments after the
Python interpreter, a tiny size) and the prefix and keys of its last line. The database and
Redis are the benchmarks' own (bench/common.py: BENCH_DATABASE_URL, BENCH_REDIS_URL).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(os.environ.get("BENCH_OUT") or ROOT / "bench" / "out")


@dataclass(frozen=True)
class Benchmark:
    name: str
    args: tuple[str, ...]  # after the interpreter
    prefix: str  # the last line starts with "<prefix>: "
    keys: tuple[str, ...]  # key=value pairs the last line must carry, each a number
    timeout: float = 240
    # Values that must be exactly these, whatever the size (a lost message is a failure).
    expect: tuple[tuple[str, str], ...] = ()


# The one table of benchmarks: add yours here.
BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "fanout",
        ("bench/fanout.py", "--n", "300", "--naive-n", "20", "--workers", "2", "--timeout", "120"),
        "fanout",
        ("n", "seconds", "per_second", "naive_per_second", "ratio", "floor_seconds"),
    ),
    Benchmark(
        "steady",
        ("bench/steady.py", "--n", "20", "--backlog", "20", "--noop-n", "20", "--workers", "1"),
        "steady",
        (
            "messages",
            "per_second",
            "p50_owed_to_sent_ms",
            "p95_owed_to_sent_ms",
            "baseline_per_second",
        ),
        expect=(("messages", "20"),),
    ),
    Benchmark(
        "report",
        ("bench/report.py", "--applications", "2000", "--page-runs", "2"),
        "report",
        ("applications", "p50_ms", "csv_seconds", "csv_peak_mb", "sla_ms", "delivery_ms"),
    ),
    Benchmark(
        "board",
        ("bench/board.py", "--applications", "60", "--baseline", "5", "--runs", "2"),
        "board",
        ("applications", "p50_ms", "p95_ms", "queries", "baseline_p50_ms", "html_kb"),
    ),
    Benchmark(
        "imports",
        ("bench/imports.py", "--rows", "100"),
        "imports",
        ("rows", "seconds", "per_second", "baseline_seconds"),
    ),
    Benchmark(
        "metrics",
        ("bench/metrics.py", "--notifications", "2000", "--runs", "3"),
        "metrics",
        ("notifications", "p50_ms", "p95_ms", "statements", "full_count_ms"),
    ),
    Benchmark(
        "link_requests",
        ("bench/link_requests.py", "--requests", "5"),
        "links",
        ("requests", "known_ms", "unknown_ms", "ratio", "baseline_known_ms"),
    ),
    Benchmark(
        "load",
        (
            "bench/load.py",
            *("--recruiters", "1", "--positions", "2", "--per-position", "10", "--owed", "5"),
            *("--tasks", "2", "--alone", "2", "--rate", "2", "--seconds", "2"),
            *("--saturate-seconds", "2", "--clients", "2"),
        ),
        "load",
        ("p50_ms", "p99_ms", "rps", "ceiling_rps"),
    ),
    Benchmark(
        "reconcile",
        (
            "bench/reconcile.py",
            "--settled",
            "2000",
            "--stale",
            "100",
            "--runs",
            "3",
            "--baseline-runs",
            "1",
        ),
        "reconcile",
        (
            "settled",
            "stale",
            "idle_ms",
            "redispatch_seconds",
            "baseline_idle_ms",
            "select1_ms",
        ),
    ),
    Benchmark(
        "memory",
        ("bench/memory.py", "--minutes", "0.5", "--sample-seconds", "1", "--rate", "2"),
        "memory",
        (
            "minutes",
            "workers",
            "rss_start_mb",
            "rss_end_mb",
            "rss_max_mb",
            "growth_mb_per_hour",
            "baseline_idle_mb",
        ),
        timeout=300,
    ),
    Benchmark(
        "soak",
        ("bench/soak.py", "--n", "60", "--workers", "1", "--seconds", "150", "--kill-every", "2"),
        "soak",
        ("owed", "sent", "discharged", "lost", "duplicates", "seconds"),
        timeout=300,
        expect=(("lost", "0"),),
    ),
    Benchmark(
        "simulate",
        ("bench/simulate.py", "--scale", "0.003", "--weeks", "2", "--drain-days", "3", "--quiet"),
        "simulate",
        (
            "owed",
            "told",
            "untold",
            "p95_seconds",
            "promises_kept_pct",
            "max_per_day",
            "contradictions",
        ),
        timeout=600,
        expect=(("untold", "0"), ("contradictions", "0")),
    ),
)

_PAIR = re.compile(r"(\w+)=(\S+)")


def check_line(bench: Benchmark, line: str) -> tuple[dict[str, str], list[str]]:
    """The last line's key=value pairs, and what is wrong with it (nothing: an empty list)."""
    if not line.startswith(f"{bench.prefix}: "):
        return {}, [f"the last line does not start with {bench.prefix + ':'!r}: {line!r}"]
    pairs = dict(_PAIR.findall(line))
    problems = []
    for key in bench.keys:
        if key not in pairs:
            problems.append(f"no {key}=... in {line!r}")
            continue
        try:
            float(pairs[key])
        except ValueError:
            problems.append(f"{key}={pairs[key]!r} is not a number")
    for key, value in bench.expect:
        if key in pairs and pairs[key] != value:
            problems.append(f"{key}={pairs[key]}, expected {key}={value}")
    return pairs, problems


def last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(bench: Benchmark) -> tuple[bool, float, str]:
    """Run one benchmark; returns (ok, seconds, a one-line verdict)."""
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"smoke-{bench.name}.log"
    t0 = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, *bench.args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=bench.timeout,
        )
        stdout, stderr, status = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = _text(exc.stdout)
        stderr = _text(exc.stderr) + f"\n(killed after {bench.timeout:.0f} s)"
        status = None
    seconds = time.monotonic() - t0
    log.write_text(f"$ {' '.join(bench.args)}\n{stdout}\n--- stderr ---\n{stderr}")
    line = last_line(stdout)
    pairs, problems = check_line(bench, line)
    if status is None:
        problems.insert(0, f"timed out after {bench.timeout:.0f} s")
    elif status != 0:
        problems.insert(0, f"exit status {status}")
    if not problems:
        return True, seconds, line
    tail = "\n".join((stdout + "\n" + stderr).strip().splitlines()[-15:])
    verdict = "; ".join(problems)
    print(f"\n!!!! {bench.name} FAILED: {verdict}\n---- last lines (all in {log}) ----\n{tail}\n")
    return False, seconds, verdict


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="only these benchmarks (default: all)")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    args = parser.parse_args(argv)
    known = {b.name: b for b in BENCHMARKS}
    if args.list:
        for b in BENCHMARKS:
            print(f"{b.name:<14} {b.prefix + ':':<9} {' '.join(b.args)}")
        return 0
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [known[n] for n in args.names] if args.names else list(BENCHMARKS)
    results = []
    t0 = time.monotonic()
    for bench in chosen:
        print(f"bench-smoke: {bench.name} ...", flush=True)
        ok, seconds, verdict = run(bench)
        results.append((bench, ok, seconds, verdict))
        print(f"  {'ok  ' if ok else 'FAIL'} {seconds:6.1f} s  {verdict}", flush=True)
    failed = [b.name for b, ok, _, _ in results if not ok]
    total = time.monotonic() - t0
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if failed:
        print(
            f"\n!!!!!!!!!! bench-smoke FAILED: {', '.join(failed)} "
            f"({len(failed)} of {len(results)}, {total:.0f} s, loadavg {load}) !!!!!!!!!!"
        )
        return 1
    print(f"bench-smoke: {len(results)} benchmarks ok in {total:.0f} s (loadavg {load})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
