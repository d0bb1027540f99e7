"""The department directory in the database: what the controllers route by.

routing/departments.csv is what people review and commit; importing it puts
it in the database together with the mobile ranges computed from the pinned
phonenumbers, and every controller loads its directory from there. An import
replaces the whole directory in one transaction, under a lock, so a
controller starting meanwhile loads either the old directory or the new one.
Rows are checked again when loaded, exactly like the file's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import RowMapping, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.models import (
    IMPORT_SOURCE_MAX,
    DirectoryImport,
    departments_table,
    directory_imports_table,
    mobile_ranges_table,
)
from ivr.db.ops import clip
from ivr.directory.departments import (
    ANSWERS,
    CENTRAL_CODE,
    COLUMNS,
    MobileRange,
    department_from_row,
)
from ivr.directory.routing import Directory

SOURCE = "database table departments"
# Held while a directory is replaced, so that two imports (two controllers
# seeding an empty database together) run one after the other.
PG_DIRECTORY_LOCK_KEY = 12371_0002


@dataclass(frozen=True, slots=True)
class ImportRecord:
    imported_at: datetime
    source: str
    packages: Mapping[str, str]
    departments: int
    area_codes: int
    mobile_ranges: int


async def import_directory(
    session: AsyncSession,
    directory: Directory,
    ranges: Sequence[MobileRange],
    sources: Mapping[str, str],
) -> ImportRecord:
    """Replace the stored directory with `directory` and `ranges`.

    `sources` names the packages (and versions) the ranges were computed with.
    Call it first thing in a transaction of its own (`session.begin()`): it
    takes the directory lock before anything else.
    """
    await _lock(session)
    return await _replace(session, directory, ranges, sources)


async def seed_directory(
    session: AsyncSession,
    directory: Directory,
    ranges: Sequence[MobileRange],
    sources: Mapping[str, str],
) -> ImportRecord | None:
    """Import unless a directory is there already (another process may have
    seeded it first); None if nothing was imported. Same transaction rules."""
    await _lock(session)
    if await has_directory(session):
        return None
    return await _replace(session, directory, ranges, sources)


async def has_directory(session: AsyncSession) -> bool:
    found = await session.scalar(
        select(departments_table.c.code).where(departments_table.c.code == CENTRAL_CODE)
    )
    return found is not None


async def load_directory(session: AsyncSession) -> Directory | None:
    """The stored directory with its mobile ranges, checked; None if there is none."""
    rows = (await session.execute(select(departments_table).order_by("code"))).all()
    if not rows:
        return None
    entries = [
        (line, department_from_row(_strings(row._mapping), SOURCE, line))
        for line, row in enumerate(rows, start=1)
    ]
    table = mobile_ranges_table
    ranges = await session.execute(
        select(table.c.first, table.c.last, table.c.department_code).order_by(table.c.first)
    )
    mobile = [MobileRange(first, last, code) for first, last, code in ranges]
    return Directory(entries, source=SOURCE, mobile=mobile)


async def export_rows(session: AsyncSession) -> list[tuple[str, ...]]:
    """The stored departments as CSV rows in `COLUMNS` order, by code."""
    rows = await session.execute(select(departments_table).order_by("code"))
    return [tuple(str(_strings(row._mapping)[column]) for column in COLUMNS) for row in rows]


async def latest_import(session: AsyncSession) -> ImportRecord | None:
    row = await session.scalar(select(DirectoryImport).order_by(DirectoryImport.id.desc()))
    if row is None:
        return None
    return ImportRecord(
        row.imported_at,
        row.source,
        dict(row.packages),
        row.departments,
        row.area_codes,
        row.mobile_ranges,
    )


async def count_rows(session: AsyncSession) -> tuple[int, int]:
    """(departments, mobile ranges) stored."""
    departments = await session.scalar(select(func.count()).select_from(departments_table))
    ranges = await session.scalar(select(func.count()).select_from(mobile_ranges_table))
    return departments or 0, ranges or 0


async def _lock(session: AsyncSession) -> None:
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_DIRECTORY_LOCK_KEY}
        )
    elif connection.dialect.name == "sqlite":
        # The write lock up front: a transaction that read first could not
        # take it later if another process wrote in between.
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


async def _replace(
    session: AsyncSession,
    directory: Directory,
    ranges: Sequence[MobileRange],
    sources: Mapping[str, str],
) -> ImportRecord:
    await session.execute(delete(mobile_ranges_table))
    await session.execute(delete(departments_table))
    # Parents first (a parent's code is always the smaller): the table's
    # foreign key checks each row against those before it.
    departments = sorted(directory, key=lambda department: department.code)
    await session.execute(insert(departments_table), [asdict(d) for d in departments])
    if ranges:
        await session.execute(
            insert(mobile_ranges_table),
            [{"first": r.first, "last": r.last, "department_code": r.department} for r in ranges],
        )
    record = ImportRecord(
        datetime.now(UTC),
        directory.source,
        dict(sources),
        len(directory),
        len(directory.area_codes()),
        len(ranges),
    )
    stored = asdict(record) | {"source": clip(record.source, IMPORT_SOURCE_MAX)}
    await session.execute(insert(directory_imports_table).values(**stored))
    return record


def _strings(row: RowMapping) -> dict[str | None, str | None]:
    """A stored row as the strings of a CSV row."""
    values: dict[str | None, str | None] = {
        column: "" if row[column] is None else str(row[column]) for column in COLUMNS
    }
    values["answers"] = ANSWERS if row["answers"] else ""
    return values
