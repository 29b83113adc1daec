"""Every change of a notification's state that the code makes, checked against the transition
table (app.models.notifications.TRANSITIONS) while the whole suite runs.

Most moves are Core UPDATE statements that no ORM event sees, and some are made by worker
processes, so the record is kept by the database itself: a trigger on `notifications` logs each
(old state, new state) into a side table. After every test that used the database its log is
read and emptied, and a move the table does not allow fails that test (an error at teardown,
naming the move). Rows a test inserts are not checked: tests arrange states by inserting them.

A pytest plugin (listed in conftest.py's `pytest_plugins`), self-contained: its own connection
to the test database (one round trip per test), the trigger installed once and again whenever
a test dropped it with the table (tests/test_migrations.py downgrades to an empty database).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.models.notifications import TRANSITIONS

LOG_TABLE = "notification_state_log"
TRIGGER = "notification_state_log_trigger"
ALLOWED = {(a.value, b.value) for a, nexts in TRANSITIONS.items() for b in nexts}

_SQLITE = (
    f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (old_state TEXT NOT NULL, new_state TEXT NOT NULL,"
    " PRIMARY KEY (old_state, new_state))",
    f"CREATE TRIGGER IF NOT EXISTS {TRIGGER} AFTER UPDATE OF state ON notifications"
    " WHEN old.state IS NOT new.state"
    f" BEGIN INSERT OR IGNORE INTO {LOG_TABLE} VALUES (old.state, new.state); END",
)
# One row per distinct move and statement, from the statement's transition tables: cheap on a
# 10,000-row fan-out, and no unique index, so concurrent transactions never wait on the log.
_POSTGRESQL = (
    f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (old_state text NOT NULL, new_state text NOT NULL)",
    f"""CREATE OR REPLACE FUNCTION {LOG_TABLE}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {LOG_TABLE} (old_state, new_state)
        SELECT DISTINCT o.state, n.state FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.state <> n.state;
        RETURN NULL;
    END $$""",
    f"CREATE OR REPLACE TRIGGER {TRIGGER} AFTER UPDATE ON notifications"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    f" FOR EACH STATEMENT EXECUTE FUNCTION {LOG_TABLE}()",
)


class StateLog:
    def __init__(self, url: str):
        # One connection kept for the session: checking a test costs one round trip.
        self.engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        self.postgresql = self.engine.dialect.name == "postgresql"
        self.installed = False
        trigger = "SELECT 'trigger', '', '' FROM " + (
            "pg_trigger WHERE tgname = :name"
            if self.postgresql
            else "sqlite_master WHERE type = 'trigger' AND name = :name"
        )
        self._read = sa.text(
            f"SELECT 'move', old_state, new_state FROM {LOG_TABLE} UNION ALL {trigger}"
        )

    def install(self) -> None:
        self._run(self._install)
        self.installed = True

    def _install(self, conn: sa.Connection) -> None:
        for statement in _POSTGRESQL if self.postgresql else _SQLITE:
            conn.exec_driver_sql(statement)

    def take(self) -> set[tuple[str, str]]:
        """The moves recorded since the last call, forgotten as they are read. The trigger is
        put back if a test dropped it with its table."""

        def read(conn: sa.Connection) -> set[tuple[str, str]]:
            rows = conn.execute(self._read, {"name": TRIGGER}).all()
            moves = {(old, new) for what, old, new in rows if what == "move"}
            if moves:
                conn.execute(sa.text(f"DELETE FROM {LOG_TABLE}"))
            if not any(what == "trigger" for what, _, _ in rows):
                self._install(conn)
            return moves

        return self._run(read)

    def _run(self, work):
        try:
            with self.engine.begin() as conn:
                return work(conn)
        except sa.exc.DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            with self.engine.begin() as conn:  # the server restarted since: a new connection
                return work(conn)


@pytest.fixture(scope="session")
def _state_log(database_url):
    log = StateLog(database_url)
    yield log
    log.engine.dispose()


@pytest.fixture
def state_log(request, _apps, _state_log) -> StateLog:
    """The log itself, for a test of the recording."""
    return _state_log


@pytest.fixture(autouse=True)
def _only_allowed_transitions(request):
    if "_apps" not in request.fixturenames:
        yield  # no database in this test
        return
    request.getfixturevalue("_apps")
    log = request.getfixturevalue("_state_log")
    if not log.installed:
        log.install()
    yield
    illegal = sorted(log.take() - ALLOWED)
    if illegal:
        moves = ", ".join(f"{old} -> {new}" for old, new in illegal)
        pytest.fail(
            f"notification state changes missing from app.models.notifications.TRANSITIONS: "
            f"{moves}",
            pytrace=False,
        )
