"""candidate experience: status-page requests, preferences, privacy

Revision ID: a5c0ffee0005
Revises: 195c95a8b7a7
Create Date: 2026-11-25 18:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "a5c0ffee0005"
down_revision = "195c95a8b7a7"
branch_labels = None
depends_on = None

ACTIONS = (
    "update_requested",
    "withdrew",
    "preferences_changed",
    "unsubscribed",
    "link_requested",
    "links_revoked",
    "exported",
    "erased",
)


def upgrade():
    op.create_table(
        "candidate_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "action IN (" + ", ".join(f"'{a}'" for a in ACTIONS) + ")",
            name=op.f("ck_candidate_actions_action_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_candidate_actions_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_candidate_actions_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_candidate_actions_candidate_id_candidates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidate_actions")),
    )
    with op.batch_alter_table("candidate_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_candidate_actions_candidate_created", ["candidate_id", "created_at"], unique=False
        )
    # Update requests and the status page look tasks up by application.
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_application_id"), ["application_id"])


def downgrade():
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_application_id"))
    with op.batch_alter_table("candidate_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_candidate_actions_candidate_created")
    op.drop_table("candidate_actions")
