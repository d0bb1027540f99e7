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


async def test_a_locked_name_still_signs_in_from_another_address(
    controllers: list[AdminApp],
) -> None:
    """Counted per name and address: six guesses from one address lock that
    address out, not the admin, who signs in from theirs (on either
    controller). The guesses stay in the audit log with where they came from."""
    first, second = controllers
    attacker = await from_address(first, "127.0.0.3")
    for _ in range(MAX_FAILURES):
        assert (await attacker.post("/api/session", json=WRONG)).status == 401
    assert (await attacker.post("/api/session", json=WRONG)).status == 429
    assert (await attacker.post("/api/session", json=RIGHT)).status == 429
    for admin in controllers:
        owner = await from_address(admin, "127.0.0.2")
        signed = await owner.post("/api/session", json=RIGHT)
        assert signed.status == 200, await signed.text()
    # The owner's success does not unlock the attacker's address.
    assert (await attacker.post("/api/session", json=RIGHT)).status == 429
    national = await second.as_user("boss")
    log = await (await national.get("/api/audit?scope=340100")).json()
    failed = [e for e in log if e["action"] == "sign_in" and e["outcome"] == "denied"]
    assert [(e["target"], e["address"]) for e in failed] == [("hefei", "127.0.0.3")] * 5
    first.clock.advance(minutes=16)
    assert (await attacker.post("/api/session", json=RIGHT)).status == 200
