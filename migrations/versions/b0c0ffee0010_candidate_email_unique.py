"""candidates: one candidate per email address, enforced by the database

Revision ID: b0c0ffee0010
Revises: a9c0ffee0009
Create Date: 2026-11-26 02:15:00

The services already refuse a second candidate with the same address (case-insensitive), but
two requests at the same moment could both pass that check. The plain index on lower(email)
becomes a unique one. Candidates without an address (and erased candidates, whose address is
removed) are not affected: NULLs never collide.

If the database already holds two candidates with the same address, the upgrade stops and
names them: merge or correct them first (nothing is changed until then).
"""

import sqlalchemy as sa
from alembic import op

revision = "b0c0ffee0010"
down_revision = "a9c0ffee0009"
branch_labels = None
depends_on = None


def upgrade():
    duplicates = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT lower(email) AS address, count(*) AS n FROM candidates "
                "WHERE email IS NOT NULL GROUP BY lower(email) HAVING count(*) > 1 "
                "ORDER BY lower(email) LIMIT 20"
            )
        )
        .all()
    )
    if duplicates:
        listed = ", ".join(f"{row.address} ({row.n} candidates)" for row in duplicates)
        raise RuntimeError(
            "Some email addresses belong to more than one candidate: "
            f"{listed}. Merge or correct these candidates, then run the upgrade again."
        )
    op.drop_index("ix_candidates_email_lower", table_name="candidates")
    op.create_index(
        "uq_candidates_email_lower", "candidates", [sa.text("lower(email)")], unique=True
    )


def downgrade():
    op.drop_index("uq_candidates_email_lower", table_name="candidates")
    op.create_index("ix_candidates_email_lower", "candidates", [sa.text("lower(email)")])
