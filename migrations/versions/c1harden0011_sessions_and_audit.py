"""users.session_version (ending every session of a user); audit_log (append-only)

Revision ID: c1harden0011
Revises: b0c0ffee0010
Create Date: 2026-12-03 10:00:00

Sessions carry the user's session version; signing out, a new password or deactivation bumps
it, which ends every session of that user. Existing users start at 1, and sessions signed in
before this upgrade (which carry no version) end once: everyone signs in again.

audit_log records staff actions that matter. The app only ever inserts; on PostgreSQL a
trigger also refuses UPDATE and DELETE of its rows, whoever connects (TRUNCATE, which needs
the table owner's rights, is left to whoever administers the database).
"""

import sqlalchemy as sa
from alembic import op

revision = "c1harden0011"
down_revision = "b0c0ffee0010"
branch_labels = None
depends_on = None

APPEND_ONLY = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""


def upgrade():
    # Plain ALTER TABLE on both databases: a batch (table copy) on SQLite would drop the
    # expression index on lower(email).
    op.add_column(
        "users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.Column("origin", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name="fk_audit_log_actor_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at"])
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_actor_created", "audit_log", ["actor_id", "created_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("audit_log")
    op.drop_column("users", "session_version")  # SQLite 3.35+ drops columns in place
