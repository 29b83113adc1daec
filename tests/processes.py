"""Real worker / scheduler processes for tests (see devtools/processes.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

from devtools.processes import ROOT, Proc, stop_all

__all__ = ["ROOT", "Proc", "stop_all", "wait_until"]


def wait_until(
    predicate: Callable[[], bool],
    timeout: float = 30,
    interval: float = 0.2,
    message: str = "condition",
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
