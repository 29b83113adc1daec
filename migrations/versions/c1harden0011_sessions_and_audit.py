"""users.session_version (ending every session of a user)

Revision ID: c1harden0011
Revises: b0c0ffee0010
Create Date: 2026-12-03 10:00:00

Sessions carry the user's session version; signing out, a new password or deactivation bumps
it, which ends every session of that user. Existing users start at 1, and sessions signed in
before this upgrade (which carry no version) end once: everyone signs in again.
"""

import sqlalchemy as sa
from alembic import op

revision = "c1harden0011"
down_revision = "b0c0ffee0010"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE on both databases: a batch (table copy) on SQLite would drop the
    # expression index on lower(email).
    op.add_column(
        "users", sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
    )


def downgrade():
    op.drop_column("users", "session_version")  # SQLite 3.35+ drops columns in place
