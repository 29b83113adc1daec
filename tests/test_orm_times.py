"""Timestamps come back as the instants that were written, in UTC, whatever the database
session's zone; PostgreSQL sessions are put in UTC so they need no converting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Application
from tests import factories as f

WRITTEN = datetime(2026, 3, 29, 0, 30, tzinfo=timezone(timedelta(hours=-5)))  # 05:30 UTC


def _stored(application_id: int) -> datetime:
    return db.session.scalar(
        sa.select(Application.promised_response_at).where(Application.id == application_id)
    )


def _written() -> int:
    a = f.application()
    a.promised_response_at = WRITTEN
    db.session.commit()
    return a.id


def test_a_timestamp_reads_back_as_the_same_instant_in_utc(db):
    got = _stored(_written())
    assert got == WRITTEN
    assert got.tzinfo is UTC
    assert got.isoformat() == "2026-03-29T05:30:00+00:00"


def test_naive_timestamps_are_refused(db):
    a = f.application()
    a.promised_response_at = datetime(2026, 3, 29, 5, 30)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_postgresql_sessions_are_in_utc_and_another_zone_still_reads_right(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores naive UTC and has no session zone")
    assert db.session.scalar(sa.text("SHOW TimeZone")) == "UTC"
    with db.engine.connect() as conn:  # a new connection is put in UTC too
        assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
    nid = _written()
    # A server connection in another zone (a pooler may hand one out): the same instant.
    db.session.execute(sa.text("SET LOCAL TIME ZONE 'Asia/Kolkata'"))
    got = _stored(nid)
    assert got == WRITTEN and got.tzinfo is UTC
    db.session.rollback()
