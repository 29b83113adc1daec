"""Settings for running behind shared infrastructure."""

from __future__ import annotations

from app.extensions import db


def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler(app, make_app):
    plain = make_app()
    pooled = make_app(DATABASE_PREPARED_STATEMENTS=False)
    postgres = plain.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg")
    with pooled.app_context():
        options = pooled.config["SQLALCHEMY_ENGINE_OPTIONS"]
        assert ("connect_args" in options) is postgres
        with db.engine.connect() as conn:
            if postgres:
                # A statement run many times is never prepared on the server.
                for _ in range(10):
                    conn.exec_driver_sql("SELECT 1")
                assert conn.connection.driver_connection.prepare_threshold is None
                assert (
                    conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
                    == 0
                )
    with plain.app_context(), db.engine.connect() as conn:
        if postgres:  # by default psycopg prepares it after 5 runs
            for _ in range(10):
                conn.exec_driver_sql("SELECT 1")
            assert conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar() > 0


def test_every_setting_is_in_the_readme_table():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    read = set()
    for source in ("app/config.py", "gunicorn.conf.py"):
        text = (root / source).read_text()
        read |= set(
            re.findall(r'(?:os\.environ\.get|_env_int|_env_bool)\(\s*"([A-Z][A-Z0-9_]+)"', text)
        )
    rows = re.findall(r"^\| (`[A-Z].*?) \|", (root / "README.md").read_text(), re.M)
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}
    assert "METRICS_TOKEN" in read and "GUNICORN_BIND" in read
    assert read - documented == set()
