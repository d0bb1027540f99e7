"""A scope's draft checked as part of the whole book: with the versions in
force of every other scope and the recordings admins uploaded, by the rules
of `ivr/publish/checks.py`.

Only problems in the scope itself and the departments below it count: they
are the calls a publication changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ivr.audio.catalog import Catalog, PromptEntry
from ivr.directory.routing import Directory
from ivr.publish import store as stored
from ivr.publish.checks import Problem
from ivr.publish.in_force import menu_spec, scope_texts
from ivr.publish.menus import NATIONAL, MenuBook


@dataclass(frozen=True, slots=True)
class InForce:
    """What a draft is checked with: every scope's menu in force, and the uploads."""

    bodies: dict[str, Any]  # by scope
    versions: dict[str, int]  # by scope
    uploads: dict[str, PromptEntry]  # by prompt id

    @classmethod
    async def read(cls, session: AsyncSession) -> InForce:
        rows = await stored.in_force(session, stored.MENU)
        uploads = {
            row.prompt_id: PromptEntry(
                file="", text=row.file_name, sha256=row.sha256, duration_ms=0, input=""
            )
            for row in await stored.uploads(session)
        }
        return cls(
            {s: r.body for s, r in rows.items()}, {s: r.number for s, r in rows.items()}, uploads
        )


def check_draft(
    in_force: InForce, scope: str, body: Any, directory: Directory, catalog: Catalog
) -> tuple[MenuBook, list[Problem]]:
    """The book with `body` for `scope`, and the problems it has there or below.
    `catalog`: the prompts in force; the draft's texts count as rendered."""
    others = {s: v for s, v in in_force.versions.items() if s != scope}
    book = MenuBook(menu_spec({**in_force.bodies, scope: body}), directory, others)
    drafted = {
        prompt_id: PromptEntry(file="", text=text, sha256="", duration_ms=0, input="")
        for prompt_id, text in scope_texts(scope, body).items()
    }
    known = Catalog(catalog.directory, {**catalog.entries, **in_force.uploads, **drafted})
    found = book.problems(known)
    return book, [p for p in found if _concerns(directory, scope, p.department)]


def _concerns(directory: Directory, scope: str, department: str) -> bool:
    if scope == NATIONAL:
        return True
    return department != NATIONAL and directory.within(department, scope)
