"""The department directory: departments, mobile ranges, and a record of imports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Written by hand to match ivr/db/models.py; tests/test_db.py checks that they
agree. Types are spelled out here rather than imported from the models, so
that later changes to the models cannot change what this revision did.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("short_name", sa.String(128), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(6), nullable=True),
        sa.Column("area_code", sa.String(8), nullable=True),
        sa.Column("answers", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_departments"),
        sa.ForeignKeyConstraint(
            ["parent"], ["departments.code"], name="fk_departments_parent_departments"
        ),
    )
    op.create_index("ix_departments_parent", "departments", ["parent"])

    op.create_table(
        "mobile_ranges",
        sa.Column("first", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.Column("department_code", sa.String(6), nullable=False),
        sa.PrimaryKeyConstraint("first", name="pk_mobile_ranges"),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name="fk_mobile_ranges_department_code_departments",
        ),
    )
    op.create_index("ix_mobile_ranges_department_code", "mobile_ranges", ["department_code"])

    op.create_table(
        "directory_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("packages", sa.JSON(), nullable=False),
        sa.Column("departments", sa.Integer(), nullable=False),
        sa.Column("area_codes", sa.Integer(), nullable=False),
        sa.Column("mobile_ranges", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_directory_imports"),
    )


def downgrade() -> None:
    op.drop_table("directory_imports")
    op.drop_index("ix_mobile_ranges_department_code", table_name="mobile_ranges")
    op.drop_table("mobile_ranges")
    op.drop_index("ix_departments_parent", table_name="departments")
    op.drop_table("departments")
