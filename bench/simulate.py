"""A seeded agency quarter: what do candidates actually live through over 13 weeks?

    make simulate                      # full size: 500 positions, 60 clients, 20,000 candidates
    .venv/bin/python bench/simulate.py --scale 0.05    # the CI size

The real system runs on 127.0.0.1: PostgreSQL (a database of its own), Redis, RQ workers
(`python -m workers worker --simple`: SimpleWorker, the production option that runs jobs in
the worker process; `--fork` for the forking worker), the web app under gunicorn (so the
signed Event Webhook is live) and the SendGrid stand-in (devtools/sendgrid_stub.py), which
records what each address received, posts "processed" and "delivered" back (or "bounce" for
the 3% of addresses made dead), signed as SendGrid signs.

Time: every process reads the clock from one file (CLOCK_FILE, app/clock.py FileClock); this
process moves it. Between moments the simulation runs the agency's actions through the same
services the pages call (bench/sim_agency.py), then the scheduler's periodic work
(workers/schedule.py: dispatch, the reconciler, promised dates, after-interview notes,
reports) as the scheduler process would at that moment, then waits, in real time and with
the clock held, until the workers have sent everything due. The next moment is the earliest
of: the next action (people act on a grid of --grid seconds, see sim_agency), the next owed
message's due time, the next promised date, the next after-interview note, and --max-gap.
So a message due at 09:00 is dispatched at 09:00 sharp: what p95_seconds measures is the
engine's own delay, in simulated seconds, not the stepping. People act on a grid of --grid
seconds (5 minutes: a recruiter's act drawn for 10:03 happens at 10:05), so the engine's
waits, whole minutes from an act, fall on the grid too and one step serves all of them; the
grid changes when people act, never when the engine sends.

The agency (bench/sim_agency.py) and the measures (bench/sim_measure.py) are documented
there. Per-week figures are printed as the quarter goes; the last line is

  simulate: owed=<n> told=<n> untold=<n> p95_seconds=<x> promises_kept_pct=<x> \
            max_per_day=<n> contradictions=<n>      (one line; broken here to fit)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make simulate)
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import common, sim_measure  # noqa: E402
from bench.sim_agency import BOUNCE_DOMAIN, Agency, Size  # noqa: E402

# Monday 5 January 2026: the quarter crosses Easter (Good Friday and Easter Monday are
# holidays in England), and British and American clocks change in March.
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


# The engine runs with production defaults (undo window, business hours, digest window, quiet
# hours, daily cap). Only the scheduler's intervals are longer, in simulated time: every
# step runs the dispatcher, and the promised-date and after-interview sweeps run at the
# moment they are due (see next_moment), so only the safety net and the staff reports go
# less often than in production.
SCHEDULER_INTERVALS = {
    "RECONCILE_INTERVAL_SECONDS": 3600,
    "OVERDUE_REFRESH_SECONDS": 3600,
    "DIGEST_INTERVAL_SECONDS": 3600,
    # Reports for staff pages nobody opens here; their jobs would take the workers' time.
    "DASHBOARD_REFRESH_SECONDS": 3600,
    # No outbound webhook endpoint is subscribed: the sweep finds nothing every time.
    "WEBHOOK_SWEEP_SECONDS": 3600,
    # The clock is held while settle waits, so a grace in simulated time never ends there;
    # settle runs the reconciler after real seconds of waiting instead (see settle).
    "QUEUED_GRACE_SECONDS": 0,
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 20,000 candidates")
    parser.add_argument("--seed", type=int, default=20260105)
    parser.add_argument("--weeks", type=int, default=13)
    parser.add_argument("--drain-days", type=float, default=7, help="quiet days after the quarter")
    parser.add_argument("--workers", type=int, default=2, help="RQ worker processes")
    parser.add_argument("--fork", action="store_true", help="forking workers, not SimpleWorker")
    # The agency's people act on a grid of whole minutes (sim_agency.Agency.at): the engine's
    # waits (digest window, undo window, business hours, quiet hours) are whole minutes too,
    # so what falls due falls due on the grid, and one step serves everything due at it.
    parser.add_argument("--grid", type=float, default=300, help="seconds between acts")
    parser.add_argument("--max-gap", type=float, default=6 * 3600, help="longest step, seconds")
    # Several recruiters act at once: the acts of one moment run on this many threads (each
    # with its own app context, so its own session and connection), acts on one candidate or
    # one position in order on one thread, an act touching many alone (Acts below).
    # 1 by default: at --scale 0.05, quiet, 4 threads were no faster (week 3's acts 14.7 s
    # against 16.2 s, the whole run 120 s against 112 s, the same figures); at --scale 0.2
    # (4 weeks), acts 93 s against 110-117 s, the whole run 250 s against 255 s: a moment
    # holds about six acts, and an act's CPU holds the GIL for two thirds of its time.
    parser.add_argument("--concurrency", type=int, default=1, help="threads running acts")
    parser.add_argument(
        "--db-name", default=os.environ.get("SIM_DB_NAME") or common.database_name("_sim")
    )
    parser.add_argument("--redis-url", default=os.environ.get("SIM_REDIS_URL", common.REDIS_URL))
    parser.add_argument("--quiet", action="store_true", help="no per-week lines")
    return parser.parse_args(argv)


# -- the system ---------------------------------------------------------------------------


class System:
    """The processes, the clock file and this process's own app."""

    def __init__(self, procs: common.Processes, args):
        self.procs, self.args = procs, args
        common.OUT.mkdir(parents=True, exist_ok=True)
        self.clock_file = common.OUT / f"sim-clock-{os.getpid()}.txt"
        from sqlalchemy.engine import make_url

        from app import clock

        clock.write_file(self.clock_file, START)
        self.env = common.base_env(
            DATABASE_URL=make_url(common.database_url())
            .set(database=args.db_name)
            .render_as_string(hide_password=False),
            REDIS_URL=args.redis_url,
            CLOCK_FILE=self.clock_file,
            LOG_LEVEL="WARNING",
            **SCHEDULER_INTERVALS,
        )
        # Migrated in start(), by this process's own app.
        common.create_database(args.db_name)
        _no_commit_wait(args.db_name)
        import redis

        redis.Redis.from_url(args.redis_url).flushdb()

    def start(self) -> None:
        """This process's app migrates the database (the Alembic run of `flask db upgrade`),
        then the web app, the stub and the workers start side by side and are waited for
        together: one after the other, their start-ups added up to seconds of the test."""
        from bench import soak

        key_path, public_key = soak.webhook_keys()
        web_port = common.free_port()
        stub_port = common.free_port()
        while stub_port == web_port:
            stub_port = common.free_port()
        web = f"http://{common.HOST}:{web_port}"
        self.env["SENDGRID_WEBHOOK_PUBLIC_KEY"] = public_key
        self.env["SENDGRID_API_HOST"] = f"http://{common.HOST}:{stub_port}"
        self.app = common.make_app(self.env)
        common.migrate_in_process(self.app)
        with self.app.app_context():
            from app.extensions import db

            # This process returns its connection after every act and step (as a request or a
            # job does) and checks one out again at once: no ping to a server that answered
            # a millisecond ago. Workers and the web app keep the production setting.
            db.engine.pool._pre_ping = False
        args = ["-m", "gunicorn", "--bind", f"{common.HOST}:{web_port}", "--workers", "1"]
        web_proc = self.procs.start("sim-web", [*args, "app:create_app()"], self.env)
        stub, self.stub_url = common.launch_stub(
            self.procs,
            self.env,
            "--no-bodies",
            "--webhook-url",
            f"{web}/webhooks/sendgrid",
            "--webhook-private-key-file",
            str(key_path),
            # Events a tenth of a real second after each send: the day's bounce handling waits
            # for them (run), so a longer delay is paid in real time once a simulated day.
            "--webhook-delivered-delay",
            "0.1",
            "--bounce-domain",
            BOUNCE_DOMAIN,
            "--clock-file",
            str(self.clock_file),
            name="sim-stub",
            port=stub_port,
        )
        for i in range(self.args.workers):
            common.start_worker(self.procs, self.env, f"sim-w{i}", simple=not self.args.fork)
        up = common.wait_until(lambda: common.http_ok(f"{web}/healthz") or not web_proc.alive(), 90)
        if not up or not web_proc.alive():
            raise RuntimeError(f"the web app did not start; see {web_proc.log_path}")
        common.wait_for_stub(stub, self.stub_url)
        from app.notifications.dispatch import NOTIFICATIONS_QUEUE

        # Ready before the meter starts: their start-up is not the quarter's work.
        # On the simulation's own Redis (--redis-url), which need not be the benchmarks'.
        if not common.wait_for_workers(
            NOTIFICATIONS_QUEUE, self.args.workers, redis_url=self.args.redis_url
        ):
            raise RuntimeError("the workers did not start; see bench/out/sim-w*.log")
        self.meter = CpuMeter(self.procs, self.args.db_name)

    def set_time(self, moment: datetime) -> None:
        from app import clock

        clock.write_file(self.clock_file, moment)

    def close(self) -> None:
        self.clock_file.unlink(missing_ok=True)


def _no_commit_wait(name: str) -> None:
    """The simulation's database does not wait for the disk at each commit (every process's
    sessions): a quarter is about what the candidates were told, not about fsync on a shared
    machine's disk. Nothing else changes: the same transactions, locks and isolation."""
    import psycopg

    with psycopg.connect(common.pg_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')


# -- stepping through time ------------------------------------------------------------------


class Scheduler:
    """workers/schedule.py's entries at their intervals, in simulated time."""

    def __init__(self, app, costs: Costs):
        from workers.schedule import SCHEDULE

        self.app, self.schedule, self.costs = app, SCHEDULE, costs
        self.next_run: dict[str, datetime] = {}
        self.failures = 0
        self.seconds: dict[str, float] = {p.name: 0.0 for p in self.schedule}
        self.log = logging.getLogger("simulate")

    def tick(self, now: datetime, *, sweep: bool = False) -> None:
        from app.extensions import db
        from workers import scheduler
        from workers.schedule import ENTRIES

        for p in self.schedule:
            swept = sweep and p.name in ("promised-dates", "after-interview")
            if self.next_run.get(p.name, now) > now and not swept:
                continue
            self.next_run[p.name] = now + timedelta(seconds=float(self.app.config[p.every]))
            began = time.perf_counter()
            try:
                with self.costs.timed(f"periodic {p.name}"):
                    scheduler._enqueue(p) if p.queue else scheduler._resolve(p)()
            except Exception:
                db.session.rollback()
                self.failures += 1
                self.log.exception("periodic %s failed", p.name)
            else:
                if p.covers:  # as workers/scheduler.py: the covered entry's run is done
                    covered = self.app.config[ENTRIES[p.covers].every]
                    self.next_run[p.covers] = now + timedelta(seconds=float(covered))
            finally:
                db.session.remove()
                self.seconds[p.name] += time.perf_counter() - began


def next_moment(now: datetime, agency: Agency, args, app) -> tuple[datetime, bool]:
    """The next moment to stop at, and whether it is a time-triggered sweep's (a promised
    date passing, an interview's follow-up falling due), which then runs at once."""
    from app.extensions import db
    from app.models import Application, Notification
    from app.models.notifications import WAITING
    from app.pipeline.promised_dates import next_sweep

    after = timedelta(hours=app.config["AFTER_INTERVIEW_DELAY_HOURS"])
    interviewing = Application.stage == "interview"
    due, interview = db.session.execute(
        sa.select(
            sa.select(sa.func.min(Notification.due_at))
            .where(
                Notification.state.in_(WAITING),
                Notification.due_at > now,
            )
            .scalar_subquery(),
            sa.select(sa.func.min(Application.interview_at))
            .where(interviewing, Application.interview_at > now - after)
            .scalar_subquery(),
        )
    ).one()
    # When the promised-dates sweep acts: the date, or before the candidate's night
    # (promised_dates.sweep_at).
    promised = next_sweep(now, within=timedelta(seconds=args.max_gap))
    db.session.remove()
    moments = [(now + timedelta(seconds=args.max_gap), False)]
    if agency.next_time() is not None:
        moments.append((agency.next_time(), False))
    if due is not None:
        moments.append((due, False))
    if promised is not None:
        moments.append((promised, True))
    if interview is not None:
        moments.append((interview + after + timedelta(seconds=1), True))
    moment = min(m for m, _ in moments)
    # A sweep's moment that coincides with an act or a due message (the grid makes that
    # common) is still a sweep's: next time, the moment is no longer ahead of the clock.
    sweep = any(flag for m, flag in moments if m == moment)
    return max(now + timedelta(seconds=1), moment), sweep


def settle(now: datetime, timeout: float = 300) -> float:
    """Wait (real time, clock held) until nothing due at `now` is waiting or being sent."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    from app.extensions import db
    from app.models import Notification
    from app.models.notifications import WAITING, NState
    from app.notifications.dispatch import NOTIFICATIONS_QUEUE
    from app.notifications.reconcile import dispatch_due, reconcile
    from app.redis_conn import get_redis

    conn = get_redis()
    # The candidates' queue only: the maintenance queue's report refresh may run on.
    q = Queue(NOTIFICATIONS_QUEUE, connection=conn)
    registry = StartedJobRegistry(queue=q)
    started = time.monotonic()
    # Poll often at first (most moments have little or nothing to send) and less as the wait
    # grows: a 5 ms poll of Redis through a long wait took a tenth of this process's CPU,
    # which the workers, on the same two cores, needed.
    pause, dispatched_at, reconciled_at = 0.002, started, started
    while True:
        pipe = conn.pipeline(transaction=False)
        pipe.llen(q.key)
        pipe.zcard(registry.key)  # as registry.count, its cleanup every 5 s below
        busy = sum(pipe.execute())
        pending_due = 0
        if not busy:
            sending, pending_due, queued_due = db.session.execute(
                sa.select(
                    sa.func.count().filter(Notification.state == NState.SENDING.value),
                    # as the dispatcher sees it (reconcile.dispatch_due)
                    *(
                        sa.func.count().filter(
                            Notification.state == state.value, Notification.due_at <= now
                        )
                        for state in (NState.PENDING, NState.QUEUED)
                    ),
                ).where(
                    sa.or_(Notification.state == NState.SENDING.value, Notification.due_at <= now),
                    Notification.state.in_((NState.SENDING.value, *WAITING)),
                )
            ).one()
            busy = sending + pending_due + queued_due
            db.session.remove()
        if not busy:
            return time.monotonic() - started
        clock_now = time.monotonic()
        waited = clock_now - started
        if waited > timeout:
            logging.getLogger("simulate").warning("still busy after %.0f s at %s", waited, now)
            return waited
        # Rows due and never handed over: at once the first time (a step closer to the last
        # than the dispatcher's interval did not run it), then each second, as the scheduler.
        if (pending_due and dispatched_at == started) or clock_now - dispatched_at >= 1:
            dispatched_at = clock_now
            dispatch_due(now)
            db.session.remove()
        if clock_now - reconciled_at >= 5:
            # Seconds of real time with the clock held: what the reconciler would have done
            # meanwhile. RQ's scheduler runs a job planned for a simulated due time (always
            # in the real past) at once; it claims nothing, and the dispatch at the due time
            # reuses its id, which RQ refuses while the first one's result is kept: the
            # reconciler's requeue_vanished is what sends such a row, here as in production.
            reconciled_at = clock_now
            registry.cleanup()  # a job whose worker died stops counting as started
            reconcile(now)
            db.session.remove()
        time.sleep(pause)
        pause = min(0.02, pause * 1.5)


class Costs:
    """Where this process's real time goes: each act (by name) through the services, and each
    step's parts (choosing the next moment, the scheduler's entries, waiting for the workers),
    with the SQL statements each sent: what to cut to fit the quarter in 25 minutes."""

    def __init__(self):
        self.seconds: Counter = Counter()
        self.count: Counter = Counter()
        self.statements: Counter = Counter()
        # The thread's CPU (acts run on several threads): less noisy on a shared machine.
        self.cpu: Counter = Counter()
        self._thread = threading.local()  # statements sent by this thread so far
        self._lock = threading.Lock()

    def _live(self) -> int:
        return getattr(self._thread, "statements", 0)

    def listen(self, engine) -> None:
        def count(*_):
            self._thread.statements = self._live() + 1

        sa.event.listen(engine, "before_cursor_execute", count)

    @contextmanager
    def timed(self, name: str):
        began, cpu, before = time.perf_counter(), time.thread_time(), self._live()
        try:
            yield
        finally:
            seconds, cpu = time.perf_counter() - began, time.thread_time() - cpu
            with self._lock:
                self.seconds[name] += seconds
                self.cpu[name] += cpu
                self.count[name] += 1
                self.statements[name] += self._live() - before

    def summary(self) -> str:
        """Per act and per step (its parts but the wait for the workers): wall and CPU ms."""
        acts = [k for k in self.seconds if k.startswith("act ")]
        n_acts = max(1, sum(self.count[k] for k in acts))
        parts = ("step: next moment", "step: scheduler")
        n_steps = max(1, self.count["step: scheduler"])
        return (
            f"{1000 * sum(self.seconds[k] for k in acts) / n_acts:.1f} ms per act "
            f"(CPU {1000 * sum(self.cpu[k] for k in acts) / n_acts:.1f}), "
            f"{1000 * sum(self.seconds[k] for k in parts) / n_steps:.1f} ms per step "
            f"(CPU {1000 * sum(self.cpu[k] for k in parts) / n_steps:.1f})"
        )

    def lines(self) -> list[str]:
        out = []
        for name in sorted(self.seconds, key=lambda n: -self.seconds[n]):
            n = self.count[name]
            out.append(
                f"  {name}: {n} x {1000 * self.seconds[name] / n:.1f} ms "
                f"(CPU {1000 * self.cpu[name] / n:.1f} ms, "
                f"{self.statements[name] / n:.1f} statements) = {self.seconds[name]:.1f} s"
            )
        return out


class Acts:
    """Runs the acts of one moment, as several recruiters would: acts that share a candidate
    or a position (bench/sim_agency.Agency.touches) run in key order on one thread, unrelated
    groups on `concurrency` threads at once, and an act touching many (a position's close,
    the day's bounces) alone, after everything before it and before everything after it. So
    every act sees what the acts before it on its candidates and positions did, whatever the
    threads' timing, and the clock does not move before all of them are done."""

    def __init__(self, app, agency: Agency, costs: Costs, concurrency: int, before=None):
        from concurrent.futures import ThreadPoolExecutor

        self.app, self.agency, self.costs = app, agency, costs
        self.before = before or {}  # act name -> what to wait for before it runs
        self.concurrency = max(1, concurrency)
        self.pool = ThreadPoolExecutor(self.concurrency) if self.concurrency > 1 else None
        self.parallel = 0  # acts that ran beside others

    def run(self, batch: list) -> None:
        group: list = []
        for action in batch:
            touches = self.agency.touches(action)
            if touches is None:
                self._run_group(group)
                group = []
                if action.name in self.before:
                    self.before[action.name]()
                self._one(action)
            else:
                group.append((action, touches))
        self._run_group(group)

    def _one(self, action) -> None:
        with self.costs.timed(f"act {action.name}"):
            self.agency.run(action)

    def _run_group(self, group: list) -> None:
        if self.pool is None or len(group) < 2:
            for action, _ in group:
                self._one(action)
            return
        # Union-find over what the acts touch: acts connected by a candidate or position are
        # one chain, run in order.
        owner: dict = {}

        def find(x):
            while owner.setdefault(x, x) != x:
                owner[x] = owner[owner[x]]
                x = owner[x]
            return x

        for _, touches in group:
            first, *rest = touches
            for other in rest:
                owner[find(other)] = find(first)
        chains: dict = {}
        for action, touches in group:
            chains.setdefault(find(next(iter(touches))), []).append(action)
        if len(chains) < 2:
            for action, _ in group:
                self._one(action)
            return
        self.parallel += len(group)
        futures = [self.pool.submit(self._chain, chain) for chain in chains.values()]
        for future in futures:
            future.result()

    def _chain(self, chain: list) -> None:
        with self.app.app_context():
            for action in chain:
                self._one(action)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


class Week:
    def __init__(self, index: int, cpu: float = 0.0):
        self.index, self.wall, self.steps, self.settle = index, time.monotonic(), 0, 0.0
        self.actions = 0
        self.acts = 0.0  # real seconds running acts (on however many threads)
        self.cpu = cpu  # the run's CPU seconds so far when the week began (CpuMeter.total)


class CpuMeter:
    """CPU seconds the whole run used, by part: this process, each process it started (with
    its descendants: a fork worker's horses, gunicorn's workers) and the PostgreSQL backends
    serving the simulation's database. Their sum divided by the cores is the shortest wall
    time this run could take on this machine if nothing ever waited: what the 25-minute goal
    is held against. Backends are sampled at each reading, so one that closed between two
    readings loses what it used since the last (the pools keep theirs for the whole run)."""

    def __init__(self, procs: common.Processes, db_name: str):
        import psutil

        self.psutil, self.procs, self.db_name = psutil, procs, db_name
        self.backends: dict[int, float] = {}  # pid -> CPU seconds at its last reading
        self.gone = 0.0  # CPU of backends no longer there, as last read
        self.machine_start = psutil.cpu_times()
        self.wall_start = time.monotonic()
        self.start: dict[str, float] = {}
        self.start = self.read()  # what starting the processes cost is not the quarter's

    @staticmethod
    def _times(proc) -> float:
        t = proc.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    def _tree(self, pid: int) -> float:
        psutil = self.psutil
        try:
            root = psutil.Process(pid)
            total = self._times(root)
            for child in root.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += self._times(child)
            return total
        except psutil.NoSuchProcess:
            return 0.0

    def _postgres(self) -> float:
        import psycopg

        with psycopg.connect(common.pg_dsn("postgres"), autocommit=True) as conn:
            pids = [
                r[0]
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db_name,)
                )
            ]
        seen = {}
        for pid in pids:
            with contextlib.suppress(self.psutil.NoSuchProcess):
                seen[pid] = self._times(self.psutil.Process(pid))
        self.gone += sum(v for pid, v in self.backends.items() if pid not in seen)
        self.backends = seen
        return self.gone + sum(seen.values())

    def read(self) -> dict[str, float]:
        parts: Counter = Counter({"simulation": self._times(self.psutil.Process())})
        for proc in self.procs.procs:
            kind = proc.name.removeprefix("sim-").rstrip("0123456789")
            parts[{"w": "workers"}.get(kind, kind)] += self._tree(proc.pid)
        parts["postgres"] = self._postgres()
        return {k: v - self.start.get(k, 0.0) for k, v in parts.items()}

    def total(self) -> float:
        return sum(self.read().values())

    def machine(self) -> tuple[float, float, float]:
        """Since the meter started: wall seconds, and the whole machine's busy and niced CPU
        seconds (user, system and interrupts; niced is a part of busy)."""
        now, then = self.psutil.cpu_times(), self.machine_start
        fields = ("user", "nice", "system", "irq", "softirq")
        busy = sum(getattr(now, f) - getattr(then, f) for f in fields)
        return time.monotonic() - self.wall_start, busy, now.nice - then.nice


def run(system: System, args) -> dict:
    from app.extensions import db

    end = START + timedelta(weeks=args.weeks)
    finish = end + timedelta(days=args.drain_days)
    app = system.app
    with app.app_context():
        agency = Agency(args.seed, Size.at(args.scale), START, end, grid=args.grid)
        agency.seed()
        costs = Costs()
        costs.listen(db.engine)
        scheduler = Scheduler(app, costs)
        # The day's bounces are the ones the provider reported for what was sent before the
        # recruiters look: its events (posted a tenth of a real second after each send, see
        # System.start) are all in first. Without the wait, whether a bounce sent a moment
        # earlier was in depended on how fast the steps ran: the same seed phoned different
        # candidates on different days from one run to the next.
        bounces_in = {
            "handle_bounces": lambda: common.wait_until(
                lambda: _stub_pending(system.stub_url) == 0, timeout=120, interval=0.05
            )
        }
        acts = Acts(app, agency, costs, args.concurrency, before=bounces_in)
        meter = system.meter
        now, week = START, Week(0, meter.total())
        settle_times: list[float] = []
        while now < finish:
            with costs.timed("step: next moment"):
                until, sweep = next_moment(now, agency, args, app)
            until = min(until, finish)
            while batch := agency.pop_due(until):
                moment = max(now, batch[0].at)
                if moment > now:
                    # What the last acts sent at once (a withdrawal's acknowledgement, a
                    # reply) goes before the clock moves on.
                    with costs.timed("step: settle (acts)"):
                        week.settle += settle(now)
                    system.set_time(moment)
                    now = moment
                began = time.monotonic()
                with costs.timed("step: acts (wall, all threads)"):
                    acts.run(batch)
                week.acts += time.monotonic() - began
                week.actions += len(batch)
            now = until
            system.set_time(now)
            with costs.timed("step: scheduler"):
                scheduler.tick(now, sweep=sweep)
            with costs.timed("step: settle"):
                waited = settle(now)
            settle_times.append(waited)
            week.steps += 1
            week.settle += waited
            if now >= START + timedelta(weeks=week.index + 1):
                cpu = meter.total()
                report_week(week, agency, args, costs, cpu)
                week = Week(week.index + 1, cpu)
                # The tables grow several-fold over the quarter: fresh statistics weekly, as
                # autovacuum would give a production database (it may be late or off here).
                with costs.timed("step: analyze"):
                    db.session.execute(sa.text("ANALYZE"))
                    db.session.commit()
                    db.session.remove()
        acts.close()
        report_week(week, agency, args, costs, meter.total())
        # After the quarter: the provider's last events, the recruiters' last calls.
        common.wait_until(lambda: _stub_pending(system.stub_url) == 0, timeout=120)
        agency.do_handle_bounces()
        db.session.remove()
        settle(now)
        records = _stub_records(system.stub_url)
        result = sim_measure.measure(records, agency.promises, BOUNCE_DOMAIN, finish)
        result["weeks"] = sim_measure.week_figures(START, args.weeks + 1)
        result["agency"] = agency
        result["settle_p95"] = sim_measure.percentile(settle_times, 95)
        result["steps"] = len(settle_times)
        result["periodic_failures"] = scheduler.failures
        result["periodic_seconds"] = scheduler.seconds
        result["costs"] = costs
        result["parallel_acts"] = acts.parallel
        result["cpu"] = meter.read()
        result["machine_cpu"] = meter.machine()
        db.session.remove()
    return result


def report_week(week: Week, agency: Agency, args, costs: Costs, cpu: float) -> None:
    if args.quiet:
        return
    from app.extensions import db
    from app.models import Notification

    lo = START + timedelta(weeks=week.index)
    hi = lo + timedelta(weeks=1)
    owed, sent, bounced = db.session.execute(
        sa.select(
            sa.func.count().filter(Notification.created_at >= lo, Notification.created_at < hi),
            sa.func.count().filter(Notification.sent_at >= lo, Notification.sent_at < hi),
            sa.func.count().filter(Notification.bounced_at >= lo, Notification.bounced_at < hi),
        )
    ).one()
    db.session.remove()
    print(
        f"week {week.index + 1:2d} ({lo:%d %b}): actions={week.actions} owed={owed} "
        f"sent={sent} bounced={bounced} steps={week.steps} "
        f"settle_seconds={week.settle:.1f} acts_seconds={week.acts:.1f} "
        f"wall_seconds={time.monotonic() - week.wall:.1f} "
        f"cpu_seconds={cpu - week.cpu:.1f} (all processes and their PostgreSQL backends) "
        f"so far: {costs.summary()}; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )


def _stub_pending(url: str) -> int:
    return common.stub_stats(url).get("webhook", {}).get("pending", 0)


def _stub_records(url: str) -> list[dict]:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{url}/_stub/messages", timeout=120) as resp:  # noqa: S310
        return json.loads(resp.read())["messages"]


def print_result(result: dict, seconds: float, args) -> None:
    agency = result["agency"]
    print(f"machine: {common.machine()}")
    print(
        f"size: {Size.at(args.scale)}; workers: {args.workers} "
        f"({'fork' if args.fork else 'SimpleWorker'}); seed {args.seed}; "
        f"acts on {args.concurrency} threads ({result['parallel_acts']} ran beside others)"
    )
    print(f"actions done: {dict(sorted(agency.done.items()))}")
    print(f"actions skipped: {dict(sorted(agency.skipped.items()))}")
    for line in agency.errors:
        print(f"  {line}")
    print(
        f"steps: {result['steps']}; settle p95 {result['settle_p95']:.2f} s real; "
        f"periodic failures: {result['periodic_failures']}; wall {seconds:.1f} s"
    )
    spent = ", ".join(f"{k} {v:.1f} s" for k, v in result["periodic_seconds"].items())
    print(f"periodic work in this process (real time): {spent}")
    costs = result["costs"]
    acts = sum(n for k, n in costs.count.items() if k.startswith("act "))
    act_s = sum(v for k, v in costs.seconds.items() if k.startswith("act "))
    steps = costs.count["step: scheduler"]
    step_s = costs.seconds["step: next moment"] + costs.seconds["step: scheduler"]
    act_cpu = sum(v for k, v in costs.cpu.items() if k.startswith("act "))
    step_cpu = costs.cpu["step: next moment"] + costs.cpu["step: scheduler"]
    print(
        f"CPU in this process: {1000 * act_cpu / max(1, acts):.1f} ms per act, "
        f"{1000 * step_cpu / max(1, steps):.1f} ms per step without waiting"
    )
    print(
        f"cost in this process: {1000 * act_s / max(1, acts):.1f} ms per act ({acts} acts), "
        f"{1000 * step_s / max(1, steps):.1f} ms per step without waiting ({steps} steps); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for line in costs.lines():
        print(line)
    cpu = result["cpu"]
    total = sum(cpu.values())
    cores = os.cpu_count() or 1
    wall, busy, niced = result["machine_cpu"]
    print(
        f"cpu: seconds={total:.0f} ("
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))
        + f") from the seed to the last measure; on {cores} cores that needs at least "
        f"{total / cores:.0f} s of wall time with every core busy, against {wall:.0f} s taken "
        f"({100 * total / cores / max(wall, 1e-9):.0f}% of the machine); the whole machine "
        f"meanwhile: {busy:.0f} CPU-s busy, {niced:.0f} of them niced"
    )
    print(
        f"emails handed over: {result['sent']}; wait p50 {result['p50_seconds']:.0f} s; "
        f"emails per candidate-day: {result['per_day_histogram']}; "
        f"promises counted: {result['promises']}"
    )
    for i, w in enumerate(result["weeks"], 1):
        print(
            f"  week {i:2d}: owed={w['owed']} sent={w['sent']} bounced={w['bounced']} "
            f"p95_seconds={w['p95_seconds']:.0f}"
        )
    for label, items in (
        ("untold", result["untold"]),
        ("contradiction", result["contradictions"]),
        ("broken promise", result["broken_promises"]),
    ):
        for item in items[:5]:
            print(f"  {label}: {item}")
    print(
        f"simulate: owed={result['owed']} told={result['told']} untold={len(result['untold'])} "
        f"p95_seconds={result['p95_seconds']:.0f} "
        f"promises_kept_pct={result['promises_kept_pct']:.1f} "
        f"max_per_day={result['max_per_day']} contradictions={len(result['contradictions'])}",
        flush=True,
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    # A TERM (a CI timeout, kill) stops the processes this run started, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.WARNING)
    random.seed(args.seed)  # anything drawing from the module generator in this process
    started = time.monotonic()
    with common.Processes() as procs:
        system = System(procs, args)
        try:
            system.start()
            result = run(system, args)
        finally:
            system.close()
    print_result(result, time.monotonic() - started, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
