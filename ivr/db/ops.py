"""What the call path hands to the recorder: small immutable records of facts.

Text from outside (caller id, SIP headers) is cleaned and cut to the column
widths here, when the op is made, so that a write can never fail because of
what a caller sent; the one retry loop then only has to deal with the
database being unavailable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

StepKind = Literal[
    "prompt", "key", "route", "note", "error", "department", "message", "category", "survey"
]


def clip(text: str, limit: int | None = None) -> str:
    """`text` made storable: no NUL (PostgreSQL refuses it), valid UTF-8, at most `limit` chars."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    # Lone surrogates (from undecodable bytes) cannot be encoded for the driver.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if limit is None else text[:limit]


def clip_optional(text: str | None, limit: int | None = None) -> str | None:
    return None if text is None else clip(text, limit)


def utc(at: datetime) -> datetime:
    # The controller's clock is UTC; a naive time is taken as UTC rather than
    # dropped, because losing a record is worse than a mislabelled zone.
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


def json_text(state: dict[str, Any]) -> str:
    """`state` as JSON text, taken when submitted (the caller may keep mutating
    its dict), and written as it is: serialized once, however many batches.

    NaN is refused (PostgreSQL's json type rejects it); values JSON cannot
    express are stored as their `str()`.
    """
    if not isinstance(state, dict):
        raise TypeError(f"flow state must be a JSON object, not {type(state).__name__}")
    return json.dumps(state, allow_nan=False, default=str, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_id: str
    sip_call_id: str | None
    node: str
    caller: str
    dialed: str
    department_code: str
    department_name: str
    route_rule: str
    route_read: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class CallAnswered:
    call_id: str
    at: datetime


@dataclass(slots=True)
class StepTaken:
    call_id: str
    at: datetime
    kind: str
    value: str
    detail: str | None
    # Given once by the writer, in submission order, and kept across retries
    # so that a retried batch writes the same rows.
    seq: int | None = None


@dataclass(slots=True)
class PromptsPlayed:
    """One playback's prompts: a "prompt" step each, in order, when read back
    (stored as one row: `PAGE_STEP`)."""

    call_id: str
    at: datetime
    prompts: tuple[str, ...]
    # The first prompt's step number; given once by the writer, as `StepTaken.seq`.
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class FlowStateSaved:
    call_id: str
    state: str  # JSON text: `json_text`


@dataclass(frozen=True, slots=True)
class DepartmentReached:
    """The call moved on to another department (voice guidance or the caller's choice)."""

    call_id: str
    department_code: str
    department_name: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    call_id: str
    at: datetime
    reason: str


Op = (
    CallStarted
    | CallAnswered
    | StepTaken
    | PromptsPlayed
    | FlowStateSaved
    | DepartmentReached
    | CallEnded
)
