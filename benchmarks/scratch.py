"""A benchmark's own PostgreSQL database, dropped and made again for each run."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

CONNECT_TIMEOUT_S = 5.0


async def fresh_postgres(url: str) -> str | None:
    """Drop the database `url` names and make it again, empty; None once done,
    else why it could not be (the server is not there, say)."""
    sa_url = make_url(url)
    try:
        admin = await asyncpg.connect(
            host=sa_url.host or "127.0.0.1",
            port=sa_url.port or 5432,
            user=sa_url.username or "postgres",
            password=sa_url.password,
            database="postgres",
            timeout=CONNECT_TIMEOUT_S,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{sa_url.database}"')
        await admin.execute(f'CREATE DATABASE "{sa_url.database}"')
    finally:
        await admin.close()
    return None
