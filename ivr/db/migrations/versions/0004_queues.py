"""Queues and messages: each call's place in line and what became of it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

Written by hand to match ivr/db/models.py; tests/test_db.py checks that they
agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("operators", sa.Column("sip_contact", sa.String(255), nullable=True))
    op.add_column("operators", sa.Column("sip_md5", sa.String(32), nullable=True))
    op.create_table(
        "queue_entries",
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("department_code", sa.String(6), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("caller", sa.String(128), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("offers", sa.JSON(), nullable=False),
        sa.Column("operator_id", sa.String(64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("call_id", name="pk_queue_entries"),
    )
    op.create_index("ix_queue_entries_department_code", "queue_entries", ["department_code"])
    op.create_index("ix_queue_entries_entered_at", "queue_entries", ["entered_at"])
    op.create_index("ix_queue_entries_status", "queue_entries", ["status"])
    op.create_table(
        "messages",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("department_code", sa.String(6), nullable=False),
        sa.Column("caller", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_messages"),
    )
    op.create_index("ix_messages_call_id", "messages", ["call_id"])
    op.create_index("ix_messages_started_at", "messages", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_started_at", table_name="messages")
    op.drop_index("ix_messages_call_id", table_name="messages")
    op.drop_table("messages")
    op.drop_index("ix_queue_entries_status", table_name="queue_entries")
    op.drop_index("ix_queue_entries_entered_at", table_name="queue_entries")
    op.drop_index("ix_queue_entries_department_code", table_name="queue_entries")
    op.drop_table("queue_entries")
    op.drop_column("operators", "sip_md5")
    op.drop_column("operators", "sip_contact")
