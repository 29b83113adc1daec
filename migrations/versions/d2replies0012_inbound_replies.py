"""inbound_replies (candidates' email replies); the overdue reason reply_unanswered

Revision ID: d2replies0012
Revises: c1ops0000011
Create Date: 2026-12-03 08:30:00

`inbound_replies` keeps every post SendGrid's Inbound Parse makes (app/replies/): the reply
as the candidate wrote it (quoted history stripped), attachments listed by name and size
(never stored), and what it turned out to be. `dedupe_key` is unique so a post delivered
twice is stored once. `ix_inbound_replies_candidate_received` serves the candidate's
timeline; `ix_inbound_replies_application_id` the application page.

The overdue report gains the reason `reply_unanswered` (severity 4: worse than silence,
which moves to 5). The CHECK on `overdue_items.reason` is replaced; on SQLite by a batch copy
of the table (the report is a cache rebuilt by every refresh, so the copy is cheap and safe).
Rows already stored for `silent` take their new severity here, so the report's order holds
before the next refresh.
"""

import sqlalchemy as sa
from alembic import op

revision = "d2replies0012"
down_revision = "c1ops0000011"
branch_labels = None
depends_on = None

OLD_REASONS = "reason IN ('owed_unsent', 'undeliverable', 'promise_missed', 'silent')"
NEW_REASONS = (
    "reason IN ('owed_unsent', 'undeliverable', 'promise_missed', 'silent', 'reply_unanswered')"
)
STATUSES = (
    "status IN ('accepted', 'other_sender', 'auto_reply', 'bounce', 'no_token', 'forged', "
    "'expired', 'unknown')"
)


def _reasons(check: str) -> None:
    with op.batch_alter_table("overdue_items", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_overdue_items_reason_allowed"), type_="check")
        batch_op.create_check_constraint(op.f("ck_overdue_items_reason_allowed"), check)


def upgrade():
    op.create_table(
        "inbound_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=True),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("from_email", sa.String(length=320), nullable=True),
        sa.Column("to_email", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("full_text", sa.Text(), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(STATUSES, name=op.f("ck_inbound_replies_status_allowed")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_inbound_replies_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name=op.f("fk_inbound_replies_candidate_id_candidates"),
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_inbound_replies_notification_id_notifications"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_inbound_replies_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_replies")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_inbound_replies_dedupe_key")),
    )
    op.create_index(
        "ix_inbound_replies_candidate_received", "inbound_replies", ["candidate_id", "received_at"]
    )
    op.create_index(
        op.f("ix_inbound_replies_application_id"), "inbound_replies", ["application_id"]
    )
    _reasons(NEW_REASONS)
    op.execute("UPDATE overdue_items SET severity = 5 WHERE reason = 'silent'")


def downgrade():
    op.execute("DELETE FROM overdue_items WHERE reason = 'reply_unanswered'")
    op.execute("DELETE FROM overdue_counts WHERE reason = 'reply_unanswered'")
    op.execute("DELETE FROM overdue_daily WHERE reason = 'reply_unanswered'")
    op.execute("UPDATE overdue_items SET severity = 4 WHERE reason = 'silent'")
    _reasons(OLD_REASONS)
    op.drop_index(op.f("ix_inbound_replies_application_id"), table_name="inbound_replies")
    op.drop_index("ix_inbound_replies_candidate_received", table_name="inbound_replies")
    op.drop_table("inbound_replies")
