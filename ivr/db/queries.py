"""Reading call records back, as pydantic views the HTTP API returns as they are."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator
from sqlalchemy import Executable, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ivr.db.models import PAGE_STEP, Call
from ivr.errors import DataError, NotFound


class StepView(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    seq: int
    at: datetime
    kind: str
    value: str
    detail: str | None


class QueueView(BaseModel):
    """A call's time in an operator queue: who was rung, who answered, how long."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    department_code: str
    entered_at: datetime
    position: int  # at entry; 1 is next
    status: str
    offers: list[dict[str, Any]]
    operator_id: str | None  # who answered
    answered_at: datetime | None
    ended_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def offered(self) -> list[str]:
        return [str(offer["operator"]) for offer in self.offers]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def wait_seconds(self) -> float | None:
        """From joining to an operator's answer, or to leaving the line."""
        until = self.answered_at or self.ended_at
        return None if until is None else round((until - self.entered_at).total_seconds(), 1)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def talk_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return round((self.ended_at - self.answered_at).total_seconds(), 1)


class CallView(BaseModel):
    """One call and its steps in order; `model_dump(mode="json")` gives ISO datetimes."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: str
    sip_call_id: str | None
    node: str
    caller: str
    dialed: str
    department_code: str
    department_name: str
    route_rule: str
    route_read: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    flow_state: dict[str, Any] | None
    updated_at: datetime
    steps: list[StepView]
    queue: QueueView | None = Field(validation_alias="queue_entry")

    @field_validator("steps", mode="before")
    @classmethod
    def _a_step_per_prompt(cls, rows: Any) -> Any:
        """A stored playback (`PAGE_STEP`) is a "prompt" step per prompt."""
        if not isinstance(rows, list):
            return rows
        return [step for row in rows for step in _as_steps(row)]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def departments(self) -> list[str]:
        """Every department the call passed through, in order (codes)."""
        return [step.value for step in self.steps if step.kind == "department"]


def _as_steps(row: Any) -> list[Any]:
    """A stored step row as the steps it stands for: itself, or a playback's
    prompts, numbered up to the row's own number."""
    if getattr(row, "kind", None) != PAGE_STEP:
        return [row]
    prompts = (row.detail or "").split()
    first = row.seq - len(prompts) + 1
    return [
        StepView(seq=first + n, at=row.at, kind="prompt", value=prompt, detail=None)
        for n, prompt in enumerate(prompts)
    ]


# Steps come in a second query for all the calls at once, ordered by the
# relationship's `order_by`.
_WITH_STEPS = (selectinload(Call.steps), selectinload(Call.queue_entry))


async def _views(session: AsyncSession, query: Executable) -> list[CallView]:
    calls = (await session.scalars(query)).all()
    return [CallView.model_validate(call) for call in calls]


async def recent_calls(
    session: AsyncSession, limit: int, departments: list[str] | None = None
) -> list[CallView]:
    """The `limit` most recently started calls, newest first; only those at
    `departments` (the department a call reached), if given."""
    if limit < 1:
        raise DataError("limit must be at least 1", limit=limit)
    query = (
        select(Call)
        .options(*_WITH_STEPS)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
    )
    if departments is not None:
        query = query.where(Call.department_code.in_(departments))
    return await _views(session, query)


def missing_call(call_id: str) -> NotFound:
    """What asking for `call_id` says when there is no such call, and also when
    the call is outside the asker's reach."""
    return NotFound(f"no call with id {call_id!r}", call_id=call_id)


async def get_call(session: AsyncSession, call_id: str) -> CallView | None:
    views = await _views(session, select(Call).options(*_WITH_STEPS).where(Call.id == call_id))
    return views[0] if views else None


@dataclass(frozen=True)
class SavedCall:
    """What taking a call back needs of its record: whether it ended, and
    its flow as saved."""

    id: str
    caller: str
    dialed: str
    route_read: str
    ended: bool
    flow_state: dict[str, Any] | None


async def saved_calls(session: AsyncSession, call_ids: Collection[str]) -> dict[str, SavedCall]:
    """The records of `call_ids` that exist, in one query (no steps): a
    takeover reads dozens at once, and each call waits for it."""
    if not call_ids:
        return {}
    rows = await session.execute(
        select(
            Call.id, Call.caller, Call.dialed, Call.route_read, Call.ended_at, Call.flow_state
        ).where(Call.id.in_(list(call_ids)))
    )
    return {
        row.id: SavedCall(
            row.id, row.caller, row.dialed, row.route_read, row.ended_at is not None,
            row.flow_state,
        )
        for row in rows
    }


async def find_by_sip_call_id(session: AsyncSession, sip_call_id: str) -> CallView | None:
    """The latest call with this SIP Call-ID (a retried INVITE may reuse one)."""
    query = (
        select(Call)
        .options(*_WITH_STEPS)
        .where(Call.sip_call_id == sip_call_id)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(1)
    )
    views = await _views(session, query)
    return views[0] if views else None


async def open_calls(session: AsyncSession, node: str | None = None) -> list[CallView]:
    """Calls not ended yet (of one node if given), oldest first: candidates to take back."""
    query = select(Call).options(*_WITH_STEPS).where(Call.ended_at.is_(None))
    if node is not None:
        query = query.where(Call.node == node)
    return await _views(session, query.order_by(Call.started_at, Call.id))
