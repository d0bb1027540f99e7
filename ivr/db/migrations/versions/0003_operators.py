"""Operators: who answers for which departments, their status, and what they did.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Written by hand to match ivr/db/models.py; tests/test_db.py checks that they
agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pause_reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_operators"),
        sa.UniqueConstraint("endpoint", name="uq_operators_endpoint"),
    )
    op.create_table(
        "operator_departments",
        sa.Column("operator_id", sa.String(64), nullable=False),
        sa.Column("department_code", sa.String(6), nullable=False),
        sa.PrimaryKeyConstraint("operator_id", "department_code", name="pk_operator_departments"),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name="fk_operator_departments_operator_id_operators",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_operator_departments_department_code", "operator_departments", ["department_code"]
    )
    op.create_table(
        "operator_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operator_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_operator_events"),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name="fk_operator_events_operator_id_operators",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_operator_events_operator_id", "operator_events", ["operator_id"])
    op.create_index("ix_operator_events_at", "operator_events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_operator_events_at", table_name="operator_events")
    op.drop_index("ix_operator_events_operator_id", table_name="operator_events")
    op.drop_table("operator_events")
    op.drop_index("ix_operator_departments_department_code", table_name="operator_departments")
    op.drop_table("operator_departments")
    op.drop_table("operators")
