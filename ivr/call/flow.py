"""The call flow of one 12371 call, as a state machine with no I/O.

Theory of operation
-------------------
The controller turns what Asterisk reports about a call (a key press, the end
of a prompt, a hang-up) into the events of `ivr/call/events.py` and hands
them, one at a time and in order, to that call's `CallFlow`. `handle()` returns the commands the
call needs next (answer, play these prompts, stop that playback, start a
timer, hang up) plus the steps to record; the controller carries them out.
Nothing here touches the network, the clock or the database, so every rule of
the menu is tested by feeding events and reading commands.

A call is always at one department. It starts where routing placed it (or,
when routing could not, at the central department with the region menu open,
so that the caller chooses a province). The greeting names the department;
its guidance menu (`ivr/call/guide.py`) offers the departments below it, `0`
opens the region menu to choose any province or city, `*` goes back (a page,
a menu, or the department the caller came from), `#` repeats, `9` turns the
page. Each move records a `department` step, so the call's record keeps every
department it passed through.

Prompts are named by catalog id; playback and timer ids are generated here
from a per-call counter, so a stale event (the end of a prompt the caller
already interrupted, a timer that was cancelled) is recognised and ignored.

`snapshot()` is everything needed to take the call back after the controller
died; `CallFlow.restore()` rebuilds the flow from it and `Resumed` continues.

Every legal (state, event) pair is in `TRANSITIONS`; a pair missing there is
a bug and raises `FlowError`, naming both.

`CallFlow` is put together from parts, each its own module: the shared state
and moves (`ivr/call/core.py`), voice guidance (`ivr/call/guidance.py`) and the
operator queue as the caller lives it (`ivr/call/queueing.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ivr.call import guide as menus
from ivr.call.core import (
    PROMPT_ENDED_BY_SYSTEM,
    PROMPT_GOODBYE,
    PROMPT_INVALID,
    PROMPT_NO_INPUT,
    PROMPT_RESUMED,
    SERVICE_MENUS,
    FlowConfig,
    FlowError,
    MenuKind,
    Service,
    ServiceMenu,
    State,
    _after_hours,
)
from ivr.call.events import (
    Answer,
    CalledBack,
    CancelTimer,
    Command,
    Ended,
    Event,
    Hangup,
    HungUp,
    JoinQueue,
    KeyPressed,
    LeaveQueue,
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
from ivr.call.guidance import Menus
from ivr.call.guide import Guide
from ivr.call.queueing import (
    PROMPT_DESK_LONG_WAIT,
    PROMPT_QUEUE_KEEP_WAITING,
    DeskSteps,
    position_prompts,
)
from ivr.call.service import PROMPT_MESSAGE_INTRO, ServiceSteps

# The events and commands are part of this module's interface.
__all__ = [
    "TRANSITIONS",
    "Answer",
    "CallFlow",
    "CalledBack",
    "CancelTimer",
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


class CallFlow(Menus, DeskSteps, ServiceSteps):
    """One call's flow: voice guidance (`Menus`), the queue (`DeskSteps`) and the
    automatic service (`ServiceSteps`) on a shared state (`FlowCore`)."""

    def handle(self, event: Event) -> list[Command]:
        handler = TRANSITIONS.get((self.state, type(event)))
        if handler is None:
            raise FlowError(
                f"no transition for {type(event).__name__} in state {self.state.value}",
                call_id=self.call_id,
                state=self.state.value,
                event=type(event).__name__,
            )
        return handler(self, event)

    @classmethod
    def restore(
        cls,
        call_id: str,
        data: dict[str, Any],
        guide: Guide,
        config: FlowConfig,
        desk: Callable[[str], Service] = _after_hours,
        service_menus: Callable[[str], ServiceMenu] | None = None,
    ) -> CallFlow:
        department = str(data.get("department", ""))
        region = str(data.get("region", ""))
        trail = [str(code) for code in data.get("trail", ()) if guide.knows(str(code))]
        menus_known: dict[object, MenuKind] = {
            kind: kind for kind in ("regions", "desk", "service", "review", "survey")
        }
        menu = menus_known.get(data.get("menu"), "guidance")
        if not guide.knows(department) or (region and not guide.knows(region)):
            # The directory changed under the call: start again from the default.
            department, region, menu, trail = guide.default, "", "regions", []
        node = str(data.get("node", ""))
        node_trail = [str(n) for n in data.get("node_trail", ())]
        if menu in SERVICE_MENUS and service_menus is None:
            menu = "guidance"
        elif service_menus is not None and menu == "service":
            known = service_menus(department)
            if not all(known.has(n) for n in (node, *node_trail)):
                # The menu was changed and published under the call: its top.
                node, node_trail = known.root, []
        return cls(
            call_id=call_id,
            guide=guide,
            department=department,
            config=config,
            state=State(data.get("state", State.PROMPTING.value)),
            menu=menu,
            region=region,
            page=max(0, int(data.get("page", 0))),
            trail=trail,
            silences=int(data.get("silences", 0)),
            invalid=int(data.get("invalid", 0)),
            # Ids issued before the crash must never be reused.
            counter=int(data.get("counter", 0)) + 100,
            playback_id=data.get("playback_id"),
            end_reason=data.get("end_reason"),
            desk=desk,
            callback_ok=bool(data.get("callback_ok", False)),
            service=data.get("service", "after_hours"),
            queued=bool(data.get("queued", False)),
            on_hold=bool(data.get("on_hold", False)),
            choice_offered=bool(data.get("choice_offered", False)),
            operator=data.get("operator"),
            recording=data.get("recording"),
            menus=service_menus,
            node=node,
            node_trail=node_trail,
            misses=int(data.get("misses", 0)),
            category=str(data.get("category", "")),
            message_source=data.get("message_source"),
            recorded_seconds=float(data.get("recorded_seconds", 0.0)),
            empty_recordings=int(data.get("empty_recordings", 0)),
        )

    # -- transitions ----------------------------------------------------------

    def _on_start(self, _: Event) -> list[Command]:
        arrived = [Step("department", self.department, "routed"), *self._ask_service()]
        if self.choose_region:
            self.menu = "regions"
            return [Answer(), *arrived, *self._show_menu(menus.PROMPT_UNPLACED)]
        return [Answer(), *arrived, *self._show_menu()]

    def _on_resumed(self, _: Event) -> list[Command]:
        note = Step("note", "resumed", self.state.value)
        if self.state is State.CLOSING:
            return [note, Hangup(), *self._end(self.end_reason or "caller_ended")]
        if self.state is State.CONNECTED or (self.state is State.RECORDING and self.recording):
            return [note]  # the bridge, or the recording, goes on in Asterisk
        if self.state is State.QUEUED:
            # The place in the queue is kept in the database; the music plays on.
            stale = [StopPlayback(self.playback_id)] if self.playback_id else []
            self.playback_id, self.on_hold = None, True
            return [note, *stale, StartMoh()]
        if self.state is State.RECORDING:
            stale = [StopPlayback(self.playback_id)] if self.playback_id else []
            return [note, *stale, *self._play(PROMPT_MESSAGE_INTRO, state=State.RECORDING)]
        # The prompt the previous controller started may still be playing.
        stale = [StopPlayback(self.playback_id)] if self.playback_id else []
        self.timer_id = None  # its timer died with the previous controller
        prompts = (PROMPT_RESUMED, *self._intro(), *self._menu_prompts())
        return [note, *stale, *self._play(*prompts)]

    def _on_orphaned(self, _: Event) -> list[Command]:
        self.end_reason = "ended_after_recovery"
        return [
            Step("note", "orphaned"),
            *self._play(PROMPT_ENDED_BY_SYSTEM, PROMPT_GOODBYE, state=State.CLOSING),
        ]

    def _on_key(self, event: Event) -> list[Command]:
        assert isinstance(event, KeyPressed)
        commands = [Step("key", event.digit), *self._interrupt()]
        self.silences = 0
        outcome = self._menu_key(event.digit)
        if outcome is not None:
            self.invalid = self.misses = 0
            return [*commands, *outcome]
        if self.menu in SERVICE_MENUS:
            return [*commands, *self._service_invalid()]
        self.invalid += 1
        if self.invalid >= self.config.max_invalid:
            return [*commands, *self._close("invalid_input")]
        return [*commands, *self._play(PROMPT_INVALID, *self._menu_prompts())]

    def _on_playback_ended(self, event: Event) -> list[Command]:
        assert isinstance(event, PlaybackEnded)
        if event.playback_id != self.playback_id:
            return []  # a prompt the caller already interrupted
        self.playback_id = None
        commands: list[Command] = []
        if event.outcome == "failed":
            commands.append(Step("error", "playback_failed", event.playback_id))
        if self.state is State.CLOSING:
            return [*commands, Hangup(), *self._end(self.end_reason or "caller_ended")]
        if self.state is State.QUEUED:
            if self.choice_due and not self.choice_offered:
                self.choice_due = False
                return [*commands, *self._offer_choice(PROMPT_DESK_LONG_WAIT)]
            self.on_hold = True
            return [*commands, StartMoh()]
        if self.state is State.RECORDING:
            self.recording = self._next_id("m")
            self.message_source = self.message_source or self.recording
            # On record before the first word: a call that drops keeps it.
            record = RecordMessage(self.recording, self.message_source, self.category)
            return [*commands, record, Step("message", self.recording)]
        self.state = State.WAITING
        self.timer_id = self._next_id("t")
        return [*commands, StartTimer(self.timer_id, self.config.digit_timeout)]

    def _on_timer(self, event: Event) -> list[Command]:
        assert isinstance(event, TimerFired)
        if event.timer_id != self.timer_id:
            return []
        self.timer_id = None
        if self.menu == "desk":  # no choice: the caller waits on
            return self._keep_waiting(PROMPT_QUEUE_KEEP_WAITING)
        if self.menu in SERVICE_MENUS:
            return self._service_silence()
        if self.menu == "guidance":
            service = self.desk(self.department)
            if service != "after_hours":
                return self._to_desk(service)
            if self.menus is not None:
                return self._enter_service()
        self.silences += 1
        if self.silences < self.config.max_silences:
            return self._play(PROMPT_NO_INPUT, *self._menu_prompts())
        if self.menu == "regions":
            # No choice made: the caller stays with the department the call is at.
            self.silences = 0
            self.menu, self.region, self.page = "guidance", "", 0
            return [Step("note", "no_region_chosen", self.department), *self._show_menu()]
        return self._close("silence")

    def _on_key_while_queued(self, event: Event) -> list[Command]:
        assert isinstance(event, KeyPressed)
        return [Step("key", event.digit, "ignored: queued")]

    def _on_key_while_closing(self, event: Event) -> list[Command]:
        assert isinstance(event, KeyPressed)
        return [Step("key", event.digit, "ignored: closing")]

    def _on_hangup(self, _: Event) -> list[Command]:
        reason = "caller_hangup"
        if self.state is State.CLOSING and self.end_reason:
            # The caller left during the goodbye: the call ended as decided.
            reason = self.end_reason
        elif self.state is State.CONNECTED:
            reason = "completed"
        elif (self.state is State.RECORDING and self.recording) or self.menu == "review":
            reason = "message_left"  # what was recorded is kept
        elif self.menu == "survey" and self.end_reason:
            reason = self.end_reason
        elif self.queued:
            reason = "abandoned"
        return self._end(reason)

    def _ignore(self, _: Event) -> list[Command]:
        return []


_Handler = Callable[[CallFlow, Event], list[Command]]

TRANSITIONS: dict[tuple[State, type], _Handler] = {
    (State.NEW, Started): CallFlow._on_start,
    (State.NEW, Resumed): CallFlow._on_resumed,
    (State.NEW, Orphaned): CallFlow._on_orphaned,
    (State.NEW, CalledBack): CallFlow._on_called_back,
    (State.NEW, HungUp): CallFlow._on_hangup,
    (State.PROMPTING, KeyPressed): CallFlow._on_key,
    (State.PROMPTING, PlaybackEnded): CallFlow._on_playback_ended,
    (State.PROMPTING, TimerFired): CallFlow._ignore,
    (State.PROMPTING, HungUp): CallFlow._on_hangup,
    (State.PROMPTING, Resumed): CallFlow._on_resumed,
    (State.WAITING, KeyPressed): CallFlow._on_key,
    (State.WAITING, PlaybackEnded): CallFlow._ignore,
    (State.WAITING, TimerFired): CallFlow._on_timer,
    (State.WAITING, HungUp): CallFlow._on_hangup,
    (State.WAITING, Resumed): CallFlow._on_resumed,
    (State.CLOSING, KeyPressed): CallFlow._on_key_while_closing,
    (State.CLOSING, PlaybackEnded): CallFlow._on_playback_ended,
    (State.CLOSING, TimerFired): CallFlow._ignore,
    (State.CLOSING, HungUp): CallFlow._on_hangup,
    (State.CLOSING, Resumed): CallFlow._on_resumed,
    (State.ENDED, KeyPressed): CallFlow._ignore,
    (State.ENDED, PlaybackEnded): CallFlow._ignore,
    (State.ENDED, TimerFired): CallFlow._ignore,
    (State.ENDED, HungUp): CallFlow._ignore,
    (State.ENDED, Resumed): CallFlow._ignore,
    (State.QUEUED, KeyPressed): CallFlow._on_key_while_queued,
    (State.QUEUED, PlaybackEnded): CallFlow._on_playback_ended,
    (State.QUEUED, TimerFired): CallFlow._ignore,
    (State.QUEUED, HungUp): CallFlow._on_hangup,
    (State.QUEUED, Resumed): CallFlow._on_resumed,
    (State.CONNECTED, KeyPressed): CallFlow._ignore,  # the conversation's, not ours
    (State.CONNECTED, PlaybackEnded): CallFlow._ignore,
    (State.CONNECTED, TimerFired): CallFlow._ignore,
    (State.CONNECTED, HungUp): CallFlow._on_hangup,
    (State.CONNECTED, Resumed): CallFlow._on_resumed,
    (State.RECORDING, KeyPressed): CallFlow._ignore,  # `#` ends the recording in Asterisk
    (State.RECORDING, PlaybackEnded): CallFlow._on_playback_ended,
    (State.RECORDING, TimerFired): CallFlow._ignore,
    (State.RECORDING, HungUp): CallFlow._on_hangup,
    (State.RECORDING, Resumed): CallFlow._on_resumed,
}
# What the queue and the recorder report may reach a call in any state (an
# operator answering just as the caller chose to leave a message); each
# handler acts only in the states where it means something.
for _state in State:
    TRANSITIONS[(_state, Queued)] = CallFlow._on_queued
    TRANSITIONS[(_state, QueueUpdate)] = CallFlow._on_queue_update
    TRANSITIONS[(_state, OperatorConnected)] = CallFlow._on_connected
    TRANSITIONS[(_state, OperatorLeft)] = CallFlow._on_operator_left
    TRANSITIONS[(_state, RecordingEnded)] = CallFlow._on_recording_ended
