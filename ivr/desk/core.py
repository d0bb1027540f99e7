"""What every part of the desk shares: its state, and the few moves each part
makes (move an operator, act on a callback's case, wake the dispatcher).

`ivr/desk/desk.py` puts the parts together (`Desk`); `ivr/desk/legs.py` is one
caller's operator leg, `ivr/desk/callbacks.py` the callbacks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.ari.client import AriClient
from ivr.audio.catalog import Catalog
from ivr.call import flow
from ivr.cases.registry import Cases, callback_source
from ivr.db.recorder import Recorder
from ivr.desk import line_store as lines
from ivr.desk.operator_store import act
from ivr.desk.operators import Action, Operator
from ivr.desk.phones import PhoneKey
from ivr.desk.queues import Queues
from ivr.directory.routing import Directory
from ivr.errors import IvrError
from ivr.publish.hours import Hours
from ivr.settings import Settings

if TYPE_CHECKING:
    from ivr.stasis.calls import Call

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
class DeskCore:
    settings: Settings
    ari: AriClient
    sessionmaker: async_sessionmaker[AsyncSession]
    directory: Directory
    catalog: Catalog
    hours: Hours
    queues: Queues
    recorder: Recorder
    now: Callable[[], datetime]
    # Put an event in a call's queue; False if there is no such call.
    post: Callable[[str, object], bool]
    # Hand a flow event to a call (in its task) and carry out its commands.
    handle: Callable[[Call, flow.Event], Awaitable[None]]
    # The cases callback requests open follow what became of them.
    cases: Cases | None = None
    staff: list[Operator] = field(default_factory=list)
    legs: dict[str, str] = field(default_factory=dict)  # leg id -> call id
    waiting: dict[str, Waiting] = field(default_factory=dict)  # by channel
    # Where a queue entry's caller is now, when not on the entry's own channel.
    channels: dict[str, str] = field(default_factory=dict)
    # Callback channels ringing the caller, by channel id.
    callbacks: dict[str, PlacedCallback] = field(default_factory=dict)
    _poke: asyncio.Event = field(default_factory=asyncio.Event)
    _pushed: dict[str, PhoneKey] = field(default_factory=dict)

    def poke(self) -> None:
        """Something changed (a caller joined, an operator is free): dispatch now."""
        self._poke.set()

    def operator(self, operator_id: str) -> Operator | None:
        return next((op for op in self.staff if op.id == operator_id), None)

    async def _callback_case(self, entry_id: str, *moves: tuple[str, str, str | None]) -> None:
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

    # -- the database -------------------------------------------------------------------

    async def _move(
        self,
        operator_id: str,
        action: Action,
        call_id: str,
        offer: tuple[str, str] | None = None,
    ) -> None:
        """Move the operator and, if given, close the entry's offer with its
        outcome (`offer`: entry id, outcome), in one transaction."""
        async with self.sessionmaker() as session, session.begin():
            await self._act(session, operator_id, action, call_id)
            if offer is not None:
                entry_id, outcome = offer
                await lines.offer_ended(session, entry_id, operator_id, outcome, self.now())

    async def _act(
        self, session: AsyncSession, operator_id: str, action: Action, call_id: str
    ) -> None:
        try:
            await act(session, operator_id, action, self.now(), call_id=call_id)
        except IvrError as exc:
            # An admin moved the operator meanwhile: their move stands.
            log.warning("operator %s: %s", operator_id, exc)
