"""candidates.language; message templates per language

Revision ID: d2i18n0012
Revises: d2api0013
Create Date: 2026-12-03 08:30:00

`candidates.language` is the candidate's BCP 47 tag (`de`, `fr-CA`); NULL means the agency's
default (AGENCY_LANGUAGE). 35 characters hold every tag in real use.

`message_templates.language`: an override is now for one language. Rows saved before this
were written in English, so they become English overrides; one override per kind, client
and language (and one agency-wide one per kind and language).
"""

import warnings
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "d2i18n0012"
down_revision = "d2api0013"
branch_labels = None
depends_on = None

_AGENCY = sa.text("client_id IS NULL")


@contextmanager
def _batch():
    """On SQLite a changed unique constraint means a copied table; the copy reflects the
    tables message_templates points at, and SQLAlchemy warns that it cannot reflect the
    expression index on users (lower(email)), which the copy does not touch."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("message_templates", schema=None) as batch_op:
            yield batch_op


def upgrade():
    op.add_column("candidates", sa.Column("language", sa.String(length=35), nullable=True))
    op.drop_index("uq_message_templates_kind_agency", table_name="message_templates")
    with _batch() as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=35), nullable=False, server_default="en")
        )
        batch_op.drop_constraint("uq_message_templates_kind_client_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_message_templates_kind_client_id_language", ["kind", "client_id", "language"]
        )
    op.create_index(
        "uq_message_templates_kind_agency",
        "message_templates",
        ["kind", "language"],
        unique=True,
        postgresql_where=_AGENCY,
        sqlite_where=_AGENCY,
    )


def downgrade():
    # Only the English overrides can go back to the one-language shape.
    op.execute("DELETE FROM message_templates WHERE language <> 'en'")
    op.drop_index("uq_message_templates_kind_agency", table_name="message_templates")
    with _batch() as batch_op:
        batch_op.drop_constraint("uq_message_templates_kind_client_id_language", type_="unique")
        batch_op.create_unique_constraint(
            "uq_message_templates_kind_client_id", ["kind", "client_id"]
        )
        batch_op.drop_column("language")
    op.create_index(
        "uq_message_templates_kind_agency",
        "message_templates",
        ["kind"],
        unique=True,
        postgresql_where=_AGENCY,
        sqlite_where=_AGENCY,
    )
    op.drop_column("candidates", "language")
