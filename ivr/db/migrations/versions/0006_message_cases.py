"""Messages know their case: the first recording of the message (its case's
source) and the service category the caller left it in.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24

Written by hand to match ivr/db/models.py; tests/test_db.py checks that they
agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("source", sa.String(128), server_default="", nullable=False))
        batch.add_column(sa.Column("category", sa.String(32), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("category")
        batch.drop_column("source")
