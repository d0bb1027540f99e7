"""Engines and sessions for SQLite (one machine) and PostgreSQL (several controllers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ivr.metrics import Metrics

# SQLite: a writer waits this long for another writer's lock instead of
# failing at once (several processes may share the file: controller, CLI).
SQLITE_BUSY_TIMEOUT_MS = 5000

# PostgreSQL: the recorder needs one connection and API queries a few more;
# bounded so that many controllers cannot exhaust the server's connections.
PG_POOL_SIZE = 5
PG_MAX_OVERFLOW = 5
PG_POOL_TIMEOUT = 10.0
# Connections idle longer than this are replaced, so a restarted or failed-over
# server does not hand back dead connections.
PG_POOL_RECYCLE = 1800.0


def make_engine(url: str) -> AsyncEngine:
    """An engine for `url` (`sqlite+aiosqlite:///path` or `postgresql+asyncpg://...`)."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        database = sa_url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(sa_url)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    return create_async_engine(
        sa_url,
        pool_size=PG_POOL_SIZE,
        max_overflow=PG_MAX_OVERFLOW,
        pool_timeout=PG_POOL_TIMEOUT,
        pool_recycle=PG_POOL_RECYCLE,
        pool_pre_ping=True,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: views are built from them afterwards.
    return async_sessionmaker(engine, expire_on_commit=False)


def count_errors(engine: AsyncEngine, metrics: Metrics) -> None:
    """Count every error the database raises on `engine` (`ivr_database_errors_total`):
    a lost connection as `disconnect`, anything else as `error`."""
    disconnects = metrics.database_errors.labels("disconnect")
    errors = metrics.database_errors.labels("error")

    def counted(context: ExceptionContext) -> None:
        (disconnects if context.is_disconnect else errors).inc()

    event.listen(engine.sync_engine, "handle_error", counted)


def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets API reads run while the recorder writes; NORMAL sync is safe
    # with WAL (a power cut may lose the last commits, never corrupt the file).
    # SQLite leaves foreign keys off unless asked, unlike PostgreSQL.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()
