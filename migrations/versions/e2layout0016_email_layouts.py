"""A fan-out's emails keep their shared layout once and their own values, not whole bodies

Revision ID: e2layout0016
Revises: e1words0015
Create Date: 2026-12-05 01:30:00

`email_layouts`: the text and HTML a send job's emails of one shape shared (stencils.py), with
a tag wherever each recipient's own values went; one row per distinct layout (`digest`,
sha256 of both parts). `notifications.layout_id` and `notifications.fills` (tag -> this
email's value): what a stencilled email keeps instead of `body_text` and `body_html`, which
stay for emails rendered in full and for everything written before. The index on
`layout_id` holds only the rows that have one (as d2fanout0014's), for the erasure's check
that a layout is no longer used and the foreign key's check when one is deleted.

Nullable columns without a default: nothing is rewritten. Plain ALTER TABLE on SQLite too
(a column with REFERENCES and a NULL default may be added in place); going back down copies
the table there (see downgrade).
"""

import warnings

import sqlalchemy as sa
from alembic import op

revision = "e2layout0016"
down_revision = "e1words0015"
branch_labels = None
depends_on = None

FILLED = sa.text("layout_id IS NOT NULL")
FK = "fk_notifications_layout_id_email_layouts"


def upgrade():
    op.create_table(
        "email_layouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_email_layouts"),
        sa.UniqueConstraint("digest", name="uq_email_layouts_digest"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # Alembic would add the foreign key as an ALTER of constraints, which SQLite has
        # not: it goes on the column, as SQLite allows in place for a NULL default.
        op.execute(
            "ALTER TABLE notifications ADD COLUMN layout_id INTEGER "
            f"CONSTRAINT {FK} REFERENCES email_layouts (id)"
        )
    else:
        op.add_column("notifications", sa.Column("layout_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FK, "notifications", "email_layouts", ["layout_id"], ["id"])
    op.add_column("notifications", sa.Column("fills", sa.JSON(), nullable=True))
    op.create_index(
        "ix_notifications_layout_id",
        "notifications",
        ["layout_id"],
        postgresql_where=FILLED,
        sqlite_where=FILLED,
    )


def downgrade():
    op.drop_index("ix_notifications_layout_id", table_name="notifications")
    op.drop_column("notifications", "fills")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops no column a foreign key uses in place: the table is copied without it.
        # Reflecting the tables it refers to warns about candidates' expression index,
        # which the copy does not touch.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            with op.batch_alter_table("notifications", recreate="always") as batch:
                batch.drop_column("layout_id")
    else:
        op.drop_constraint(FK, "notifications", type_="foreignkey")
        op.drop_column("notifications", "layout_id")
    op.drop_table("email_layouts")
