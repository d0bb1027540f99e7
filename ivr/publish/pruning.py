"""Pruning published audio nothing needs any more: a job every controller runs.

Every version is kept (an admin may restore any of them), so what a version
names stays: its texts' audio (`ConfigVersionRow.prompts`) and the uploads
its nodes name, in the database. What goes, once `keep_days` have passed:

- an upload (`prompt_uploads`, and its audio) that no version and no draft
  names: a recording an admin made and never used. The grace lets one that
  was just uploaded reach a draft.
- audio (`audio`) that neither a version nor an upload holds.
- in this controller's prompt folder, the files of a version's texts once a
  newer version of its scope has been in force that long. No call lasts so
  long, and a restored version is a new version whose files are written
  again from the database (`in_force.Configuration`). Uploads' files stay:
  the controller's catalog keeps them by id for any version that names them.

Only names a published row makes (`in_force.prompt_file`) are ever deleted
from the folder; the build's own prompts are never touched. With several
controllers each one prunes its own folder, and the rows once (a second
delete finds nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.db.models import AudioRow, ConfigDraftRow, ConfigVersionRow, PromptUploadRow
from ivr.publish import store as stored
from ivr.publish.in_force import prompt_file
from ivr.publish.menus import versioned_prompt_id

log = logging.getLogger(__name__)


@dataclass
class Pruned:
    """What one run removed."""

    uploads: list[str] = field(default_factory=list)  # prompt ids
    audio: list[str] = field(default_factory=list)  # sha256s
    files: list[str] = field(default_factory=list)  # names in the prompt folder

    @property
    def nothing(self) -> bool:
        return not (self.uploads or self.audio or self.files)


class AudioPruner:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        prompt_dir: Path,
        clock: Callable[[], datetime],
        keep_days: int,
    ) -> None:
        self._sessions = sessions
        self._dir = prompt_dir
        self._clock = clock
        self._keep = timedelta(days=keep_days)

    async def run_once(self) -> Pruned:
        before = self._clock() - self._keep
        async with self._sessions() as session, session.begin():
            versions = list(
                await session.scalars(
                    select(ConfigVersionRow).where(ConfigVersionRow.kind == stored.MENU)
                )
            )
            drafts = list(await session.scalars(select(ConfigDraftRow.body)))
            pruned = Pruned()
            pruned.uploads = await _unused_uploads(session, versions, drafts, before)
            pruned.audio = await _unheld_audio(session, versions, before)
        pruned.files = await asyncio.to_thread(self._old_files, versions, before)
        if not pruned.nothing:
            log.info(
                "pruned %d unused uploads, %d audio rows, %d prompt files",
                len(pruned.uploads), len(pruned.audio), len(pruned.files),
            )
        return pruned

    def _old_files(self, versions: list[ConfigVersionRow], before: datetime) -> list[str]:
        """Delete the text files of versions out of force since before `before`."""
        kept: set[str] = set()
        old: set[str] = set()
        for row, superseded_at in _superseded(versions):
            names = {
                prompt_file(versioned_prompt_id(prompt_id, row.number), sha)
                for prompt_id, sha in (row.prompts or {}).items()
            }
            (old if superseded_at is not None and superseded_at < before else kept).update(names)
        removed = []
        for name in sorted(old - kept):
            path = self._dir / name
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(name)
        return removed


def _superseded(
    versions: Iterable[ConfigVersionRow],
) -> list[tuple[ConfigVersionRow, datetime | None]]:
    """Each version, with when the next version of its scope was published (None: in force)."""
    by_scope: dict[str, list[ConfigVersionRow]] = {}
    for row in versions:
        by_scope.setdefault(row.scope, []).append(row)
    found: list[tuple[ConfigVersionRow, datetime | None]] = []
    for rows in by_scope.values():
        rows.sort(key=lambda row: row.number)
        nexts: list[datetime | None] = [row.published_at for row in rows[1:]]
        found.extend(zip(rows, [*nexts, None], strict=True))
    return found


def _named(bodies: Iterable[Any]) -> set[str]:
    """The recordings (`prompt`) the nodes of menu bodies name."""
    return {
        str(node["prompt"])
        for body in bodies
        if isinstance(body, dict)
        for node in (body.get("nodes") or {}).values()
        if isinstance(node, dict) and node.get("prompt")
    }


async def _unused_uploads(
    session: AsyncSession,
    versions: list[ConfigVersionRow],
    drafts: list[Any],
    before: datetime,
) -> list[str]:
    named = _named([row.body for row in versions]) | _named(drafts)
    old = await session.scalars(
        select(PromptUploadRow.prompt_id).where(PromptUploadRow.created_at < before)
    )
    unused = sorted(set(old) - named)
    if unused:
        await session.execute(
            delete(PromptUploadRow).where(PromptUploadRow.prompt_id.in_(unused))
        )
    return unused


async def _unheld_audio(
    session: AsyncSession, versions: list[ConfigVersionRow], before: datetime
) -> list[str]:
    held = {sha for row in versions for sha in (row.prompts or {}).values()}
    held |= set(await session.scalars(select(PromptUploadRow.sha256)))
    old = await session.scalars(select(AudioRow.sha256).where(AudioRow.created_at < before))
    unheld = sorted(set(old) - held)
    if unheld:
        await session.execute(delete(AudioRow).where(AudioRow.sha256.in_(unheld)))
    return unheld
