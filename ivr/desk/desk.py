"""The desk: in working hours a caller reaches an operator (the ACD).

Theory of operation
-------------------
Three parts, each with one job:

- **Who answers now** (`service`): a department is open by its hours
  (`ivr/publish/hours.py`); it has operators at all, and someone signed in.
  The staff list is re-read from the database every tick, so a sign-in
  from the API or a phone counts within a second on every controller.
- **Who rings next** (`run`, the dispatcher): for each department with
  callers of ours in line, `ivr.desk.line_store.claim` picks the longest-idle
  operator for the department's oldest caller in one transaction. The
  claim becomes an `Offer` in that caller's own event queue. The dispatcher
  also tells every waiting caller their position at the department's
  interval, and when the wait passes the department's limit.
- **One caller's operator leg** (`on_event`, run in the call's own task,
  so it never races the caller's own hang-up): dial the operator's phone into
  our app, ring for the department's ring time, on answer whisper the
  department's name to the operator and bridge the two in a mixing bridge.
  When either side hangs up the other is hung up and the bridge destroyed,
  so nothing stays in Asterisk after a call.

Every operator move goes through `ivr.desk.operator_store.act` (ringing, busy,
wrap-up, missed offers), so `GET /api/operators` counts what happened,
and the queue's own record (`queue_entries`) keeps who was offered, who
answered, the wait and the talk time.

`Desk` is put together from parts, each its own module: the shared state
and moves (`ivr/desk/core.py`), one caller's operator leg
(`ivr/desk/legs.py`) and the callbacks a claim may ring instead of an
operator (`ivr/desk/callbacks.py`). Who answers now, the dispatcher and a
caller's place in line are here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from ivr.call import flow
from ivr.desk import line_store as lines
from ivr.desk.callbacks import DeskCallbacks
from ivr.desk.core import CALLBACK_ARG, LEG_ARG, PlacedCallback, Waiting
from ivr.desk.legs import (
    DESK_EVENTS,
    DeskEvent,
    DeskLegs,
    Leg,
    LegAnswered,
    LegGone,
    Offer,
    RingTimeout,
    WhisperDone,
)
from ivr.desk.operator_store import staff_and_phones
from ivr.desk.operators import effective, staffed
from ivr.desk.phones import phone_key, push_phone
from ivr.errors import AriError

if TYPE_CHECKING:
    from ivr.stasis.calls import Call

log = logging.getLogger(__name__)

# The desk's events, records and channel arguments are part of this module's
# interface.
__all__ = [
    "CALLBACK_ARG",
    "DESK_EVENTS",
    "LEG_ARG",
    "Desk",
    "DeskEvent",
    "Leg",
    "LegAnswered",
    "LegGone",
    "Offer",
    "PlacedCallback",
    "RingTimeout",
    "Waiting",
    "WhisperDone",
]


class Desk(DeskLegs, DeskCallbacks):
    """The desk: who answers now, the dispatcher and the line (here), each
    caller's operator leg (`DeskLegs`) and callbacks (`DeskCallbacks`), on a
    shared state (`DeskCore`)."""

    # -- who answers now ------------------------------------------------------------

    def service(self, code: str) -> flow.Service:
        if not self.hours.is_open(code, self.now()):
            return "after_hours"
        members = [op for op in self.staff if code in op.departments]
        if members:
            return "operators" if staffed(members, code) else "unstaffed"
        overflow = self._overflow(code)
        if overflow is not None and overflow.after.total_seconds() == 0:
            # No operators of its own: its parent's answer at once.
            parents = [op for op in self.staff if overflow.parent in op.departments]
            if staffed(parents, overflow.parent):
                return "operators"
        return "after_hours"  # a department with no operators has no desk

    def _anyone_free(self, code: str, wrap_up: timedelta) -> bool:
        overflow = self._overflow(code)
        serving = {code} if overflow is None else {code, overflow.parent}
        now = self.now()
        return any(
            effective(op, now, wrap_up).status == "available"
            for op in self.staff
            if op.departments & serving
        )

    def _overflow(self, code: str) -> lines.Overflow | None:
        after = self.queues.rules(code).overflow_after_seconds
        parent = self.directory.by_code(code).parent
        if after is None or parent is None:
            return None
        return lines.Overflow(parent, timedelta(seconds=after))

    async def refresh(self) -> None:
        async with self.sessionmaker() as session:
            self.staff, phones = await staff_and_phones(session)
        for row in phones:
            key = phone_key(row)
            if self._pushed.get(row.id) == key:
                continue
            try:
                await push_phone(self.ari, self.settings, row)
            except AriError as exc:
                log.error("cannot give operator %s's phone to Asterisk: %s", row.id, exc)
                continue
            self._pushed[row.id] = key

    def forget_phones(self) -> None:
        """Asterisk (re)connected: it may know none of the phones pushed before."""
        self._pushed.clear()

    async def sweep(self, live_entries: set[str]) -> None:
        """After a reconnect: this node's places and operators whose call is gone.

        A call that went while nobody listened (Asterisk restarted) must not
        keep its place in line, nor its operator busy or ringing for good."""
        async with self.sessionmaker() as session, session.begin():
            for entry in await lines.open_entries(session, self.settings.node_name):
                if entry.call_id in live_entries:
                    continue
                if entry.status in ("ringing", "connected") and entry.offers:
                    operator = str(entry.offers[-1]["operator"])
                    await self._act(session, operator, "hang_up", entry.call_id)
                await lines.leave(session, entry.call_id, "channel_gone", self.now())
                self.waiting.pop(entry.call_id, None)
            # A callback whose ringing died with the previous controller: again.
            await lines.retry_callbacks(session, self.settings.node_name, self.now())
        self.poke()

    # -- the dispatcher -------------------------------------------------------------

    async def run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.settings.queue_tick):
                    await self._poke.wait()
            except TimeoutError:
                pass
            self._poke.clear()
            try:
                await self.refresh()
                await self._dispatch()
                await self._announce()
            except Exception:
                log.exception("queue dispatch failed; trying again next tick")

    async def _dispatch(self) -> None:
        departments = {w.department for w in self.waiting.values()}
        if self.settings.callback_dial:
            async with self.sessionmaker() as session:
                due = await lines.callback_departments(
                    session, self.settings.node_name, self.now()
                )
            # A callback waits for working hours and someone on duty.
            departments |= {code for code in due if self.service(code) == "operators"}
        for department in sorted(departments):
            wrap_up = timedelta(seconds=self.queues.rules(department).wrap_up_seconds)
            if not self._anyone_free(department, wrap_up):
                continue  # as this tick's staff list says: no transaction for nothing
            while True:
                async with self.sessionmaker() as session, session.begin():
                    claim = await lines.claim(
                        session,
                        department,
                        self.settings.node_name,
                        self.now(),
                        wrap_up,
                        self._overflow(department),
                    )
                if claim is None:
                    break
                if claim.operator is None:
                    await self._call_back(claim, department)
                    continue
                channel = self.channels.get(claim.call_id, claim.call_id)
                if not self.post(channel, Offer(claim.operator)):
                    # The caller went between the claim and now.
                    await self._move(
                        claim.operator.id,
                        "hang_up",
                        claim.call_id,
                        offer=(claim.call_id, "caller_left"),
                    )

    async def _announce(self) -> None:
        if not self.waiting:
            return
        now = self.now()
        async with self.sessionmaker() as session:
            departments = sorted({w.department for w in self.waiting.values()})
            places = await lines.positions(session, departments)
        for call_id, waiting in list(self.waiting.items()):
            rules = self.queues.rules(waiting.department)
            over = now - waiting.entered_at >= timedelta(seconds=rules.max_wait_seconds)
            due = now - waiting.announced_at >= timedelta(seconds=rules.announce_every_seconds)
            if due or (over and not waiting.limit_said):
                waiting.announced_at = now
                waiting.limit_said = waiting.limit_said or over
                position = places.get(waiting.entry_id, 1)
                self.post(call_id, flow.QueueUpdate(position, over_limit=over))

    # -- a caller in line -------------------------------------------------------------

    async def join(self, call_id: str, department: str, caller: str) -> int:
        now = self.now()
        async with self.sessionmaker() as session, session.begin():
            position = await lines.join(
                session, call_id, department, self.settings.node_name, caller, now
            )
        self.waiting[call_id] = Waiting(department, now, now, call_id)
        self.poke()
        return position

    async def rejoin(self, call_id: str, entry_id: str) -> None:
        """A queued call taken back after a restart: its place is in the database."""
        async with self.sessionmaker() as session, session.begin():
            entry = await lines.get_entry(session, entry_id)
            if entry is None:
                return
            if entry.status == "ringing" and entry.offers:
                # The ring died with the previous controller.
                operator = str(entry.offers[-1]["operator"])
                await self._act(session, operator, "hang_up", call_id)
                await lines.offer_ended(
                    session, entry_id, operator, "controller_restart", self.now()
                )
            await lines.take_over(session, entry_id, self.settings.node_name)
        if entry_id != call_id:
            self.channels[entry_id] = call_id
        self.waiting[call_id] = Waiting(
            entry.department_code, entry.entered_at, self.now(), entry_id
        )
        self.poke()

    async def leave(self, call: Call, outcome: str) -> None:
        """The caller is out of line (a message, a hang-up, the end of a talk)."""
        self.waiting.pop(call.call_id, None)
        self.channels.pop(call.entry_id, None)
        leg = call.leg
        if leg is not None:
            call.leg = None
            await self._release(call, leg)
        async with self.sessionmaker() as session, session.begin():
            await lines.leave(session, call.entry_id, outcome, self.now())
        self.poke()
