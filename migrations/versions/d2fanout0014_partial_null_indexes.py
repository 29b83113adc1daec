"""Outbox indexes on columns a send fills in leave out the rows where they are empty, and
the stored bodies are compressed with lz4 (PostgreSQL)

Revision ID: d2fanout0014
Revises: d2recon0013
Create Date: 2026-12-03 14:20:00

Claiming a notification and recording it sent each change `state`, which is indexed, so
PostgreSQL writes a new entry for the row in every index of the table, eleven at claim time.
Three of those indexes are on columns that stay NULL until the message is sent or replaced
(`provider_message_id`, `sent_at`, `superseded_by_id`), and every query that uses them looks
for a value (`=`, `IN`, `>=`: a NULL never matches). Partial indexes `WHERE <column> IS NOT
NULL` answer those queries the same and take no entry for an owed row: the claim writes 8
index entries per row instead of 11, the sent update 8 instead of 9.

`body_text` and `body_html` are written once per email sent (1,000 per send job in a
fan-out); pglz, the default, spent most of that statement compressing them. lz4 compresses
the same bodies several times faster (values written before stay as they are; PostgreSQL
reads both). Not on SQLite, which has no such setting.
"""

import sqlalchemy as sa
from alembic import op

revision = "d2fanout0014"
down_revision = "d2recon0013"
branch_labels = None
depends_on = None

# (index, column): each becomes partial, non-NULL values only.
INDEXES = (
    ("ix_notifications_provider_message_id", "provider_message_id"),
    ("ix_notifications_sent_at", "sent_at"),
    ("ix_notifications_superseded_by_id", "superseded_by_id"),
)
BODIES = ("body_text", "body_html")


def _lz4_available(bind) -> bool:
    return bool(
        bind.execute(
            sa.text(
                "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
                "AND 'lz4' = ANY(enumvals)"
            )
        ).scalar()
    )


def upgrade():
    for name, column in INDEXES:
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name="notifications")
        op.create_index(
            name, "notifications", [column], postgresql_where=where, sqlite_where=where
        )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _lz4_available(bind):
        for column in BODIES:
            op.execute(f"ALTER TABLE notifications ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for column in BODIES:
            op.execute(f"ALTER TABLE notifications ALTER COLUMN {column} SET COMPRESSION default")
    for name, column in INDEXES:
        op.drop_index(name, table_name="notifications")
        op.create_index(name, "notifications", [column])
