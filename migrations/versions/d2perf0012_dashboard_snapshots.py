"""dashboard_snapshots: the SLA, promises and delivery dashboards precomputed

Revision ID: d2perf0012
Revises: c1ops0000011
Create Date: 2026-12-03 08:30:00

At 1,000,000 applications the SLA dashboard took 2.9 s and delivery health 0.9 s, each
computed from the notifications at every view. A periodic job (app.reports.snapshots) now
computes their figures like the overdue report's and stores them here, one row per dashboard;
the pages read one row. Derived data: no foreign keys, replaced whole by every refresh.
"""

import sqlalchemy as sa
from alembic import op

revision = "d2perf0012"
down_revision = "c1ops0000011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dashboard_snapshots",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade():
    op.drop_table("dashboard_snapshots")
