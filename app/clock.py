"""The one place Closeloop reads the time from.

Every business rule asks `clock.now()`; tests and the simulated quarter replace the
source with `clock.set_source(...)` or `clock.frozen(...)`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Current time, timezone-aware, in UTC."""
    value = _source()
    if value.tzinfo is None:
        raise ValueError("clock source must return an aware datetime")
    return value.astimezone(UTC)


def set_source(source: Callable[[], datetime] | None) -> None:
    """Replace the time source; None restores the system clock."""
    global _source
    _source = source or (lambda: datetime.now(UTC))


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime):
        self.current = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.current += delta or timedelta(**kwargs)
        return self.current


class FileClock:
    """The time another process writes to a file (`write_file`): a simulation moves the time
    of every process it starts (workers, the web app, the SendGrid stand-in) at once. Set by
    CLOCK_FILE; never in production."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __call__(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text().strip())


def write_file(path: str | os.PathLike, moment: datetime) -> None:
    """Write `moment` for FileClock readers; atomic, so a reader never sees half of it."""
    if moment.tzinfo is None:
        raise ValueError("the clock file takes an aware datetime")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(moment.astimezone(UTC).isoformat())
    os.replace(tmp, path)


@contextlib.contextmanager
def frozen(start: datetime) -> Iterator[FrozenClock]:
    clock = FrozenClock(start)
    previous = _source
    set_source(clock)
    try:
        yield clock
    finally:
        set_source(previous)
