"""What the parts of the desk share: a small state, and the moves each makes.

`DeskState` is the desk's memory in this controller: the staff as last read,
the callers of ours in line, the operator legs and the callbacks ringing, and
the dispatcher's wake-up. `Moves` is what every part writes: an operator's
move with its offer's outcome, and a callback's case. The parts themselves
(`ivr/desk/dispatcher.py`, `ivr/desk/legs.py`, `ivr/desk/callbacks.py`) are
objects the `Desk` (`ivr/desk/desk.py`) holds; each is given this state and
these moves, and nothing else of the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.cases.registry import Cases, callback_source
from ivr.desk import line_store as lines
from ivr.desk.feed import FeedCall
from ivr.desk.operator_store import act
from ivr.desk.operators import Action, Operator
from ivr.desk.presence import Presence
from ivr.errors import IvrError

log = logging.getLogger(__name__)

# `Stasis(app, ...)` arguments that mark a channel as an operator's leg, or
# as our callback to a caller.
LEG_ARG = "operator"
CALLBACK_ARG = "callback"


@dataclass
class Waiting:
    """One of our callers in line, as the dispatcher tracks them."""

    department: str
    entered_at: datetime
    announced_at: datetime
    entry_id: str
    limit_said: bool = False


@dataclass(frozen=True)
class PlacedCallback:
    """A callback ringing the caller's phone."""

    entry_id: str
    department: str
    caller: str


@dataclass
class Leg:
    """The operator's side of one call."""

    id: str  # the operator channel's id
    operator: Operator
    answered: bool = False
    # We already moved the operator on (the caller left): the leg's own end
    # must not move them again.
    released: bool = False
    whisper_id: str | None = None
    bridge_id: str | None = None
    ring_timer: asyncio.TimerHandle | None = None
    # What the operator's screen shows of the call, made when it rang.
    shown: FeedCall | None = None


@dataclass
class DeskState:
    """The desk's memory in this controller, shared by its parts."""

    # Re-read from the database every tick (`Dispatcher.refresh`).
    staff: list[Operator] = field(default_factory=list)
    # Which of their phones our Asterisk can ring.
    phones: Presence = field(default_factory=Presence)
    legs: dict[str, str] = field(default_factory=dict)  # leg id -> call id
    waiting: dict[str, Waiting] = field(default_factory=dict)  # by channel
    # Where a queue entry's caller is now, when not on the entry's own channel.
    channels: dict[str, str] = field(default_factory=dict)
    # Callback channels ringing the caller, by channel id.
    callbacks: dict[str, PlacedCallback] = field(default_factory=dict)
    # Set when something changed (a caller joined, an operator is free).
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def poke(self) -> None:
        """Something changed: the dispatcher looks again now, not at its tick."""
        self.wake.set()

    def operator(self, operator_id: str) -> Operator | None:
        return next((op for op in self.staff if op.id == operator_id), None)

    def reachable_staff(self) -> list[Operator]:
        """The staff whose phone our Asterisk can ring (or may: not known yet)."""
        unreachable = self.phones.unreachable(self.staff)
        return [op for op in self.staff if op.id not in unreachable]

    def wait_in_line(self, channel: str, department: str, entry_id: str, at: datetime) -> None:
        """The caller on `channel` waits for the entry `entry_id`, from `at`."""
        self.waiting[channel] = Waiting(department, at, at, entry_id)


@dataclass(frozen=True)
class Moves:
    """What every part writes: operators' moves, offers' outcomes, callbacks' cases."""

    sessionmaker: async_sessionmaker[AsyncSession]
    now: Callable[[], datetime]
    # The cases callback requests open follow what became of them.
    cases: Cases | None = None

    async def move(
        self,
        operator_id: str,
        action: Action,
        call_id: str,
        offer: tuple[str, str] | None = None,
    ) -> None:
        """Move the operator and, if given, close the entry's offer with its
        outcome (`offer`: entry id, outcome), in one transaction."""
        async with self.sessionmaker() as session, session.begin():
            await self.act(session, operator_id, action, call_id)
            if offer is not None:
                entry_id, outcome = offer
                await lines.offer_ended(session, entry_id, operator_id, outcome, self.now())

    async def act(
        self, session: AsyncSession, operator_id: str, action: Action, call_id: str
    ) -> None:
        """Move the operator in `session`; a move an admin made meanwhile stands."""
        try:
            await act(session, operator_id, action, self.now(), call_id=call_id)
        except IvrError as exc:
            log.warning("operator %s: %s", operator_id, exc)

    async def callback_case(self, entry_id: str, *moves: tuple[str, str, str | None]) -> None:
        """Carry the callback request's case on (`moves`: action, note, operator)."""
        if self.cases is None:
            return
        source = callback_source(entry_id)
        try:
            for action, note, operator in moves:
                await self.cases.transition(
                    source, action, actor="system", note=note, operator=operator
                )
        except IvrError as exc:
            log.warning("callback case %s: %s", source, exc)
