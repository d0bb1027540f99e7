"""The operator queue in the database: places in line, offers, outcomes.

Theory of operation: every controller writes its callers' places here and
serves a department only through `claim`, which in one transaction locks
the department's operators (see `ivr.desk.operator_store.lock_department`), finds
the department's oldest waiting caller and, if that caller is this node's,
moves the longest-idle available operator to ringing. Two controllers can
therefore never ring the same operator, and callers are served in the order
they joined whichever controller holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.models import CALLER_MAX, QueueEntryRow, queue_entries_table
from ivr.desk.operator_store import act, list_operators, lock_department
from ivr.desk.operators import Operator, choose

# A caller is in line while in one of these; a callback keeps its place too.
IN_LINE = ("waiting", "ringing", "callback", "calling_back")
WAITING = ("waiting",)
# On the phone in line: waiting, or an operator being rung for them.
ON_HOLD = ("waiting", "ringing")


@dataclass(frozen=True, slots=True)
class Claim:
    """The department's oldest caller gets an operator (`operator`), or, for
    a callback whose turn came while an operator is free, a call back to
    `caller` (`operator` None)."""

    call_id: str
    operator: Operator | None
    caller: str = ""
    attempt: int = 0


async def join(
    session: AsyncSession, call_id: str, department: str, node: str, caller: str, at: datetime
) -> int:
    """Put a call in its department's line; its position (1: next)."""
    ahead = await session.scalar(
        select(func.count())
        .select_from(QueueEntryRow)
        .where(
            QueueEntryRow.department_code == department,
            QueueEntryRow.status.in_(IN_LINE),
            QueueEntryRow.entered_at <= at,
        )
    )
    position = int(ahead or 0) + 1
    await session.execute(
        insert(queue_entries_table).values(
            call_id=call_id,
            department_code=department,
            node=node,
            caller=caller[:CALLER_MAX],
            entered_at=at,
            position=position,
            status="waiting",
            offers=[],
            attempts=0,
        )
    )
    return position


async def positions(session: AsyncSession, departments: Sequence[str]) -> dict[str, int]:
    """Each waiting call's position in its department's line, by call id."""
    rows = (
        await session.execute(
            select(QueueEntryRow.call_id, QueueEntryRow.department_code)
            .where(
                QueueEntryRow.department_code.in_(departments),
                QueueEntryRow.status.in_(IN_LINE),
            )
            .order_by(QueueEntryRow.entered_at, QueueEntryRow.call_id)
        )
    ).all()
    seen: dict[str, int] = {}
    found: dict[str, int] = {}
    for call_id, department in rows:
        seen[department] = seen.get(department, 0) + 1
        found[call_id] = seen[department]
    return found


@dataclass(frozen=True, slots=True)
class Overflow:
    """After `after` in line, the `parent` department's operators may answer too."""

    parent: str
    after: timedelta


async def claim(
    session: AsyncSession,
    department: str,
    node: str,
    at: datetime,
    wrap_up: timedelta,
    overflow: Overflow | None = None,
    *,
    unreachable: frozenset[str] = frozenset(),
) -> Claim | None:
    """Ring the longest-idle operator for the department's oldest caller, if
    that caller is this node's to serve; the caller commits. Operators in
    `unreachable` (their phone is not registered with our Asterisk) are
    passed over."""
    await lock_department(session, department)
    if overflow is not None:
        await lock_department(session, overflow.parent)
    oldest = await _oldest(session, department, at)
    if oldest is None or oldest.node != node:
        return None
    serving = [department]
    if overflow is not None and at - oldest.entered_at >= overflow.after:
        serving.append(overflow.parent)
    operators = [op for op in await list_operators(session, serving) if op.id not in unreachable]
    chosen = _pick(operators, serving, at, wrap_up, oldest.offers)
    if chosen is None:
        return None
    if oldest.status == "callback":
        # Its turn, and someone free: call the caller; the operator is
        # chosen once they answer, like any caller's.
        attempt = oldest.attempts + 1
        await _update(session, oldest.call_id, status="calling_back", attempts=attempt)
        return Claim(oldest.call_id, None, oldest.caller, attempt)
    stored = next(op for op in operators if op.id == chosen.id)
    if stored.status == "wrap_up":  # over: `choose` saw them as available
        await act(session, chosen.id, "resume", at, call_id=oldest.call_id)
    operator = await act(session, chosen.id, "offer", at, call_id=oldest.call_id)
    offers = [*oldest.offers, {"operator": operator.id, "at": at.isoformat(), "outcome": None}]
    await _update(session, oldest.call_id, status="ringing", offers=offers)
    return Claim(oldest.call_id, operator)


async def _oldest(session: AsyncSession, department: str, at: datetime) -> QueueEntryRow | None:
    """The department's oldest caller: waiting, or a callback now due."""
    due_callback = (QueueEntryRow.status == "callback") & (QueueEntryRow.next_attempt_at <= at)
    return await session.scalar(
        select(QueueEntryRow)
        .where(
            QueueEntryRow.department_code == department,
            (QueueEntryRow.status == "waiting") | due_callback,
        )
        .order_by(QueueEntryRow.entered_at, QueueEntryRow.call_id)
        .limit(1)
    )


def _pick(
    operators: Sequence[Operator],
    serving: Sequence[str],
    at: datetime,
    wrap_up: timedelta,
    offers: Sequence[dict[str, Any]],
) -> Operator | None:
    """Whom to ring: the longest idle of the first department served that has
    someone free, passing over those who already missed this caller."""
    missed = frozenset(offer["operator"] for offer in offers if offer.get("outcome") == "no_answer")
    for code in serving:
        chosen = choose(operators, code, at, wrap_up, skip=missed)
        if chosen is None and missed:
            # Everyone free already missed this caller: ring them again, as
            # a person at a switchboard would, rather than let the caller wait.
            chosen = choose(operators, code, at, wrap_up)
        if chosen is not None:
            return chosen
    return None


async def offer_ended(
    session: AsyncSession, call_id: str, operator_id: str, outcome: str, at: datetime
) -> None:
    """Close the call's last offer with `outcome` and move the entry on."""
    entry = await get_entry(session, call_id)
    if entry is None:
        return
    offers = [dict(offer) for offer in entry.offers]
    if offers and offers[-1]["operator"] == operator_id and offers[-1].get("outcome") is None:
        offers[-1]["outcome"] = outcome
    values: dict[str, Any] = {"offers": offers}
    if outcome == "answered":
        values |= {"status": "connected", "operator_id": operator_id, "answered_at": at}
    elif entry.status == "ringing":
        values["status"] = "waiting"
    await _update(session, call_id, **values)


async def leave(session: AsyncSession, call_id: str, outcome: str, at: datetime) -> None:
    """The call is out of line: connected calls end `done`, others as `outcome`."""
    entry = await get_entry(session, call_id)
    if entry is None or entry.ended_at is not None:
        return
    if entry.status in ("callback", "calling_back"):
        return  # the caller hung up after asking: the place is the callback's
    status = "done" if entry.status == "connected" else outcome
    await _update(session, call_id, status=status, ended_at=at)


async def take_over(session: AsyncSession, call_id: str, node: str) -> None:
    """This node serves the call now (it took the call back after a restart)."""
    entry = await get_entry(session, call_id)
    status = "waiting" if entry is not None and entry.status == "ringing" else None
    values: dict[str, Any] = {"node": node}
    if status:
        values["status"] = status
    await _update(session, call_id, **values)


async def back_in_line(session: AsyncSession, call_id: str) -> None:
    """An answered call whose operator left before the talk: waiting again, same place."""
    await _update(session, call_id, status="waiting", operator_id=None, answered_at=None)


async def request_callback(session: AsyncSession, call_id: str, at: datetime) -> None:
    await _update(session, call_id, status="callback", next_attempt_at=at)


async def callback_departments(session: AsyncSession, node: str, at: datetime) -> list[str]:
    """Departments with a callback of this node due."""
    query = (
        select(QueueEntryRow.department_code)
        .where(
            QueueEntryRow.node == node,
            QueueEntryRow.status == "callback",
            QueueEntryRow.next_attempt_at <= at,
        )
        .distinct()
    )
    return list((await session.scalars(query)).all())


async def retry_callbacks(session: AsyncSession, node: str, at: datetime) -> None:
    await session.execute(
        update(queue_entries_table)
        .where(
            queue_entries_table.c.node == node,
            queue_entries_table.c.status == "calling_back",
        )
        .values(status="callback", next_attempt_at=at)
    )


async def callback_answered(session: AsyncSession, call_id: str, node: str) -> None:
    """The caller answered our callback: in line again, at the place they had."""
    await _update(session, call_id, status="waiting", node=node)


async def callback_unanswered(
    session: AsyncSession, call_id: str, at: datetime, attempts: int, retry: timedelta
) -> str:
    """Try again later, or give up after `attempts`; the entry's new status."""
    entry = await get_entry(session, call_id)
    if entry is None:
        return "gone"
    if entry.attempts < attempts:
        await _update(session, call_id, status="callback", next_attempt_at=at + retry)
        return "callback"
    await _update(session, call_id, status="callback_failed", ended_at=at)
    return "callback_failed"


async def open_entries(session: AsyncSession, node: str) -> list[QueueEntryRow]:
    """This node's places still in line or talking (not callbacks: no channel)."""
    query = select(QueueEntryRow).where(
        QueueEntryRow.node == node,
        QueueEntryRow.status.in_(("waiting", "ringing", "connected")),
    )
    return list((await session.scalars(query)).all())


async def get_entry(session: AsyncSession, call_id: str) -> QueueEntryRow | None:
    return await session.scalar(select(QueueEntryRow).where(QueueEntryRow.call_id == call_id))


async def in_line(session: AsyncSession) -> list[QueueEntryRow]:
    """Everyone in line, every department, oldest first."""
    query = (
        select(QueueEntryRow)
        .where(QueueEntryRow.status.in_(IN_LINE))
        .order_by(QueueEntryRow.department_code, QueueEntryRow.entered_at, QueueEntryRow.call_id)
    )
    return list((await session.scalars(query)).all())


async def on_hold(session: AsyncSession) -> dict[str, tuple[int, datetime]]:
    """Callers on the phone in line, by department: how many, and when the
    first of them joined (for the metrics, read at every scrape)."""
    query = (
        select(
            QueueEntryRow.department_code, func.count(), func.min(QueueEntryRow.entered_at)
        )
        .where(QueueEntryRow.status.in_(ON_HOLD))
        .group_by(QueueEntryRow.department_code)
    )
    rows = (await session.execute(query)).all()
    return {code: (int(count), first) for code, count, first in rows}


def entry_json(entry: QueueEntryRow, now: datetime) -> dict[str, Any]:
    """A place in line as the API shows it; `wait_seconds` until answered or left."""
    until = entry.answered_at or entry.ended_at or now
    talk = None
    if entry.answered_at is not None:
        talk = round(((entry.ended_at or now) - entry.answered_at).total_seconds(), 1)
    return {
        "call_id": entry.call_id,
        "department": entry.department_code,
        "caller": entry.caller,
        "entered_at": entry.entered_at.isoformat(),
        "position_at_entry": entry.position,
        "status": entry.status,
        "wait_seconds": round((until - entry.entered_at).total_seconds(), 1),
        "offered": [offer["operator"] for offer in entry.offers],
        "offers": entry.offers,
        "answered_by": entry.operator_id,
        "talk_seconds": talk,
    }


async def _update(session: AsyncSession, call_id: str, **values: Any) -> None:
    await session.execute(
        update(queue_entries_table)
        .where(queue_entries_table.c.call_id == call_id)
        .values(**values)
    )
