"""What one call is, shared by every part of its flow: `CallState`, and the
few moves every part makes on it the same way (play, interrupt, close, end).

Also the words of the flow that every part uses: its states, the menus (the
sub-machines of `ivr/call/table.py`), what a department offers, the service
menu as the flow reads it, the configuration, and `Context`, what a call asks
of the world outside. No I/O here either.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeAlias

from ivr.call.events import (
    CancelTimer,
    Command,
    Ended,
    LeaveQueue,
    Play,
    StartTimer,
    Step,
    StopMoh,
    StopPlayback,
)
from ivr.call.guide import Guide
from ivr.errors import IvrError


class FlowError(IvrError):
    error_id = "flow_error"


class State(enum.Enum):
    NEW = "new"
    PROMPTING = "prompting"  # the greeting or the choices are playing
    WAITING = "waiting"  # choices finished, waiting for a key
    QUEUED = "queued"  # waiting for an operator: music, or the position said
    CONNECTED = "connected"  # talking with an operator
    RECORDING = "recording"  # leaving a message (its intro, then the recording)
    CLOSING = "closing"  # saying goodbye; hang up when it ends
    ENDED = "ended"


PROMPT_INVALID = "menu.invalid"
PROMPT_NO_INPUT = "menu.no_input"
PROMPT_GOODBYE = "goodbye"
PROMPT_RESUMED = "call.resumed"
PROMPT_ENDED_BY_SYSTEM = "call.ended_by_system"

# The menu open while the caller chooses: one sub-machine each (ivr/call/table.py).
MenuKind: TypeAlias = Literal[
    "guidance", "below", "regions", "desk", "service", "review", "survey", "lookup"
]
MENU_KINDS: tuple[MenuKind, ...] = (
    "guidance", "below", "regions", "desk", "service", "review", "survey", "lookup"
)
# The automatic service's menus: its levels, the review of a message, the
# survey, the lookup of a case by its number.
SERVICE_MENUS: tuple[MenuKind, ...] = ("service", "review", "survey", "lookup")
# What a department offers now (ivr/desk/desk.py decides): operators on duty, a
# queue nobody is on duty for, or the automatic service of after hours.
Service: TypeAlias = Literal["operators", "unstaffed", "after_hours"]


class ServiceNode(Protocol):
    """A node of a department's service menu (ivr/publish/menus.py), as the flow reads it."""

    @property
    def kind(self) -> str: ...
    @property
    def prompt_id(self) -> str | None: ...
    @property
    def choices(self) -> Mapping[str, str]: ...
    @property
    def category(self) -> str | None: ...
    @property
    def department(self) -> str | None: ...


class ServiceMenu(Protocol):
    @property
    def root(self) -> str: ...
    def node(self, node_id: str) -> ServiceNode: ...
    def has(self, node_id: str) -> bool: ...
    def category(self, node_id: str) -> str:
        """The nearest category on the path from the top to the node, or ""."""
        ...


def always_after_hours(_: str) -> Service:
    """A desk that is never open: the default of a call given none."""
    return "after_hours"


@dataclass(frozen=True)
class FlowConfig:
    digit_timeout: float = 5.0
    # The front page's wait: then the default (a person, or self-service).
    front_timeout: float = 2.0
    max_silences: int = 2
    max_invalid: int = 3
    # Ask callers how the service was, after an operator's call or a message.
    survey: bool = False


@dataclass
class Context:
    """What a call asks of the world, read at the moment it asks; never saved."""

    guide: Guide
    config: FlowConfig
    # Whether the call's department answers with people now; asked on
    # arrival and again when the caller has heard the choices.
    desk: Callable[[str], Service] = always_after_hours
    # The service menu of after hours (None: the department's choices only).
    menus: Callable[[str], ServiceMenu] | None = None


@dataclass
class CallState:
    """Everything the call is now; `ivr/call/snapshot.py` saves and restores it."""

    call_id: str
    department: str  # the department the call is at now
    # Routing could not place the call: ask for a province before anything else.
    choose_region: bool = False
    state: State = State.NEW
    menu: MenuKind = "guidance"
    # -- where the caller is in the guidance menus
    region: str = ""  # in the region menu: "" lists provinces, else this province's departments
    page: int = 0
    trail: list[str] = field(default_factory=list)  # departments `*` goes back to
    # -- the caller's turns
    silences: int = 0
    invalid: int = 0
    misses: int = 0  # missed turns in a row in the service menu: silent or invalid
    # -- what is playing or pending, by the ids this call issued
    counter: int = 0
    playback_id: str | None = None
    timer_id: str | None = None
    end_reason: str | None = None
    # -- the desk
    callback_ok: bool = False  # the caller's number can be called back
    service: Service = "after_hours"
    queued: bool = False  # the call holds a place in its department's queue
    on_hold: bool = False  # music on hold is playing
    choice_offered: bool = False  # the wait-or-message choice was offered
    choice_due: bool = False  # the limit passed while something was being said
    operator: str | None = None  # connected to this operator
    # -- the automatic service
    # The published configuration (its generation) the call's service menus
    # came from: a call taken back after a crash goes on with that version.
    menu_generation: int = 0
    node: str = ""  # in the service menu: the node the caller is at
    node_trail: list[str] = field(default_factory=list)  # the nodes `*` goes back to
    category: str = ""  # the service category of the branch the caller is in
    recording: str | None = None  # the message being recorded
    message_source: str | None = None  # the first recording of the message box
    recorded_seconds: float = 0.0  # how long the last recording is
    empty_recordings: int = 0  # recordings that held nothing
    # -- the caller's cases (ivr/call/tracking.py)
    case_number: str = ""  # the case this call left (a message, a callback request)
    case_said: str = ""  # the number the caller has heard
    lookup_digits: str = ""  # keyed so far
    lookup_pending: str = ""  # looked up, the answer not yet here
    lookup_answer: tuple[str, ...] = ()  # the found case, as said
    lookup_failures: int = 0
    # Closing after a case was registered: its number is said after what is
    # playing now (it may still be on its way from the database).
    number_due: bool = False

    # -- the moves every part makes ---------------------------------------------

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{self.call_id}-{prefix}{self.counter}"

    def play(
        self, *prompts: str, state: State = State.PROMPTING, seconds: float = 0.0
    ) -> list[Command]:
        self.state = state
        self.playback_id = self.next_id("p")
        # The call's record gets a "prompt" step per prompt from the Play itself.
        return [Play(self.playback_id, prompts, seconds)]

    def wait_for_key(self, seconds: float) -> list[Command]:
        """The caller's turn: a key within `seconds`, else the timer fires."""
        self.state = State.WAITING
        self.timer_id = self.next_id("t")
        return [StartTimer(self.timer_id, seconds)]

    def interrupt(self) -> list[Command]:
        """Stop what is playing or pending, so the caller is not talked over."""
        commands: list[Command] = []
        if self.state is not State.WAITING and self.playback_id is not None:
            commands.append(StopPlayback(self.playback_id))
        if self.on_hold:
            commands.append(StopMoh())
            self.on_hold = False
        if self.timer_id is not None:
            commands.append(CancelTimer(self.timer_id))
            self.timer_id = None
        self.playback_id = None
        return commands

    def wrong_key(self, max_invalid: int, *prompts: str) -> list[Command]:
        """A key the open menu does not offer: say so and the choices again; the
        last one allowed ends the call."""
        self.invalid += 1
        if self.invalid >= max_invalid:
            return self.close("invalid_input")
        return self.play(PROMPT_INVALID, *prompts)

    def close(self, reason: str, *before: str) -> list[Command]:
        self.end_reason = reason
        leave = [LeaveQueue(reason)] if self.queued else []
        self.queued = False
        return [
            *leave,
            Step("note", "closing", reason),
            *self.play(*before, PROMPT_GOODBYE, state=State.CLOSING),
        ]

    def close_with_number(self, reason: str, *before: str) -> list[Command]:
        """Close, saying `before`, then the case's number (once the
        controller has it: `ivr.call.tracking`), then goodbye."""
        self.end_reason = reason
        self.number_due = True
        leave = [LeaveQueue(reason)] if self.queued else []
        self.queued = False
        return [*leave, Step("note", "closing", reason), *self.play(*before, state=State.CLOSING)]

    def end(self, reason: str) -> list[Command]:
        self.state = State.ENDED
        self.end_reason = reason
        commands: list[Command] = []
        if self.timer_id is not None:
            commands.append(CancelTimer(self.timer_id))
            self.timer_id = None
        return [*commands, Ended(reason)]

    def left(self) -> str:
        """How a call that hangs up ends, when nothing more particular applies."""
        return "abandoned" if self.queued else "caller_hangup"

    # -- taken back after a controller died -----------------------------------------

    def resumed(self) -> Step:
        return Step("note", "resumed", self.state.value)

    def stale_playback(self) -> list[Command]:
        """The prompt the previous controller started may still be playing."""
        return [StopPlayback(self.playback_id)] if self.playback_id else []
