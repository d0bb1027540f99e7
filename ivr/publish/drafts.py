"""Editing a scope's menu: draft, validate, publish, restore, compare
(`MenuAdmin`, what the admin web's menu routes call).

A scope is `national` (the national menu: `{root, nodes}`) or a department's
code (its overrides: `{nodes}`). An admin works on the scope's draft; the
draft is checked as part of the whole book, with the versions in force for
every other scope, by the rules of `ivr/publish/checks.py`. Publishing renders
the draft's new texts (espeak-ng, as the build does, through the render
cache) and stores their audio in the database before the version is added,
so that no controller can load a version whose audio it cannot find.

Only problems in the scope itself and the departments below it count
(`ivr/publish/draft_checks.py`): a problem elsewhere is not this admin's to
fix and does not stop them.

Every change is written with its audit line in one transaction; a version
is added the one way versions are (`ivr.publish.versions.publish_version`).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.audio import uploads as audio
from ivr.audio.build import PromptSpec
from ivr.audio.catalog import wav_duration_ms
from ivr.audio.speech import Speaker
from ivr.db.audit import Author, audit
from ivr.db.models import ConfigVersionRow
from ivr.directory.routing import Directory
from ivr.errors import Conflict, DataError, IvrError, NotFound, explain
from ivr.publish import store as stored
from ivr.publish.checks import Problem
from ivr.publish.draft_checks import InForce, check_draft
from ivr.publish.in_force import Configuration, scope_texts
from ivr.publish.menu_spec import DepartmentSpec, NationalSpec
from ivr.publish.menus import NATIONAL
from ivr.publish.tree import TreeNode, tree
from ivr.publish.versions import (
    DiffOut,
    VersionInfo,
    VersionOut,
    diff_bodies,
    publish_version,
    version_info,
    version_infos,
    version_target,
)

UPLOAD_PREFIX = "rec."


class MenuInvalid(IvrError):
    error_id = "menu_invalid"
    status = 422


class ProblemOut(BaseModel):
    department: str
    node: str
    message: str  # English; the web says `code` with `params` in Chinese
    code: str = ""  # one of ivr.publish.checks.PROBLEM_CODES
    params: dict[str, str] = {}


class MenuView(BaseModel):
    scope: str
    name: str
    version: VersionInfo | None
    root: str
    tree: list[TreeNode]
    own: dict[str, Any]
    draft: dict[str, Any] | None
    draft_by: str | None
    draft_at: datetime | None
    problems: list[ProblemOut]


@dataclass(frozen=True, slots=True)
class Voice:
    """How a text is spoken: as the prompt build speaks it, in the settings' voice (else
    the spec's) and at their speed (`speaker`), with the spec's pronunciations."""

    spec: PromptSpec
    cache_dir: Path | None
    speaker: Speaker

    def speak(self, text: str) -> bytes:
        return audio.speak(
            text, self.speaker, self.spec.sample_rate, self.spec.pronounce, self.cache_dir
        )


def parse_body(scope: str, body: Any) -> dict[str, Any]:
    """A scope's menu body, checked for shape; DataError naming the bad field."""
    model: type[NationalSpec] | type[DepartmentSpec] = (
        NationalSpec if scope == NATIONAL else DepartmentSpec
    )
    try:
        parsed = model.model_validate(body)
    except ValidationError as exc:
        raise DataError(explain(exc)) from None
    return parsed.model_dump(mode="json", exclude_none=True)


class MenuAdmin:
    """Each scope's menu as its admins see and change it; every change comes
    with its audit line, written by `author`, in the change's transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Configuration,
        voice: Voice,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._voice = voice

    @property
    def directory(self) -> Directory:
        return self._config.directory

    @property
    def voice(self) -> Voice:
        return self._voice

    def name(self, scope: str) -> str:
        return "全国" if scope == NATIONAL else self.directory.by_code(scope).name

    # Reading ----------------------------------------------------------------------

    async def view(self, scope: str) -> MenuView:
        async with self._sessions() as session:
            draft = await stored.draft(session, stored.MENU, scope)
            current = await stored.current(session, stored.MENU, scope)
            if draft is not None:  # checked against every other scope in force
                in_force = await InForce.read(session)
        own = current.body if current is not None else {"nodes": {}}
        problems: list[Problem] = []
        book, catalog = self._config.now().menus, self._config.now().catalog
        if draft is not None:
            book, problems = check_draft(in_force, scope, draft.body, self.directory, catalog)
        menu_of_scope = book.national if scope == NATIONAL else book.effective(scope)
        return MenuView(
            scope=scope,
            name=self.name(scope),
            version=version_info(current, current.number) if current else None,
            root=menu_of_scope.root,
            tree=tree(book, menu_of_scope, scope, draft.body if draft else own, catalog),
            own=own,
            draft=draft.body if draft else None,
            draft_by=draft.updated_by if draft else None,
            draft_at=draft.updated_at if draft else None,
            problems=[ProblemOut(**p.as_json()) for p in problems],
        )

    async def versions(self, scope: str) -> list[VersionInfo]:
        async with self._sessions() as session:
            return await version_infos(session, stored.MENU, scope)

    async def version(self, scope: str, number: int) -> VersionOut:
        async with self._sessions() as session:
            row = await self._version(session, scope, number)
            current = await stored.current(session, stored.MENU, scope)
        info = version_info(row, current.number if current else None)
        return VersionOut(**info.model_dump(), body=row.body)

    async def diff(self, scope: str, old: int, new: int) -> DiffOut:
        async with self._sessions() as session:
            before = (await self._version(session, scope, old)).body
            after = (await self._version(session, scope, new)).body
        return DiffOut(scope=scope, from_=old, to=new, changes=diff_bodies(before, after))

    # Changing: each with its audit line, in one transaction -------------------------

    async def save_draft(self, scope: str, body: Any, author: Author) -> None:
        """Keep `body` as the scope's draft (problems and all: it is work in progress)."""
        parsed = parse_body(scope, body)
        async with self._sessions() as session, session.begin():
            old = await stored.draft(session, stored.MENU, scope)
            current = await stored.current(session, stored.MENU, scope)
            await stored.save_draft(
                session,
                kind=stored.MENU,
                scope=scope,
                body=parsed,
                base_number=current.number if current else None,
                by=author.username,
                at=author.at,
            )
            await audit(
                session,
                author,
                action="menu_draft",
                scope=scope,
                target="draft",
                before=old.body if old else None,
                after=parsed,
            )

    async def discard(self, scope: str, author: Author) -> None:
        async with self._sessions() as session, session.begin():
            old = await stored.draft(session, stored.MENU, scope)
            if old is None:
                raise NotFound(f"{scope} has no draft", error="no_draft")
            await stored.drop_draft(session, stored.MENU, scope)
            await audit(
                session,
                author,
                action="menu_discard",
                scope=scope,
                target="draft",
                before=old.body,
            )

    async def publish(self, scope: str, note: str, author: Author) -> VersionInfo:
        """The draft becomes the next version."""
        async with self._sessions() as session:
            draft = await stored.draft(session, stored.MENU, scope)
            current = await stored.current(session, stored.MENU, scope)
        if draft is None:
            raise Conflict(f"{scope} has no draft to publish; save one first", error="no_draft")
        if draft.base_number != (current.number if current else None):
            raise Conflict(
                f"version {current.number if current else 0} of {scope} was published after "
                "this draft was saved; save the draft again (it then builds on it) and publish",
                error="draft_outdated",
            )
        return await self._add_version(scope, draft.body, note, author, current, drop_draft=True)

    async def restore(self, scope: str, number: int, author: Author) -> VersionInfo:
        """Version `number` again, as the next version."""
        async with self._sessions() as session:
            old = await self._version(session, scope, number)
            current = await stored.current(session, stored.MENU, scope)
        note = f"restored version {number}"
        return await self._add_version(
            scope,
            old.body,
            note,
            author,
            current,
            restored_from=number,
            target=lambda new: f"version {number} as {new}",
        )

    async def _add_version(
        self,
        scope: str,
        body: Any,
        note: str,
        author: Author,
        current: ConfigVersionRow | None,
        *,
        drop_draft: bool = False,
        restored_from: int | None = None,
        target: Callable[[int], str] = version_target,
    ) -> VersionInfo:
        """Check `body`, render its new texts, then publish it with its audio."""
        await self._check_publishable(scope, body)
        rendered = await self._render(scope, body, current)
        async with self._sessions() as session, session.begin():
            prompts = {}
            for prompt_id, (sha, wav, duration) in rendered.items():
                if wav is not None:
                    await stored.keep_audio(session, sha, wav, duration, author.at)
                prompts[prompt_id] = sha
            row = await publish_version(
                session,
                author,
                kind=stored.MENU,
                scope=scope,
                body=body,
                prompts=prompts,
                note=note,
                restored_from=restored_from,
                target=target,
            )
            if drop_draft:
                await stored.drop_draft(session, stored.MENU, scope)
        await self._config.refresh()
        return version_info(row, row.number)

    async def _check_publishable(self, scope: str, body: Any) -> None:
        """MenuInvalid, with every problem, if `body` cannot be published for `scope`."""
        async with self._sessions() as session:
            in_force = await InForce.read(session)
        catalog = self._config.now().catalog
        _, problems = check_draft(in_force, scope, body, self.directory, catalog)
        if problems:
            raise MenuInvalid(
                f"{scope}'s menu cannot be published: {problems[0]}"
                + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                problems=[p.as_json() for p in problems],
            )

    async def _render(
        self, scope: str, body: Any, current: ConfigVersionRow | None
    ) -> dict[str, tuple[str, bytes | None, int]]:
        """Audio of each of the body's texts: (sha256, WAV or None if stored, ms)."""
        known: dict[str, str] = {}  # text -> sha256 of the version in force
        if current is not None:
            texts = scope_texts(scope, current.body)
            known = {texts[pid]: sha for pid, sha in current.prompts.items() if pid in texts}
        found: dict[str, tuple[str, bytes | None, int]] = {}
        for prompt_id, text in scope_texts(scope, body).items():
            if text in known:
                found[prompt_id] = (known[text], None, 0)
                continue
            wav = await asyncio.to_thread(self._voice.speak, text)
            sha, duration = hashlib.sha256(wav).hexdigest(), wav_duration_ms(wav)
            found[prompt_id] = (sha, wav, duration)
        return found

    async def _version(self, session: AsyncSession, scope: str, number: int) -> ConfigVersionRow:
        row = await stored.version(session, stored.MENU, scope, number)
        if row is None:
            raise NotFound(f"{scope}'s menu has no version {number}", number=number)
        return row
