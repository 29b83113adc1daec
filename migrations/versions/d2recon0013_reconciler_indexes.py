"""Partial indexes for the reconciler's pass: terminal applications by update time, and the
unsent notifications not yet escalated

Revision ID: d2recon0013
Revises: d2lang0013
Create Date: 2026-12-03 12:00:00

`ix_applications_terminal_updated (updated_at)`, only terminal applications: the reconciler's
regular pass checks the promise (a terminal application has its message) for those changed
in the last hour; the whole table is checked every INVARIANT_SWEEP_SECONDS.

`ix_notifications_unescalated (created_at)`, only unsent rows (owed or failed) with no
escalation yet: the SLA escalation's scan, which otherwise read every failed row from the
table at every pass.

`ix_notifications_superseded_by_id`: deleting notifications checks the self-referencing
foreign key for each row deleted; without an index each check read the whole table (a
10,000-row delete at 1,000,000 rows ran for minutes).

bench/reconcile.py (1,000,000 settled notifications, 400,000 applications): the idle pass
from about 1.2 s to milliseconds.
"""

import sqlalchemy as sa
from alembic import op

revision = "d2recon0013"
down_revision = "d2lang0013"
branch_labels = None
depends_on = None

TERMINAL = sa.text("stage IN ('hired', 'rejected', 'withdrawn', 'position_closed')")
UNESCALATED = sa.text(
    "escalated_at IS NULL AND state IN ('pending', 'queued', 'sending', 'failed')"
)


def upgrade():
    op.create_index(
        "ix_notifications_superseded_by_id", "notifications", ["superseded_by_id"]
    )
    op.create_index(
        "ix_applications_terminal_updated",
        "applications",
        ["updated_at"],
        postgresql_where=TERMINAL,
        sqlite_where=TERMINAL,
    )
    op.create_index(
        "ix_notifications_unescalated",
        "notifications",
        ["created_at"],
        postgresql_where=UNESCALATED,
        sqlite_where=UNESCALATED,
    )


def downgrade():
    op.drop_index("ix_notifications_superseded_by_id", table_name="notifications")
    op.drop_index("ix_notifications_unescalated", table_name="notifications")
    op.drop_index("ix_applications_terminal_updated", table_name="applications")
