"""Declarative base, naming convention and column types shared by every model."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

from app import clock

# The largest value an integer column (and so any id) holds on PostgreSQL.
MAX_INT = 2**31 - 1


def parse_id(raw, top: int = MAX_INT) -> int | None:
    """A whole number from 1 to `top` (ASCII digits, or an int), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(top)):
            return None
        raw = int(raw)
    if isinstance(raw, int) and 1 <= raw <= top:
        return raw
    return None


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend.

    SQLite drops the offset, so values are stored as naive UTC and given their zone back
    when read; PostgreSQL keeps them as timestamptz.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is UTC:  # PostgreSQL, its session in UTC (configure_postgresql)
            return value
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def utcnow() -> datetime:
    return clock.now()


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def bounded_text(max_length: int, **kwargs):
    """A Text column whose values people type: the database holds any length, the app
    takes at most `max_length` characters (see `max_length`)."""
    return mapped_column(sa.Text, info={"max_length": max_length}, **kwargs)


def max_length(attribute) -> int:
    """The most characters a model attribute holds: a String column's length, or a
    `bounded_text` column's bound. Forms, the CSV import and services read it here, so what
    they accept is what PostgreSQL stores."""
    column = attribute.property.columns[0]
    length = getattr(column.type, "length", None) or column.info.get("max_length")
    if not length:
        raise ValueError(f"{column} has no length bound: make it String(n) or bounded_text(n)")
    return length


def literal_in(column, values) -> sa.ColumnElement[bool]:
    """`column IN (...)` with the values written into the SQL, for a query that needs a
    partial index on those values: psycopg prepares a statement after a few runs and
    PostgreSQL may then plan it once for any parameters, a plan that cannot use a partial
    index whose condition depends on them (bench/reconcile.py: the reconciler's SLA scan went
    from 0.1 ms to 700 ms)."""
    return column.in_(sa.bindparam(None, tuple(values), expanding=True, literal_execute=True))


def enum_check(column: str, values) -> sa.CheckConstraint:
    """A CHECK constraint listing the allowed values of a text column (portable enum)."""
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_allowed")


def configure_sqlite(engine: sa.Engine) -> None:
    """WAL and a busy timeout so web, workers and reconciler can share one SQLite file."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        # IMMEDIATE takes the write lock up front: two processes can then never both read
        # and then fail to upgrade (SQLITE_BUSY that busy_timeout cannot wait out).
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def configure_postgresql(engine: sa.Engine) -> None:
    """Each connection's session in UTC: psycopg then reads timestamps with datetime.UTC
    itself instead of a ZoneInfo (the server's default is often 'Etc/UTC', which psycopg
    does not take for UTC), and UTCDateTime passes them on as they are. A 1,000-row send
    batch loads in 31 instead of 37 ms. Values are instants either way: under any other
    zone (a pooler may hand out a server connection set otherwise) they are converted."""
    if engine.dialect.name != "postgresql":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()


def chunks(items: list, size: int = 900):
    """Slices of `items` small enough for an IN list (SQLite allows 999 parameters)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]
