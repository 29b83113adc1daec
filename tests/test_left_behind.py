"""A test run killed outright (SIGKILL, CI's timeout) cannot stop the workers and schedulers
it started; the next run stops them first (tests/conftest.py, pytest_configure)."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil

from devtools.processes import RUN_VARIABLE, run_id, stop_left_behind
from tests.processes import wait_until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _start(run: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != RUN_VARIABLE}
    if run is not None:
        env[RUN_VARIABLE] = run
    proc = subprocess.Popen(SLEEPER, env=env, start_new_session=True)  # noqa: S603
    # Its own environment is there to read only once it has exec'd.
    wait_until(lambda: _sleeping(proc), message="the sleeper started")
    return proc


def _sleeping(proc: subprocess.Popen) -> bool:
    try:
        return psutil.Process(proc.pid).cmdline() == SLEEPER
    except psutil.Error:
        return False


def test_the_processes_of_a_run_that_ended_are_stopped_and_no_others():
    assert os.environ[RUN_VARIABLE]  # named by this run's first process
    gone = subprocess.Popen(SLEEPER)  # noqa: S603
    ended = run_id(gone.pid)
    gone.kill()
    gone.wait()
    procs = {
        "left behind": _start(ended),
        "this run's": _start(os.environ[RUN_VARIABLE]),
        "another run's, still going": _start(run_id()),
        "no run's": _start(None),
    }
    try:
        stopped = {int(line.split()[0]) for line in stop_left_behind(timeout=5)}
        assert procs["left behind"].pid in stopped
        assert not _sleeping(procs["left behind"])  # gone (and reaped) once it returns
        for name, proc in procs.items():
            if name != "left behind":
                assert proc.pid not in stopped, name
                assert _sleeping(proc), name
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
