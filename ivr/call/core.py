"""What every part of a call's flow shares: its state, and the few moves
each part makes (play, interrupt, close, end).

`ivr/call/flow.py` puts the parts together (`CallFlow`); `ivr/call/guidance.py` is
voice guidance, `ivr/call/queueing.py` the operator queue. No I/O here either.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from ivr.call.events import (
    CancelTimer,
    Command,
    Ended,
    LeaveQueue,
    Play,
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

MenuKind: TypeAlias = Literal["guidance", "regions", "desk", "service", "review", "survey"]
# The automatic service's menus: its levels, the review of a message, the survey.
SERVICE_MENUS = ("service", "review", "survey")
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


def _after_hours(_: str) -> Service:
    return "after_hours"




@dataclass(frozen=True)
class FlowConfig:
    digit_timeout: float = 5.0
    max_silences: int = 2
    max_invalid: int = 3
    # Ask callers how the service was, after an operator's call or a message.
    survey: bool = False



@dataclass
class FlowCore:
    call_id: str
    guide: Guide
    department: str  # the department the call is at now
    config: FlowConfig = field(default_factory=FlowConfig)
    # Routing could not place the call: ask for a province before anything else.
    choose_region: bool = False
    state: State = State.NEW
    menu: MenuKind = "guidance"
    region: str = ""  # in the region menu: "" lists provinces, else this province's departments
    page: int = 0
    trail: list[str] = field(default_factory=list)  # departments `*` goes back to
    silences: int = 0
    invalid: int = 0
    counter: int = 0
    playback_id: str | None = None
    timer_id: str | None = None
    end_reason: str | None = None
    # Whether the call's department answers with people now; asked on
    # arrival and again when the caller has heard the choices.
    desk: Callable[[str], Service] = _after_hours
    callback_ok: bool = False  # the caller's number can be called back
    service: Service = "after_hours"
    queued: bool = False  # the call holds a place in its department's queue
    on_hold: bool = False  # music on hold is playing
    choice_offered: bool = False  # the wait-or-message choice was offered
    choice_due: bool = False  # the limit passed while something was being said
    operator: str | None = None  # connected to this operator
    recording: str | None = None  # the message being recorded
    # The service menu of after hours (None: the department's choices only).
    menus: Callable[[str], ServiceMenu] | None = None
    node: str = ""  # in the service menu: the node the caller is at
    node_trail: list[str] = field(default_factory=list)  # the nodes `*` goes back to
    misses: int = 0  # missed turns in a row in the service menu: silent or invalid
    category: str = ""  # the service category of the branch the caller is in
    message_source: str | None = None  # the first recording of the message box
    recorded_seconds: float = 0.0  # how long the last recording is
    empty_recordings: int = 0  # recordings that held nothing

    # -- snapshot -------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "state": self.state.value,
            "menu": self.menu,
            "region": self.region,
            "page": self.page,
            "trail": list(self.trail),
            "silences": self.silences,
            "invalid": self.invalid,
            "counter": self.counter,
            # Asterisk plays on when the controller dies: whoever takes the
            # call back must stop this first, or its prompt queues behind.
            "playback_id": self.playback_id,
            "end_reason": self.end_reason,
            "service": self.service,
            "callback_ok": self.callback_ok,
            "queued": self.queued,
            "on_hold": self.on_hold,
            "choice_offered": self.choice_offered,
            "operator": self.operator,
            "recording": self.recording,
            "node": self.node,
            "node_trail": list(self.node_trail),
            "misses": self.misses,
            "category": self.category,
            "message_source": self.message_source,
            "recorded_seconds": self.recorded_seconds,
            "empty_recordings": self.empty_recordings,
        }

    # -- helpers --------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{self.call_id}-{prefix}{self.counter}"

    def _play(
        self, *prompts: str, state: State = State.PROMPTING, seconds: float = 0.0
    ) -> list[Command]:
        self.state = state
        self.playback_id = self._next_id("p")
        steps: list[Command] = [Step("prompt", prompt) for prompt in prompts]
        return [Play(self.playback_id, prompts, seconds), *steps]

    def _interrupt(self) -> list[Command]:
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

    def _close(self, reason: str, *before: str) -> list[Command]:
        self.end_reason = reason
        leave = [LeaveQueue(reason)] if self.queued else []
        self.queued = False
        return [
            *leave,
            Step("note", "closing", reason),
            *self._play(*before, PROMPT_GOODBYE, state=State.CLOSING),
        ]

    def _end(self, reason: str) -> list[Command]:
        self.state = State.ENDED
        self.end_reason = reason
        commands: list[Command] = []
        if self.timer_id is not None:
            commands.append(CancelTimer(self.timer_id))
            self.timer_id = None
        return [*commands, Ended(reason)]

    # -- what the parts give each other (ivr/call/guidance.py, ivr/call/queueing.py) ----

    def _menu_prompts(self) -> tuple[str, ...]:
        raise NotImplementedError

    def _show_menu(self, *before: str) -> list[Command]:
        raise NotImplementedError

    def _desk_key(self, digit: str) -> list[Command] | None:
        raise NotImplementedError

    def _arrive(self, code: str, how: str, *before: str) -> list[Command]:
        raise NotImplementedError

    def _to_desk(self, service: Service) -> list[Command]:
        raise NotImplementedError

    # -- ... and ivr/call/service.py ----------------------------------------------

    def _service_intro(self) -> tuple[str, ...]:
        raise NotImplementedError

    def _service_prompts(self) -> tuple[str, ...]:
        raise NotImplementedError

    def _service_key(self, digit: str) -> list[Command] | None:
        raise NotImplementedError

    def _start_message(self, *before: str) -> list[Command]:
        raise NotImplementedError

    def _review(self, seconds: float) -> list[Command]:
        raise NotImplementedError

    def _after_service(self, reason: str, *before: str) -> list[Command]:
        raise NotImplementedError
