"""What callers hear now: the menus and working hours in force, from the database.

Theory of operation. Admins publish versions of a scope's menu or hours
(`ivr/publish/store.py`); the newest version of each scope is in force. A
controller loads all of them into one `Published` (a menu book, the hours,
and the prompt catalog with every published text's audio) and swaps it in
whole. Nothing in Asterisk reloads: a published text is new audio under a new
name (`svc.<code>.<node>@v<n>`, served by the controller, fetched by
Asterisk's media cache), so the next call hears it while a call already in
the menu keeps the `Menu` it started with, whose nodes name the old audio.

Controllers notice a publication made elsewhere by polling the generation
(the highest version id: one indexed read) every `poll_seconds`; the one
that published swaps at once.

On first start the database has no versions: `seed` imports
`routing/menus.yaml` and `routing/hours.yaml` as version 1 of each scope,
published by "routing/".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.audio.catalog import HASH_CHARS, Catalog, PromptEntry, write_atomically
from ivr.db.migrate import migrated_session
from ivr.db.models import ConfigVersionRow
from ivr.directory.routing import Directory
from ivr.errors import ConfigError, Conflict
from ivr.publish import menus as menu
from ivr.publish import store as stored
from ivr.publish.hours import Hours, HoursSpec
from ivr.publish.menu_spec import DepartmentSpec, NationalSpec
from ivr.publish.menus import NATIONAL, MenuBook, MenuSpec

log = logging.getLogger(__name__)

SEEDED_BY = "routing/"  # who published what the files held


@dataclass(frozen=True, slots=True)
class Published:
    """Everything callers hear that admins can change, as one value."""

    generation: int
    menus: MenuBook
    hours: Hours
    catalog: Catalog


def menu_spec(bodies: Mapping[str, Any]) -> MenuSpec:
    """The menu book of scopes' bodies: NATIONAL's `{root, nodes}`, each code's `{nodes}`."""
    national, departments = _split(bodies, "menu is")
    return MenuSpec.model_validate({"national": national, "departments": departments})


def hours_spec(bodies: Mapping[str, Any]) -> HoursSpec:
    """The hours of scopes' bodies: NATIONAL's week, each code's DepartmentHours."""
    national, departments = _split(bodies, "working hours are")
    return HoursSpec.model_validate({"default": national, "departments": departments})


def _split(bodies: Mapping[str, Any], what: str) -> tuple[Any, dict[str, Any]]:
    """NATIONAL's body, and the departments' by code."""
    if NATIONAL not in bodies:
        raise ConfigError(f"no national {what} published")
    return bodies[NATIONAL], {scope: b for scope, b in bodies.items() if scope != NATIONAL}


def scope_texts(scope: str, body: Mapping[str, Any]) -> dict[str, str]:
    """A scope's node texts the build would render, by generated (unversioned) id."""
    texts = {}
    for node_id, node in body.get("nodes", {}).items():
        if node.get("prompt") is None and node.get("text"):
            texts[menu.generated_prompt_id(node_id, scope)] = node["text"]
    return texts


def prompt_file(prompt_id: str, sha256: str) -> str:
    """A published prompt's file name; `@` kept out of URLs."""
    return f"{prompt_id.replace('@', '~')}-{sha256[:HASH_CHARS]}.wav"


class Configuration:
    """The controller's view of what is published, kept current."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        directory: Directory,
        base: Catalog,
        poll_seconds: float = 1.0,
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._base = base  # the build's prompts: greetings, department names, ...
        self._poll = poll_seconds
        self._listeners: list[Callable[[Published], None]] = []
        self._lock = asyncio.Lock()
        self._entries: dict[str, PromptEntry] = {}  # published prompts ever loaded
        self.current: Published | None = None

    @property
    def directory(self) -> Directory:
        return self._directory

    @property
    def base(self) -> Catalog:
        return self._base

    def on_change(self, listener: Callable[[Published], None]) -> None:
        self._listeners.append(listener)

    def now(self) -> Published:
        if self.current is None:
            raise ConfigError("the published configuration is not loaded yet")
        return self.current

    async def refresh(self, *, force: bool = False) -> Published:
        """Load what is published if the generation moved (or `force`), and tell listeners."""
        async with self._lock:
            async with self._sessions() as session:
                generation = await stored.generation(session)
                if not force and self.current is not None:
                    if generation == self.current.generation:
                        return self.current
                menus = await stored.in_force(session, stored.MENU)
                published = await self._load(session, generation, menus)
            self.current = published
        log.info("published configuration generation %d is in force", generation)
        for listener in self._listeners:
            listener(published)
        return published

    async def watch(self) -> None:
        """Poll for publications made by other controllers; run as a task."""
        while True:
            await asyncio.sleep(self._poll)
            try:
                await self.refresh()
            except Exception:  # a database hiccup: the next poll tries again
                log.exception("could not read the published configuration")

    async def at(self, generation: int) -> Published | None:
        """What was in force at `generation` (a call's, saved): the menus as
        published then, with their prompts; None if nothing was published then."""
        async with self._lock, self._sessions() as session:
            menus = await stored.in_force(session, stored.MENU, generation)
            return await self._load(session, generation, menus) if menus else None

    async def _load(
        self, session: AsyncSession, generation: int, menus: dict[str, ConfigVersionRow]
    ) -> Published:
        """The configuration of `generation`, whose menus in force are `menus`."""
        book, hours = await in_force(session, self._directory, menus)
        catalog = await self._catalog(session, menus.values())
        return Published(generation, book, hours, catalog)

    async def _catalog(self, session: AsyncSession, menus: Collection[ConfigVersionRow]) -> Catalog:
        """The build's prompts plus every published text and upload the book plays."""
        wanted: dict[str, tuple[str, str]] = {}  # prompt id -> (sha256, text)
        for row in menus:
            texts = scope_texts(row.scope, row.body)
            for prompt_id, sha in row.prompts.items():
                versioned = menu.versioned_prompt_id(prompt_id, row.number)
                wanted[versioned] = (sha, texts.get(prompt_id, ""))
        # Recordings the nodes name, beyond the build's and those loaded before.
        named = {node.get("prompt") for row in menus for node in row.body.get("nodes", {}).values()}
        uploaded = sorted(
            p for p in named if p and not self._base.has(p) and p not in self._entries
        )
        for upload in await stored.uploads(session, uploaded) if uploaded else ():
            wanted[upload.prompt_id] = (upload.sha256, f"(recording {upload.file_name})")
        missing = {pid: v for pid, v in wanted.items() if pid not in self._entries}
        audio = await stored.audio(session, sorted({sha for sha, _ in missing.values()}))
        directory = self._base.directory
        for prompt_id, (sha, text) in missing.items():
            stored_audio = audio.get(sha)
            if stored_audio is None:
                log.error("prompt %s: its audio %s is not in the database", prompt_id, sha[:12])
                continue
            name = prompt_file(prompt_id, sha)
            if not (directory / name).is_file():
                await asyncio.to_thread(write_atomically, directory / name, stored_audio.wav)
            self._entries[prompt_id] = PromptEntry(
                file=name, text=text, sha256=sha, duration_ms=stored_audio.duration_ms, input=sha
            )
        return Catalog(directory, {**self._base.entries, **self._entries})


async def in_force(
    session: AsyncSession,
    directory: Directory,
    menus: Mapping[str, ConfigVersionRow] | None = None,
) -> tuple[MenuBook, Hours]:
    """The menu book and the hours published now (ConfigError if nothing is)."""
    if menus is None:
        menus = await stored.in_force(session, stored.MENU)
    hours = await stored.in_force(session, stored.HOURS)
    versions = {scope: row.number for scope, row in menus.items()}
    book = MenuBook(menu_spec({s: r.body for s, r in menus.items()}), directory, versions)
    return book, Hours(hours_spec({s: r.body for s, r in hours.items()}), directory)


def read_in_force(database_url: str, directory: Directory) -> tuple[MenuBook, Hours] | None:
    """`in_force` for the command line: None if nothing is published yet (the
    controller has not started on this database), so the files apply."""
    async def read() -> tuple[MenuBook, Hours] | None:
        async with migrated_session(database_url) as session:
            if await stored.generation(session) == 0:
                return None
            return await in_force(session, directory)

    return asyncio.run(read())


# First start: the files become version 1 ------------------------------------------


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    menus: MenuSpec,
    hours: HoursSpec,
    catalog: Catalog,
    now: datetime,
) -> bool:
    """Publish the files' menus and hours as version 1 of each scope if nothing
    is published yet; whether it did. `catalog` has every text rendered.

    Controllers starting together on a new database may both try: each
    writes version 1 (not "the next"), so one transaction wins and the
    other's fails whole on the unique versions and finds the winner's. (A
    "next" number read after the winner committed would be 2: published twice.)"""
    try:
        return await _seed(sessions, menus, hours, catalog, now)
    except (IntegrityError, Conflict):
        async with sessions() as session:
            if await stored.generation(session) > 0:
                log.info("another controller published routing/ first")
                return False
        raise


async def _seed(
    sessions: async_sessionmaker[AsyncSession],
    menus: MenuSpec,
    hours: HoursSpec,
    catalog: Catalog,
    now: datetime,
) -> bool:
    async with sessions() as session, session.begin():
        if await stored.generation(session) > 0:
            return False
        menu_bodies: dict[str, NationalSpec | DepartmentSpec] = {NATIONAL: menus.national}
        menu_bodies.update(menus.departments)
        for scope, spec in menu_bodies.items():
            body = spec.model_dump(mode="json", exclude_none=True)
            prompts = {}
            for prompt_id in scope_texts(scope, body):
                entry = catalog.entries[prompt_id]
                wav = await asyncio.to_thread((catalog.directory / entry.file).read_bytes)
                await stored.keep_audio(session, entry.sha256, wav, entry.duration_ms, now)
                prompts[prompt_id] = entry.sha256
            await _seed_version(session, stored.MENU, scope, body, prompts, now)
        week = hours.default.model_dump(mode="json")
        await _seed_version(session, stored.HOURS, NATIONAL, week, {}, now)
        for code, own in hours.departments.items():
            body = own.model_dump(mode="json", exclude_none=True)
            await _seed_version(session, stored.HOURS, code, body, {}, now)
    log.info("the menus and working hours of routing/ are published as version 1")
    return True


async def _seed_version(
    session: AsyncSession, kind: str, scope: str, body: Any, prompts: dict[str, str], now: datetime
) -> ConfigVersionRow:
    return await stored.publish(
        session,
        kind=kind,
        scope=scope,
        body=body,
        prompts=prompts,
        by=SEEDED_BY,
        at=now,
        note="imported from the repository's files on first start",
        number=1,
    )
