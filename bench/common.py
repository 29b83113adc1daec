"""Shared setup for the benchmarks: a database and a Redis database of their own, real processes.

Everything here talks to 127.0.0.1 only. Processes are started in their own session and
stopped with all their descendants (RQ's work horse calls setsid(), so its process group is
not enough); `Processes` is a context manager so a benchmark never leaves one behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from devtools import processes

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(os.environ.get("BENCH_OUT") or ROOT / "bench" / "out")
# Every benchmark's database and Redis come from the environment, so several people (or
# helpers) on one machine each bench their own and never touch anyone else's data:
# - BENCH_DATABASE_URL (a PostgreSQL URL; or BENCH_DB_NAME, a database name on the local
#   server): the benchmarks' database, DROPPED and created again on every run. A benchmark
#   that keeps a seeded database of its own (report, board, imports) adds a suffix to its name.
# - BENCH_REDIS_URL, or else REDIS_URL's server with database 9 (the database the test suite's
#   workers skip), or else 127.0.0.1:6379/9. FLUSHDB below only ever touches that database.
_DB_NAME = os.environ.get("BENCH_DB_NAME") or "closeloop_bench"
BENCH_DATABASE_URL = (
    os.environ.get("BENCH_DATABASE_URL") or f"postgresql+psycopg://root@127.0.0.1:5432/{_DB_NAME}"
)
BENCH_REDIS_DB = 9


def database_url(suffix: str = "") -> str:
    """The benchmarks' PostgreSQL URL, its database name followed by `suffix` (e.g. "_board")."""
    from sqlalchemy.engine import make_url

    url = make_url(BENCH_DATABASE_URL)
    if url.get_backend_name() != "postgresql":
        raise SystemExit(f"BENCH_DATABASE_URL must be a PostgreSQL URL, not {url!r}")
    return url.set(database=f"{url.database}{suffix}").render_as_string(hide_password=False)


def database_name(suffix: str = "") -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url(suffix)).database


def pg_dsn(name: str | None = None) -> str:
    """A libpq connection string for `name` (the benchmarks' database by default) on the
    benchmarks' server, for psycopg used directly."""
    from sqlalchemy.engine import make_url

    url = make_url(BENCH_DATABASE_URL)
    parts = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username,
        "password": url.password,
        "dbname": name or database_name(),
    }
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def _bench_redis_url() -> str:
    explicit = os.environ.get("BENCH_REDIS_URL")
    if explicit:
        return explicit
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    query = dict(parse_qsl(parts.query))
    query.pop("db", None)
    return urlunsplit(parts._replace(path=f"/{BENCH_REDIS_DB}", query=urlencode(query)))


DB_NAME = database_name()
DATABASE_URL = database_url()
REDIS_URL = _bench_redis_url()
API_KEY = "bench-key"
HOST = "127.0.0.1"


# -- the machine, the database, Redis --------------------------------------------------------


def machine() -> str:
    """nproc, CPU model and load: other work on a shared box shows up in the figures."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"nproc={os.cpu_count()} cpu={model!r} python={platform.python_version()} loadavg={load}"


def reset_database(env: dict, name: str = DB_NAME) -> None:
    """Drop and recreate a benchmark's database, then migrate it as a deployment would."""
    create_database(name)
    migrate(env)


def migrate(env: dict, timeout: float = 300) -> None:
    """Bring the database `env` names to the head, as a deployment would."""
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=timeout,
    )


def create_database(name: str) -> None:
    """Drop and recreate a benchmark's database, empty (see migrate_in_process)."""
    import psycopg

    with psycopg.connect(pg_dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def migrate_in_process(app) -> None:
    """Bring `app`'s database to the head with the same Alembic run as `flask db upgrade`,
    in a process that builds the app anyway: no second interpreter importing it all again."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


def redis_conn():
    import redis

    return redis.Redis.from_url(REDIS_URL, socket_timeout=10)


def flush_redis() -> None:
    """FLUSHDB on the benchmarks' own Redis database (see REDIS_URL above), never anyone else's."""
    redis_conn().flushdb()


# One key per run, shared by the benchmark and every process it starts.
SECRET_KEY = secrets.token_urlsafe(32)


def base_env(**overrides) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        SECRET_KEY=SECRET_KEY,
        EMAIL_BACKEND="sendgrid",
        SENDGRID_API_KEY=API_KEY,
        DEV_MAILBOX_ENABLED="0",
        CLOSELOOP_INSTANCE_PATH=str(OUT / "instance"),
        PYTHONUNBUFFERED="1",
    )
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def make_app(env: dict):
    """The benchmark's own in-process app, configured exactly like its children."""
    os.environ.update(env)
    from app import create_app

    return create_app()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


# -- processes ----------------------------------------------------------------------------


class Proc(processes.Proc):
    """A process whose output goes to bench/out/<name>.log."""

    def __init__(self, name: str, args: list[str], env: dict):
        OUT.mkdir(parents=True, exist_ok=True)
        self.name = name
        super().__init__(args, env, OUT / f"{name}.log")

    def stop(self, timeout: float = 10) -> None:
        super().stop(timeout)


class Processes:
    """Every process a benchmark starts; all of them are stopped on exit, whatever happens."""

    def __init__(self):
        self.procs: list[Proc] = []

    def start(self, name: str, args: list[str], env: dict) -> Proc:
        proc = Proc(name, args, env)
        self.procs.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        self.procs.remove(proc)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc) -> None:
        # Together: each process's shutdown overlaps the others' (see processes.stop_all).
        try:
            processes.stop_all(list(reversed(self.procs)), timeout=10)
        except Exception:
            for proc in reversed(self.procs):
                with contextlib.suppress(Exception):
                    proc.stop()
        self.procs.clear()


# -- the SendGrid stub and RQ workers -------------------------------------------------------


def start_stub(procs: Processes, env: dict, *extra: str, name: str = "stub") -> str:
    """Run the stub as its own process; returns its URL once it answers."""
    proc, url = launch_stub(procs, env, *extra, name=name)
    wait_for_stub(proc, url)
    return url


def launch_stub(
    procs: Processes, env: dict, *extra: str, name: str = "stub", port: int | None = None
) -> tuple[Proc, str]:
    """Start the stub without waiting for it (see wait_for_stub): its URL is known at once,
    so what needs it can start meanwhile."""
    port = port or free_port()
    args = ["-m", "devtools.sendgrid_stub", "--port", str(port), "--api-key", API_KEY]
    return procs.start(name, [*args, *extra], env), f"http://{HOST}:{port}"


def wait_for_stub(proc: Proc, url: str) -> None:
    if not wait_until(lambda: _answers(url) or not proc.alive(), timeout=20):
        raise RuntimeError(f"the stub did not start; see {proc.log_path}")
    if not proc.alive():
        raise RuntimeError(f"the stub exited; see {proc.log_path}")
    return url


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _answers(url: str) -> bool:
    try:
        stub_stats(url)
        return True
    except OSError:
        return False


def stub_stats(url: str, full: bool = False) -> dict:
    query = "" if full else "?per_notification=0"
    with urllib.request.urlopen(f"{url}/_stub/stats{query}", timeout=30) as resp:
        return json.loads(resp.read())


def stub_post(url: str, path: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def start_worker(procs: Processes, env: dict, name: str, *, simple: bool) -> Proc:
    args = ["-m", "workers", "worker", "--name", name]
    return procs.start(name, [*args, "--simple"] if simple else args, env)


def wait_for_workers(
    queue_name: str, count: int, timeout: float = 60, *, redis_url: str | None = None
) -> bool:
    """True once `count` RQ workers listen on `queue_name` (they register when ready), on
    the benchmarks' Redis or on `redis_url`'s."""
    import redis
    from rq import Queue, Worker

    conn = redis.Redis.from_url(redis_url) if redis_url else redis_conn()
    queue = Queue(queue_name, connection=conn)
    return wait_until(lambda: Worker.count(queue=queue) >= count, timeout, interval=0.1)
