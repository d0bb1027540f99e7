"""Operators in the database: the one place their status changes.

Every change locks the operator's row first (see `_lock`), reads it,
applies the action through `ivr.desk.operators.apply` and writes the new status
with an event, in one transaction. Several
controllers can therefore move the same operator without losing a change,
and the status survives any controller's restart.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.models import (
    OPERATOR_ID_MAX,
    OPERATOR_NAME_MAX,
    OperatorDepartmentRow,
    OperatorEventRow,
    OperatorRow,
    operator_departments_table,
    operator_events_table,
    operators_table,
)
from ivr.desk.operators import Action, Operator, apply
from ivr.desk.presence import PhoneSeen, phone_json
from ivr.directory.routing import Directory
from ivr.errors import DataError, NotFound
from ivr.settings import HOTLINE_TZ

# An id or endpoint goes into Asterisk's configuration and into URLs.
_NAME = re.compile(rf"[A-Za-z0-9_-]{{1,{OPERATOR_ID_MAX}}}")
_CONTACT = re.compile(r"sips?:[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9.-]{1,128}(:[0-9]{1,5})?")


def sip_digest(endpoint: str, realm: str, password: str) -> str:
    """What Asterisk's `md5_cred` wants: the password is never stored."""
    return hashlib.md5(f"{endpoint}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class DayCounts:
    """What an operator did since a moment (the start of today)."""

    offered: int = 0
    answered: int = 0
    missed: int = 0
    talk_seconds: int = 0


def _check_new(
    operator_id: str, name: str, endpoint: str, departments: Sequence[str], directory: Directory
) -> None:
    for label, value in (("id", operator_id), ("endpoint", endpoint)):
        if not _NAME.fullmatch(value):
            raise DataError(
                f"operator {label} {value!r}: letters, digits, - and _ only, "
                f"at most {OPERATOR_ID_MAX}",
                field=label,
            )
    if not name.strip() or len(name) > OPERATOR_NAME_MAX:
        raise DataError(f"operator name must have 1 to {OPERATOR_NAME_MAX} characters")
    if not departments:
        raise DataError("an operator answers for at least one department")
    unknown = [code for code in departments if not directory.has(code)]
    if unknown:
        raise DataError(f"no such departments: {', '.join(unknown)}", departments=unknown)


async def add_operator(
    session: AsyncSession,
    directory: Directory,
    operator_id: str,
    *,
    name: str,
    endpoint: str,
    departments: Sequence[str],
    at: datetime,
    sip_contact: str | None = None,
    sip_md5: str | None = None,
) -> Operator:
    """A new operator, signed out. Refuses a taken id or endpoint."""
    _check_new(operator_id, name, endpoint, departments, directory)
    if sip_contact is not None and not _CONTACT.fullmatch(sip_contact):
        raise DataError(
            f"contact {sip_contact!r}: a SIP URI like sip:op1001@192.0.2.10:5060", field="contact"
        )
    taken = await session.scalar(
        select(OperatorRow.id).where(
            (OperatorRow.id == operator_id) | (OperatorRow.endpoint == endpoint)
        )
    )
    if taken is not None:
        raise DataError(f"operator {taken} already has that id or endpoint", operator=taken)
    await session.execute(
        insert(operators_table).values(
            id=operator_id,
            name=name.strip(),
            endpoint=endpoint,
            status="signed_out",
            status_since=at,
            pause_reason=None,
            sip_contact=sip_contact,
            sip_md5=sip_md5,
        )
    )
    await session.execute(
        insert(operator_departments_table),
        [
            {"operator_id": operator_id, "department_code": code}
            for code in sorted(set(departments))
        ],
    )
    return await get_operator(session, operator_id)


async def list_operators(
    session: AsyncSession, departments: Sequence[str] | None = None
) -> list[Operator]:
    """Every operator, or those of any of `departments`."""
    query = select(OperatorRow).order_by(OperatorRow.id)
    if departments is not None:
        members = select(OperatorDepartmentRow.operator_id).where(
            OperatorDepartmentRow.department_code.in_(departments)
        )
        query = query.where(OperatorRow.id.in_(members))
    return await _with_departments(session, (await session.scalars(query)).all())


async def staff_and_phones(session: AsyncSession) -> tuple[list[Operator], list[OperatorRow]]:
    """Every operator, and their rows (what Asterisk must know of their phones),
    from one read: the desk asks every tick."""
    rows = (await session.scalars(select(OperatorRow).order_by(OperatorRow.id))).all()
    return await _with_departments(session, rows), list(rows)


async def _with_departments(
    session: AsyncSession, rows: Sequence[OperatorRow]
) -> list[Operator]:
    theirs = await _departments(session, [row.id for row in rows])
    return [_operator(row, theirs.get(row.id, frozenset())) for row in rows]


def missing_operator(operator_id: str) -> NotFound:
    """What asking for `operator_id` says when there is no such operator, and
    also when the operator is outside the asker's reach."""
    return NotFound(f"no operator {operator_id!r}", operator=operator_id)


async def get_operator(session: AsyncSession, operator_id: str) -> Operator:
    row = await session.scalar(select(OperatorRow).where(OperatorRow.id == operator_id))
    if row is None:
        raise missing_operator(operator_id)
    departments = await _departments(session, [operator_id])
    return _operator(row, departments.get(operator_id, frozenset()))


async def act(
    session: AsyncSession,
    operator_id: str,
    action: Action,
    at: datetime,
    *,
    reason: str | None = None,
    call_id: str | None = None,
) -> Operator:
    """Move an operator by `action`, recording it; the caller commits."""
    await _lock(session, operator_id)
    before = await get_operator(session, operator_id)
    after = apply(before, action, at, reason)
    await session.execute(
        update(operators_table)
        .where(operators_table.c.id == operator_id)
        .values(status=after.status, status_since=after.since, pause_reason=after.pause_reason)
    )
    await session.execute(
        insert(operator_events_table).values(
            operator_id=operator_id,
            at=at,
            action=action,
            status=after.status,
            call_id=call_id,
            detail=reason,
        )
    )
    return after


async def _lock(session: AsyncSession, operator_id: str) -> None:
    """Hold the operator's row for this transaction before reading it.

    A write that changes nothing, as the transaction's first statement: on
    PostgreSQL it locks the row as `FOR UPDATE` would; on SQLite it takes the
    write lock (waiting out another writer) before any read, where a read
    first would leave a stale snapshot that can only fail to write."""
    table = operators_table
    await session.execute(
        update(table).where(table.c.id == operator_id).values(status=table.c.status)
    )


async def lock_department(session: AsyncSession, department: str) -> None:
    """Hold every operator of `department` for this transaction (see `_lock`),
    so that two controllers choosing for it take turns."""
    table = operators_table
    members = select(OperatorDepartmentRow.operator_id).where(
        OperatorDepartmentRow.department_code == department
    )
    await session.execute(
        update(table).where(table.c.id.in_(members)).values(status=table.c.status)
    )


async def counts_today(session: AsyncSession, now: datetime) -> dict[str, DayCounts]:
    """`counts_since` the start of the hotline's day (Beijing time) that `now` is in."""
    midnight = now.astimezone(HOTLINE_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return await counts_since(session, midnight)


def operator_json(
    operator: Operator, counts: DayCounts, phone: Mapping[str, PhoneSeen] | None = None
) -> dict[str, Any]:
    """An operator as the API and `ivr operators list --json` show it, with
    their phone as each Asterisk sees it (`phone`: by node)."""
    return {
        "id": operator.id,
        "name": operator.name,
        "endpoint": operator.endpoint,
        "departments": sorted(operator.departments),
        "status": operator.status,
        "since": operator.since.isoformat(),
        "pause_reason": operator.pause_reason,
        "today": asdict(counts),
        "phone": phone_json(phone or {}),
    }


async def counts_since(session: AsyncSession, since: datetime) -> dict[str, DayCounts]:
    """Offers, answers, misses and talk time per operator from `since` on."""
    query = (
        select(OperatorEventRow)
        .where(OperatorEventRow.at >= since)
        .order_by(OperatorEventRow.operator_id, OperatorEventRow.at, OperatorEventRow.id)
    )
    events = (await session.scalars(query)).all()
    counts: dict[str, DayCounts] = {}
    for operator_id in {event.operator_id for event in events}:
        counts[operator_id] = _count(e for e in events if e.operator_id == operator_id)
    return counts


def _count(events: Iterable[OperatorEventRow]) -> DayCounts:
    offered = answered = missed = talk = 0
    answered_at: datetime | None = None
    for event in events:
        if event.action == "offer":
            offered += 1
        elif event.action == "answer":
            answered += 1
            answered_at = event.at
        elif event.action == "no_answer":
            missed += 1
        elif event.action == "hang_up" and answered_at is not None:
            talk += round((event.at - answered_at).total_seconds())
            answered_at = None
    return DayCounts(offered, answered, missed, talk)


async def _departments(session: AsyncSession, ids: Sequence[str]) -> dict[str, frozenset[str]]:
    query = select(OperatorDepartmentRow).where(OperatorDepartmentRow.operator_id.in_(ids))
    found: dict[str, set[str]] = {}
    for row in (await session.scalars(query)).all():
        found.setdefault(row.operator_id, set()).add(row.department_code)
    return {operator_id: frozenset(codes) for operator_id, codes in found.items()}


def _operator(row: OperatorRow, departments: frozenset[str]) -> Operator:
    return Operator(
        id=row.id,
        name=row.name,
        endpoint=row.endpoint,
        departments=departments,
        status=row.status,  # type: ignore[arg-type]  # written only from Status values
        since=row.status_since,
        pause_reason=row.pause_reason,
    )
