"""Start and kill real Closeloop processes (workers, scheduler, web) for tests and benchmarks.

RQ's work horse calls setsid(), so killing a worker's process group alone would leave the
horse running: every stop and kill here also reaches each descendant.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


class Proc:
    def __init__(self, args: list[str], env: dict, log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(  # noqa: S603 - our interpreter, our modules
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.popen.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> None:
        """SIGKILL the process and everything it started."""
        family = self._descendants()
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        for child in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        self.popen.wait(timeout=10)
        psutil.wait_procs(family, timeout=10)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL for whatever is still there."""
        stop_all([self], timeout)

    def _terminate(self) -> list[psutil.Process]:
        """SIGTERM to the process group; its descendants as they were, to reap later."""
        family = self._descendants()
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
        return family

    def _reap(self, family: list[psutil.Process], deadline: float) -> None:
        try:
            self.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
        self.popen.wait(timeout=10)
        _, alive = psutil.wait_procs(family, timeout=5)
        for child in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def stop_all(procs: list[Proc], timeout: float = 15) -> None:
    """Stop several processes together: each gets its SIGTERM before any is waited for, so
    their shutdowns (a worker finishing its job, a scheduler its entry) overlap instead of
    adding up; whatever is still there after `timeout` is killed."""
    families = [(p, p._terminate()) for p in procs]
    deadline = time.monotonic() + timeout
    for p, family in families:
        p._reap(family, deadline)


# -- what a killed run left behind -------------------------------------------------------------

# Every process a test run starts inherits this variable from the run's first process (the
# pytest controller): "<its pid>:<its start time>". A pytest that is killed outright (SIGKILL,
# a closed terminal, CI's timeout) cannot stop what it started, and a scheduler or worker
# left running keeps writing to the test database of the next run.
RUN_VARIABLE = "CLOSELOOP_TEST_RUN"


def run_id(pid: int | None = None) -> str:
    """The run id of the process `pid` (this one by default): its pid and the moment it
    started, in clock ticks since boot (which a change of the wall clock does not move,
    unlike psutil's create_time; a pid used again by a later process has a later one)."""
    pid = os.getpid() if pid is None else pid
    try:
        with open(f"/proc/{pid}/stat") as f:
            started = f.read().rpartition(")")[2].split()[19]  # field 22, starttime
    except OSError:  # no /proc (not Linux), or no such process
        started = f"{psutil.Process(pid).create_time():.3f}"
    return f"{pid}:{started}"


def _run_alive(value: str) -> bool:
    pid, _, _ = value.partition(":")
    try:
        return run_id(int(pid)) == value
    except (ValueError, psutil.Error):
        return False


def stop_left_behind(variable: str = RUN_VARIABLE, timeout: float = 5) -> list[str]:
    """Stop every process whose run (`variable` in its environment) has ended: SIGTERM,
    then SIGKILL after `timeout`. Processes of a run still going (another checkout's tests,
    this run's own) are left alone. Returns "pid command line" for each one stopped."""
    left: list[psutil.Process] = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            value = process.environ().get(variable)
        except psutil.Error:  # gone, a zombie, or not ours to read
            continue
        if value is not None and not _run_alive(value):
            left.append(process)
    stopped = []
    for process in left:
        with contextlib.suppress(psutil.Error):
            stopped.append(f"{process.pid} {' '.join(process.cmdline())[:200]}")
            process.terminate()
    _, alive = psutil.wait_procs(left, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=timeout)
    return stopped
