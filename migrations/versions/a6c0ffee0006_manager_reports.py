"""manager reports: the materialised overdue report, its counts and trend; staff digests

Revision ID: a6c0ffee0006
Revises: a5c0ffee0005
Create Date: 2026-11-25 18:00:01

Why the overdue report is materialised, and the indexes that serve it
--------------------------------------------------------------------
Whether an application is overdue depends on four conditions over `applications`,
`notifications`, `contacts` and `tasks` (see app/reports/overdue.py). Evaluated live at a
million applications, the anti-join behind "terminal without a response" and the silence scan
cost seconds, and a count per recruiter and per client would re-evaluate them on every page
view. So a maintenance job (every OVERDUE_REFRESH_SECONDS, and for single applications right
after someone resolves one) writes the result to `overdue_items`, keeps exact totals in
`overdue_counts` and the day's totals in `overdue_daily`. The page then only reads:

* `ix_overdue_items_order (severity, since, application_id)`: the unfiltered report is the
  first rows of this index, in order, so a page costs the same at 100 rows as at 1,000,000;
  a reason filter is an equality on `severity` (one reason = one severity) and an age filter a
  range on `since` inside it.
* `ix_overdue_items_{owner,client,position}_order (<filter>, severity, since)`: the same
  ordered walk for a report filtered by recruiter, client or position.
* `uq_overdue_items_application_id_reason`: one row per overdue
  (application, reason); refreshing a single application deletes and rewrites its rows by it.
* `overdue_counts` is keyed by (reason, position_id), at most four rows per position: every
  count on the page (per reason, recruiter, client, and filtered totals) is a small GROUP BY
  over it instead of a COUNT over the items.
* `overdue_daily` is keyed by (day, reason, owner_id, client_id) and holds, per day, the
  agency-wide totals under owner_id = client_id = 0: `ix_overdue_daily_owner (owner_id,
  client_id, day)` serves the unfiltered trend (0, 0, a date range: four rows a day) and the
  per-recruiter one; `ix_overdue_daily_client (client_id, day)` the per-client one. Without
  them a month of history at 20,000 positions is millions of rows summed per page view.
* On `notifications`, for the dashboards: `ix_notifications_sent_at (sent_at)`, since delivery
  health counts a window of days by when messages were handed over (bounced, dropped and
  delivered ones all have it), and the partial `ix_notifications_outcome_created (created_at)
  WHERE category = 'outcome'` (a third of the table), since the SLA report reads the outcome
  messages owed in a window of weeks. Without them both pages scan the whole outbox. Each
  costs one index entry per message sent or owed, on a table whose every send already
  updates indexed columns.
* `ix_staff_messages_state_due (state, due_at)`: the digest tick's scan for staff mail still
  owed, like `ix_notifications_state_due` for candidate mail.

The derived tables have no foreign keys on purpose (a deleted or anonymised candidate must
not trip over a cached row; the next refresh drops it).
"""

import sqlalchemy as sa
from alembic import op

revision = "a6c0ffee0006"
down_revision = "a5c0ffee0005"
branch_labels = None
depends_on = None

REASONS = "reason IN ('owed_unsent', 'undeliverable', 'promise_missed', 'silent')"
STATES = "state IN ('pending', 'sending', 'sent', 'failed', 'skipped')"


def upgrade():
    op.create_table(
        "overdue_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.SmallInteger(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=True),
        sa.Column("message_kind", sa.String(length=40), nullable=True),
        sa.Column("message_state", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(REASONS, name=op.f("ck_overdue_items_reason_allowed")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overdue_items")),
        sa.UniqueConstraint(
            "application_id", "reason", name=op.f("uq_overdue_items_application_id_reason")
        ),
    )
    with op.batch_alter_table("overdue_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_overdue_items_order", ["severity", "since", "application_id"], unique=False
        )
        batch_op.create_index(
            "ix_overdue_items_owner_order", ["owner_id", "severity", "since"], unique=False
        )
        batch_op.create_index(
            "ix_overdue_items_client_order", ["client_id", "severity", "since"], unique=False
        )
        batch_op.create_index(
            "ix_overdue_items_position_order", ["position_id", "severity", "since"], unique=False
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_sent_at", ["sent_at"], unique=False)
        batch_op.create_index(
            "ix_notifications_outcome_created",
            ["created_at"],
            unique=False,
            postgresql_where=sa.text("category = 'outcome'"),
            sqlite_where=sa.text("category = 'outcome'"),
        )

    op.create_table(
        "overdue_counts",
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("reason", "position_id", name=op.f("pk_overdue_counts")),
    )
    op.create_table(
        "overdue_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "reason", "owner_id", "client_id", name=op.f("pk_overdue_daily")
        ),
    )
    with op.batch_alter_table("overdue_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_overdue_daily_owner", ["owner_id", "client_id", "day"], unique=False
        )
        batch_op.create_index("ix_overdue_daily_client", ["client_id", "day"], unique=False)

    op.create_table(
        "staff_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("to_email", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("job_id", sa.String(length=120), nullable=True),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(STATES, name=op.f("ck_staff_messages_state_allowed")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_messages_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_staff_messages_idempotency_key")),
    )
    with op.batch_alter_table("staff_messages", schema=None) as batch_op:
        batch_op.create_index("ix_staff_messages_state_due", ["state", "due_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_staff_messages_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "digest_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_digest_settings_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_digest_settings")),
    )


def downgrade():
    op.drop_table("digest_settings")
    with op.batch_alter_table("staff_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_messages_user_id"))
        batch_op.drop_index("ix_staff_messages_state_due")
    op.drop_table("staff_messages")
    with op.batch_alter_table("overdue_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_overdue_daily_client")
        batch_op.drop_index("ix_overdue_daily_owner")
    op.drop_table("overdue_daily")
    op.drop_table("overdue_counts")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_outcome_created")
        batch_op.drop_index("ix_notifications_sent_at")
    with op.batch_alter_table("overdue_items", schema=None) as batch_op:
        batch_op.drop_index("ix_overdue_items_position_order")
        batch_op.drop_index("ix_overdue_items_client_order")
        batch_op.drop_index("ix_overdue_items_owner_order")
        batch_op.drop_index("ix_overdue_items_order")
    op.drop_table("overdue_items")
