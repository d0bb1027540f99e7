"""Bring a database's schema up to date with alembic, from code.

The migration scripts ship inside the package, so this works from an
installed wheel with no `alembic.ini`. Usage: `await upgrade(url)` at start-up,
or `python -m ivr.db upgrade [URL]` (default: the configured database).

`migrated_sessions(url)` is the one way a process opens its database:
migrate, then sessions on an engine that is disposed of at the end
(`migrated_engine(url)` for a server, whose recorder keeps a connection).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ivr.db.engine import make_engine, make_sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")

# Several controllers (or a controller and the CLI) may start together on one
# database. Each migration runs in one transaction that first takes a lock,
# so one migrates while the others wait and then find nothing to do:
# PostgreSQL takes this transaction-scoped advisory lock, SQLite takes the
# write lock up front with BEGIN IMMEDIATE.
PG_MIGRATION_LOCK_KEY = 12371_0001


def alembic_config() -> Config:
    """An alembic configuration that needs no ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


# alembic keeps the running migration in module globals (`alembic.context`,
# `alembic.op`): two upgrades interleaving in one process, even on different
# databases, would run each other's steps. One lock per event loop.
_in_process: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`; nothing happens if it is there."""
    lock = _in_process.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        await _upgrade(url, revision)


async def _upgrade(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK_KEY}
                )
            elif connection.dialect.name == "sqlite":
                # The driver would otherwise run DDL outside any transaction.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            await connection.run_sync(_upgrade_with, revision)
    finally:
        await engine.dispose()


def _upgrade_with(connection: Connection, revision: str) -> None:
    config = alembic_config()
    # env.py runs on this connection instead of making its own engine.
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


@asynccontextmanager
async def migrated_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """The engine of the database at `url`, migrated first; disposed of when
    the block ends."""
    await upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


@asynccontextmanager
async def migrated_sessions(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the database at `url`, migrated first; the engine is
    disposed of when the block ends."""
    async with migrated_engine(url) as engine:
        yield make_sessionmaker(engine)


@asynccontextmanager
async def migrated_session(url: str) -> AsyncIterator[AsyncSession]:
    """One session on the database at `url`, migrated first; for commands, not servers."""
    async with migrated_sessions(url) as sessions, sessions() as session:
        yield session
