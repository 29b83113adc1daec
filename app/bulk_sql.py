"""Set-based statements for fan-out: one close_position writes tens of thousands of rows.

On PostgreSQL the rows travel as one array per column, sent in psycopg's binary format
(`INSERT ... SELECT FROM unnest(...)`, `UPDATE ... FROM unnest(...)`), and id lists as one
array: a few short statements instead of thousands of bind parameters that SQLAlchemy would
expand and psycopg would splice into the SQL text one by one. Elsewhere (SQLite, tests and
`make run`) the portable forms are used: executemany and IN lists of at most 900 ids.
"""

from __future__ import annotations

import sqlalchemy as sa
from psycopg.types.array import ListBinaryDumper
from sqlalchemy.dialects import postgresql

from app.orm import chunks


class _BinaryArray(list):
    """A list psycopg sends as a binary array: its text format escapes every element in
    Python, which for thousands of email bodies costs more than the statement itself."""


def _send_binary_arrays(session) -> None:
    # On the connection that will run the statement, for this type only. (SQLAlchemy gives
    # its connections their own copy of psycopg's adapters, made when the engine starts.)
    dbapi_connection = session.connection().connection.dbapi_connection
    dbapi_connection.adapters.register_dumper(_BinaryArray, ListBinaryDumper)


def is_postgresql(session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def id_filters(session, column, ids: list[int], size: int = 900):
    """WHERE clauses that together select `column` IN `ids`: one on PostgreSQL (see
    `ids_in`), IN lists of `size` elsewhere (SQLite's parameter limit)."""
    ids = list(ids)
    if not ids:
        return
    if is_postgresql(session):
        yield ids_in(session, column, ids)
        return
    for chunk in chunks(ids, size):
        yield column.in_(chunk)


class _IdArrayLiteral(sa.types.UserDefinedType):
    """Integer ids written into the SQL as `'{1,2,…}'::integer[]` when the statement runs."""

    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "integer[]"

    def literal_processor(self, dialect):
        def process(ids) -> str:
            return "'{" + ",".join(str(int(i)) for i in ids) + "}'::integer[]"

        return process


def ids_in(session, column, ids: list[int]):
    """`column` IN `ids` as one clause. On PostgreSQL, `= ANY('{1,2,…}'::integer[])` with the
    ids written into the statement. A bound array would be one parameter, but once psycopg
    prepares the statement the plan is generic and the array is searched element by element
    for every row the plan visits; right after a fan-out the statistics still say "few rows
    owed", the planner walks the state index, and that is tens of thousands of rows times
    the array. A literal array is hashed. Integers only, so nothing can be injected.

    The ids are a bound parameter SQLAlchemy renders as that literal at execution
    (`literal_execute`), not part of the statement: as literal SQL text each id list was a
    new statement to compile and keep in the engine's compiled cache (500 of them, most of
    the SimpleWorker's growth from 110 to 190 MB; issue 18)."""
    ids = list(ids)
    if not is_postgresql(session):
        return column.in_(ids)
    return column == sa.any_(sa.bindparam(None, ids, _IdArrayLiteral(), literal_execute=True))


def next_ids(session, model, count: int) -> list[int]:
    """PostgreSQL only: `count` values from the table's id sequence, ascending, so rows can
    be written with their ids known beforehand."""
    table = model.__table__
    # Looked up once (a subquery, run before the rows): as an argument of nextval() the
    # lookup and its cast to regclass ran per row, 30-50 ms of catalog reads per 10,000.
    sequence = sa.select(
        sa.cast(sa.func.pg_get_serial_sequence(table.name, table.c.id.name), postgresql.REGCLASS)
    ).scalar_subquery()
    return sorted(
        session.scalars(
            sa.select(sa.func.nextval(sequence)).select_from(sa.func.generate_series(1, count))
        ).all()
    )


def rows_source(session, table: sa.Table, rows: list[dict], names: list[str]) -> dict:
    """PostgreSQL only: `rows` (dicts with the same keys) as column expressions over one
    FROM clause, `unnest(array, …) AS anon(name, …)`, typed like `table`'s columns. A column
    with the same value in every row (a fan-out's kind, reason, timestamps …) is one
    parameter instead of an array: psycopg builds binary arrays element by element."""
    dialect = session.get_bind().dialect
    _send_binary_arrays(session)
    varying, constant = [], {}
    arrays = []
    for i, name in enumerate(names):
        column_type = table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)  # UTC, JSON …
        values = [row[name] for row in rows]
        first = values[0]
        # (In C: equal values of one type; True == 1 but is not the same parameter.)
        if i > 0 and values.count(first) == len(values) and len(set(map(type, values))) == 1:
            value = process(first) if process is not None else first
            constant[name] = sa.cast(sa.bindparam(None, value, sa.types.NullType()), column_type)
            continue
        if process is not None:
            values = [process(v) for v in values]
        param = sa.bindparam(None, _BinaryArray(values), sa.types.NullType())
        arrays.append(sa.cast(param, postgresql.ARRAY(column_type)))
        varying.append(name)
    source = sa.func.unnest(*arrays).table_valued(*varying).render_derived()
    return {name: constant[name] if name in constant else source.c[name] for name in names}


def insert_many(session, model, rows: list[dict], returning=None) -> list:
    """INSERT every row (all with the same keys) in the caller's transaction; returns the
    `returning` column's values when asked (in no particular order)."""
    if not rows:
        return []
    if not is_postgresql(session):
        stmt = sa.insert(model)
        if returning is None:
            session.execute(stmt, rows)
            return []
        return list(session.scalars(stmt.returning(returning), rows))
    table = model.__table__
    names = list(rows[0])
    columns = rows_source(session, table, rows, names)
    stmt = sa.insert(table).from_select(names, sa.select(*columns.values()))
    if returning is None:
        session.execute(stmt)
        return []
    return list(session.scalars(stmt.returning(table.c[returning.key])))


def update_many(
    session, table: sa.Table, rows: list[dict], *, key: str = "id", where=(), values=None
):
    """UPDATE each row of `table` whose `key` matches a row of `rows` with that row's other
    values (the same keys in every row) and the constant `values`, where `where` holds too.
    `where` must not use expanding IN lists: off PostgreSQL this is an executemany."""
    if not rows:
        return
    names = [n for n in rows[0] if n != key]
    values = dict(values or {})
    if is_postgresql(session):
        columns = rows_source(session, table, rows, [key, *names])
        stmt = (
            sa.update(table)
            .where(table.c[key] == columns[key], *where)
            .values(**values, **{n: columns[n] for n in names})
        )
        session.execute(stmt)
        return
    stmt = (
        sa.update(table)
        .where(table.c[key] == sa.bindparam(f"b_{key}"), *where)
        .values(**values, **{n: sa.bindparam(f"b_{n}") for n in names})
    )
    session.execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in rows])


# Rows written at once after which the planner's statistics are refreshed: autovacuum
# analyzes a table only once 10% of it changed, and may be off, late or busy; until then a
# page filtered on the new rows is planned as if they were not there.
ANALYZE_AFTER_ROWS = 1000


def analyze(session, *tables: str) -> None:
    """Fresh planner statistics for `tables` (every table when none), after a bulk write
    (PostgreSQL; elsewhere nothing). Runs in the caller's transaction: call it after the
    commit that wrote the rows, then commit."""
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(sa.text("ANALYZE " + ", ".join(tables) if tables else "ANALYZE"))
