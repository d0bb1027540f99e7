"""Calls and their steps.

Revision ID: 0001
Revises:
Create Date: 2024-11-23

Written by hand to match ivr/db/models.py; tests/test_db.py checks that they
agree. Types are spelled out here rather than imported from the models, so
that later changes to the models cannot change what this revision did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("sip_call_id", sa.String(255), nullable=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(128), nullable=False),
        sa.Column("dialed", sa.String(64), nullable=False),
        sa.Column("department_code", sa.String(32), nullable=False),
        sa.Column("department_name", sa.String(128), nullable=False),
        sa.Column("route_rule", sa.String(32), nullable=False),
        sa.Column("route_read", sa.String(64), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("answered_at", _utc(), nullable=True),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.Column("end_reason", sa.String(64), nullable=True),
        sa.Column("flow_state", sa.JSON(), nullable=True),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
    )
    op.create_index("ix_calls_sip_call_id", "calls", ["sip_call_id"])
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_ended_at", "calls", ["ended_at"])

    op.create_table(
        "call_steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_call_steps"),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name="fk_call_steps_call_id_calls",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("call_id", "seq", name="uq_call_steps_call_id_seq"),
    )


def downgrade() -> None:
    op.drop_table("call_steps")
    op.drop_index("ix_calls_ended_at", table_name="calls")
    op.drop_index("ix_calls_started_at", table_name="calls")
    op.drop_index("ix_calls_sip_call_id", table_name="calls")
    op.drop_table("calls")
