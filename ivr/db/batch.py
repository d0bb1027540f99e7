"""Writing a batch of ops in one transaction, and numbering each call's steps.

A batch becomes a handful of statements whatever its size: one multi-row
INSERT of new calls, one UPDATE per combination of changed columns, one
multi-row INSERT of steps. Inserts ignore rows that already exist, so a batch
retried after an ambiguous failure (the commit went through but the answer
was lost) does not fail forever.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from ivr.db.models import call_steps_table, calls_table
from ivr.db.ops import (
    CallAnswered,
    CallEnded,
    CallStarted,
    DepartmentReached,
    FlowStateSaved,
    Op,
    StepTaken,
)
from ivr.errors import ConfigError


class BatchWriter:
    """Turns ops into rows; remembers the last step number of each open call."""

    def __init__(self) -> None:
        self._last_seq: dict[str, int] = {}

    async def write(self, session: AsyncSession, ops: list[Op], now: datetime) -> list[Op]:
        """Write `ops` in the session's transaction; returns the ops that were dropped.

        An op is dropped only when its call is neither started in this batch
        nor stored: a bug in the caller, which must not block every later op.
        """
        started = {op.call_id for op in ops if isinstance(op, CallStarted)}
        await self._learn_calls(session, {op.call_id for op in ops})
        kept: list[Op] = []
        dropped: list[Op] = []
        for op in ops:
            if op.call_id in self._last_seq or op.call_id in started:
                kept.append(op)
            else:
                dropped.append(op)
        self._number_steps(kept)
        await self._insert_calls(session, [op for op in kept if isinstance(op, CallStarted)], now)
        await self._update_calls(session, kept, now)
        await self._insert_steps(session, [op for op in kept if isinstance(op, StepTaken)])
        return dropped

    def committed(self, ops: list[Op]) -> None:
        # Ended calls rarely get more steps; forget them to bound memory. A
        # late step reads the highest stored number again.
        for op in ops:
            if isinstance(op, CallEnded):
                self._last_seq.pop(op.call_id, None)

    async def _learn_calls(self, session: AsyncSession, call_ids: set[str]) -> None:
        """Load the highest stored step number of calls not seen before.

        This is what lets a controller that takes a call back after a crash
        continue its steps after the ones already stored.
        """
        unknown = call_ids - self._last_seq.keys()
        if not unknown:
            return
        steps = call_steps_table
        query = (
            select(calls_table.c.id, func.max(steps.c.seq))
            .select_from(calls_table.outerjoin(steps, steps.c.call_id == calls_table.c.id))
            .where(calls_table.c.id.in_(unknown))
            .group_by(calls_table.c.id)
        )
        for call_id, last in await session.execute(query):
            self._last_seq[call_id] = last or 0

    def _number_steps(self, ops: list[Op]) -> None:
        for op in ops:
            if isinstance(op, StepTaken) and op.seq is None:
                op.seq = self._last_seq.get(op.call_id, 0) + 1
                self._last_seq[op.call_id] = op.seq

    async def _insert_calls(
        self, session: AsyncSession, ops: list[CallStarted], now: datetime
    ) -> None:
        if not ops:
            return
        rows = [
            {
                "id": op.call_id,
                "sip_call_id": op.sip_call_id,
                "node": op.node,
                "caller": op.caller,
                "dialed": op.dialed,
                "department_code": op.department_code,
                "department_name": op.department_name,
                "route_rule": op.route_rule,
                "route_read": op.route_read,
                "started_at": op.started_at,
                "updated_at": now,
            }
            for op in ops
        ]
        await session.execute(_insert_new(session, calls_table, ["id"]), rows)

    async def _update_calls(self, session: AsyncSession, ops: list[Op], now: datetime) -> None:
        # Later ops win over earlier ones for the same column, as if applied in order.
        changes: dict[str, dict[str, Any]] = defaultdict(dict)
        for op in ops:
            if isinstance(op, CallAnswered):
                changes[op.call_id]["answered_at"] = op.at
            elif isinstance(op, FlowStateSaved):
                changes[op.call_id]["flow_state"] = op.state
            elif isinstance(op, DepartmentReached):
                changes[op.call_id].update(
                    department_code=op.department_code, department_name=op.department_name
                )
            elif isinstance(op, CallEnded):
                changes[op.call_id].update(ended_at=op.at, end_reason=op.reason)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for call_id, values in changes.items():
            values["updated_at"] = now
            row = {f"new_{column}": value for column, value in values.items()}
            row["call_id"] = call_id
            groups[tuple(sorted(values))].append(row)
        table = calls_table
        for columns, rows in groups.items():
            new_values = {
                name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns
            }
            statement = (
                update(table)
                .where(table.c.id == bindparam("call_id", type_=table.c.id.type))
                .values(new_values)
            )
            await session.execute(statement, rows)

    async def _insert_steps(self, session: AsyncSession, ops: list[StepTaken]) -> None:
        if not ops:
            return
        rows = [
            {
                "call_id": op.call_id,
                "seq": op.seq,
                "at": op.at,
                "kind": op.kind,
                "value": op.value,
                "detail": op.detail,
            }
            for op in ops
        ]
        await session.execute(_insert_new(session, call_steps_table, ["call_id", "seq"]), rows)


def _insert_new(session: AsyncSession, table: Table, key: list[str]) -> Insert:
    """INSERT that skips rows whose `key` is already stored."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=key)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=key)
    raise ConfigError(f"records need SQLite or PostgreSQL, not {dialect}", dialect=dialect)
