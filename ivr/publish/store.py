"""Published versions and drafts of menus and working hours, and prompt
audio made outside a build, in the database.

The newest version of a (kind, scope) is the one in force. Publishing adds a
version and restoring adds a copy of an old one, each a single insert: a
controller reading at any moment sees the old version or the new, never half
of one. The highest version id is the configuration's generation; controllers
compare it to what they loaded to know there is something new.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.models import AudioRow, ConfigDraftRow, ConfigVersionRow, PromptUploadRow
from ivr.errors import Conflict

MENU, HOURS = "menu", "hours"


async def generation(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(ConfigVersionRow.id))) or 0)


async def in_force(
    session: AsyncSession, kind: str, generation: int | None = None
) -> dict[str, ConfigVersionRow]:
    """The version in force of every scope of `kind`, by scope: now, or when
    the configuration's generation was `generation` (versions up to that id)."""
    upto = ConfigVersionRow.id <= generation if generation is not None else true()
    newest = (
        select(ConfigVersionRow.scope, func.max(ConfigVersionRow.number).label("number"))
        .where(ConfigVersionRow.kind == kind, upto)
        .group_by(ConfigVersionRow.scope)
        .subquery()
    )
    rows = await session.scalars(
        select(ConfigVersionRow)
        .join(
            newest,
            (ConfigVersionRow.scope == newest.c.scope)
            & (ConfigVersionRow.number == newest.c.number),
        )
        .where(ConfigVersionRow.kind == kind)
    )
    return {row.scope: row for row in rows}


async def current(session: AsyncSession, kind: str, scope: str) -> ConfigVersionRow | None:
    return await session.scalar(
        select(ConfigVersionRow)
        .where(ConfigVersionRow.kind == kind, ConfigVersionRow.scope == scope)
        .order_by(ConfigVersionRow.number.desc())
        .limit(1)
    )


async def versions(session: AsyncSession, kind: str, scope: str) -> list[ConfigVersionRow]:
    rows = await session.scalars(
        select(ConfigVersionRow)
        .where(ConfigVersionRow.kind == kind, ConfigVersionRow.scope == scope)
        .order_by(ConfigVersionRow.number.desc())
    )
    return list(rows.all())


async def version(
    session: AsyncSession, kind: str, scope: str, number: int
) -> ConfigVersionRow | None:
    return await session.scalar(
        select(ConfigVersionRow).where(
            ConfigVersionRow.kind == kind,
            ConfigVersionRow.scope == scope,
            ConfigVersionRow.number == number,
        )
    )


async def publish(
    session: AsyncSession,
    *,
    kind: str,
    scope: str,
    body: Any,
    prompts: dict[str, str],
    by: str,
    at: datetime,
    note: str = "",
    restored_from: int | None = None,
    number: int | None = None,
) -> ConfigVersionRow:
    """Add the next version of (kind, scope), or version `number`. Two
    publishing at once: the second gets a Conflict and nothing of it is
    written."""
    if number is None:
        latest = await current(session, kind, scope)
        number = (latest.number if latest is not None else 0) + 1
    row = ConfigVersionRow(
        kind=kind,
        scope=scope,
        number=number,
        body=body,
        prompts=prompts,
        published_by=by,
        published_at=at,
        note=note,
        restored_from=restored_from,
    )
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        raise Conflict(
            f"someone else published {scope}'s {kind} at the same moment; look again and retry",
            scope=scope,
        ) from None
    return row


# Drafts -----------------------------------------------------------------------


async def draft(session: AsyncSession, kind: str, scope: str) -> ConfigDraftRow | None:
    return await session.get(ConfigDraftRow, (kind, scope))


async def save_draft(
    session: AsyncSession,
    *,
    kind: str,
    scope: str,
    body: Any,
    base_number: int | None,
    by: str,
    at: datetime,
) -> ConfigDraftRow:
    row = await session.get(ConfigDraftRow, (kind, scope), with_for_update=True)
    if row is None:
        row = ConfigDraftRow(kind=kind, scope=scope)
        session.add(row)
    row.body = body
    row.base_number = base_number
    row.updated_by = by
    row.updated_at = at
    await session.flush()
    return row


async def drop_draft(session: AsyncSession, kind: str, scope: str) -> bool:
    row = await session.get(ConfigDraftRow, (kind, scope))
    if row is None:
        return False
    await session.delete(row)
    return True


# Audio ------------------------------------------------------------------------


async def keep_audio(
    session: AsyncSession, sha256: str, wav: bytes, duration_ms: int, at: datetime
) -> None:
    if await session.get(AudioRow, sha256) is None:
        session.add(AudioRow(sha256=sha256, wav=wav, duration_ms=duration_ms, created_at=at))
        await session.flush()


async def audio(session: AsyncSession, sha256s: list[str]) -> dict[str, AudioRow]:
    if not sha256s:
        return {}
    rows = await session.scalars(select(AudioRow).where(AudioRow.sha256.in_(sha256s)))
    return {row.sha256: row for row in rows}


async def add_upload(session: AsyncSession, row: PromptUploadRow) -> None:
    session.add(row)
    await session.flush()


async def uploads(
    session: AsyncSession, prompt_ids: list[str] | None = None
) -> list[PromptUploadRow]:
    query = select(PromptUploadRow)
    if prompt_ids is not None:
        query = query.where(PromptUploadRow.prompt_id.in_(prompt_ids))
    return list((await session.scalars(query)).all())
