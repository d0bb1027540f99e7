"""The admin web's whole HTTP side over a real database, without Asterisk.

The menus and hours of routing/ are published as version 1 exactly as
`ivr serve` does on first start; the build's prompts are stood in for by
short silent files that carry the right texts (the menu checks compare
them), so no test here waits for espeak-ng except those that speak.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ivr.admin.app import add_routes
from ivr.admin.auth import Role
from ivr.admin.cases import CASES
from ivr.admin.inbox import ESCALATIONS
from ivr.admin.keys import ARI, CLOCK, CONFIG, CONTROLLER, DIRECTORY, SESSIONS, SETTINGS
from ivr.admin.menus import MENU_ADMIN
from ivr.audio.build import load_spec
from ivr.audio.catalog import Catalog, PromptEntry
from ivr.audio.speech import Speaker
from ivr.cases.escalation import Escalations
from ivr.cases.registry import Cases
from ivr.cli.serve import HOURS_FILE, PROMPT_SPEC
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.directory.routing import Directory
from ivr.publish import hours as working_hours
from ivr.publish import in_force as published
from ivr.publish import menus as menu
from ivr.publish.drafts import MenuAdmin, Voice
from ivr.publish.in_force import Configuration
from ivr.settings import REPO_ROOT, Settings
from tests.web_support import add_user

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday, 20:00 in Beijing
_DIRECTORY: list[Directory] = []


def directory() -> Directory:
    """routing/departments.csv, read once per test run."""
    if not _DIRECTORY:
        _DIRECTORY.append(Directory.load(REPO_ROOT / "routing" / "departments.csv"))
    return _DIRECTORY[0]


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class _Ari:
    """Health reads whether ARI is connected; nothing here talks to Asterisk."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()

    @property
    def connections(self) -> dict[str, bool]:
        return {"test": self.connected.is_set()}


class _Controller:
    def __init__(self) -> None:
        self.calls: dict[str, Any] = {}


def silent_catalog(folder: Path, texts: dict[str, str]) -> Catalog:
    """A catalog whose every prompt is 0.1 s of silence with the given text."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for prompt_id, text in texts.items():
        name = f"{prompt_id}-{'0' * 16}.wav"
        with wave.open(str(folder / name), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(8000)
            out.writeframes(b"\x00\x00" * 800)
        entries[prompt_id] = PromptEntry(
            file=name, text=text, sha256="0" * 64, duration_ms=100, input=prompt_id
        )
    return Catalog(folder, entries)


@dataclass
class AdminApp:
    app: web.Application
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    config: Configuration
    clock: Clock
    server: TestServer
    clients: list[TestClient[Any, Any]] = field(default_factory=list)

    async def client(self, headers: dict[str, str] | None = None) -> TestClient[Any, Any]:
        """A client of its own (its own cookies), with `headers` on every request."""
        client: TestClient[Any, Any] = TestClient(self.server, headers=headers or {})
        await client.start_server()
        self.clients.append(client)
        return client

    async def as_user(
        self,
        username: str,
        role: Role = Role.NATIONAL_ADMIN,
        department: str | None = None,
        include_sub: bool = False,
    ) -> TestClient[Any, Any]:
        """A client acting as a new user, by API token."""
        headers = await add_user(self.sessions, username, role, department, include_sub)
        return await self.client(headers)


@asynccontextmanager
async def admin_app(
    tmp_path: Path, database_url: str, configure: Callable[[web.Application], None] | None = None
) -> AsyncIterator[AdminApp]:
    await upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    found = directory()
    book = menu.read(REPO_ROOT / "routing" / "menus.yaml", found)
    texts = {**book.prompt_texts(), **{p: p for p in menu.PROMPTS_USED}}
    catalog = silent_catalog(tmp_path / "prompts", texts)
    hours = working_hours.load(HOURS_FILE, found)
    clock = Clock()
    config = Configuration(sessions, found, catalog, poll_seconds=0.05)
    await published.seed(sessions, book.spec, hours.spec, catalog, clock())
    await config.refresh(force=True)
    settings = Settings(state_dir=tmp_path, database_url=database_url)
    app = web.Application(client_max_size=11 * 1024 * 1024)
    app[SETTINGS] = settings
    app[SESSIONS] = sessions
    app[CLOCK] = clock
    app[DIRECTORY] = found
    app[CONFIG] = config
    app[ARI] = _Ari()  # type: ignore[assignment]
    app[CONTROLLER] = _Controller()  # type: ignore[assignment]
    app[CASES] = Cases(sessions, found, clock)
    app[ESCALATIONS] = Escalations(sessions, found, clock)
    spec = load_spec(PROMPT_SPEC)
    voice = Voice(spec, tmp_path / "render-cache", Speaker(spec.voice))
    app[MENU_ADMIN] = MenuAdmin(sessions, config, voice)
    add_routes(app, catalog.directory)
    if configure is not None:
        configure(app)
    server = TestServer(app)
    await server.start_server()
    admin = AdminApp(app, engine, sessions, config, clock, server)
    try:
        yield admin
    finally:
        for client in admin.clients:
            await client.close()
        await server.close()
        await engine.dispose()
