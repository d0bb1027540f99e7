"""Writing a batch of ops in one transaction, and numbering each call's steps.

A batch becomes at most four statements whatever its size: a SELECT of step
numbers (only for calls this controller has not seen: one taken back after a
crash), one multi-row INSERT of the calls started in the batch (with what else
the batch says about them folded in), one UPDATE of the other calls (a
parameter left NULL keeps its column), one multi-row INSERT of steps. They run
in one go on the driver's connection (`write`, through `run_sync`), so a batch
costs one hand-over to the database, not one per statement. Inserts ignore
rows that already exist, so a batch retried after an ambiguous failure (the
commit went through but the answer was lost) does not fail forever.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Connection, Dialect, Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.types import TypeDecorator

from ivr.db.models import PAGE_STEP, call_steps_table, calls_table
from ivr.db.ops import (
    CallAnswered,
    CallEnded,
    CallStarted,
    DepartmentReached,
    FlowStateSaved,
    Op,
    PromptsPlayed,
    StepTaken,
)
from ivr.errors import ConfigError

# The columns of `calls` an op after the start may change.
CHANGING = ("answered_at", "flow_state", "department_code", "department_name", "ended_at",
            "end_reason")


class BatchWriter:
    """Turns ops into rows; remembers the last step number of each open call."""

    def __init__(self) -> None:
        self._last_seq: dict[str, int] = {}
        self._statements: dict[str, tuple[Insert, Insert, Update]] = {}

    def write(self, connection: Connection, ops: list[Op], now: datetime) -> list[Op]:
        """Write `ops` in the connection's transaction; returns the ops that were dropped.

        An op is dropped only when its call is neither started in this batch
        nor stored: a bug in the caller, which must not block every later op.
        A call started in the batch is new (its id is its channel's), so its
        steps count from 1 without asking the database.
        """
        started = {op.call_id: op for op in ops if isinstance(op, CallStarted)}
        self._learn_calls(connection, {op.call_id for op in ops} - started.keys())
        kept: list[Op] = []
        dropped: list[Op] = []
        for op in ops:
            if op.call_id in self._last_seq or op.call_id in started:
                kept.append(op)
            else:
                dropped.append(op)
        self._number_steps(kept)
        insert_calls, insert_steps, update_calls = self._statements_for(connection)
        changes = _changes(kept)
        new_rows = [_new_call(op, changes.pop(op.call_id, {}), now) for op in started.values()]
        if new_rows:
            connection.execute(insert_calls, new_rows)
        if changes:
            connection.execute(update_calls, [_update_row(call_id, values, now)
                                              for call_id, values in changes.items()])
        steps: list[dict[str, Any]] = []
        for op in kept:
            if isinstance(op, StepTaken):
                steps.append(_step_row(op))
            elif isinstance(op, PromptsPlayed) and op.prompts:
                steps.append(_page_row(op))
        if steps:
            connection.execute(insert_steps, steps)
        return dropped

    def committed(self, ops: list[Op]) -> None:
        # Ended calls rarely get more steps; forget them to bound memory. A
        # late step reads the highest stored number again.
        for op in ops:
            if isinstance(op, CallEnded):
                self._last_seq.pop(op.call_id, None)

    def _learn_calls(self, connection: Connection, call_ids: set[str]) -> None:
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
        for call_id, last in connection.execute(query):
            self._last_seq[call_id] = last or 0

    def _number_steps(self, ops: list[Op]) -> None:
        for op in ops:
            if isinstance(op, StepTaken | PromptsPlayed) and op.seq is None:
                op.seq = self._last_seq.get(op.call_id, 0) + 1
                count = len(op.prompts) if isinstance(op, PromptsPlayed) else 1
                self._last_seq[op.call_id] = op.seq + count - 1

    def _statements_for(self, connection: Connection) -> tuple[Insert, Insert, Update]:
        dialect = connection.dialect.name
        made = self._statements.get(dialect)
        if made is None:
            made = self._statements[dialect] = (
                # A call with no flow state yet keeps SQL NULL, not JSON 'null'.
                insert_new(dialect, calls_table, ["id"]).values(
                    flow_state=bindparam("flow_state", type_=_JSON_OR_NULL)
                ),
                insert_new(dialect, call_steps_table, ["call_id", "seq"]),
                _update_changed(calls_table),
            )
        return made


class _JsonText(TypeDecorator[str]):
    """A JSON column's value given as JSON text (`ops.json_text`): sent as it is."""

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


# NULL stays SQL NULL (not JSON 'null'), so COALESCE keeps the column.
_JSON_OR_NULL = _JsonText()


def _changes(ops: list[Op]) -> dict[str, dict[str, Any]]:
    """Each call's changed columns; later ops win, as if applied in order."""
    changes: dict[str, dict[str, Any]] = {}
    for op in ops:
        if isinstance(op, CallAnswered):
            changes.setdefault(op.call_id, {})["answered_at"] = op.at
        elif isinstance(op, FlowStateSaved):
            changes.setdefault(op.call_id, {})["flow_state"] = op.state
        elif isinstance(op, DepartmentReached):
            changes.setdefault(op.call_id, {}).update(
                department_code=op.department_code, department_name=op.department_name
            )
        elif isinstance(op, CallEnded):
            changes.setdefault(op.call_id, {}).update(ended_at=op.at, end_reason=op.reason)
    return changes


def _new_call(op: CallStarted, changed: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {
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
        "answered_at": None,
        "flow_state": None,
        "ended_at": None,
        "end_reason": None,
        "updated_at": now,
    }
    row.update(changed)
    return row


def _update_row(call_id: str, changed: dict[str, Any], now: datetime) -> dict[str, Any]:
    row = {f"new_{column}": changed.get(column) for column in CHANGING}
    row["call_id"] = call_id
    row["now"] = now
    return row


def _step_row(op: StepTaken) -> dict[str, Any]:
    assert op.seq is not None
    return _row(op.call_id, op.seq, op.at, op.kind, op.value, op.detail)


def _page_row(op: PromptsPlayed) -> dict[str, Any]:
    """One row for a playback's prompts, numbered with the last of their steps
    (so the highest stored number stays the call's last step)."""
    assert op.seq is not None
    last = op.seq + len(op.prompts) - 1
    return _row(op.call_id, last, op.at, PAGE_STEP, str(len(op.prompts)), " ".join(op.prompts))


def _row(
    call_id: str, seq: int, at: datetime, kind: str, value: str, detail: str | None
) -> dict[str, Any]:
    """A `call_steps` row."""
    return {"call_id": call_id, "seq": seq, "at": at, "kind": kind, "value": value,
            "detail": detail}


def _update_changed(table: Table) -> Update:
    """One UPDATE for every changed call: a NULL parameter keeps its column."""
    values: dict[str, Any] = {}
    for name in CHANGING:
        kind = _JSON_OR_NULL if name == "flow_state" else table.c[name].type
        values[name] = func.coalesce(bindparam(f"new_{name}", type_=kind), table.c[name])
    values["updated_at"] = bindparam("now", type_=table.c.updated_at.type)
    return (
        update(table)
        .where(table.c.id == bindparam("call_id", type_=table.c.id.type))
        .values(values)
    )


def dialect_insert(dialect: str, table: Table) -> Any:
    """INSERT into `table` in the database's own dialect, which knows ON
    CONFLICT (SQLite's and PostgreSQL's are spelt the same in SQLAlchemy)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ConfigError(f"records need SQLite or PostgreSQL, not {dialect}", dialect=dialect)


def insert_new(dialect: str, table: Table, key: list[str]) -> Insert:
    """INSERT that skips rows whose `key` is already stored."""
    statement: Insert = dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=key)
    return statement


def upsert(dialect: str, table: Table, key: list[str], changing: list[str]) -> Insert:
    """INSERT that, for a row whose `key` is already stored, sets `changing` instead."""
    insert = dialect_insert(dialect, table)
    statement: Insert = insert.on_conflict_do_update(
        index_elements=key, set_={name: insert.excluded[name] for name in changing}
    )
    return statement
