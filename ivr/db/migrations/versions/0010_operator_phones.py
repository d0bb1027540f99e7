"""Operators' phones as each Asterisk sees them (issue 18): an operator whose
phone is not registered is not offered calls, and is shown as unreachable.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Written by hand to match ivr/db/models/; tests/test_db.py checks that they
agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_phones",
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "node", name="pk_operator_phones"),
    )


def downgrade() -> None:
    op.drop_table("operator_phones")
