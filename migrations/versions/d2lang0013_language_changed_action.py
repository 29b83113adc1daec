"""candidate_actions: the action `language_changed` (a candidate choosing the language of
their emails and status page is audited as that, not as a change of email preferences)

Revision ID: d2lang0013
Revises: d2replies0012
Create Date: 2026-12-03 11:40:00

The CHECK on `candidate_actions.action` is replaced (on SQLite by a batch copy of the table).
Rows recorded so far as `preferences_changed` with the detail `language <tag>` become
`language_changed`; the downgrade turns them back.
"""

import warnings

import sqlalchemy as sa
from alembic import op

revision = "d2lang0013"
down_revision = "d2replies0012"
branch_labels = None
depends_on = None

OLD = (
    "update_requested",
    "withdrew",
    "preferences_changed",
    "unsubscribed",
    "link_requested",
    "links_revoked",
    "exported",
    "erased",
)
NEW = OLD[:3] + ("language_changed",) + OLD[3:]


def _check(actions) -> None:
    # On SQLite the copy reflects the tables candidate_actions points at, and SQLAlchemy warns
    # that it cannot reflect the expression index on users (lower(email)), left untouched.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        with op.batch_alter_table("candidate_actions", schema=None) as batch_op:
            batch_op.drop_constraint(op.f("ck_candidate_actions_action_allowed"), type_="check")
            batch_op.create_check_constraint(
                op.f("ck_candidate_actions_action_allowed"),
                "action IN (" + ", ".join(f"'{a}'" for a in actions) + ")",
            )


def upgrade():
    _check(NEW)
    op.execute(
        sa.text(
            "UPDATE candidate_actions SET action = 'language_changed' "
            "WHERE action = 'preferences_changed' AND detail LIKE 'language %'"
        )
    )


def downgrade():
    op.execute(
        sa.text(
            "UPDATE candidate_actions SET action = 'preferences_changed' "
            "WHERE action = 'language_changed'"
        )
    )
    _check(OLD)
