"""Registered cases in the database: rows, their history, surveys.

Reads and writes only; what a change means is `ivr.cases.rules`, and the
transaction around it is `ivr.cases.registry.Cases`. A change first holds the case's
row (`lock`), so two people moving one case take turns instead of one
overwriting the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ivr.db.models import CaseEventRow, CaseRow, OperatorRow, SurveyRow, cases_table

# Far more than a screen or a report page holds; a query never returns more.
MAX_LIMIT = 1000


def _with_events() -> Select[CaseRow]:
    return (
        select(CaseRow)
        .options(selectinload(CaseRow.events))
        .execution_options(populate_existing=True)
    )


async def lock(
    session: AsyncSession, *, number: str = "", source: str = "", case_id: int | None = None
) -> None:
    """Hold the case's row (by number, source or id) for this transaction
    before reading it.

    A write that changes nothing, as the transaction's first statement: on
    PostgreSQL it locks the row as `FOR UPDATE` would; on SQLite it takes the
    write lock before any read (see `ivr.desk.operator_store._lock`)."""
    if case_id is not None:
        which = cases_table.c.id == case_id
    elif number:
        which = cases_table.c.number == number
    else:
        which = cases_table.c.source == source
    await session.execute(update(cases_table).where(which).values(status=cases_table.c.status))


async def by_number(session: AsyncSession, number: str) -> CaseRow | None:
    return await session.scalar(_with_events().where(CaseRow.number == number))


async def by_source(session: AsyncSession, source: str) -> CaseRow | None:
    return await session.scalar(_with_events().where(CaseRow.source == source))


async def by_id(session: AsyncSession, case_id: int) -> CaseRow:
    """The case with its events as they are now (after this session's changes)."""
    await session.flush()
    row = await session.scalar(_with_events().where(CaseRow.id == case_id))
    if row is None:
        raise LookupError(f"case id {case_id} vanished inside its own transaction")
    return row


async def of_call(session: AsyncSession, call_id: str) -> Sequence[CaseRow]:
    return (await session.scalars(select(CaseRow).where(CaseRow.call_id == call_id))).all()


async def insert(
    session: AsyncSession, number_for: Callable[[int], str], **fields: Any
) -> CaseRow:
    """A new case; its number comes from its id, known only once the row is in."""
    row = CaseRow(number=f"new-{uuid4().hex}"[:32], **fields)
    session.add(row)
    await session.flush()
    row.number = number_for(row.id)
    await session.flush()
    return row


def add_event(
    session: AsyncSession,
    row: CaseRow,
    at: datetime,
    action: str,
    actor: str,
    *,
    from_status: str | None,
    note: str | None = None,
    from_department: str | None = None,
) -> None:
    """One line of the case's history, about the state `row` is in now."""
    session.add(
        CaseEventRow(
            case_id=row.id,
            at=at,
            action=action,
            from_status=from_status,
            to_status=row.status,
            department_code=row.department_code,
            from_department=from_department,
            actor=actor,
            note=note or None,
        )
    )


async def listing(
    session: AsyncSession,
    departments: Sequence[str] | None,
    statuses: Sequence[str] | None,
    limit: int,
) -> Sequence[CaseRow]:
    """Newest first; `departments` None: every department."""
    query = _with_events()
    if departments is not None:
        query = query.where(CaseRow.department_code.in_(departments))
    if statuses is not None:
        query = query.where(CaseRow.status.in_(statuses))
    query = query.order_by(CaseRow.created_at.desc(), CaseRow.id.desc())
    return (await session.scalars(query.limit(min(limit, MAX_LIMIT)))).all()


async def of_caller(
    session: AsyncSession, caller: str, departments: Sequence[str], limit: int
) -> Sequence[CaseRow]:
    """The calling number's cases at `departments`, newest first (no history)."""
    query = (
        select(CaseRow)
        .where(CaseRow.caller == caller, CaseRow.department_code.in_(departments))
        .order_by(CaseRow.created_at.desc(), CaseRow.id.desc())
    )
    return (await session.scalars(query.limit(min(limit, MAX_LIMIT)))).all()


async def late(
    session: AsyncSession,
    departments: Sequence[str] | None,
    open_statuses: Sequence[str],
    now: datetime,
    *,
    not_department: str,
    limit: int = MAX_LIMIT,
) -> Sequence[CaseRow]:
    """Open cases past due at `departments` (None: all but `not_department`),
    the latest first."""
    query = _with_events().where(CaseRow.status.in_(open_statuses), CaseRow.due_at < now)
    if departments is not None:
        query = query.where(CaseRow.department_code.in_(departments))
    query = query.where(CaseRow.department_code != not_department)
    query = query.order_by(CaseRow.due_at, CaseRow.id)
    return (await session.scalars(query.limit(min(limit, MAX_LIMIT)))).all()


async def late_counts(
    session: AsyncSession, open_statuses: Sequence[str], now: datetime
) -> dict[str, int]:
    """How many open cases are past due, by department (every department)."""
    query = (
        select(CaseRow.department_code, func.count())
        .where(CaseRow.status.in_(open_statuses), CaseRow.due_at < now)
        .group_by(CaseRow.department_code)
    )
    return {code: int(count) for code, count in (await session.execute(query)).all()}


async def operator_exists(session: AsyncSession, operator_id: str) -> bool:
    found = await session.scalar(select(OperatorRow.id).where(OperatorRow.id == operator_id))
    return found is not None


async def save_survey(
    session: AsyncSession,
    call_id: str,
    *,
    department: str,
    kind: str,
    score: int,
    operator_id: str | None,
    at: datetime,
) -> None:
    """The call's answer; a second answer for the same call replaces the first."""
    row = await session.get(SurveyRow, call_id, with_for_update=True)
    if row is None:
        session.add(
            SurveyRow(
                call_id=call_id,
                department_code=department,
                kind=kind,
                score=score,
                operator_id=operator_id,
                at=at,
            )
        )
    else:
        row.department_code, row.kind, row.score = department, kind, score
        row.operator_id, row.at = operator_id, at
    await session.flush()
