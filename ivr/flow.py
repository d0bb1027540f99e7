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
    CancelTimer,
    Command,
    Ended,
    Event,
    Hangup,
    HungUp,
    KeyPressed,
    Orphaned,
    Play,
    PlaybackEnded,
    PlaybackOutcome,
    Resumed,
    Started,
    StartTimer,
    Step,
    StopPlayback,
    TimerFired,
)
from ivr.guide import Guide

# The events and commands are part of this module's interface.
__all__ = [
    "TRANSITIONS",
    "Answer",
    "CallFlow",
    "CancelTimer",
    "Command",
    "Ended",
    "Event",
    "FlowConfig",
    "FlowError",
    "Hangup",
    "HungUp",
    "KeyPressed",
    "MenuKind",
    "Orphaned",
    "Play",
    "PlaybackEnded",
    "PlaybackOutcome",
    "Resumed",
    "StartTimer",
    "Started",
    "State",
    "Step",
    "StopPlayback",
    "TimerFired",
]


class FlowError(IvrError):
    error_id = "flow_error"


class State(enum.Enum):
    NEW = "new"
    PROMPTING = "prompting"  # the greeting or the choices are playing
    WAITING = "waiting"  # choices finished, waiting for a key
    CLOSING = "closing"  # saying goodbye; hang up when it ends
    ENDED = "ended"


PROMPT_INVALID = "menu.invalid"
PROMPT_NO_INPUT = "menu.no_input"
PROMPT_GOODBYE = "goodbye"
PROMPT_RESUMED = "call.resumed"
PROMPT_ENDED_BY_SYSTEM = "call.ended_by_system"

MenuKind: TypeAlias = Literal["guidance", "regions"]


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
        }

    @classmethod
    def restore(
        cls, call_id: str, data: dict[str, Any], guide: Guide, config: FlowConfig
    ) -> CallFlow:
        department = str(data.get("department", ""))
        region = str(data.get("region", ""))
        trail = [str(code) for code in data.get("trail", ()) if guide.knows(str(code))]
        menu: MenuKind = "regions" if data.get("menu") == "regions" else "guidance"
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
        if self.state is State.PROMPTING and self.playback_id is not None:
            commands.append(StopPlayback(self.playback_id))
        if self.timer_id is not None:
            commands.append(CancelTimer(self.timer_id))
            self.timer_id = None
        self.playback_id = None
        return commands

    def _close(self, reason: str) -> list[Command]:
        self.end_reason = reason
        return [Step("note", "closing", reason), *self._play(PROMPT_GOODBYE, state=State.CLOSING)]

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
        if self.menu == "regions":
            return self.guide.regions(self.region)
        return self.guide.guidance(self.department)

    def _menu_prompts(self) -> tuple[str, ...]:
        """The current page's choices, said the same way on every menu."""
        guidance = self.menu == "guidance"
        back = not guidance or self.page > 0 or bool(self.trail)
        return menus.choices_prompts(
            self._choices(), self.page, other_region=guidance, back=back
        )

    def _intro(self) -> tuple[str, ...]:
        """What opens the current menu's first page: the greeting, or what to choose."""
        if self.page > 0:
            return ()
        if self.menu == "regions":
            choose = menus.PROMPT_CHOOSE_DEPARTMENT if self.region else menus.PROMPT_CHOOSE_PROVINCE
            return (choose,)
        return menus.greeting_prompts(self.department)

    def _show_menu(self, *before: str) -> list[Command]:
        return self._play(*before, *self._intro(), *self._menu_prompts())

    def _arrive(self, code: str, how: str) -> list[Command]:
        """Move the call on to department `code` and greet the caller there."""
        if how != "back" and code != self.department:
            self.trail.append(self.department)
        self.department, self.menu, self.region, self.page = code, "guidance", "", 0
        return [Step("department", code, how), *self._show_menu()]

    def _open_regions(self, province: str) -> list[Command]:
        self.menu, self.region, self.page = "regions", province, 0
        return self._show_menu()

    def _menu_key(self, digit: str) -> list[Command] | None:
        """What a key does on the current menu; None if it offers nothing there."""
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
        arrived = Step("department", self.department, "routed")
        if self.choose_region:
            self.menu = "regions"
            return [Answer(), arrived, *self._show_menu(menus.PROMPT_UNPLACED)]
        return [Answer(), arrived, *self._show_menu()]

    def _on_resumed(self, _: Event) -> list[Command]:
        note = Step("note", "resumed", self.state.value)
        if self.state is State.CLOSING:
            return [note, Hangup(), *self._end(self.end_reason or "caller_ended")]
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
        self.state = State.WAITING
        self.timer_id = self._next_id("t")
        return [*commands, StartTimer(self.timer_id, self.config.digit_timeout)]

    def _on_timer(self, event: Event) -> list[Command]:
        assert isinstance(event, TimerFired)
        if event.timer_id != self.timer_id:
            return []
        self.timer_id = None
        self.silences += 1
        if self.silences < self.config.max_silences:
            return self._play(PROMPT_NO_INPUT, *self._menu_prompts())
        if self.menu == "regions":
            # No choice made: the caller stays with the department the call is at.
            self.silences = 0
            self.menu, self.region, self.page = "guidance", "", 0
            return [Step("note", "no_region_chosen", self.department), *self._show_menu()]
        return self._close("silence")

    def _on_key_while_closing(self, event: Event) -> list[Command]:
        assert isinstance(event, KeyPressed)
        return [Step("key", event.digit, "ignored: closing")]

    def _on_hangup(self, _: Event) -> list[Command]:
        reason = "caller_hangup"
        if self.state is State.CLOSING and self.end_reason:
            # The caller left during the goodbye: the call ended as decided.
            reason = self.end_reason
        return self._end(reason)

    def _ignore(self, _: Event) -> list[Command]:
        return []


_Handler = Callable[[CallFlow, Event], list[Command]]

TRANSITIONS: dict[tuple[State, type], _Handler] = {
    (State.NEW, Started): CallFlow._on_start,
    (State.NEW, Resumed): CallFlow._on_resumed,
    (State.NEW, Orphaned): CallFlow._on_orphaned,
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
}
