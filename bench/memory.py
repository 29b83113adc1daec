"""Worker memory: the RQ workers' resident memory through a long run of ordinary work.

How: the real processes on 127.0.0.1 — the web app (gunicorn, so the SendGrid stand-in's
signed delivery events are applied), the scheduler (dispatcher, reconciler, sweeps, digests),
the SendGrid stand-in (devtools/sendgrid_stub.py, no faults, "processed" and "delivered" posted
back), and two RQ workers on the notification and maintenance queues: one fork `Worker` (a work
horse per job) and one `SimpleWorker` (`python -m workers worker [--simple]`). This process
drives a steady mix of pipeline operations through app.pipeline.services (the soak's, without
its chaos: adds, stage moves, interviews, rejections, withdrawals, hires, undos, logged calls,
position closes that fan out) at `--rate` per second, and adds a manager every minute so the
staff digest (built by the scheduler, sent by a worker) has someone to go to. Candidate digests
come from the digest window being short.

Every `--sample-seconds` it reads the resident set size (RSS, psutil) of each worker process;
a thread samples the fork worker's children four times a second and keeps each work horse's
peak (a horse shares its parent's pages, so its RSS counts them too). The samples of the first
third of the run (`--warmup` seconds) are the warm-up (modules imported by the first job of
each kind, SQLAlchemy's compiled-statement cache and connection pools filling: about seven
minutes for the SimpleWorker) and are left out of the growth, which is the least-squares slope
of the later samples, in MB per hour. 3% of candidates' addresses bounce (the stand-in's
`--bounce-domain`), so the managers' digests have something to say and are sent.

The baseline, in the same run: each worker's RSS once it is ready and before any work.

    make bench-memory       # or: .venv/bin/python bench/memory.py --minutes 30

The goal (issue 18): flat, and at most 150 MB per worker. The last line is
`memory: minutes=<m> workers=<n> rss_start_mb=<x> rss_end_mb=<x> rss_max_mb=<x>
growth_mb_per_hour=<x> baseline_idle_mb=<x>`, each figure the worst of the workers (the fork
worker's horses count in rss_max_mb).
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-memory)
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench import common, soak  # noqa: E402

MB = 1024 * 1024
BOUNCING = "bounce.test"
# The soak's engine settings (undo, digests, pacing compressed into seconds), plus the
# periodic jobs that run on the workers' maintenance queue and the staff digest every few
# seconds, so a half-hour run sees each of them many times.
ENGINE = {
    **soak.ENGINE,
    "OVERDUE_REFRESH_SECONDS": 20,
    "DASHBOARD_REFRESH_SECONDS": 20,
    "DIGEST_INTERVAL_SECONDS": 5,
    "DIGEST_HOUR": 0,
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=1.0, help="pipeline operations per second")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds left out of the growth (default: the first third of the run)",
    )
    parser.add_argument("--seed", type=int, default=20261203)
    return parser.parse_args(argv)


@dataclass
class Watched:
    """One worker process: its RSS over time, and (fork worker) its horses' peaks."""

    name: str
    proc: common.Proc
    idle_mb: float = 0.0
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds, MB)
    horse_peak_mb: float = 0.0
    horses: set[int] = field(default_factory=set)
    long_lived: dict[int, float] = field(default_factory=dict)  # child pid -> first seen

    def rss_mb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / MB

    def sample(self, t: float) -> None:
        self.samples.append((t, self.rss_mb()))

    def mark_resident_children(self) -> None:
        """Children there before any work (RQ's scheduler process) are not horses."""
        for child in psutil.Process(self.proc.pid).children():
            self.long_lived[child.pid] = float("-inf")

    def sample_children(self, t: float) -> None:
        """Work horses come and go in milliseconds; RQ's scheduler child stays. Only
        children seen for less than 30 s count as horses."""
        try:
            children = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return
        for child in children:
            first = self.long_lived.setdefault(child.pid, t)
            if t - first > 30:
                continue
            try:
                rss = child.memory_info().rss / MB
            except psutil.NoSuchProcess:
                continue
            self.horses.add(child.pid)
            self.horse_peak_mb = max(self.horse_peak_mb, rss)


class Sampler(threading.Thread):
    def __init__(self, watched: list[Watched], every: float, started: float):
        super().__init__(name="rss-sampler", daemon=True)
        self.watched, self.every, self.started = watched, every, started
        self.stopping = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        next_sample = 0.0
        while not self.stopping.wait(0.25):
            t = time.monotonic() - self.started
            try:
                for w in self.watched:
                    w.sample_children(t)
                    if t >= next_sample:
                        w.sample(t)
                if t >= next_sample:
                    next_sample = t + self.every
            except psutil.Error as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


def slope_mb_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mm = sum(m for _, m in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mt) * (m - mm) for t, m in points) / var * 3600


def bounce_some_addresses() -> None:
    """One candidate in 33 at the domain the stand-in bounces."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import Candidate

    db.session.execute(
        sa.update(Candidate)
        .where(Candidate.id % 33 == 0)
        .values(email=sa.func.replace(Candidate.email, "@example.test", f"@{BOUNCING}"))
    )
    db.session.commit()


def add_manager(i: int) -> None:
    """A manager whose digest is due now: the scheduler builds it, a worker sends it."""
    from app.extensions import db
    from app.models import User

    db.session.add(
        User(
            name=f"Manager {i}",
            email=f"manager{i}@agency.test",
            password_hash="!",  # noqa: S106 - never logs in
            role="manager",
        )
    )
    db.session.commit()


def drive(world: soak.World, args, watched: list[Watched], stub_url: str) -> None:
    seconds = args.minutes * 60
    started = time.monotonic()
    interval = 1 / args.rate
    next_op = next_report = next_manager = started
    managers = 0
    while (now := time.monotonic()) - started < seconds:
        if now >= next_manager:
            add_manager(managers)
            managers += 1
            next_manager += 60
        world.step()
        next_op += interval
        if now >= next_report:
            next_report += 60
            rss = " ".join(f"{w.name}={w.samples[-1][1]:.1f}" for w in watched if w.samples)
            print(
                f"  [{now - started:5.0f} s] ops {world.ops} rss_mb {rss} "
                f"horse_peak_mb={watched[0].horse_peak_mb:.1f} "
                f"loadavg={' '.join(f'{x:.2f}' for x in psutil.getloadavg())} "
                f"stub {soak.brief(stub_url)}",
                flush=True,
            )
        time.sleep(max(0.0, next_op - time.monotonic()))


def summarise(w: Watched, warmup: float) -> dict:
    steady = [p for p in w.samples if p[0] >= warmup] or w.samples
    mbs = [m for _, m in w.samples]
    return {
        "start": steady[0][1],
        "end": steady[-1][1],
        "max": max(max(mbs), w.horse_peak_mb),
        "growth": slope_mb_per_hour(steady),
        "idle": w.idle_mb,
        "samples": len(w.samples),
    }


def staff_messages_sent() -> dict:
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import StaffMessage

    rows = db.session.execute(
        sa.select(StaffMessage.state, sa.func.count()).group_by(StaffMessage.state)
    ).all()
    db.session.commit()
    return dict(rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    env = common.base_env(**ENGINE)
    common.reset_database(env)
    common.flush_redis()
    print(f"machine: {common.machine()}")
    print(
        f"memory: {args.minutes} minutes at {args.rate} operations/s; engine {ENGINE}", flush=True
    )
    warmup = args.minutes * 60 / 3 if args.warmup is None else args.warmup
    with common.Processes() as procs:
        key_path, public_key = soak.webhook_keys()
        env["SENDGRID_WEBHOOK_PUBLIC_KEY"] = public_key
        web_url = soak.start_web(procs, env)
        stub_url = common.start_stub(
            procs,
            env,
            "--counts-only",
            "--no-bodies",
            "--seed",
            str(args.seed),
            "--webhook-url",
            f"{web_url}/webhooks/sendgrid",
            "--webhook-private-key-file",
            str(key_path),
            "--bounce-domain",
            BOUNCING,
        )
        env["SENDGRID_API_HOST"] = stub_url
        rng = random.Random(args.seed)
        app = common.make_app(env)
        with app.app_context():
            expected_ops = int(args.rate * args.minutes * 60) + 100
            seeded = soak.seed_world(rng, expected_ops)
            bounce_some_addresses()
            world = soak.World(rng, seeded)
            watched = [
                Watched("fork", common.start_worker(procs, env, "mem-fork", simple=False)),
                Watched("simple", common.start_worker(procs, env, "mem-simple", simple=True)),
            ]
            if not common.wait_for_workers("notifications", len(watched), timeout=120):
                raise SystemExit("the workers did not start; see bench/out/mem-*.log")
            for w in watched:
                w.idle_mb = w.rss_mb()
                w.mark_resident_children()
            print(
                "idle, before any work: "
                + " ".join(f"{w.name}={w.idle_mb:.1f} MB" for w in watched)
            )
            procs.start("scheduler", ["-m", "workers", "scheduler", "--tick-seconds", "0.5"], env)
            started = time.monotonic()
            sampler = Sampler(watched, args.sample_seconds, started)
            sampler.start()
            try:
                drive(world, args, watched, stub_url)
            finally:
                sampler.stop()
            for w in watched:
                if not w.proc.alive():
                    raise SystemExit(f"worker {w.name} died; see {w.proc.log_path}")
            print(f"operations: {dict(world.done)}; errors {dict(world.errors)}")
            print(f"notifications by state: {dict(soak.state_counts())}")
            print(f"staff messages by state: {staff_messages_sent()}")
            print(f"stub: {soak.brief(stub_url)}")
            if sampler.errors:
                print(f"sampler errors: {sampler.errors[:5]}")
    print(f"machine: {common.machine()}")
    figures = {w.name: summarise(w, warmup) for w in watched}
    for w in watched:
        f = figures[w.name]
        extra = f" horses={len(w.horses)} horse_peak={w.horse_peak_mb:.1f}" if w.horses else ""
        print(
            f"  {w.name}: idle={f['idle']:.1f} start={f['start']:.1f} end={f['end']:.1f} "
            f"max={f['max']:.1f} MB growth={f['growth']:+.1f} MB/h samples={f['samples']}{extra}"
        )
    worst = {k: max(f[k] for f in figures.values()) for k in ("start", "end", "max", "growth")}
    print(
        f"memory: minutes={args.minutes:g} workers={len(watched)} "
        f"rss_start_mb={worst['start']:.1f} "
        f"rss_end_mb={worst['end']:.1f} rss_max_mb={worst['max']:.1f} "
        f"growth_mb_per_hour={worst['growth']:.1f} "
        f"baseline_idle_mb={max(f['idle'] for f in figures.values()):.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
