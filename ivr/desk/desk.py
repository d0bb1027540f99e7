"""The desk: in working hours a caller reaches an operator (the ACD).

Theory of operation
-------------------
The `Desk` is put together from parts, each an object with one job, which
share one small state (`DeskState`: staff, callers in line, legs, callbacks
ringing, the dispatcher's wake-up) and one way to write (`Moves`), both in
`ivr/desk/core.py`:

- **Who answers now, and who rings next** (`Dispatcher`,
  `ivr/desk/dispatcher.py`): a department is open by its hours and has
  someone signed in; every tick (or at once when poked) it re-reads the
  staff, claims the longest-idle operator for each department's oldest
  caller, and tells waiting callers their position.
- **One caller's operator leg** (`OperatorLegs`, `ivr/desk/legs.py`, run in
  the call's own task, so it never races the caller's own hang-up): ring the
  operator's phone, whisper, bridge, and when either side hangs up hang up
  the other and destroy the bridge, so nothing stays in Asterisk after a call.
- **Callbacks** (`Callbacks`, `ivr/desk/callbacks.py`): a claim may ring a
  caller who asked to be called back instead of an operator.
- **A caller's place in line** (here): join, take back after a restart, leave.

Every operator move goes through `ivr.desk.operator_store.act` (ringing, busy,
wrap-up, missed offers), so `GET /api/operators` counts what happened,
and the queue's own record (`queue_entries`) keeps who was offered, who
answered, the wait and the talk time.

The desk imports neither the controller nor the ARI client: what it needs of
a call (`QueuedCall`) and of Asterisk (`DeskAsterisk`) it declares in
`ivr/desk/interfaces.py`; the controller passes its own. The desk's events
(`DeskEvent`) and the operator's leg (`Leg`) are the desk's, and the
controller imports them from here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Generic

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.audio.catalog import Catalog
from ivr.call import flow
from ivr.cases.registry import Cases
from ivr.db.recorder import Recorder
from ivr.desk import line_store as lines
from ivr.desk.callbacks import Callbacks
from ivr.desk.core import CALLBACK_ARG, LEG_ARG, DeskState, Leg, Moves, PlacedCallback, Waiting
from ivr.desk.dispatcher import Dispatcher
from ivr.desk.feed import DeskFeed
from ivr.desk.interfaces import CallT, DeskAsterisk, QueuedCall
from ivr.desk.legs import (
    DESK_EVENTS,
    DeskEvent,
    LegAnswered,
    LegGone,
    Offer,
    OperatorLegs,
    RingTimeout,
    WhisperDone,
)
from ivr.desk.operators import Operator
from ivr.desk.queues import Queues
from ivr.directory.routing import Directory
from ivr.publish.hours import Hours
from ivr.settings import Settings

# The desk's events, records and channel arguments are part of this module's
# interface.
__all__ = [
    "CALLBACK_ARG",
    "DESK_EVENTS",
    "LEG_ARG",
    "Desk",
    "DeskAsterisk",
    "DeskEvent",
    "Leg",
    "LegAnswered",
    "LegGone",
    "Offer",
    "PlacedCallback",
    "QueuedCall",
    "RingTimeout",
    "Waiting",
    "WhisperDone",
]


class Desk(Generic[CallT]):
    """The desk's parts put together, behind the one interface the controller uses."""

    def __init__(
        self,
        *,
        settings: Settings,
        ari: DeskAsterisk,
        sessionmaker: async_sessionmaker[AsyncSession],
        directory: Directory,
        catalog: Catalog,
        hours: Hours,
        queues: Queues,
        recorder: Recorder,
        now: Callable[[], datetime],
        post: Callable[[str, object], bool],
        handle: Callable[[CallT, flow.Event], Awaitable[None]],
        cases: Cases | None = None,
        staff: list[Operator] | None = None,
        feed: DeskFeed | None = None,
    ) -> None:
        """`post` puts an event in a call's queue (False: no such call); `handle`
        hands a flow event to a call, in its task, and carries out its commands;
        `cases` follow what became of callback requests; `feed` tells
        operators' screens of the calls ringing them."""
        self._settings, self._sessionmaker, self._now = settings, sessionmaker, now
        self._state = state = DeskState(staff=[] if staff is None else staff)
        self._moves = moves = Moves(sessionmaker, now, cases)
        self._callbacks_part = Callbacks(ari, settings, sessionmaker, queues, now, state, moves)
        self._operator_legs = OperatorLegs[CallT](
            ari, settings, sessionmaker, directory, catalog, queues, recorder, now, post, handle,
            state, moves, feed,
        )
        self._dispatcher = Dispatcher(
            ari, settings, sessionmaker, directory, hours, queues, now, post,
            self._callbacks_part.call_back, state, moves,
        )

    # -- what the controller reads and sets ---------------------------------------------

    @property
    def legs(self) -> dict[str, str]:
        """Operator legs by channel id: the call each serves."""
        return self._state.legs

    @property
    def callbacks(self) -> dict[str, PlacedCallback]:
        """Callback channels ringing a caller, by channel id."""
        return self._state.callbacks

    @property
    def staff(self) -> list[Operator]:
        """The operators as last read from the database."""
        return self._state.staff

    @property
    def catalog(self) -> Catalog:
        return self._operator_legs.catalog

    @catalog.setter
    def catalog(self, catalog: Catalog) -> None:  # a new prompt catalog is in force
        self._operator_legs.catalog = catalog

    @property
    def hours(self) -> Hours:
        return self._dispatcher.hours

    @hours.setter
    def hours(self, hours: Hours) -> None:  # new working hours are in force
        self._dispatcher.hours = hours

    def operator(self, operator_id: str) -> Operator | None:
        return self._state.operator(operator_id)

    def poke(self) -> None:
        """Something changed (a caller joined, an operator is free): dispatch now."""
        self._state.poke()

    # -- who answers now, and who rings next (`Dispatcher`) -----------------------------

    def service(self, code: str) -> flow.Service:
        return self._dispatcher.service(code)

    async def refresh(self) -> None:
        await self._dispatcher.refresh()

    def forget_phones(self) -> None:
        self._dispatcher.forget_phones()

    def phone_seen(self, endpoint: str, state: str | None) -> None:
        """Asterisk's word on an operator's phone (`EndpointStateChange`)."""
        self._dispatcher.phone_seen(endpoint, state)

    async def sweep(self, live_entries: set[str]) -> None:
        await self._dispatcher.sweep(live_entries)

    async def run(self) -> None:
        await self._dispatcher.run()

    # -- one caller's operator leg (`OperatorLegs`), in the call's task -----------------

    async def on_event(self, call: CallT, event: DeskEvent) -> None:
        await self._operator_legs.on_event(call, event)

    # -- callbacks (`Callbacks`) --------------------------------------------------------

    def callback_answered(self, channel_id: str) -> PlacedCallback | None:
        return self._callbacks_part.answered(channel_id)

    async def callback_back_in_line(self, entry_id: str) -> None:
        await self._callbacks_part.back_in_line(entry_id)

    async def callback_unanswered(self, channel_id: str) -> None:
        await self._callbacks_part.unanswered(channel_id)

    async def request_callback(self, call: CallT) -> None:
        await self._callbacks_part.request(call)

    # -- a caller in line ---------------------------------------------------------------

    async def join(self, call_id: str, department: str, caller: str) -> int:
        now = self._now()
        async with self._sessionmaker() as session, session.begin():
            position = await lines.join(
                session, call_id, department, self._settings.node_name, caller, now
            )
        self._state.wait_in_line(call_id, department, call_id, now)
        self.poke()
        return position

    async def rejoin(self, call_id: str, entry_id: str) -> bool:
        """A queued call taken back after a restart: its place is in the
        database. False when it has none (its controller died before taking it)."""
        async with self._sessionmaker() as session, session.begin():
            entry = await lines.get_entry(session, entry_id)
            if entry is None:
                return False
            if entry.status == "ringing" and entry.offers:
                # The ring died with the previous controller.
                operator = str(entry.offers[-1]["operator"])
                await self._moves.act(session, operator, "hang_up", call_id)
                await lines.offer_ended(
                    session, entry_id, operator, "controller_restart", self._now()
                )
            await lines.take_over(session, entry_id, self._settings.node_name)
        if entry_id != call_id:
            self._state.channels[entry_id] = call_id
        self._state.waiting[call_id] = Waiting(
            entry.department_code, entry.entered_at, self._now(), entry_id
        )
        self.poke()
        return True

    async def leave(self, call: CallT, outcome: str) -> None:
        """The caller is out of line (a message, a hang-up, the end of a talk)."""
        self._state.waiting.pop(call.call_id, None)
        self._state.channels.pop(call.entry_id, None)
        leg = call.leg
        if leg is not None:
            call.leg = None
            await self._operator_legs.release(call, leg)
        async with self._sessionmaker() as session, session.begin():
            await lines.leave(session, call.entry_id, outcome, self._now())
        self.poke()
