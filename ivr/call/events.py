"""What the call flow hears (events) and what it asks for (commands).

Frozen dataclasses with no behaviour: the controller makes events from ARI
and carries out commands; `ivr/call/flow.py` maps one to the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeAlias

# -- events -------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """The call entered the application."""


@dataclass(frozen=True)
class KeyPressed:
    digit: str


PlaybackOutcome: TypeAlias = Literal["done", "stopped", "failed"]


@dataclass(frozen=True)
class PlaybackEnded:
    playback_id: str
    outcome: PlaybackOutcome


@dataclass(frozen=True)
class TimerFired:
    timer_id: str


@dataclass(frozen=True)
class HungUp:
    """The caller hung up (or the channel went away)."""


@dataclass(frozen=True)
class Resumed:
    """A controller took this call back after the previous one died."""


@dataclass(frozen=True)
class Orphaned:
    """A channel of ours whose call record was lost: end it politely."""


@dataclass(frozen=True)
class CalledBack:
    """The caller answered our callback: their place in line is waiting."""


@dataclass(frozen=True)
class Queued:
    """The call joined its department's queue with `position - 1` callers ahead."""

    position: int


@dataclass(frozen=True)
class QueueUpdate:
    """Said to a queued call every announce interval."""

    position: int
    over_limit: bool  # waited longer than the department's limit


@dataclass(frozen=True)
class OperatorConnected:
    operator: str


@dataclass(frozen=True)
class OperatorLeft:
    """The operator hung up on a connected call."""


@dataclass(frozen=True)
class RecordingEnded:
    name: str
    seconds: float
    case: str = ""  # the number of the case the message is, once registered


@dataclass(frozen=True)
class CaseRegistered:
    """The caller's callback request is a case now, numbered `number`."""

    number: str


@dataclass(frozen=True)
class CaseLookedUp:
    """What a lookup by phone found (`LookupCase`): nothing, when no case of
    that number was registered from the caller's number."""

    number: str
    found: bool
    status: str = ""  # registered, assigned, in_progress, resolved, closed
    department: str = ""  # the department handling it now
    due: date | None = None  # the last day it is due on, in its department's calendar


Event: TypeAlias = (
    Started
    | KeyPressed
    | PlaybackEnded
    | TimerFired
    | HungUp
    | Resumed
    | Orphaned
    | CalledBack
    | Queued
    | QueueUpdate
    | OperatorConnected
    | OperatorLeft
    | RecordingEnded
    | CaseRegistered
    | CaseLookedUp
)

# -- commands -----------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    pass


@dataclass(frozen=True)
class Play:
    """Play prompts (catalog ids) in order; `recording:NAME` plays a caller's
    message back, and `seconds` is how long such recordings last (the
    catalog knows only the prompts)."""

    playback_id: str
    prompts: tuple[str, ...]
    seconds: float = 0.0


@dataclass(frozen=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True)
class StartTimer:
    timer_id: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class JoinQueue:
    department: str


@dataclass(frozen=True)
class LeaveQueue:
    """The call is out of the queue: `outcome` says how (abandoned, message...)."""

    outcome: str


@dataclass(frozen=True)
class StartMoh:
    pass


@dataclass(frozen=True)
class StopMoh:
    pass


@dataclass(frozen=True)
class RecordMessage:
    """Record the caller (beep first, `#` or silence ends it) as recording `name`.

    `source` is the first recording of this message: a re-recording replaces
    the recording of the case that one opened. `category` is the menu branch."""

    name: str
    source: str
    category: str = ""


@dataclass(frozen=True)
class RequestCallback:
    """Keep the call's place in the queue and call the caller back at their turn."""

    category: str = ""


@dataclass(frozen=True)
class RegisterCallback:
    """After hours: register a case to call the caller back in working hours."""

    category: str = ""


@dataclass(frozen=True)
class MarkUrgent:
    """The caller says the message `source` opened is urgent."""

    source: str


@dataclass(frozen=True)
class LookupCase:
    """Find case `number` among the cases registered from the caller's number
    (the answer is `CaseLookedUp`)."""

    number: str


@dataclass(frozen=True)
class Survey:
    """The caller's satisfaction: 1 satisfied, 2 fair, 3 dissatisfied."""

    kind: Literal["operator", "case"]
    score: int


@dataclass(frozen=True)
class Step:
    """A line of the call's record: a prompt played, a key pressed, a note."""

    kind: Literal[
        "prompt", "key", "note", "error", "department", "message", "category", "survey"
    ]
    value: str
    detail: str | None = None


@dataclass(frozen=True)
class Ended:
    reason: str


Command: TypeAlias = (
    Answer
    | Play
    | StopPlayback
    | StartTimer
    | CancelTimer
    | Hangup
    | Step
    | Ended
    | JoinQueue
    | LeaveQueue
    | StartMoh
    | StopMoh
    | RecordMessage
    | RequestCallback
    | RegisterCallback
    | MarkUrgent
    | LookupCase
    | Survey
)
