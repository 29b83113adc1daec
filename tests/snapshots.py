"""Data worlds built once per test process and copied into each test that asks for one.

Several fixtures build the same rows test after test (the demo agency of app/seed.py, the
overdue report's agency, My queue's items): each build is tens to hundreds of service calls,
and a copy of what it left is a handful of bulk statements. `Worlds.load(key, build)` runs
`build()` the first time a process meets `key`, on the empty database the test starts with,
and keeps every row of every table, the sequences' positions and every Redis key (RQ jobs
included). Later tests get those rows back, ids and all, and the value `build()` returned
with its ORM objects loaded again from the copy.

A test changes only its own copy: the per-test reset (tests/conftest.py) empties the tables
and Redis after it as after any test. `load` must be the first thing a test writes.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import object_mapper
from sqlalchemy.orm.exc import UnmappedInstanceError

from app.extensions import db
from app.redis_conn import get_redis


@dataclasses.dataclass(frozen=True)
class _Row:
    """Where an ORM object of the built value stands: loaded again from the copy."""

    cls: type
    identity: tuple


@dataclasses.dataclass
class Snapshot:
    tables: list[tuple[str, Any]]  # (table, rows: COPY text on PostgreSQL, tuples on SQLite)
    sequences: list[tuple[str, int]]
    redis: list[tuple[bytes, int, bytes]]  # (key, ttl in ms or 0, DUMP)
    value: Any


def _is_row(value) -> bool:
    try:
        object_mapper(value)
    except UnmappedInstanceError:
        return False
    return True


_NOT_A_ROW = object()


def _walk(value, row, seen: dict):
    """`value` copied through its containers and objects, with `row(v)` standing for each
    `v` it answers for (anything but _NOT_A_ROW)."""
    if id(value) in seen:
        return seen[id(value)]
    if (out := row(value)) is not _NOT_A_ROW:
        pass
    elif isinstance(value, dict):
        out = {k: _walk(v, row, seen) for k, v in value.items()}
    elif isinstance(value, list | tuple):
        out = type(value)(_walk(v, row, seen) for v in value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = copy.copy(value)
        for field in dataclasses.fields(value):
            object.__setattr__(out, field.name, _walk(getattr(value, field.name), row, seen))
    elif hasattr(value, "__dict__") and not isinstance(value, type) and not callable(value):
        out = copy.copy(value)
        for name, attr in vars(value).items():
            setattr(out, name, _walk(attr, row, seen))
    else:
        out = value
    seen[id(value)] = out
    return out


def _template(value):
    """`value` with every ORM object replaced by a _Row (copied containers and objects)."""

    def row(v):
        return _Row(type(v), sa.inspect(v).identity) if _is_row(v) else _NOT_A_ROW

    return _walk(value, row, {})


def _materialise(value):
    """The template's value for this test: each _Row loaded in the current session."""

    def row(v):
        return db.session.get(v.cls, v.identity) if isinstance(v, _Row) else _NOT_A_ROW

    return _walk(value, row, {})


def _tables() -> list[str]:
    return [t.name for t in db.metadata.sorted_tables]


def take(value) -> Snapshot:
    """Everything the database and Redis hold now (the session's work committed)."""
    db.session.commit()
    template = _template(value)
    tables, sequences = [], []
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            cursor = conn.connection.dbapi_connection.cursor()
            for name in _tables():
                data = bytearray()
                with cursor.copy(f'COPY "{name}" TO STDOUT') as out:
                    for chunk in out:
                        data += chunk
                if data:
                    tables.append((name, bytes(data)))
            sequences = [
                (f"{schema}.{name}", last)
                for schema, name, last in conn.exec_driver_sql(
                    "SELECT schemaname, sequencename, last_value FROM pg_sequences "
                    "WHERE schemaname = current_schema() AND last_value IS NOT NULL"
                )
            ]
        else:
            names = _tables()
            if conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'"
            ).first():
                names.append("sqlite_sequence")
            for name in names:
                rows = conn.exec_driver_sql(f'SELECT * FROM "{name}"').fetchall()
                if rows:
                    tables.append((name, [tuple(r) for r in rows]))
        conn.rollback()
    r = get_redis()
    keys = list(r.scan_iter(count=1000))
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.pttl(key)
        pipe.dump(key)
    answers = pipe.execute()
    redis_keys = [
        (key, max(ttl, 0), dump)
        for key, ttl, dump in zip(keys, answers[::2], answers[1::2], strict=True)
        if dump is not None
    ]
    return Snapshot(tables, sequences, redis_keys, template)


def restore(snapshot: Snapshot):
    """Put the snapshot's rows and Redis keys back (into an emptied database and Redis) and
    give its value with its ORM objects loaded from them."""
    db.session.remove()
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            cursor = conn.connection.dbapi_connection.cursor()
            for name, data in snapshot.tables:
                with cursor.copy(f'COPY "{name}" FROM STDIN') as into:
                    into.write(data)
            if snapshot.sequences:
                moves = [f"setval('{seq}', {last}, true)" for seq, last in snapshot.sequences]
                conn.exec_driver_sql("SELECT " + ", ".join(moves))
        else:
            for name, rows in snapshot.tables:
                marks = ", ".join("?" * len(rows[0]))
                conn.exec_driver_sql(f'INSERT INTO "{name}" VALUES ({marks})', rows)
    if snapshot.redis:
        pipe = get_redis().pipeline(transaction=False)
        for key, ttl, dump in snapshot.redis:
            pipe.restore(key, ttl, dump, replace=True)
        pipe.execute()
    return _materialise(snapshot.value)


class Worlds:
    """The snapshots of one test process, by key."""

    def __init__(self):
        self.kept: dict[Any, Snapshot] = {}

    def keyed(self, settings) -> _Keyed:
        return _Keyed(self, settings)

    def load(self, key, build: Callable[[], Any]):
        kept = self.kept.get(key)
        if kept is None:
            value = build()
            self.kept[key] = take(value)
            return value
        return restore(kept)


@dataclasses.dataclass(frozen=True)
class _Keyed:
    worlds: Worlds
    settings: Any

    def load(self, key, build: Callable[[], Any]):
        return self.worlds.load((key, self.settings), build)
