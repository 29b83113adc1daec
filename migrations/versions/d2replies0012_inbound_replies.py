"""inbound_replies (candidates' email replies); the overdue reason reply_unanswered;
client decisions (positions' decision contact, client_decisions)

Revision ID: d2replies0012
Revises: d2i18n0012
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

`positions.contact_name` / `contact_email` name whom at the client decides (empty: the
client's own contact); `decision_link_version` revokes the signed decision links sent so far.
`client_decisions` records each decision made on those pages (app/decisions/), which the
recruiter's queue confirms and the per-client promise statistics count
(`ix_client_decisions_client_decided`).
"""

import sqlalchemy as sa
from alembic import op

revision = "d2replies0012"
down_revision = "d2i18n0012"
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

DECISIONS = "decision IN ('move_forward', 'decline', 'more_time')"
DECISION_STATES = "state IN ('prepared', 'confirmed', 'applied', 'overtaken')"


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
    op.add_column("positions", sa.Column("contact_name", sa.String(length=200), nullable=True))
    op.add_column("positions", sa.Column("contact_email", sa.String(length=320), nullable=True))
    op.add_column(
        "positions",
        sa.Column("decision_link_version", sa.Integer(), nullable=False, server_default="1"),
    )
    op.create_table(
        "client_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("promised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_promised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(DECISIONS, name=op.f("ck_client_decisions_decision_allowed")),
        sa.CheckConstraint(DECISION_STATES, name=op.f("ck_client_decisions_state_allowed")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_client_decisions_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name=op.f("fk_client_decisions_client_id_clients")
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"],
            ["users.id"],
            name=op.f("fk_client_decisions_confirmed_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["positions.id"],
            name=op.f("fk_client_decisions_position_id_positions"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_client_decisions_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_decisions")),
    )
    op.create_index(
        op.f("ix_client_decisions_application_id"), "client_decisions", ["application_id"]
    )
    op.create_index(
        "ix_client_decisions_client_decided", "client_decisions", ["client_id", "decided_at"]
    )


def downgrade():
    op.drop_index("ix_client_decisions_client_decided", table_name="client_decisions")
    op.drop_index(op.f("ix_client_decisions_application_id"), table_name="client_decisions")
    op.drop_table("client_decisions")
    # Plain DROP COLUMN (SQLite 3.35+), as in c1ops0000011.
    op.drop_column("positions", "decision_link_version")
    op.drop_column("positions", "contact_email")
    op.drop_column("positions", "contact_name")
    op.execute("DELETE FROM overdue_items WHERE reason = 'reply_unanswered'")
    op.execute("DELETE FROM overdue_counts WHERE reason = 'reply_unanswered'")
    op.execute("DELETE FROM overdue_daily WHERE reason = 'reply_unanswered'")
    op.execute("UPDATE overdue_items SET severity = 4 WHERE reason = 'silent'")
    _reasons(OLD_REASONS)
    op.drop_index(op.f("ix_inbound_replies_application_id"), table_name="inbound_replies")
    op.drop_index("ix_inbound_replies_candidate_received", table_name="inbound_replies")
    op.drop_table("inbound_replies")
