"""Shared database fixtures: every test that asks for `database_url` runs twice,
on SQLite (a file under tmp_path) and on PostgreSQL.

PostgreSQL comes from IVR_TEST_POSTGRES_URL (default: the local server, trust
auth, database `ivr_test`, created if missing). If it cannot be reached the
test fails, it is never skipped.

Also the hypothesis profiles: `test` (the default, what `make test` runs) and
`fuzz` (`make fuzz`: many more examples), chosen by HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade

POSTGRES_URL = os.environ.get(
    "IVR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/ivr_test"
)
# Held for the whole of each PostgreSQL test, so that test runs in parallel
# (several checkouts, several people) never reset the schema under each other.
POSTGRES_TEST_LOCK = 12371_9999
CONNECT_TIMEOUT = 5.0

# Hypothesis' own default of 100 examples for `make test`; `make fuzz` tries
# twenty times as many. Deadlines are off: the machine is shared and loaded,
# and a slow example is not a wrong one. A test with its own `max_examples`
# keeps it under either profile.
settings.register_profile("test", max_examples=100, deadline=None)
settings.register_profile(
    "fuzz",
    max_examples=2000,
    stateful_step_count=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "test"))


async def _connect(url: URL, database: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            database=database,
            timeout=CONNECT_TIMEOUT,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        problem = f"{type(error).__name__}: {error}"
    # Outside the except block, so the report is this message alone.
    pytest.fail(
        f"PostgreSQL is needed by the database tests and cannot be reached at "
        f"{url.host}:{url.port} as {url.username} ({problem}). "
        f"Start it, or point IVR_TEST_POSTGRES_URL at one.",
        pytrace=False,
    )


async def _clean_postgres() -> AsyncIterator[str]:
    url = make_url(POSTGRES_URL)
    name = url.database or "ivr_test"
    admin = await _connect(url, "postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            try:
                await admin.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another test run made it first
    finally:
        await admin.close()
    lock = await _connect(url, name)
    try:
        await lock.execute("SELECT pg_advisory_lock($1)", POSTGRES_TEST_LOCK)
        await lock.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        yield url.render_as_string(hide_password=False)
    finally:
        await lock.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no tables) of each kind."""
    if request.param == "sqlite":
        # A folder that does not exist yet: make_engine must create it.
        yield f"sqlite+aiosqlite:///{tmp_path / 'state' / 'ivr.sqlite3'}"
        return
    async for url in _clean_postgres():
        yield url


@pytest.fixture
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a migrated database of each kind."""
    await upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def db_sessionmaker(db_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(db_engine)
