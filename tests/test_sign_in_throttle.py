"""The sign-in throttle against an attacker on loopback: guesses sent all at
once, through two controllers on one database (SQLite and PostgreSQL), are
refused after the fifth; and the throttle, being per name and address, does
not let anyone lock an admin out from elsewhere."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from ivr.admin.auth import Role
from ivr.admin.sessions import MAX_FAILURES
from tests.admin_support import AdminApp, admin_app
from tests.web_support import PASSWORD, add_user

WRONG = {"username": "hefei", "password": "not the password"}
RIGHT = {"username": "hefei", "password": PASSWORD}
AT_ONCE = 40


@pytest.fixture
async def controllers(tmp_path: Path, database_url: str) -> AsyncIterator[list[AdminApp]]:
    """Two controllers' admin webs on one database, with the user `hefei`."""
    async with AsyncExitStack() as stack:
        found = [
            await stack.enter_async_context(admin_app(tmp_path / name, database_url))
            for name in ("c1", "c2")
        ]
        await add_user(found[0].sessions, "hefei", Role.DEPARTMENT_ADMIN, "340100")
        yield found


async def from_address(admin: AdminApp, host: str) -> TestClient[Any, Any]:
    """A client whose connections come from `host` (any 127.x.y.z is this machine)."""
    connector = aiohttp.TCPConnector(local_addr=(host, 0))
    client: TestClient[Any, Any] = TestClient(admin.server, connector=connector)
    await client.start_server()
    admin.clients.append(client)
    return client


async def test_guesses_sent_at_once_are_refused_after_the_fifth(
    controllers: list[AdminApp],
) -> None:
    """Counted one attempt at a time, before the password is checked, in the
    database both controllers share: 40 guesses at once get 5 wrong-password
    answers and 35 refusals, wherever they land."""
    clients = [await c.client() for c in controllers]
    guesses = [clients[i % 2].post("/api/session", json=WRONG) for i in range(AT_ONCE)]
    answers = await asyncio.gather(*guesses)
    statuses = Counter(answer.status for answer in answers)
    assert statuses == {401: MAX_FAILURES, 429: AT_ONCE - MAX_FAILURES}, statuses
    refused = next(answer for answer in answers if answer.status == 429)
    assert (await refused.json())["error_id"] == "too_many_attempts"
    assert int(refused.headers["Retry-After"]) > 0
    # Locked on both: even the right password waits.
    for client in clients:
        assert (await client.post("/api/session", json=RIGHT)).status == 429
