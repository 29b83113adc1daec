"""Migrations go down and up cleanly, and describe exactly what the models say."""

from __future__ import annotations

import warnings

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db

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
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_downgrade_to_base_and_upgrade_again(app):
    db.session.remove()
    assert EXPECTED_TABLES <= _tables()
    downgrade(revision="base")
    assert _tables() == set()
    upgrade()
    assert EXPECTED_TABLES <= _tables()


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
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
