"""Sign-in attempts (issue 19): counted one statement per attempt, before the
password is checked, so that guesses sent at once to any controller are
refused after the fifth (the audit log counted only those already finished);
per name and address, so that no one locks a user out from elsewhere.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Written by hand to match ivr/db/models/; tests/test_db.py checks that they
agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "address", name="pk_sign_in_attempts"),
    )
    op.create_index("ix_sign_in_attempts_since", "sign_in_attempts", ["since"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_attempts_since", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
