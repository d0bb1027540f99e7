"""Editing a scope's menu: draft, validate, publish, restore, compare.

A scope is `national` (the national menu: `{root, nodes}`) or a department's
code (its overrides: `{nodes}`). An admin works on the scope's draft; the
draft is checked as part of the whole book, with the versions in force for
every other scope, by the rules of `ivr/publish/checks.py`. Publishing renders
the draft's new texts (espeak-ng, as the build does, through the render
cache) and stores their audio in the database before the version is added,
so that no controller can load a version whose audio it cannot find.

Only problems in the scope itself and the departments below it count: they
are the calls a publication changes. A problem elsewhere is not this
admin's to fix and does not stop them.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.admin.openapi import explain
from ivr.admin.user_store import Conflict
from ivr.audio import uploads as audio
from ivr.audio.build import PromptSpec
from ivr.audio.catalog import Catalog, PromptEntry, wav_duration_ms
from ivr.db.models import ConfigVersionRow
from ivr.directory.routing import Directory
from ivr.errors import DataError, IvrError, NotFound
from ivr.publish import menus as menu
from ivr.publish import store as stored
from ivr.publish.in_force import Configuration, menu_spec, scope_texts
from ivr.publish.menu_spec import DepartmentSpec, NationalSpec
from ivr.publish.menus import NATIONAL, Menu, MenuBook, Problem

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


class TreeNode(BaseModel):
    id: str
    key: str  # the key that leads here from `parent`; "" at the root and unreachable nodes
    depth: int  # 0 at the root; -1: no path from the root reaches it
    parent: str | None
    kind: str
    text: str | None
    prompt: str | None  # a recording's id, if the node plays one
    prompt_id: str | None  # what the node plays
    category: str | None
    department: str | None
    origin: str  # "national" or the code of the department that defines it
    here: bool  # defined by this scope
    overridden: bool  # defined here and above: this scope changed it
    audio_url: str | None
    spec: dict[str, Any]  # the node as its origin wrote it (what an override starts from)


class VersionInfo(BaseModel):
    number: int
    published_at: datetime
    published_by: str
    note: str
    restored_from: int | None
    active: bool


class VersionOut(VersionInfo):
    body: dict[str, Any]


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


class Change(BaseModel):
    node: str
    change: str  # added, removed, changed
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class DiffOut(BaseModel):
    scope: str
    from_: int = Field(serialization_alias="from")
    to: int
    changes: list[Change]


@dataclass(frozen=True, slots=True)
class Voice:
    """How a text is spoken: the prompt build's voice, rate and pronunciations."""

    spec: PromptSpec
    cache_dir: Path | None

    def speak(self, text: str) -> bytes:
        return audio.speak(
            text, self.spec.voice, self.spec.sample_rate, self.spec.pronounce, self.cache_dir
        )


def version_info(row: ConfigVersionRow, active: int | None) -> VersionInfo:
    return VersionInfo(
        number=row.number,
        published_at=row.published_at,
        published_by=row.published_by,
        note=row.note,
        restored_from=row.restored_from,
        active=row.number == active,
    )


async def version_infos(session: AsyncSession, kind: str, scope: str) -> list[VersionInfo]:
    """Every version of `kind` for `scope`, newest (the one in force) first."""
    rows = await stored.versions(session, kind, scope)
    active = rows[0].number if rows else None
    return [version_info(row, active) for row in rows]


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
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: Configuration,
        voice: Voice,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._config = config
        self._voice = voice
        self._now = clock

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
                bodies, versions = await self._in_force(session)
                uploads = await self._upload_entries(session)
        own = current.body if current is not None else {"nodes": {}}
        problems: list[Problem] = []
        book = self._config.now().menus
        if draft is not None:
            book, problems = self._check(bodies, versions, scope, draft.body, uploads)
        menu_of_scope = book.national if scope == NATIONAL else book.effective(scope)
        return MenuView(
            scope=scope,
            name=self.name(scope),
            version=version_info(current, current.number) if current else None,
            root=menu_of_scope.root,
            tree=self._tree(book, menu_of_scope, scope, draft.body if draft else own),
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

    # Changing ---------------------------------------------------------------------

    async def save_draft(self, scope: str, body: Any, by: str) -> tuple[Any, Any]:
        """Keep `body` as the scope's draft; (draft before, draft after) for the audit."""
        parsed = parse_body(scope, body)
        async with self._sessions() as session, session.begin():
            old = await stored.draft(session, stored.MENU, scope)
            before = old.body if old else None
            current = await stored.current(session, stored.MENU, scope)
            await stored.save_draft(
                session,
                kind=stored.MENU,
                scope=scope,
                body=parsed,
                base_number=current.number if current else None,
                by=by,
                at=self._now(),
            )
        return before, parsed

    async def discard(self, scope: str) -> Any:
        async with self._sessions() as session, session.begin():
            old = await stored.draft(session, stored.MENU, scope)
            if old is None:
                raise NotFound(f"{scope} has no draft", error="no_draft")
            body = old.body
            await stored.drop_draft(session, stored.MENU, scope)
        return body

    async def publish(self, scope: str, note: str, by: str) -> tuple[VersionInfo, Any, Any]:
        """The draft becomes the next version: (its info, body before, body after)."""
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
        row = await self._add_version(scope, draft.body, note, by, current, drop_draft=True)
        return version_info(row, row.number), current.body if current else None, draft.body

    async def restore(self, scope: str, number: int, by: str) -> tuple[VersionInfo, Any, Any]:
        async with self._sessions() as session:
            old = await self._version(session, scope, number)
            current = await stored.current(session, stored.MENU, scope)
        note = f"restored version {number}"
        row = await self._add_version(scope, old.body, note, by, current, restored_from=number)
        return version_info(row, row.number), current.body if current else None, old.body

    async def _add_version(
        self,
        scope: str,
        body: Any,
        note: str,
        by: str,
        current: ConfigVersionRow | None,
        *,
        drop_draft: bool = False,
        restored_from: int | None = None,
    ) -> ConfigVersionRow:
        async with self._sessions() as session:
            bodies, versions = await self._in_force(session)
            uploads = await self._upload_entries(session)
        _, problems = self._check(bodies, versions, scope, body, uploads)
        if problems:
            raise MenuInvalid(
                f"{scope}'s menu cannot be published: {problems[0]}"
                + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                problems=[p.as_json() for p in problems],
            )
        rendered = await self._render(scope, body, current)
        now = self._now()
        async with self._sessions() as session, session.begin():
            prompts = {}
            for prompt_id, (sha, wav, duration) in rendered.items():
                if wav is not None:
                    await stored.keep_audio(session, sha, wav, duration, now)
                prompts[prompt_id] = sha
            row = await stored.publish(
                session,
                kind=stored.MENU,
                scope=scope,
                body=body,
                prompts=prompts,
                by=by,
                at=now,
                note=note,
                restored_from=restored_from,
            )
            if drop_draft:
                await stored.drop_draft(session, stored.MENU, scope)
        await self._config.refresh()
        return row

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

    # Checking ---------------------------------------------------------------------

    async def _in_force(self, session: AsyncSession) -> tuple[dict[str, Any], dict[str, int]]:
        rows = await stored.in_force(session, stored.MENU)
        return {s: r.body for s, r in rows.items()}, {s: r.number for s, r in rows.items()}

    async def _upload_entries(self, session: AsyncSession) -> dict[str, PromptEntry]:
        return {
            row.prompt_id: PromptEntry(
                file="", text=row.file_name, sha256=row.sha256, duration_ms=0, input=""
            )
            for row in await stored.uploads(session)
        }

    def _check(
        self,
        bodies: Mapping[str, Any],
        versions: Mapping[str, int],
        scope: str,
        body: Any,
        uploads: Mapping[str, PromptEntry],
    ) -> tuple[MenuBook, list[Problem]]:
        """The book with `body` for `scope`, and the problems it has there or below."""
        others = {s: v for s, v in versions.items() if s != scope}
        book = MenuBook(menu_spec({**bodies, scope: body}), self.directory, others)
        drafted = {
            prompt_id: PromptEntry(file="", text=text, sha256="", duration_ms=0, input="")
            for prompt_id, text in scope_texts(scope, body).items()
        }
        in_force = self._config.now().catalog
        known = Catalog(in_force.directory, {**in_force.entries, **uploads, **drafted})
        problems = [p for p in book.problems(known) if self._concerns(scope, p.department)]
        return book, problems

    def _concerns(self, scope: str, department: str) -> bool:
        if scope == NATIONAL:
            return True
        return department != NATIONAL and self.directory.within(department, scope)

    async def _version(self, session: AsyncSession, scope: str, number: int) -> ConfigVersionRow:
        row = await stored.version(session, stored.MENU, scope, number)
        if row is None:
            raise NotFound(f"{scope}'s menu has no version {number}", number=number)
        return row

    def _tree(self, book: MenuBook, shown: Menu, scope: str, own: Any) -> list[TreeNode]:
        mine = set(own.get("nodes", {}))
        above = _above(book, scope)
        catalog = self._config.now().catalog
        found = []
        for node_id in shown.reachable():
            parent = shown.parent(node_id)
            key = ""
            if parent is not None:
                key = next(k for k, to in parent.choices.items() if to == node_id)
            found.append(self._tree_node(shown, node_id, key, parent, mine, above, catalog))
        for node_id in shown.unreachable():
            found.append(self._tree_node(shown, node_id, "", None, mine, above, catalog))
        return found

    def _tree_node(
        self,
        shown: Menu,
        node_id: str,
        key: str,
        parent: menu.Node | None,
        mine: set[str],
        above: Menu | None,
        catalog: Catalog,
    ) -> TreeNode:
        node = shown.node(node_id)
        path = shown.path(node_id)
        audio_url = None
        if node.prompt_id and catalog.has(node.prompt_id):
            audio_url = f"/api/prompts/{node.prompt_id}/audio"
        return TreeNode(
            id=node_id,
            key=key,
            depth=len(path) - 1 if path else -1,
            parent=parent.id if parent else None,
            kind=node.kind,
            text=node.text,
            prompt=node.spec.prompt,
            prompt_id=node.prompt_id,
            category=node.category,
            department=node.department,
            origin=node.origin,
            here=node_id in mine,
            overridden=node_id in mine and above is not None and above.has(node_id),
            audio_url=audio_url,
            spec=node.spec.model_dump(mode="json", exclude_none=True),
        )


def _above(book: MenuBook, scope: str) -> Menu | None:
    """The menu `scope` would have without its own overrides."""
    if scope == NATIONAL:
        return None
    lineage = book.directory.lineage(scope)
    if len(lineage) < 2:
        return book.national
    return book.effective(lineage[1].code)


def diff_bodies(before: Any, after: Any) -> list[Change]:
    """Node by node: what `after` adds, removes and changes against `before`."""
    old, new = before.get("nodes", {}), after.get("nodes", {})
    changes = []
    for node_id in sorted(set(old) | set(new)):
        a, b = old.get(node_id), new.get(node_id)
        if a == b:
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        changes.append(Change(node=node_id, change=change, before=a, after=b))
    if before.get("root") != after.get("root"):
        changes.insert(
            0,
            Change(
                node="(root)",
                change="changed",
                before={"root": before.get("root")},
                after={"root": after.get("root")},
            ),
        )
    return changes
