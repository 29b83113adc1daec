"""message templates: one agency-wide override per kind

Revision ID: a8c0ffee0008
Revises: a7c0ffee0007
Create Date: 2026-11-25 20:10:00

The existing unique (kind, client_id) does not stop two agency-wide rows (client_id NULL)
for the same kind, because NULLs are distinct in unique constraints. A partial unique index
does, on PostgreSQL and SQLite alike. No columns change: an override keeps its subject in
`subject` and its three parts as Jinja blocks in `body_text` / `body_html`.
"""

import sqlalchemy as sa
from alembic import op

revision = "a8c0ffee0008"
down_revision = "a7c0ffee0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "uq_message_templates_kind_agency",
        "message_templates",
        ["kind"],
        unique=True,
        postgresql_where=sa.text("client_id IS NULL"),
        sqlite_where=sa.text("client_id IS NULL"),
    )


def downgrade():
    op.drop_index("uq_message_templates_kind_agency", table_name="message_templates")
