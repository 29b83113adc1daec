"""notification bodies: lz4 instead of pglz for what was sent

Revision ID: a9c0ffee0009
Revises: a8c0ffee0008
Create Date: 2026-11-25 21:00:00

Every email sent stores its subject, text and HTML on its notification row (the audit
trail), a few kilobytes each, which PostgreSQL compresses (TOAST). A fan-out of 10,000
writes 10,000 of them in seconds, and with the default pglz the compression was a good part
of the database's work for the whole send. lz4 (PostgreSQL 14+, when built with it, as the
Debian and official Docker images are) compresses several times faster for about the same
size. Only values written from now on are affected; reads handle both. Skipped where the
server has no lz4, and on SQLite.
"""

from alembic import op

revision = "a9c0ffee0009"
down_revision = "a8c0ffee0008"
branch_labels = None
depends_on = None

COLUMNS = ("body_text", "body_html")


def _lz4_available(bind) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    row = bind.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).first()
    return bool(row and row[0])


def _set(method: str) -> None:
    changes = ", ".join(f"ALTER COLUMN {c} SET COMPRESSION {method}" for c in COLUMNS)
    op.execute(f"ALTER TABLE notifications {changes}")


def upgrade():
    if _lz4_available(op.get_bind()):
        _set("lz4")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _set("default")
