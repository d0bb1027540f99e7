"""Who answers now, and who rings next: the desk's dispatcher.

A part of the desk (`ivr/desk/desk.py`).

- **Who answers now** (`service`): a department is open by its hours
  (`ivr/publish/hours.py`); it has operators at all, and someone signed in
  whose phone Asterisk can ring (`ivr/desk/presence.py`). The staff list is
  re-read from the database every tick (`refresh`), so a sign-in from the
  API or a phone counts within a second on every controller; an operator's
  phone new or changed since is pushed to Asterisk then, and watched.
- **Who rings next** (`run`): for each department with callers of ours in
  line, `ivr.desk.line_store.claim` picks the longest-idle operator for the
  department's oldest caller in one transaction. The claim becomes an
  `Offer` in that caller's own event queue, or, for a caller who asked to be
  called back, a callback (`call_back`). The dispatcher also tells every
  waiting caller their position at the department's interval, and when the
  wait passes the department's limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.call import flow
from ivr.desk import line_store as lines
from ivr.desk.core import DeskState, Moves
from ivr.desk.interfaces import DeskAsterisk
from ivr.desk.legs import Offer
from ivr.desk.operator_store import staff_and_phones
from ivr.desk.operators import effective, staffed
from ivr.desk.phones import PHONE_TECHNOLOGY, PhoneKey, phone_key, push_phone
from ivr.desk.presence import record as record_phones
from ivr.desk.queues import Queues
from ivr.directory.routing import Directory
from ivr.errors import AriError
from ivr.publish.hours import Hours
from ivr.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Dispatcher:
    """Who answers a department now, and the loop that offers callers to operators."""

    ari: DeskAsterisk
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    directory: Directory
    hours: Hours  # replaced on publication (`Desk.hours`)
    queues: Queues
    now: Callable[[], datetime]
    # Put an event in a call's queue; False if there is no such call.
    post: Callable[[str, object], bool]
    # Ring back a caller whose callback's turn came (`Callbacks.call_back`).
    call_back: Callable[[lines.Claim, str], Awaitable[None]]
    state: DeskState
    moves: Moves
    # The phones Asterisk was told, as told: pushed again only when changed.
    _pushed: dict[str, PhoneKey] = field(default_factory=dict, init=False)
    # Asterisk has not yet told us where the phones are (`_watch_phones`);
    # and asking failed (said once, not every tick).
    _read_phones: bool = field(default=True, init=False)
    _phones_unread: bool = field(default=False, init=False)

    # -- who answers now ------------------------------------------------------------

    def service(self, code: str) -> flow.Service:
        if not self.hours.is_open(code, self.now()):
            return "after_hours"
        # A signed-in operator whose phone is not registered answers nobody:
        # a department with only such operators is as one with nobody on duty.
        staff = self.state.reachable_staff()
        if any(code in op.departments for op in self.state.staff):
            members = [op for op in staff if code in op.departments]
            return "operators" if staffed(members, code) else "unstaffed"
        overflow = self._overflow(code)
        if overflow is not None and overflow.after.total_seconds() == 0:
            # No operators of its own: its parent's answer at once.
            parents = [op for op in staff if overflow.parent in op.departments]
            if staffed(parents, overflow.parent):
                return "operators"
        return "after_hours"  # a department with no operators has no desk

    def _anyone_free(self, code: str, wrap_up: timedelta) -> bool:
        overflow = self._overflow(code)
        serving = {code} if overflow is None else {code, overflow.parent}
        now = self.now()
        return any(
            effective(op, now, wrap_up).status == "available"
            for op in self.state.reachable_staff()
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
            self.state.staff, phones = await staff_and_phones(session)
        pushed: list[str] = []
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
            pushed.append(row.endpoint)
        if (pushed or self._read_phones) and self.state.staff:
            await self._watch_phones(pushed)
        await self._write_phones()

    def forget_phones(self) -> None:
        """Asterisk (re)connected: it may know none of the phones pushed before."""
        self._pushed.clear()
        self._read_phones = True
        self.state.phones.forget()

    def phone_seen(self, endpoint: str, state: str | None) -> None:
        """Asterisk says an operator's phone is `state` now (its event)."""
        if self.state.phones.seen(endpoint, state, self.now()):
            log.info("operator phone %s is %s", endpoint, state)
            self.state.poke()  # someone reachable again, or written down as gone

    async def _watch_phones(self, endpoints: list[str]) -> None:
        """Hear of the `endpoints`' changes from now on, then read where every
        operator's phone is (a change before the subscription is in the read)."""
        self._read_phones = True
        try:
            for endpoint in endpoints:
                await self.ari.watch_endpoint(PHONE_TECHNOLOGY, endpoint)
            states = await self.ari.endpoint_states(PHONE_TECHNOLOGY)
        except AriError as exc:
            if not self._phones_unread:
                log.warning("cannot tell whether operators' phones are registered: %s", exc)
            self._phones_unread = True
            return  # tried again next tick; meanwhile nobody is held back
        self._read_phones = self._phones_unread = False
        now = self.now()
        for operator in self.state.staff:
            self.state.phones.seen(operator.endpoint, states.get(operator.endpoint), now)

    async def _write_phones(self) -> None:
        """Write what changed of our Asterisk's view, for every controller's page."""
        cleared, changes = self.state.phones.pending()
        if not cleared and not changes:
            return
        async with self.sessionmaker() as session, session.begin():
            await record_phones(session, self.settings.node_name, changes, clear=cleared)
        self.state.phones.written(cleared, changes)

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
                    await self.moves.act(session, operator, "hang_up", entry.call_id)
                await lines.leave(session, entry.call_id, "channel_gone", self.now())
                self.state.waiting.pop(entry.call_id, None)
            # A callback whose ringing died with the previous controller: again.
            await lines.retry_callbacks(session, self.settings.node_name, self.now())
        self.state.poke()

    # -- who rings next -------------------------------------------------------------

    async def run(self) -> None:
        wake = self.state.wake
        while True:
            try:
                async with asyncio.timeout(self.settings.queue_tick):
                    await wake.wait()
            except TimeoutError:
                pass
            wake.clear()
            try:
                await self.refresh()
                await self._dispatch()
                await self._announce()
            except Exception:
                log.exception("queue dispatch failed; trying again next tick")

    async def _dispatch(self) -> None:
        departments = {w.department for w in self.state.waiting.values()}
        if self.settings.callback_dial:
            async with self.sessionmaker() as session:
                due = await lines.callback_departments(
                    session, self.settings.node_name, self.now()
                )
            # A callback waits for working hours and someone on duty.
            departments |= {code for code in due if self.service(code) == "operators"}
        for department in sorted(departments):
            wrap_up = timedelta(seconds=self.queues.rules(department).wrap_up_seconds)
            if self._anyone_free(department, wrap_up):
                await self._claim_all(department, wrap_up)
            # else, as this tick's staff list says: no transaction for nothing

    async def _claim_all(self, department: str, wrap_up: timedelta) -> None:
        """Offer the department's callers, oldest first, while operators are free."""
        while True:
            async with self.sessionmaker() as session, session.begin():
                claim = await lines.claim(
                    session,
                    department,
                    self.settings.node_name,
                    self.now(),
                    wrap_up,
                    self._overflow(department),
                    unreachable=self.state.phones.unreachable(self.state.staff),
                )
            if claim is None:
                return
            if claim.operator is None:
                await self.call_back(claim, department)
                continue
            channel = self.state.channels.get(claim.call_id, claim.call_id)
            if not self.post(channel, Offer(claim.operator)):
                # The caller went between the claim and now.
                offer = (claim.call_id, "caller_left")
                await self.moves.move(claim.operator.id, "hang_up", claim.call_id, offer=offer)

    async def _announce(self) -> None:
        waiting = self.state.waiting
        if not waiting:
            return
        now = self.now()
        async with self.sessionmaker() as session:
            departments = sorted({w.department for w in waiting.values()})
            places = await lines.positions(session, departments)
        for call_id, in_line in list(waiting.items()):
            rules = self.queues.rules(in_line.department)
            over = now - in_line.entered_at >= timedelta(seconds=rules.max_wait_seconds)
            due = now - in_line.announced_at >= timedelta(seconds=rules.announce_every_seconds)
            if due or (over and not in_line.limit_said):
                in_line.announced_at = now
                in_line.limit_said = in_line.limit_said or over
                position = places.get(in_line.entry_id, 1)
                self.post(call_id, flow.QueueUpdate(position, over_limit=over))
