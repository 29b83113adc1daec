"""candidate imports: the parsed CSV upload between preview and confirm

Revision ID: a7c0ffee0007
Revises: a6c0ffee0006
Create Date: 2026-11-25 19:55:00

`imports` keeps the parsed rows and their errors server-side (JSON), so confirming never
trusts rows sent back by the browser. `progress` is updated in its own short transaction
while the import's single transaction is still open, so the progress page can read it.
`ix_imports_user_created` serves "my recent imports".
"""

import sqlalchemy as sa
from alembic import op

revision = "a7c0ffee0007"
down_revision = "a6c0ffee0006"
branch_labels = None
depends_on = None

STATUSES = "status IN ('previewed', 'importing', 'done', 'failed')"


def upgrade():
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("valid_rows", sa.Integer(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("attached_count", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("job_id", sa.String(length=120), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(STATUSES, name=op.f("ck_imports_status_allowed")),
        sa.ForeignKeyConstraint(
            ["position_id"], ["positions.id"], name=op.f("fk_imports_position_id_positions")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_imports_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.create_index("ix_imports_user_created", ["user_id", "created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.drop_index("ix_imports_user_created")
    op.drop_table("imports")
