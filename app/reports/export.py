"""The overdue report as CSV, produced as a stream: rows go out as the database yields them,
so memory stays flat whether the report holds a hundred rows or a million.

On PostgreSQL the CSV is written by the server (`COPY (SELECT ...) TO STDOUT WITH CSV`) and
passed through in chunks: a million rows in seconds. Elsewhere (SQLite) Python writes it from
a streamed cursor. Both produce the same columns, order and escaping; the test suite runs
against both databases and checks the same output.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import sqlalchemy as sa

from app import clock, labels
from app.business_days import get_calendar
from app.extensions import db
from app.models import SEVERITY, OverdueItem
from app.reports.queries import REASONS, Filters, iter_rows

HEADER = (
    "application_id",
    "reason",
    "severity",
    "overdue_since_utc",
    "age_hours",
    "age_business_days",
    "candidate",
    "position_id",
    "position",
    "client_id",
    "client",
    "recruiter_id",
    "recruiter",
    "message_kind",
    "message_state",
    "note",
)
_FLUSH_BYTES = 64 * 1024
# A spreadsheet runs a cell starting with these as a formula: "=HYPERLINK(...)" in a
# candidate's name must stay text (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def stream_csv(f: Filters) -> Iterator[str | bytes]:
    if db.session.get_bind().dialect.name == "postgresql":
        return _stream_postgres(f)
    return _stream_python(f)


def _stream_python(f: Filters) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in iter_rows(f):
        writer.writerow(
            (
                row.application_id,
                labels.overdue_reason(row.reason),
                row.severity,
                row.since.strftime("%Y-%m-%dT%H:%M:%SZ"),
                f"{row.age.total_seconds() / 3600:.1f}",
                row.business_days,
                safe_cell(row.candidate),
                row.position_id,
                safe_cell(row.position),
                row.client_id,
                safe_cell(row.client),
                row.owner_id,
                safe_cell(row.owner),
                labels.kind(row.message_kind),
                labels.state(row.message_state),
                safe_cell(row.note),
            )
        )
        if buffer.tell() >= _FLUSH_BYTES:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def counts_csv(rows: list, heading: str) -> Iterator[str]:
    """Per-recruiter or per-client counts: (id, name, {reason: n}, total) rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        (f"{heading}_id", heading, *(labels.overdue_reason(r) for r in REASONS), "total")
    )
    for key, name, per, total in rows:
        writer.writerow((key, safe_cell(name), *(per.get(r.value, 0) for r in REASONS), total))
    yield buffer.getvalue()


# -- PostgreSQL: the server writes the CSV --------------------------------------------------

_FORMULA_SQL = "chr(61), chr(43), chr(45), chr(64), chr(9), chr(13)"  # = + - @ tab CR


def _safe_sql(expr: str) -> str:
    return f"CASE WHEN left({expr}, 1) IN ({_FORMULA_SQL}) THEN chr(39) || {expr} ELSE {expr} END"


# Codes become words in the query itself: each label table travels as two arrays.
_LABELLED = {"reason": labels.OVERDUE_REASONS, "kind": labels.KINDS, "state": labels.STATES}

_COPY_SQL = """
COPY (
  WITH bd(day, ord) AS (SELECT * FROM unnest(%(days)s::date[], %(ords)s::int[])),
  rl(code, words) AS (SELECT * FROM unnest(%(reason_codes)s::text[], %(reason_words)s::text[])),
  kl(code, words) AS (SELECT * FROM unnest(%(kind_codes)s::text[], %(kind_words)s::text[])),
  sl(code, words) AS (SELECT * FROM unnest(%(state_codes)s::text[], %(state_words)s::text[]))
  SELECT i.application_id, coalesce(rl.words, i.reason), i.severity,
    to_char(i.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    to_char(extract(epoch FROM (%(now)s::timestamptz - i.since)) / 3600.0, 'FM9999999990.0'),
    %(today_ord)s - coalesce(bd.ord, %(today_ord)s),
    {candidate}, i.position_id, {position}, i.client_id, {client}, i.owner_id, {owner},
    coalesce(kl.words, i.message_kind, ''), coalesce(sl.words, i.message_state, ''), {note}
  FROM overdue_items i
  LEFT JOIN candidates c ON c.id = i.candidate_id
  LEFT JOIN positions p ON p.id = i.position_id
  LEFT JOIN clients cl ON cl.id = i.client_id
  LEFT JOIN users u ON u.id = i.owner_id
  LEFT JOIN bd ON bd.day = (i.since AT TIME ZONE %(tz)s)::date
  LEFT JOIN rl ON rl.code = i.reason
  LEFT JOIN kl ON kl.code = i.message_kind
  LEFT JOIN sl ON sl.code = i.message_state
  WHERE {where}
  ORDER BY i.severity, i.since, i.application_id
) TO STDOUT WITH (FORMAT csv)
""".format(  # noqa: S608 - fixed fragments only; every value is a bound parameter
    candidate=_safe_sql("coalesce(c.name, '(candidate removed)')"),
    position=_safe_sql("coalesce(p.title, '(position removed)')"),
    client=_safe_sql("coalesce(cl.name, '')"),
    owner=_safe_sql("coalesce(u.name, '')"),
    note=_safe_sql("coalesce(i.note, '')"),
    where="{where}",
)


def _copy_statement(f: Filters) -> tuple[str, dict]:
    now = clock.now()
    calendar = get_calendar()
    oldest = db.session.scalar(sa.select(sa.func.min(OverdueItem.since))) or now
    first, today = calendar.local_date(oldest), calendar.local_date(now)
    days, ords, n = [], [], 0
    for i in range(min((today - first).days, 3660) + 1):
        day = first + timedelta(days=i)
        n += calendar.is_business_day(day) if i else 0
        days.append(day)
        ords.append(n)
    where, params = ["TRUE"], {}
    for column, value in (
        ("owner_id", f.owner_id),
        ("client_id", f.client_id),
        ("position_id", f.position_id),
    ):
        if value is not None:
            where.append(f"i.{column} = %({column})s")
            params[column] = value
    if f.reason is not None:
        where.append("i.severity = %(severity)s AND i.reason = %(reason)s")
        params.update(severity=SEVERITY[f.reason], reason=f.reason)
    if f.min_age_days is not None:
        where.append("i.since <= %(cutoff)s")
        params["cutoff"] = now - timedelta(days=f.min_age_days)
    for name, table in _LABELLED.items():
        params[f"{name}_codes"] = [str(code) for code in table]
        params[f"{name}_words"] = [str(words) for words in table.values()]
    params.update(
        days=days,
        ords=ords,
        today_ord=ords[-1],
        now=now,
        tz=calendar.tz.key,
    )
    sql = _COPY_SQL.replace("{where}", " AND ".join(where))
    return sql, params


def _stream_postgres(f: Filters) -> Iterator[bytes]:
    sql, params = _copy_statement(f)
    header = io.StringIO()
    csv.writer(header, lineterminator="\r\n").writerow(HEADER)
    yield header.getvalue().encode()
    raw = db.session.connection().connection.driver_connection
    pending = bytearray()
    # COPY ends lines with \n (the Python writer with \r\n): both are read alike by CSV
    # readers and spreadsheets; quoting and escaping are the same.
    with raw.cursor() as cursor, cursor.copy(sql, params) as copy:
        for chunk in copy:
            pending += chunk
            if len(pending) >= _FLUSH_BYTES:
                yield bytes(pending)
                pending = bytearray()
    if pending:
        yield bytes(pending)
