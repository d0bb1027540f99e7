"""Messages callers leave: each recording's name in Asterisk, whose it is and
how it ended. A row is written before the recording starts, so a call that
drops (or a controller that dies) mid-message still leaves it on record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.models import CALLER_MAX, Call, MessageRow, messages_table


async def start_message(
    session: AsyncSession,
    name: str,
    *,
    call_id: str,
    department: str,
    caller: str,
    at: datetime,
    source: str,
    category: str = "",
    status: str = "recording",
    seconds: float | None = None,
) -> None:
    await session.execute(
        insert(messages_table).values(
            name=name,
            call_id=call_id,
            department_code=department,
            caller=caller[:CALLER_MAX],
            started_at=at,
            seconds=seconds,
            status=status,
            source=source,
            category=category,
        )
    )


async def finish_message(
    session: AsyncSession, name: str, seconds: float | None, status: str
) -> MessageRow | None:
    """The recording ended (`saved`) or failed; None if no such message is known."""
    await session.execute(
        update(messages_table)
        .where(messages_table.c.name == name)
        .values(seconds=seconds, status=status)
    )
    return await session.get(MessageRow, name, populate_existing=True)


async def unfinished(session: AsyncSession, node: str | None = None) -> list[MessageRow]:
    """Messages still recording, as far as the records know; of the calls of
    `node` only, when given (in a cluster, each Asterisk keeps its own)."""
    query = select(MessageRow).where(MessageRow.status == "recording")
    if node is not None:
        query = query.join(Call, Call.id == MessageRow.call_id).where(Call.node == node)
    return list((await session.scalars(query)).all())


async def known(session: AsyncSession, names: Iterable[str]) -> set[str]:
    wanted = list(names)
    if not wanted:
        return set()
    query = select(MessageRow.name).where(MessageRow.name.in_(wanted))
    return set((await session.scalars(query)).all())


async def messages_of(session: AsyncSession, call_id: str) -> list[MessageRow]:
    query = select(MessageRow).where(MessageRow.call_id == call_id).order_by(MessageRow.started_at)
    return list((await session.scalars(query)).all())
