"""A test run or benchmark killed outright (SIGKILL: no teardown runs) leaves none of the
processes it started behind. A scheduler left running used to go on writing to the test
database and fail the next run's tests (devtools/processes.py, `make run`'s supervisor)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from tests.processes import ROOT, wait_until

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"
)

# Starts a long sleeper the way the tests and benchmarks start workers (Proc) or the way
# `make run` starts its children (run.Child), prints the sleeper's pid, then waits to be
# killed. Nothing here stops the sleeper: only the parent-death signal can.
STARTER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    if sys.argv[1] == "proc":
        from devtools.processes import Proc
        child = Proc(sleeper[1:], {}, Path(sys.argv[2]))
        pid = child.pid
    else:
        from devtools.run import Child, Output
        child = Child("sleeper", sleeper, {}, Output())
        pid = child.proc.pid
    print(pid, flush=True)
    time.sleep(120)
    """
)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("starter", ["proc", "make-run-child"])
def test_a_starter_killed_outright_takes_its_processes_along(starter, tmp_path):
    parent = subprocess.Popen(  # noqa: S603 - our interpreter
        [sys.executable, "-c", STARTER, starter, str(tmp_path / "sleeper.log")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    sleeper = None
    try:
        sleeper = int(parent.stdout.readline())
        assert not _gone(sleeper)
        assert psutil.Process(sleeper).cmdline()[-1] == "import time; time.sleep(120)"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        wait_until(lambda: _gone(sleeper), timeout=10, message="the orphan to be stopped")
    finally:
        parent.kill()
        parent.wait(timeout=10)
        parent.stdout.close()
        if sleeper is not None and not _gone(sleeper):
            os.kill(sleeper, signal.SIGKILL)
