"""Migrations go down and up cleanly, and describe exactly what the models say."""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db
from tests.state_log import LOG_TABLE

EXPECTED_TABLES = {
    "users",
    "clients",
    "positions",
    "candidates",
    "applications",
    "stage_events",
    "notifications",
    "contacts",
    "tasks",
    "message_templates",
    "delivery_events",
    "mailbox_messages",
    "engine_flags",
    "leases",
    "alerts",
    "reconciler_runs",
}


def _tables() -> set[str]:
    # The state log is the test suite's own (tests/state_log.py), not the app's.
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version", LOG_TABLE}


def test_downgrade_to_base_and_upgrade_again(app):
    db.session.remove()
    assert EXPECTED_TABLES <= _tables()
    downgrade(revision="base")
    assert _tables() == set()
    upgrade()
    assert EXPECTED_TABLES <= _tables()


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: not (kind == "table" and name == LOG_TABLE),
            },
        )
        with warnings.catch_warnings():
            # Alembic cannot compare expression indexes (lower(email)) and says so.
            warnings.filterwarnings("ignore", message=".*expression.*")
            diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_email_is_unique_regardless_of_case(app):
    from tests import factories as f

    f.user(email="Ana@Agency.test")
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        f.user(email="ana@agency.test")
    db.session.rollback()


def test_stage_values_are_checked_by_the_database(app):
    from tests import factories as f

    a = f.application()
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(
            sa.text("UPDATE applications SET stage = 'limbo' WHERE id = :id"), {"id": a.id}
        )
        db.session.flush()
    db.session.rollback()


def test_candidate_email_is_unique_regardless_of_case(app):
    from tests import factories as f

    f.candidate(email="Sam@Example.test")
    f.candidate(email=None)
    f.candidate(email=None)  # no address: never a collision
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):
        f.candidate(email="sam@example.TEST")
    db.session.rollback()


def _index_names(table: str) -> set[str]:
    # Read from the catalogue: SQLAlchemy's reflection skips (and warns about) expression
    # indexes such as lower(email).
    db.session.remove()
    if db.engine.dialect.name == "postgresql":
        query = "SELECT indexname FROM pg_indexes WHERE tablename = :t"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
    with db.engine.connect() as conn:
        return set(conn.execute(sa.text(query), {"t": table}).scalars())


def test_the_unique_candidate_email_migration_names_duplicates_and_changes_nothing(app, capfd):
    db.session.remove()
    downgrade(revision="a9c0ffee0009")
    with db.engine.begin() as conn:
        for email in ("Dup@Example.test", "dup@example.test", "solo@example.test"):
            conn.execute(
                sa.text(
                    "INSERT INTO candidates (name, email, optional_updates, preferred_channel, "
                    "token_version, token_secret, created_at, updated_at) VALUES "
                    "('Someone', :email, true, 'email', 1, 'x', :now, :now)"
                ),
                {"email": email, "now": "2026-11-26 00:00:00"},
            )
    with pytest.raises(SystemExit):  # flask db upgrade exits non-zero, saying why
        upgrade()
    said = capfd.readouterr().err
    assert "dup@example.test (2 candidates). Merge or correct these candidates" in said
    assert "solo@example.test" not in said
    indexes = _index_names("candidates")
    assert "ix_candidates_email_lower" in indexes and "uq_candidates_email_lower" not in indexes
    with db.engine.begin() as conn:  # corrected: the upgrade goes through
        conn.execute(
            sa.text(
                "UPDATE candidates SET email = 'other@example.test' "
                "WHERE email = 'Dup@Example.test'"
            )
        )
    upgrade()
    indexes = _index_names("candidates")
    assert "uq_candidates_email_lower" in indexes and "ix_candidates_email_lower" not in indexes
