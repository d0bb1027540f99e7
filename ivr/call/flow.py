"""The call flow of one 12371 call, as a state machine with no I/O.

Theory of operation
-------------------
The controller turns what Asterisk reports about a call (a key press, the end
of a prompt, a hang-up) into the events of `ivr/call/events.py` and hands
them, one at a time and in order, to that call's `CallFlow`. `handle()`
returns the commands the call needs next (answer, play these prompts, stop
that playback, start a timer, hang up) plus the steps to record; the
controller carries them out. Nothing here touches the network, the clock or
the database, so every rule of the menu is tested by feeding events and
reading commands.

A call is always at one department. It starts where routing placed it (or,
when routing could not, at the central department with the region menu open,
so that the caller chooses a province). The greeting names the department,
and its front page (`ivr/call/guide.py`) offers the service first: `1`
self-service, `2` a person in working hours or a message after hours; then
`3` the departments below it (a list in pages of five, `9` the next page),
`0` the region menu to choose any province or city, `*` back (a page, a
menu, or the department the caller came from), `#` repeat. Each move records
a `department` step, so the call's record keeps every department it passed
through. A caller who chooses nothing goes to a person in working hours (the
queue), or to the department's service menu after hours.

The machine is two levels, both in `ivr/call/table.py`:

- the call's own states (`State`): new, prompting, waiting (for a key),
  queued, connected, recording, closing, ended. For each, the events it takes
  and who handles them. A pair missing there is a bug and raises `FlowError`,
  naming both. What the queue and the recorder report (`LATE_NEWS`) may come
  in any state, and is ignored where it means nothing.
- the sub-machines (`MenuKind`), one of which is open while the caller
  chooses: the department's front page (`guidance`; its service keys in
  `ivr/call/front.py`), the departments below it (`below`) and the region
  menu (`regions`), in `ivr/call/guidance.py`; the choice offered in the queue
  (`desk`, `ivr/call/queueing.py`); the service menu of after hours
  (`service`, `ivr/call/service.py`); the review of a message (`review`,
  `ivr/call/message.py`); the satisfaction survey (`survey`,
  `ivr/call/survey.py`). Each is a row (`MenuRow`): what it says, what a
  key, a wrong key, silence and a hang-up do there. `ivr/call/turns.py`
  does what is alike on every menu and hands the rest to the open row.

The parts are objects sharing one `CallState` (`ivr/call/state.py`), with
the few moves every part makes (play, interrupt, close, end); `Context` is
what a call asks of the world (the directory's menus, whether the desk is
open, the service menus), read at the moment it asks.

Prompts are named by catalog id; playback and timer ids are generated here
from a per-call counter, so a stale event (the end of a prompt the caller
already interrupted, a timer that was cancelled) is recognised and ignored.

`snapshot()` is everything needed to take the call back after the controller
died (its format in `ivr/call/snapshot.py`); `CallFlow.restore()` rebuilds
the flow from it and `Resumed` continues.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar, cast, overload

from ivr.call import snapshot as saved
from ivr.call.events import (
    Answer,
    CalledBack,
    CancelTimer,
    CaseLookedUp,
    CaseRegistered,
    Command,
    Ended,
    Event,
    Hangup,
    HungUp,
    JoinQueue,
    KeyPressed,
    LeaveQueue,
    LookupCase,
    MarkUrgent,
    OperatorConnected,
    OperatorLeft,
    Orphaned,
    Play,
    PlaybackEnded,
    PlaybackOutcome,
    Queued,
    QueueUpdate,
    RecordingEnded,
    RecordMessage,
    RegisterCallback,
    RequestCallback,
    Resumed,
    Started,
    StartMoh,
    StartTimer,
    Step,
    StopMoh,
    StopPlayback,
    Survey,
    TimerFired,
)
from ivr.call.guide import Guide
from ivr.call.queueing import position_prompts
from ivr.call.state import (
    CallState,
    Context,
    FlowConfig,
    FlowError,
    MenuKind,
    Service,
    ServiceMenu,
    State,
    always_after_hours,
)
from ivr.call.table import STATE_TABLE, Parts, compose

# The events and commands are part of this module's interface.
__all__ = [
    "Answer",
    "CallFlow",
    "CalledBack",
    "CancelTimer",
    "CaseLookedUp",
    "CaseRegistered",
    "Command",
    "Ended",
    "Event",
    "FlowConfig",
    "FlowError",
    "Hangup",
    "HungUp",
    "JoinQueue",
    "KeyPressed",
    "LeaveQueue",
    "LookupCase",
    "MarkUrgent",
    "MenuKind",
    "OperatorConnected",
    "OperatorLeft",
    "Orphaned",
    "Play",
    "PlaybackEnded",
    "PlaybackOutcome",
    "QueueUpdate",
    "Queued",
    "RecordMessage",
    "RecordingEnded",
    "RegisterCallback",
    "RequestCallback",
    "Resumed",
    "Service",
    "ServiceMenu",
    "StartMoh",
    "StartTimer",
    "Started",
    "State",
    "Step",
    "StopMoh",
    "StopPlayback",
    "Survey",
    "TimerFired",
    "position_prompts",
]

T = TypeVar("T")


class _Kept(Generic[T]):
    """An attribute of the flow that lives in one of its parts (`call` or
    `context`): read, and written, through the flow."""

    def __init__(self, part: Literal["call", "context"]) -> None:
        self._part = part
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, flow: None, owner: type) -> _Kept[T]: ...
    @overload
    def __get__(self, flow: CallFlow, owner: type) -> T: ...
    def __get__(self, flow: CallFlow | None, owner: type) -> _Kept[T] | T:
        if flow is None:
            return self
        return cast(T, getattr(getattr(flow, self._part), self._name))

    def __set__(self, flow: CallFlow, value: T) -> None:
        setattr(getattr(flow, self._part), self._name, value)


class CallFlow:
    """One call's flow: its state (`call`), what it asks outside (`context`)
    and its table of transitions, whose handlers are its parts."""

    call: CallState
    context: Context
    _parts: Parts

    def __init__(
        self,
        call_id: str,
        guide: Guide,
        department: str,
        config: FlowConfig | None = None,
        *,
        choose_region: bool = False,
        desk: Callable[[str], Service] = always_after_hours,
        callback_ok: bool = False,
        menus: Callable[[str], ServiceMenu] | None = None,
    ) -> None:
        call = CallState(call_id, department, choose_region=choose_region, callback_ok=callback_ok)
        self._compose(call, Context(guide, config or FlowConfig(), desk, menus))

    def _compose(self, call: CallState, context: Context) -> None:
        self.call, self.context = call, context
        self._parts = compose(call, context)

    @classmethod
    def restore(
        cls,
        call_id: str,
        data: dict[str, Any],
        guide: Guide,
        config: FlowConfig,
        desk: Callable[[str], Service] = always_after_hours,
        service_menus: Callable[[str], ServiceMenu] | None = None,
    ) -> CallFlow:
        flow = cls.__new__(cls)
        call = saved.restore(call_id, data, guide, service_menus)
        flow._compose(call, Context(guide, config, desk, service_menus))
        return flow

    def snapshot(self) -> dict[str, Any]:
        return saved.snapshot(self.call)

    def handle(self, event: Event) -> list[Command]:
        rule = STATE_TABLE[self.call.state].get(type(event))
        if rule is None:
            state = self.call.state.value
            raise FlowError(
                f"no transition for {type(event).__name__} in state {state}",
                call_id=self.call.call_id,
                state=state,
                event=type(event).__name__,
            )
        return rule(self._parts, event)

    # What the controller, the desk and the tests read of a call.
    call_id = _Kept[str]("call")
    state = _Kept[State]("call")  # the controller ends a call that failed
    department = _Kept[str]("call")
    menu = _Kept[MenuKind]("call")
    region = _Kept[str]("call")
    page = _Kept[int]("call")
    trail = _Kept[list[str]]("call")
    invalid = _Kept[int]("call")
    node = _Kept[str]("call")
    playback_id = _Kept[str | None]("call")
    timer_id = _Kept[str | None]("call")
    end_reason = _Kept[str | None]("call")
    callback_ok = _Kept[bool]("call")  # asked again when a call is taken back
    service = _Kept[Service]("call")
    queued = _Kept[bool]("call")
    operator = _Kept[str | None]("call")
    category = _Kept[str]("call")  # the menu branch (the operator's screen shows it)
    recording = _Kept[str | None]("call")
    desk = _Kept[Callable[[str], Service]]("context")
