"""Signing in for tests of the HTTP side: users with API tokens."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.admin import user_store as users
from ivr.admin.auth import Role

WHEN = datetime(2026, 11, 1, tzinfo=UTC)
PASSWORD = "correct horse battery"  # a test's own, never a real one


async def add_user(
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    role: Role = Role.NATIONAL_ADMIN,
    department: str | None = None,
    include_sub: bool = False,
) -> dict[str, str]:
    """A user, and the headers that act as them."""
    async with sessions() as session, session.begin():
        await users.add_user(
            session,
            username=username,
            name=username,
            role=role,
            department=department,
            include_sub=include_sub,
            password=PASSWORD,
            now=WHEN,
        )
        token = await users.set_token(session, username, WHEN)
    return {"Authorization": f"Bearer {token}"}
