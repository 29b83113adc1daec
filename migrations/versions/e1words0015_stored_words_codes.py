"""Text the app writes for staff to read later keeps a code and its arguments beside the
English, so a page can show it in the reader's language (app/stored_words.py)

Revision ID: e1words0015
Revises: d2fanout0014
Create Date: 2026-12-03 17:30:00

Nullable columns only: rows written before keep NULL codes and show their stored English.
Adding a nullable column without a default rewrites nothing on PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "e1words0015"
down_revision = "d2fanout0014"
branch_labels = None
depends_on = None

# table: the text columns that get a `<column>_code` and `<column>_args` beside them
FIELDS = {
    "tasks": ("title", "detail"),
    "notifications": ("last_error",),
    "alerts": ("message",),
    "staff_messages": ("last_error",),
    "overdue_items": ("note",),
    "webhook_endpoints": ("disabled_reason",),
    "candidate_actions": ("detail",),
    "audit_log": ("detail",),
}


# Plain ALTER TABLE on both databases (SQLite adds and, from 3.35, drops a column in place): a
# batch would copy the tables on SQLite and lose their partial and expression indexes.
def upgrade():
    for table, fields in FIELDS.items():
        for field in fields:
            op.add_column(table, sa.Column(f"{field}_code", sa.String(40), nullable=True))
            op.add_column(table, sa.Column(f"{field}_args", sa.JSON(), nullable=True))


def downgrade():
    for table, fields in FIELDS.items():
        for field in reversed(fields):
            op.drop_column(table, f"{field}_args")
            op.drop_column(table, f"{field}_code")
