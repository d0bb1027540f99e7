"""Casework (issue 17): escalations (督办) written once per case, deadline
and step, and the supervising department's inbox; webhook deliveries; the
calling number indexed for lookups by phone; when retention removed a
case's recording.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Written by hand to match ivr/db/models/; tests/test_db.py checks that they
agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("recording_removed_at", sa.DateTime(timezone=True)))
    op.create_index("ix_cases_caller", "cases", ["caller"])
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("department_code", sa.String(6), nullable=False),
        sa.Column("supervisor_code", sa.String(6), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("read_by", sa.String(64)),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_escalations_case_id_cases", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_escalations"),
        sa.UniqueConstraint("case_id", "due_at", "step", name="uq_escalations_case_id_due_at_step"),
    )
    op.create_index("ix_escalations_supervisor_code", "escalations", ["supervisor_code"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(1024), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True)),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(
            ["escalation_id"], ["escalations.id"],
            name="fk_webhook_deliveries_escalation_id_escalations", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("escalation_id", name="uq_webhook_deliveries_escalation_id"),
    )
    op.create_index(
        "ix_webhook_deliveries_next_attempt_at", "webhook_deliveries", ["next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_next_attempt_at", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_escalations_supervisor_code", table_name="escalations")
    op.drop_table("escalations")
    op.drop_index("ix_cases_caller", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("recording_removed_at")
