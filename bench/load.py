"""A recruiter's day under load: gunicorn as production runs it, the real flows, real data.

Seeds its own PostgreSQL database (BENCH_DATABASE_URL's name + "_load"; dropped, created,
migrated, then ANALYZEd): per recruiter 20 positions x 50 applications, a message history
for each, and a My queue with hundreds of owed items (messages still unsent past the SLA)
and some open tasks. Then, over HTTP against `gunicorn -c gunicorn.conf.py` with one worker
process per core (WEB_CONCURRENCY = nproc, as the image's default for this box):

0. the ceiling: a hello-world Flask app under the same gunicorn and settings, driven by the
   same client at saturation (closed loop, `--clients` connections): requests/s;
1. each flow alone (one client, nothing else running), `--alone` times each: open My queue,
   open a board, and a stage change = GET the move page (the exact email previewed), POST
   the confirm, GET the board it redirects to. Median server time per request, and the SQL
   statements each one runs (counted in process through Flask's test client);
2. open loop: stage changes arrive at a fixed `--rate` per second (50: ten times a
   200-recruiter agency's peak), with page views mixed in (`--views` per stage change, My
   queue and boards alternately), for `--seconds`. Latency counts from when the flow was
   due to start, not from when a client got round to it, so a slow server cannot hide its
   queueing (no coordinated omission);
3. saturation: `--clients` closed-loop clients doing nothing but stage changes, flows/s.

The load generator is our own (threads and http.client, below) rather than locust: locust
drives users in a closed loop (a user waits for its answer before its next task), which
under-reports latency exactly when the server falls behind, and its gevent loop competes for
the same two cores as gunicorn. The generator's own CPU time is printed with each phase, so
what it took from the server is on the page.

    make bench-load     # or: .venv/bin/python bench/load.py [--rate 50 --seconds 20 ...]
    .venv/bin/python bench/load.py --profile   # also: pyinstrument of each flow, in process

The last line: `load: p50_ms=<x> p99_ms=<x> rps=<r> ceiling_rps=<r>`: the whole stage
change (preview, confirm, redirect) in the open-loop run; `rps` the saturation throughput of
stage changes (flows/s); `ceiling_rps` the hello-world app's requests/s.
Goals (issue 18): p50 <= 30 ms, p99 <= 150 ms, rps >= 10% of ceiling_rps.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script (make bench-load)
    sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402

DB_NAME = common.database_name("_load")
DATABASE_URL = common.database_url("_load")
PASSWORD = "bench-password"  # noqa: S105 - a throwaway local database
USER_AGENT = "closeloop-bench-load"
# A move's cycle through the active stages (interview has a form of its own, not a move).
NEXT_STAGE = {"submitted": "client_review", "client_review": "offer", "offer": "submitted"}
KIND = {"submitted": "submitted", "client_review": "client_review", "offer": "offer"}
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def hello():
    """The ceiling: the smallest Flask app, under the same gunicorn (`bench.load:hello()`)."""
    from flask import Flask

    app = Flask("hello")
    app.add_url_rule("/", "hello", lambda: "Hello, world!")
    return app


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        return "loadavg " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- data -----------------------------------------------------------------------------------


def env(**extra) -> dict:
    return common.base_env(
        DATABASE_URL=DATABASE_URL, EMAIL_BACKEND="mailbox", SENDGRID_API_KEY="", **extra
    )


def seed(app, recruiters: int, positions: int, per_position: int, owed: int, tasks: int):
    """Bulk rows the way board.py seeds them; returns {email: [(application, position,
    stage)]} of the applications each recruiter may move (never one with an owed item, so
    the queue keeps its size through the run)."""
    import sqlalchemy as sa

    from app import clock
    from app.extensions import db
    from app.models import Application, Candidate, Client, Notification, Position, Task, User

    rng = random.Random(18)  # noqa: S311 - test data, not security
    now = clock.now()
    movable: dict[str, list[tuple[int, int, str]]] = {}
    with app.app_context():
        client = Client(name="Bench Client", contact_email="client@bench.test")
        db.session.add(client)
        db.session.flush()
        for r in range(recruiters):
            email = f"recruiter{r}@bench.test"
            user = User(name=f"Recruiter {r}", email=email, role="recruiter", active=True)
            user.set_password(PASSWORD)
            db.session.add(user)
            db.session.flush()
            pos_ids = db.session.execute(
                sa.insert(Position).returning(Position.id),
                [
                    {"client_id": client.id, "title": f"Role {r}-{p}", "owner_id": user.id}
                    for p in range(positions)
                ],
            ).scalars()
            apps = []
            for pid in list(pos_ids):
                cands = db.session.execute(
                    sa.insert(Candidate).returning(Candidate.id),
                    [
                        {"name": f"Cand {pid}-{i}", "email": f"c{pid}-{i}@b.test"}
                        for i in range(per_position)
                    ],
                ).scalars()
                for cid in cands:
                    stage = rng.choice(tuple(NEXT_STAGE))
                    apps.append(
                        {
                            "candidate_id": cid,
                            "position_id": pid,
                            "stage": stage,
                            "stage_entered_at": now - timedelta(hours=rng.randint(1, 900)),
                            "version": 2,
                        }
                    )
            rows = db.session.execute(
                sa.insert(Application).returning(
                    Application.id, Application.candidate_id, Application.position_id
                ),
                apps,
            ).all()
            owed_ids = set(rng.sample(range(len(rows)), min(owed, len(rows))))
            notes, task_rows, mine = [], [], []
            for i, ((app_id, cid, pid), a) in enumerate(zip(rows, apps, strict=True)):
                late = i in owed_ids
                for version, state in ((1, "superseded"), (2, "pending" if late else "sent")):
                    created = now - timedelta(days=10 if late else 1, hours=3 - version)
                    notes.append(
                        {
                            "application_id": app_id,
                            "candidate_id": cid,
                            "kind": KIND[a["stage"]],
                            "state": state,
                            "idempotency_key": f"bench:{app_id}:{version}",
                            "app_version": version,
                            "context": {},
                            "created_at": created,
                            "due_at": created,
                            "sent_at": None if state == "pending" else created,
                        }
                    )
                if late:
                    continue
                if len(task_rows) < tasks:
                    task_rows.append(
                        {
                            "kind": "promised_date_due",
                            "title": "Chase the client for their decision",
                            "candidate_id": cid,
                            "application_id": app_id,
                            "assignee_id": user.id,
                            "due_at": now + timedelta(hours=rng.randint(-48, 48)),
                            "created_at": now - timedelta(days=1),
                        }
                    )
                else:
                    mine.append((app_id, pid, a["stage"]))
            db.session.execute(sa.insert(Notification), notes)
            if task_rows:
                db.session.execute(sa.insert(Task), task_rows)
            rng.shuffle(mine)
            movable[email] = mine
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    return movable


# -- the HTTP client ------------------------------------------------------------------------


class Browser:
    """One signed-in user agent: its own cookie jar, a fresh connection per request (gunicorn's
    sync workers close every connection after answering)."""

    def __init__(self, port: int, cookies: dict | None = None):
        self.port = port
        self.cookies = dict(cookies or {})

    def request(self, method: str, path: str, form: dict | None = None):
        headers = {"User-Agent": USER_AGENT, "Host": f"{common.HOST}:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection(common.HOST, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        for header, value in resp.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookie = rest.split(";", 1)[0]
                if cookie and "expires=thu, 01 jan 1970" not in value.lower():
                    self.cookies[name] = cookie
                else:
                    self.cookies.pop(name, None)
        return resp.status, resp.getheader("Location"), data

    def get(self, path: str, expect: int = 200) -> bytes:
        status, _, data = self.request("GET", path)
        if status != expect:
            raise RuntimeError(f"GET {path} answered {status}")
        return data

    def login(self, email: str) -> None:
        token = _csrf(self.get("/login"))
        status, _, _ = self.request(
            "POST", "/login", {"csrf_token": token, "email": email, "password": PASSWORD}
        )
        if status != 302:
            raise RuntimeError(f"could not sign in as {email} ({status})")


def _csrf(page: bytes) -> str:
    found = _CSRF.search(page.decode())
    if not found:
        raise RuntimeError("no CSRF token on the page")
    return found.group(1)


class Recruiter:
    """The applications one recruiter moves, handed out to their browsers one at a time."""

    def __init__(self, email: str, movable: list[tuple[int, int, str]]):
        self.email = email
        self.lock = threading.Lock()
        self.items = list(movable)
        self.positions = sorted({pid for _, pid, _ in movable})

    def take(self) -> tuple[int, int, str]:
        with self.lock:
            return self.items.pop(0)

    def give_back(self, app_id: int, pid: int, stage: str) -> None:
        with self.lock:
            self.items.append((app_id, pid, stage))


def stage_change(browser: Browser, recruiter: Recruiter, timings: list | None = None) -> None:
    """Preview, confirm, and the board the confirm redirects to."""
    app_id, pid, stage = recruiter.take()
    to = NEXT_STAGE[stage]
    path = f"/applications/{app_id}/move?to={to}"
    marks = [time.perf_counter()]
    page = browser.get(path)
    marks.append(time.perf_counter())
    status, location, _ = browser.request(
        "POST", path, {"csrf_token": _csrf(page), "note": "", "confirm": "1"}
    )
    marks.append(time.perf_counter())
    if status != 302 or not location or f"/positions/{pid}" not in location:
        raise RuntimeError(f"confirm of {path} answered {status} -> {location}")
    browser.get(urlsplit(location).path)
    marks.append(time.perf_counter())
    recruiter.give_back(app_id, pid, to)
    if timings is not None:
        timings.append([(b - a) * 1000 for a, b in zip(marks, marks[1:], strict=False)])


def view(browser: Browser, recruiter: Recruiter, i: int) -> None:
    if i % 2:
        browser.get("/queue")
    else:
        browser.get(f"/positions/{recruiter.positions[i % len(recruiter.positions)]}")


class Pool:
    """Signed-in browsers, lent out one flow at a time (each has its own cookie jar)."""

    def __init__(self, port: int, recruiters: list[Recruiter], per_recruiter: int):
        self.lock = threading.Lock()
        self.free: list[tuple[Browser, Recruiter]] = []
        for recruiter in recruiters:
            first = Browser(port)
            first.login(recruiter.email)
            self.free.append((first, recruiter))
            # The same signed session in more jars: one sign-in (scrypt) per recruiter.
            self.free += [(Browser(port, first.cookies), recruiter) for _ in range(per_recruiter)]
        random.Random(5).shuffle(self.free)  # noqa: S311

    def borrow(self) -> tuple[Browser, Recruiter]:
        with self.lock:
            return self.free.pop()

    def give_back(self, item) -> None:
        with self.lock:
            self.free.append(item)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def saturate(work, clients: int, seconds: float) -> tuple[float, int, int, float]:
    """`clients` threads calling work(n) back to back: (per second, done, errors, client CPU s)."""
    done, errors = [0], [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop(n: int) -> None:
        i = 0
        while time.monotonic() < stop:
            try:
                work(n * 100000 + i)
                ok = True
            except Exception:  # noqa: BLE001 - counted and reported
                ok = False
            with lock:
                done[0] += ok
                errors[0] += not ok
            i += 1

    cpu0, t0 = cpu_seconds(), time.monotonic()
    threads = [threading.Thread(target=loop, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    return done[0] / elapsed, done[0], errors[0], cpu_seconds() - cpu0


def open_loop(pool: Pool, rate: float, views: float, seconds: float, drain: float) -> dict:
    """Arrivals on a fixed schedule, whatever the server does; latency from the due time."""
    arrivals = []
    n_moves = int(rate * seconds)
    for i in range(n_moves):
        arrivals.append((i / rate, "move", i))
    n_views = int(rate * views * seconds)
    for i in range(n_views):
        arrivals.append((i / (rate * views) + 0.5 / (rate * views), "view", i))
    arrivals.sort()
    results: dict[str, list[float]] = {"move": [], "view": []}
    errors: list[str] = []
    lock = threading.Lock()

    def run(due: float, kind: str, i: int) -> None:
        item = pool.borrow()
        try:
            if kind == "move":
                stage_change(*item)
            else:
                view(*item, i)
            took = (time.monotonic() - due) * 1000
            with lock:
                results[kind].append(took)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(f"{kind}: {exc}")
        finally:
            pool.give_back(item)

    cpu0 = cpu_seconds()
    start = time.monotonic() + 0.2
    late_starts = 0
    executor = ThreadPoolExecutor(max_workers=len(pool.free))
    futures = []
    for offset, kind, i in arrivals:
        due = start + offset
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        elif wait < -0.05:
            late_starts += 1
        futures.append(executor.submit(run, due, kind, i))
    # A server that cannot keep up would take minutes to drain its backlog: what is not done
    # `drain` seconds after the last arrival counts as taking at least that long.
    cutoff = time.monotonic() + drain
    for future in futures:
        if not future.done():
            with contextlib.suppress(Exception):
                future.result(timeout=max(0.0, cutoff - time.monotonic()))
    with lock:
        unfinished = len(arrivals) - len(results["move"]) - len(results["view"]) - len(errors)
        moves_left = n_moves - len(results["move"]) - sum(e.startswith("move") for e in errors)
        results["move"] += [float("inf")] * max(0, moves_left)  # never finished: no bound
        snapshot = {k: list(v) for k, v in results.items()}
    executor.shutdown(wait=True, cancel_futures=True)
    elapsed = time.monotonic() - start
    return {
        **snapshot,
        "errors": errors,
        "elapsed": elapsed,
        "cpu": cpu_seconds() - cpu0,
        "late_starts": late_starts,
        "unfinished": unfinished,
    }


# -- gunicorn -------------------------------------------------------------------------------


def start_gunicorn(procs: common.Processes, name: str, target: str, environment: dict, workers):
    port = common.free_port()
    environment = {
        **environment,
        "GUNICORN_BIND": f"{common.HOST}:{port}",
        "WEB_CONCURRENCY": str(workers),
    }
    proc = procs.start(
        name, ["-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), target], environment
    )
    url = f"http://{common.HOST}:{port}"
    probe = "/" if name == "hello" else "/healthz"
    if not common.wait_until(lambda: common.http_ok(url + probe) or not proc.alive(), 90):
        raise RuntimeError(f"gunicorn {name} did not answer; see {proc.log_path}")
    if not proc.alive():
        raise RuntimeError(f"gunicorn {name} exited; see {proc.log_path}")
    return proc, port


# -- in process: statement counts and profiles -----------------------------------------------


def in_process(app, recruiter: Recruiter, profile: bool) -> dict[str, int]:
    """SQL statements per request of each flow (and a pyinstrument profile with --profile),
    through Flask's test client: the same view code, no HTTP."""
    import sqlalchemy as sa

    from app.extensions import db

    client = app.test_client()
    page = client.get("/login").data
    client.post(
        "/login",
        data={"csrf_token": _csrf(page), "email": recruiter.email, "password": PASSWORD},
    )
    with app.app_context():
        engine = db.engine
    counted: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        counted.append(statement)

    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    found: dict[str, int] = {}

    def measure(name: str, call, warm: bool = True):
        if warm:
            call()  # templates compiled, the badge cached as a user's would be
        counted.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            if profiler:
                profiler.start()
            response = call()
            if profiler:
                profiler.stop()
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        found[name] = len(counted)
        return response

    pid = recruiter.positions[0]
    measure("queue", lambda: client.get("/queue"))
    measure("board", lambda: client.get(f"/positions/{pid}"))
    for _ in range(2):  # the second round is the one counted
        app_id, pid, stage = recruiter.take()
        to = NEXT_STAGE[stage]
        path = f"/applications/{app_id}/move?to={to}"
        page = measure("preview", lambda path=path: client.get(path))
        token = _csrf(page.data)
        # A confirm cannot be warmed on the same application: count the first one.
        counted.clear()
        sa.event.listen(engine, "before_cursor_execute", count)
        if profiler:
            profiler.start()
        response = client.post(path, data={"csrf_token": token, "note": "", "confirm": "1"})
        if profiler:
            profiler.stop()
        sa.event.remove(engine, "before_cursor_execute", count)
        found["confirm"] = len(counted)
        if response.status_code != 302:
            raise RuntimeError(f"in-process confirm answered {response.status_code}")
        # The page the confirm redirects to, as the user gets it: right after the POST.
        measure("redirect", lambda pid=pid: client.get(f"/positions/{pid}"), warm=False)
        recruiter.give_back(app_id, pid, to)
    if profiler:
        out = common.OUT / "load-profile.txt"
        out.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        print(f"profile of the flows (in process): {out}")
    return found


# -- the run --------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--recruiters", type=int, default=4)
    parser.add_argument("--positions", type=int, default=20, help="per recruiter")
    parser.add_argument("--per-position", type=int, default=50, help="applications")
    parser.add_argument("--owed", type=int, default=300, help="owed items per recruiter")
    parser.add_argument("--tasks", type=int, default=40, help="open tasks per recruiter")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--alone", type=int, default=15, help="runs of each flow alone")
    parser.add_argument("--rate", type=float, default=50, help="stage changes per second")
    parser.add_argument("--views", type=float, default=1.0, help="page views per stage change")
    parser.add_argument("--seconds", type=float, default=20, help="of the open-loop run")
    parser.add_argument(
        "--drain", type=float, default=30, help="seconds to wait for the open loop's backlog"
    )
    parser.add_argument("--saturate-seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients")
    parser.add_argument("--profile", action="store_true", help="pyinstrument the flows")
    args = parser.parse_args(argv)

    print(common.machine(), flush=True)
    print(f"uptime at start: {uptime()}", flush=True)
    environment = env()
    print(
        f"seeding {DB_NAME}: {args.recruiters} recruiters x {args.positions} positions x "
        f"{args.per_position} applications, {args.owed} owed items and {args.tasks} tasks each",
        flush=True,
    )
    common.reset_database(environment, DB_NAME)
    os.environ.update(environment)
    from app import create_app

    app = create_app()
    movable = seed(app, args.recruiters, args.positions, args.per_position, args.owed, args.tasks)
    recruiters = [Recruiter(email, items) for email, items in movable.items()]
    statements = in_process(app, recruiters[0], args.profile)
    print(
        "SQL statements per request: " + " ".join(f"{name}={n}" for name, n in statements.items()),
        flush=True,
    )

    with common.Processes() as procs:
        hello_proc, hello_port = start_gunicorn(
            procs, "hello", "bench.load:hello()", environment, args.workers
        )
        hello_client = Browser(hello_port)
        for _ in range(50):
            hello_client.get("/")
        ceiling, served, errors, cpu = saturate(
            lambda _n: Browser(hello_port).get("/"), args.clients, args.saturate_seconds
        )
        print(
            f"ceiling: hello-world under gunicorn ({args.workers} workers), {args.clients} "
            f"closed-loop clients: {ceiling:.0f} requests/s ({served} served, {errors} errors; "
            f"generator CPU {cpu:.1f} s in {args.saturate_seconds:.0f} s) | {uptime()}",
            flush=True,
        )
        procs.stop(hello_proc)

        web, port = start_gunicorn(procs, "web", "app:create_app()", environment, args.workers)
        pool = Pool(port, recruiters, max(4, args.clients // len(recruiters) + 8))
        browser, recruiter = pool.free[0]
        alone = {"queue": [], "board": [], "preview": [], "confirm": [], "redirect": []}
        moves: list[list[float]] = []
        for i in range(args.alone + 2):
            for name, path in (
                ("queue", "/queue"),
                ("board", f"/positions/{recruiter.positions[i % len(recruiter.positions)]}"),
            ):
                t0 = time.perf_counter()
                browser.get(path)
                alone[name].append((time.perf_counter() - t0) * 1000)
            stage_change(browser, recruiter, moves)
        for parts in moves:
            for name, ms in zip(("preview", "confirm", "redirect"), parts, strict=True):
                alone[name].append(ms)
        med = {name: statistics.median(v[2:]) for name, v in alone.items()}  # 2 warm-ups
        flow_alone = statistics.median(sum(p) for p in moves[2:])
        print(
            "alone (median ms, one client): "
            + " ".join(f"{name}={ms:.1f}" for name, ms in med.items())
            + f" stage_change={flow_alone:.1f} | {uptime()}",
            flush=True,
        )

        run = open_loop(pool, args.rate, args.views, args.seconds, args.drain)
        flows = run["move"]
        if not flows:
            raise RuntimeError(f"no stage change completed: {run['errors'][:3]}")
        p50, p99 = statistics.median(flows), pct(flows, 0.99)
        finished = sum(x != float("inf") for x in flows)
        views = run["view"]
        print(
            f"open loop: {args.rate:g} stage changes/s + {args.rate * args.views:g} page views/s "
            f"for {args.seconds:g} s: stage change p50 {p50:.1f} ms, p99 {pct(flows, 0.99):.1f} "
            f"ms, max {max(flows):.0f} ms ({finished} done); page views p50 "
            f"{statistics.median(views) if views else 0:.1f} ms, p99 "
            f"{pct(views, 0.99) if views else 0:.1f} ms ({len(views)}); "
            f"{len(run['errors'])} errors; generator CPU {run['cpu']:.1f} s in "
            f"{run['elapsed']:.0f} s, {run['late_starts']} late starts, {run['unfinished']} not "
            f"done {args.drain:g} s after the last arrival (counted as infinite) | {uptime()}",
            flush=True,
        )
        for problem in run["errors"][:5]:
            print(f"  error: {problem}")

        def one_move(_n: int) -> None:
            item = pool.borrow()
            try:
                stage_change(*item)
            finally:
                pool.give_back(item)

        rps, done, errors, cpu = saturate(one_move, args.clients, args.saturate_seconds)
        print(
            f"saturation: {args.clients} closed-loop clients, stage changes only: {rps:.1f} "
            f"flows/s ({done} done, {errors} errors; {rps * 3:.0f} requests/s; generator CPU "
            f"{cpu:.1f} s in {args.saturate_seconds:.0f} s) = {100 * rps / ceiling:.1f}% of "
            f"the ceiling | {uptime()}",
            flush=True,
        )
        if web.alive() is False:
            raise RuntimeError(f"gunicorn web died; see {web.log_path}")
    print(
        f"goals: p50<=30 {'met' if p50 <= 30 else 'MISSED'}, p99<=150 "
        f"{'met' if p99 <= 150 else 'MISSED'}, rps>=10% of ceiling "
        f"{'met' if rps >= 0.1 * ceiling else 'MISSED'}"
    )
    print(f"load: p50_ms={p50:.1f} p99_ms={p99:.1f} rps={rps:.1f} ceiling_rps={ceiling:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
