"""The caller's turns at whatever menu is open, and the call's own moments.

While the caller chooses (`State.PROMPTING`, `State.WAITING`), a key, the
silence of the digit timer and a hang-up belong to the open menu: `Turns`
does what is the same on every menu (stop what plays, count, start the
timer) and asks the menu's row (`MenuRow`, ivr/call/table.py) for the rest.
It also handles what belongs to no menu: the goodbye, a call taken back by
another controller, an orphaned channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ivr.call.events import Command, Event, Hangup, KeyPressed, Step, TimerFired
from ivr.call.state import (
    PROMPT_ENDED_BY_SYSTEM,
    PROMPT_GOODBYE,
    PROMPT_RESUMED,
    CallState,
    Context,
    MenuKind,
    State,
)
from ivr.call.tracking import unheard_number


@dataclass(frozen=True)
class MenuRow:
    """One sub-machine (a menu): what it says, and what it makes of each of the
    caller's turns while it is open."""

    intro: Callable[[], tuple[str, ...]]  # what opens it: a greeting, information
    prompts: Callable[[], tuple[str, ...]]  # its choices, said on every turn
    key: Callable[[str], list[Command] | None]  # None: the key offers nothing here
    wrong_key: Callable[[], list[Command]]  # ... and then this
    silence: Callable[[], list[Command]]  # the digit timer fired: no key
    hung_up: Callable[[], str]  # how the call ends if the caller hangs up now
    wait: Callable[[], float]  # seconds the caller has for a key after the prompts


class MenuRows:
    """The open menu's row, read from the table (paths among a call's parts,
    `ivr.call.table.MENU_TABLE`) for the parts of this call."""

    def __init__(self, table: Mapping[MenuKind, tuple[Callable[[Any], Any], ...]]) -> None:
        self.table = table
        # Set once the call's parts are built. Weak: the parts hold these rows
        # (through `Turns`), and a cycle would keep every ended call's flow
        # alive until the garbage collector's next full pass.
        self.parts: Callable[[], object] = lambda: None

    def __getitem__(self, kind: MenuKind) -> MenuRow:
        parts = self.parts()
        return MenuRow(*(get(parts) for get in self.table[kind]))


class Turns:
    def __init__(self, call: CallState, context: Context, menus: MenuRows) -> None:
        self.call = call
        self.context = context
        self.menus = menus

    @staticmethod
    def nothing() -> tuple[str, ...]:
        """The intro of a menu that says nothing before its choices."""
        return ()

    def digit_wait(self) -> float:
        """A menu's wait for a key: the caller is choosing."""
        return self.context.config.digit_timeout

    def front_wait(self) -> float:
        """The front page's wait: short, since silence there chooses the default."""
        return self.context.config.front_timeout

    def _open(self) -> MenuRow:
        return self.menus[self.call.menu]

    # -- handed to the open menu ----------------------------------------------------

    def key(self, event: Event) -> list[Command]:
        assert isinstance(event, KeyPressed)
        call = self.call
        commands = [Step("key", event.digit), *call.interrupt()]
        call.silences = 0
        menu = self._open()
        outcome = menu.key(event.digit)
        if outcome is None:
            return [*commands, *menu.wrong_key()]
        call.invalid = call.misses = 0
        return [*commands, *outcome]

    def silence(self, event: Event) -> list[Command]:
        assert isinstance(event, TimerFired)
        if event.timer_id != self.call.timer_id:
            return []  # a timer the caller's key already cancelled
        self.call.timer_id = None
        return self._open().silence()

    def hung_up(self, _: Event) -> list[Command]:
        return self.call.end(self._open().hung_up())

    def resume_choosing(self, _: Event) -> list[Command]:
        call = self.call
        note, stale = call.resumed(), call.stale_playback()
        call.timer_id = None  # its timer died with the previous controller
        menu = self._open()
        return [note, *stale, *call.play(PROMPT_RESUMED, *menu.intro(), *menu.prompts())]

    def wait_for_key(self) -> list[Command]:
        """The choices were said: the caller's turn, as long as the open menu waits."""
        return self.call.wait_for_key(self._open().wait())

    # -- recording, talking, closing ------------------------------------------------

    def hung_up_recording(self, _: Event) -> list[Command]:
        # Once the recording runs, what was recorded is kept.
        recorded = self.call.recording
        return self.call.end("message_left" if recorded else self._open().hung_up())

    def hung_up_talking(self, _: Event) -> list[Command]:
        return self.call.end("completed")

    def resume_talking(self, _: Event) -> list[Command]:
        return [self.call.resumed()]  # the bridge goes on in Asterisk

    def hung_up_closing(self, _: Event) -> list[Command]:
        # The caller left during the goodbye: the call ended as decided.
        return self.call.end(self.call.end_reason or self._open().hung_up())

    def goodbye_said(self) -> list[Command]:
        call = self.call
        if call.number_due:  # what closed the call was said: the case's number, goodbye
            call.number_due = False
            return call.play(*unheard_number(call), PROMPT_GOODBYE, state=State.CLOSING)
        return [Hangup(), *call.end(call.end_reason or "caller_ended")]

    def resume_closing(self, _: Event) -> list[Command]:
        return [self.call.resumed(), *self.goodbye_said()]

    def orphaned(self, _: Event) -> list[Command]:
        """A channel of ours whose call record was lost: an apology, then goodbye."""
        self.call.end_reason = "ended_after_recovery"
        closing = self.call.play(PROMPT_ENDED_BY_SYSTEM, PROMPT_GOODBYE, state=State.CLOSING)
        return [Step("note", "orphaned"), *closing]
