"""Python's cyclic garbage collector, paused where it only costs: a leaf module (it
imports nothing from the app), so every layer may use it."""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def collection_paused():
    """No cyclic garbage collection while the app is imported and built. Start-up allocates
    hundreds of thousands of objects (modules, classes, mappers, URL rules) and frees few, so
    the collector's scans, triggered every 700 allocations, find nearly nothing: they were
    a sixth of each process's start (worker 1.94 -> 1.63 CPU-s, web app 2.47 -> 2.07, mean
    of 6 alternated runs). Reference counting frees everything as usual meanwhile; the
    collector runs again afterwards.

    Also around bulk work, where the same holds (decorator or `with`): a send job
    (workers/jobs.py), a CSV import (bench/imports.py: 5,000 rows in 0.46 s -> 0.35 s), and
    closing, holding or reopening a position, whose candidates' rows, tuples and dicts, a
    few hundred thousand for 10,000 candidates, all live until its commit (a close of
    10,000 in a process whose objects are not frozen: 0.25-0.35 -> 0.13 CPU-s). Nested uses
    leave the collector to the outermost one."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
