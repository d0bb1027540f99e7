"""The department directory the controllers route by, and its imports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.models.base import (
    AREA_CODE_MAX,
    DEPARTMENT_NAME_MAX,
    DIVISION_CODE_LENGTH,
    IMPORT_SOURCE_MAX,
    LEVEL_MAX,
    TIMEZONE_MAX,
    Base,
    UtcDateTime,
)


class DepartmentRow(Base):
    """One department of the directory: the columns of routing/departments.csv."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(DEPARTMENT_NAME_MAX))
    short_name: Mapped[str] = mapped_column(String(DEPARTMENT_NAME_MAX))
    level: Mapped[str] = mapped_column(String(LEVEL_MAX))
    parent: Mapped[str | None] = mapped_column(ForeignKey("departments.code"), index=True)
    area_code: Mapped[str | None] = mapped_column(String(AREA_CODE_MAX))
    answers: Mapped[bool] = mapped_column(Boolean())
    timezone: Mapped[str] = mapped_column(String(TIMEZONE_MAX))


class MobileRangeRow(Base):
    """Mobile prefixes `first` to `last` (7 digits, both included) reach a department."""

    __tablename__ = "mobile_ranges"

    first: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)


class DirectoryImport(Base):
    """When a directory was imported, from what, and how much."""

    __tablename__ = "directory_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The file the departments came from.
    source: Mapped[str] = mapped_column(String(IMPORT_SOURCE_MAX))
    # Package -> version the mobile ranges were computed with.
    packages: Mapped[dict[str, str]] = mapped_column(JSON())
    departments: Mapped[int] = mapped_column(Integer)
    area_codes: Mapped[int] = mapped_column(Integer)
    mobile_ranges: Mapped[int] = mapped_column(Integer)
