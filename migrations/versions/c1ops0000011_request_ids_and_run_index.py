"""notifications.request_id; indexes for /metrics on the open outbox and reconciler_runs

Revision ID: c1ops0000011
Revises: b0c0ffee0010
Create Date: 2026-12-03 05:00:00

`notifications.request_id` records the request (or job, or periodic run) that owed each
message, so one message can be followed from the click through the logs to the provider's
message id. Existing rows keep NULL: nobody knows their request any more.

`ix_notifications_open` covers what /metrics reads of the outbox at every scrape (state, kind
and the times of the rows still owed or failed), as a partial index: only those rows are in
it, so it stays small and is read without the table (bench/metrics.py: 146 ms of heap reads
down to 9 ms at 1,000,000 notifications).

`reconciler_runs` keeps a month of runs (about 86,000 rows at one every 30 seconds); the engine
page and /metrics read the latest ones and the last hour, which the index answers without a
sort of the whole table.
"""

import sqlalchemy as sa
from alembic import op

revision = "c1ops0000011"
down_revision = "c1harden0011"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("notifications", sa.Column("request_id", sa.String(length=64), nullable=True))
    op.create_index("ix_reconciler_runs_started_at", "reconciler_runs", ["started_at"])
    open_states = sa.text("state IN ('pending', 'queued', 'sending', 'failed')")
    op.create_index(
        "ix_notifications_open",
        "notifications",
        ["state", "kind", "created_at", "due_at"],
        postgresql_where=open_states,
        sqlite_where=open_states,
    )


def downgrade():
    op.drop_index("ix_notifications_open", table_name="notifications")
    op.drop_index("ix_reconciler_runs_started_at", table_name="reconciler_runs")
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would have to reflect
    # candidates' expression index, which SQLAlchemy cannot.
    op.drop_column("notifications", "request_id")
