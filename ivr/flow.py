"""The call flow of one 12371 call, as a state machine with no I/O.

Theory of operation
-------------------
The controller turns what Asterisk reports about a call (a key press, the end
of a prompt, a hang-up) into the events of `ivr/flow_events.py` and hands
them, one at a time and in order, to that call's `CallFlow`. `handle()` returns the commands the
call needs next (answer, play these prompts, stop that playback, start a
timer, hang up) plus the steps to record; the controller carries them out.
Nothing here touches the network, the clock or the database, so every rule of
the menu is tested by feeding events and reading commands.

A call is always at one department. It starts where routing placed it (or,
when routing could not, at the central department with the region menu open,
so that the caller chooses a province). The greeting names the department;
its guidance menu (`ivr/guide.py`) offers the departments below it, `0`
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
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from ivr import guide as menus
from ivr.errors import IvrError
from ivr.flow_events import (
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
    RequestCallback,
    Resumed,
    Started,
    StartMoh,
    StartTimer,
    Step,
    StopMoh,
    StopPlayback,
    TimerFired,
)
from ivr.guide import Guide

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
    "RequestCallback",
    "Resumed",
    "Service",
    "StartMoh",
    "StartTimer",
    "Started",
    "State",
    "Step",
    "StopMoh",
    "StopPlayback",
    "TimerFired",
]


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

PROMPT_HOURS_CLOSED = "hours.closed"
PROMPT_DESK_STAY = "desk.stay"
PROMPT_QUEUE_JOINED = "queue.joined"
PROMPT_QUEUE_KEEP_WAITING = "queue.keep_waiting"
PROMPT_DESK_NOBODY = "desk.nobody"
PROMPT_DESK_LONG_WAIT = "desk.long_wait"
PROMPT_DESK_CHOICES = "desk.choices"
PROMPT_DESK_CHOICES_NO_CALLBACK = "desk.choices_no_callback"
PROMPT_CALLBACK_CONFIRMED = "callback.confirmed"
PROMPT_CALLBACK_GREETING = "callback.greeting"
PROMPT_MESSAGE_INTRO = "message.intro"
PROMPT_MESSAGE_THANKS = "message.thanks"
# Positions said one by one; beyond, "more than twenty".
POSITIONS_SAID = 20

# The choice offered when nobody is on duty or the wait is long.
KEY_WAIT, KEY_MESSAGE, KEY_CALLBACK = "1", "2", "3"

MenuKind: TypeAlias = Literal["guidance", "regions", "desk"]
# What a department offers now (ivr/desk.py decides): operators on duty, a
# queue nobody is on duty for, or the automatic service of after hours.
Service: TypeAlias = Literal["operators", "unstaffed", "after_hours"]


def _after_hours(_: str) -> Service:
    return "after_hours"


def position_prompts(position: int) -> tuple[str, ...]:
    """How a caller hears their place in the queue (1 is next)."""
    ahead = position - 1
    if ahead <= 0:
        return ("queue.next",)
    if ahead <= POSITIONS_SAID:
        return ("queue.ahead", f"count.{ahead}", "queue.people")
    return ("queue.ahead_many",)


@dataclass(frozen=True)
class FlowConfig:
    digit_timeout: float = 5.0
    max_silences: int = 2
    max_invalid: int = 3


@dataclass
class CallFlow:
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
        }

    @classmethod
    def restore(
        cls,
        call_id: str,
        data: dict[str, Any],
        guide: Guide,
        config: FlowConfig,
        desk: Callable[[str], Service] = _after_hours,
    ) -> CallFlow:
        department = str(data.get("department", ""))
        region = str(data.get("region", ""))
        trail = [str(code) for code in data.get("trail", ()) if guide.knows(str(code))]
        menus_known: dict[object, MenuKind] = {"regions": "regions", "desk": "desk"}
        menu = menus_known.get(data.get("menu"), "guidance")
        if not guide.knows(department) or (region and not guide.knows(region)):
            # The directory changed under the call: start again from the default.
            department, region, menu, trail = guide.default, "", "regions", []
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
        )

    # -- helpers --------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{self.call_id}-{prefix}{self.counter}"

    def _play(self, *prompts: str, state: State = State.PROMPTING) -> list[Command]:
        self.state = state
        self.playback_id = self._next_id("p")
        steps: list[Command] = [Step("prompt", prompt) for prompt in prompts]
        return [Play(self.playback_id, prompts), *steps]

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

    # -- menus ----------------------------------------------------------------

    def _choices(self) -> tuple[str, ...]:
        if self.menu == "desk":
            return ()
        if self.menu == "regions":
            return self.guide.regions(self.region)
        return self.guide.guidance(self.department)

    def _menu_prompts(self) -> tuple[str, ...]:
        """The current page's choices, said the same way on every menu."""
        if self.menu == "desk":
            return (PROMPT_DESK_CHOICES if self.callback_ok else PROMPT_DESK_CHOICES_NO_CALLBACK,)
        guidance = self.menu == "guidance"
        back = not guidance or self.page > 0 or bool(self.trail)
        prompts = menus.choices_prompts(
            self._choices(), self.page, other_region=guidance, back=back
        )
        if guidance and self.service != "after_hours":
            return (*prompts, PROMPT_DESK_STAY)
        return prompts

    def _intro(self) -> tuple[str, ...]:
        """What opens the current menu's first page: the greeting, or what to choose."""
        if self.page > 0 or self.menu == "desk":
            return ()
        if self.menu == "regions":
            choose = menus.PROMPT_CHOOSE_DEPARTMENT if self.region else menus.PROMPT_CHOOSE_PROVINCE
            return (choose,)
        if self.service == "after_hours":
            return (*menus.greeting_prompts(self.department), PROMPT_HOURS_CLOSED)
        return menus.greeting_prompts(self.department)

    def _show_menu(self, *before: str) -> list[Command]:
        return self._play(*before, *self._intro(), *self._menu_prompts())

    def _arrive(self, code: str, how: str) -> list[Command]:
        """Move the call on to department `code` and greet the caller there."""
        if how != "back" and code != self.department:
            self.trail.append(self.department)
        self.department, self.menu, self.region, self.page = code, "guidance", "", 0
        return [Step("department", code, how), *self._ask_service(), *self._show_menu()]

    def _ask_service(self) -> list[Command]:
        self.service = self.desk(self.department)
        return [Step("note", "service", self.service)]

    def _open_regions(self, province: str) -> list[Command]:
        self.menu, self.region, self.page = "regions", province, 0
        return self._show_menu()

    def _menu_key(self, digit: str) -> list[Command] | None:
        """What a key does on the current menu; None if it offers nothing there."""
        if self.menu == "desk":
            return self._desk_key(digit)
        choices = self._choices()
        if digit == menus.KEY_REPEAT:
            return self._show_menu()
        if digit == menus.KEY_MORE and self.page + 1 < menus.page_count(choices):
            self.page += 1
            return self._show_menu()
        if digit == menus.KEY_BACK:
            return self._back()
        if digit == menus.KEY_REGION and self.menu == "guidance":
            return self._open_regions("")
        code = menus.chosen(choices, self.page, digit)
        if code is None:
            return None
        if self.menu == "regions" and not self.region:
            return self._open_regions(code)
        return self._arrive(code, "chosen")

    # -- the desk: queue, choice, message, callback --------------------------------

    def _to_desk(self, service: Service) -> list[Command]:
        """The caller heard the choices and chose none: to a person, in hours."""
        self.service, self.silences, self.queued = service, 0, True
        commands: list[Command] = [Step("note", "desk", service), JoinQueue(self.department)]
        if service == "operators":
            self.state = State.QUEUED  # Queued, with the position, follows
            return commands
        # Nobody on duty: the caller keeps a place and may choose something else.
        return [*commands, *self._offer_choice(PROMPT_DESK_NOBODY)]

    def _offer_choice(self, why: str) -> list[Command]:
        self.choice_offered = True
        self.menu, self.page = "desk", 0
        return self._play(why, *self._menu_prompts())

    def _desk_key(self, digit: str) -> list[Command] | None:
        if digit == menus.KEY_REPEAT:
            return self._show_menu()
        if digit in (KEY_WAIT, menus.KEY_BACK):
            return self._keep_waiting(PROMPT_QUEUE_KEEP_WAITING)
        if digit == KEY_MESSAGE:
            self.queued, self.recording = False, None
            return [
                LeaveQueue("message"),
                Step("note", "message"),
                *self._play(PROMPT_MESSAGE_INTRO, state=State.RECORDING),
            ]
        if digit == KEY_CALLBACK and self.callback_ok:
            self.queued = False  # the place now belongs to the callback
            closing = self._close("callback_requested", PROMPT_CALLBACK_CONFIRMED)
            return [RequestCallback(), *closing]
        return None

    def _keep_waiting(self, *prompts: str) -> list[Command]:
        self.menu = "guidance"
        return self._play(*prompts, state=State.QUEUED)

    def _on_queued(self, event: Event) -> list[Command]:
        assert isinstance(event, Queued)
        if self.state is not State.QUEUED or self.playback_id is not None:
            return []
        prompts = (PROMPT_QUEUE_JOINED, *position_prompts(event.position))
        return self._play(*prompts, state=State.QUEUED)

    def _on_queue_update(self, event: Event) -> list[Command]:
        assert isinstance(event, QueueUpdate)
        if self.state is not State.QUEUED:
            return []  # choosing, or leaving a message: not now
        if self.playback_id is not None:
            # Still hearing something: the choice comes when it ends.
            self.choice_due = self.choice_due or (event.over_limit and not self.choice_offered)
            return []
        commands = self._interrupt()
        if event.over_limit and not self.choice_offered:
            return [*commands, *self._offer_choice(PROMPT_DESK_LONG_WAIT)]
        return [*commands, *self._play(*position_prompts(event.position), state=State.QUEUED)]

    def _on_connected(self, event: Event) -> list[Command]:
        assert isinstance(event, OperatorConnected)
        if not self.queued:
            return []
        commands = self._interrupt()
        self.queued, self.state, self.operator = False, State.CONNECTED, event.operator
        self.menu = "guidance"
        return [*commands, Step("note", "connected", event.operator)]

    def _on_operator_left(self, _: Event) -> list[Command]:
        if self.state is not State.CONNECTED:
            return []
        return self._close("completed")

    def _on_recording_ended(self, event: Event) -> list[Command]:
        assert isinstance(event, RecordingEnded)
        if self.state is not State.RECORDING or event.name != self.recording:
            return []
        return [
            Step("note", "message_saved", f"{event.seconds:.1f}"),
            *self._close("message_left", PROMPT_MESSAGE_THANKS),
        ]

    def _back(self) -> list[Command] | None:
        if self.page > 0:
            self.page -= 1
            return self._show_menu()
        if self.menu == "regions":
            if self.region:
                return self._open_regions("")
            self.menu = "guidance"  # back to the department the caller was at
            return self._show_menu()
        if self.trail:
            return self._arrive(self.trail.pop(), "back")
        return None

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

    def _on_called_back(self, _: Event) -> list[Command]:
        # The caller answered us; `Answer` marks the channel as ours (for a
        # controller that takes it back) before anything plays.
        self.queued, self.service = True, "operators"
        return [
            Answer(),
            Step("department", self.department, "callback"),
            *self._play(PROMPT_CALLBACK_GREETING, state=State.QUEUED),
        ]

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
            self.invalid = 0
            return [*commands, *outcome]
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
            # On record before the first word: a call that drops keeps it.
            return [*commands, RecordMessage(self.recording), Step("message", self.recording)]
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
        if self.menu == "guidance":
            service = self.desk(self.department)
            if service != "after_hours":
                return self._to_desk(service)
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
        elif self.state is State.RECORDING and self.recording:
            reason = "message_left"  # what was recorded is kept
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
