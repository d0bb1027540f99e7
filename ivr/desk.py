"""The desk: in working hours a caller reaches an operator (the ACD).

Theory of operation
-------------------
Three parts, each with one job:

- **Who answers now** (`service`): a department is open by its hours
  (`ivr/hours.py`); it has operators at all, and someone signed in.
  The staff list is re-read from the database every tick, so a sign-in
  from the API or a phone counts within a second on every controller.
- **Who rings next** (`run`, the dispatcher): for each department with
  callers of ours in line, `ivr.db.queue.claim` picks the longest-idle
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

Every operator move goes through `ivr.db.operators.act` (ringing, busy,
wrap-up, missed offers), so `GET /api/operators` counts what happened,
and the queue's own record (`queue_entries`) keeps who was offered, who
answered, the wait and the talk time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr import flow
from ivr.ari.client import AriClient
from ivr.cases import Cases, callback_source
from ivr.catalog import Catalog
from ivr.db import queue as lines
from ivr.db.operators import act, staff_and_phones
from ivr.db.recorder import Recorder
from ivr.directory import Directory
from ivr.errors import AriError, IvrError
from ivr.flow_desk import PROMPT_WHISPER
from ivr.hours import Hours
from ivr.numbers import read_caller
from ivr.operators import Action, Operator, effective, staffed
from ivr.operators_phone import PhoneKey, phone_key, push_phone
from ivr.queues import Queues
from ivr.settings import Settings

if TYPE_CHECKING:
    from ivr.calls import Call

log = logging.getLogger(__name__)

# `Stasis(app, ...)` arguments that mark a channel as an operator's leg, or
# as our callback to a caller.
LEG_ARG = "operator"
CALLBACK_ARG = "callback"


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


# What the desk puts in a call's event queue; handled in the call's task.
@dataclass(frozen=True)
class Offer:
    operator: Operator


@dataclass(frozen=True)
class LegAnswered:
    leg_id: str


@dataclass(frozen=True)
class LegGone:
    leg_id: str


@dataclass(frozen=True)
class RingTimeout:
    leg_id: str


@dataclass(frozen=True)
class WhisperDone:
    playback_id: str


DeskEvent = Offer | LegAnswered | LegGone | RingTimeout | WhisperDone
DESK_EVENTS = (Offer, LegAnswered, LegGone, RingTimeout, WhisperDone)


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
class Desk:
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

    def operator(self, operator_id: str) -> Operator | None:
        return next((op for op in self.staff if op.id == operator_id), None)

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

    def poke(self) -> None:
        """Something changed (a caller joined, an operator is free): dispatch now."""
        self._poke.set()

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

    # -- callbacks --------------------------------------------------------------------

    async def _call_back(self, claim: lines.Claim, department: str) -> None:
        """Ring the caller who asked for a callback; their answer puts them in line."""
        channel = f"{claim.call_id}-cb{claim.attempt}"
        number = read_caller(claim.caller).number
        self.callbacks[channel] = PlacedCallback(claim.call_id, department, claim.caller)
        log.info("calling %s back for %s (attempt %d)", number, claim.call_id, claim.attempt)
        try:
            await self.ari.originate(
                channel,
                self.settings.callback_dial.format(number=number),
                f"{CALLBACK_ARG},{claim.call_id}",
                caller_id='"12371" <12371>',
                ring_seconds=self.settings.callback_ring_seconds,
            )
        except AriError as exc:
            log.warning("callback %s could not be placed: %s", claim.call_id, exc)
            await self.callback_unanswered(channel)

    def callback_answered(self, channel_id: str) -> PlacedCallback | None:
        """The caller picked up: their channel now holds the entry's place."""
        placed = self.callbacks.pop(channel_id, None)
        if placed is not None:
            self.channels[placed.entry_id] = channel_id
            now = self.now()
            self.waiting[channel_id] = Waiting(placed.department, now, now, placed.entry_id)
        return placed

    async def callback_back_in_line(self, entry_id: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await lines.callback_answered(session, entry_id, self.settings.node_name)
        self.poke()

    async def callback_unanswered(self, channel_id: str) -> None:
        """Nobody picked up: try again later, or give up (the request stays on record)."""
        placed = self.callbacks.pop(channel_id, None)
        if placed is None:
            return
        rules = self.queues.rules(placed.department)
        async with self.sessionmaker() as session, session.begin():
            status = await lines.callback_unanswered(
                session,
                placed.entry_id,
                self.now(),
                rules.callback_attempts,
                timedelta(seconds=rules.callback_retry_seconds),
            )
        log.info("callback %s unanswered: now %s", placed.entry_id, status)
        if status == "callback_failed":
            note = f"回电{rules.callback_attempts}次无人接听，请工作人员跟进"
            await self._callback_case(placed.entry_id, ("note", note, None))

    async def request_callback(self, call: Call) -> None:
        self.waiting.pop(call.call_id, None)
        async with self.sessionmaker() as session, session.begin():
            await lines.request_callback(session, call.entry_id, self.now())

    # -- one caller's operator leg (in the caller's task) ----------------------------

    async def on_event(self, call: Call, event: DeskEvent) -> None:
        match event:
            case Offer(operator):
                await self._offer(call, operator)
            case LegAnswered(leg_id):
                await self._answered(call, leg_id)
            case WhisperDone(playback_id):
                leg = call.leg
                if leg is not None and leg.whisper_id == playback_id:
                    leg.whisper_id = None
                    await self._connect(call, leg)
            case RingTimeout(leg_id):
                leg = call.leg
                if leg is not None and leg.id == leg_id and not leg.answered:
                    await self._hang_up(leg.id, "no_answer")
            case LegGone(leg_id):
                await self._leg_gone(call, leg_id)

    async def _offer(self, call: Call, operator: Operator) -> None:
        if not call.flow.queued or call.leg is not None:
            await self._move(
                operator.id, "hang_up", call.call_id, offer=(call.entry_id, "caller_left")
            )
            return
        department = call.flow.department
        rules = self.queues.rules(department)
        call.offers += 1
        leg = Leg(f"{call.call_id}-op{call.offers}", operator)
        call.leg = leg
        self.legs[leg.id] = call.call_id
        self.recorder.step(call.call_id, self.now(), "note", "offered", operator.id)
        caller_name = self.directory.by_code(department).short_name
        try:
            await self.ari.originate(
                leg.id,
                f"PJSIP/{operator.endpoint}",
                f"{LEG_ARG},{call.call_id}",
                caller_id=f'"12371 {caller_name}" <{call.caller or "12371"}>',
                ring_seconds=rules.ring_seconds + 5,
            )
        except AriError as exc:
            log.warning("call %s: cannot ring %s: %s", call.call_id, operator.id, exc)
            call.leg = None
            self.legs.pop(leg.id, None)
            await self._move(
                operator.id, "no_answer", call.call_id, offer=(call.entry_id, "no_answer")
            )
            return
        loop = asyncio.get_running_loop()
        leg.ring_timer = loop.call_later(
            rules.ring_seconds, self.post, call.call_id, RingTimeout(leg.id)
        )

    async def _answered(self, call: Call, leg_id: str) -> None:
        leg = call.leg
        if leg is None or leg.id != leg_id or not call.flow.queued:
            await self._hang_up(leg_id, "normal")  # too late: the caller left or moved on
            return
        if leg.ring_timer is not None:
            leg.ring_timer.cancel()
        leg.answered = True
        await self._move(leg.operator.id, "answer", call.call_id, offer=(call.entry_id, "answered"))
        self.waiting.pop(call.call_id, None)
        if self.queues.rules(call.flow.department).whisper:
            leg.whisper_id = f"{leg.id}-w"
            media = [
                self.catalog.media_uri(prompt, self.settings.prompt_base_url)
                for prompt in (f"dept.{call.flow.department}", PROMPT_WHISPER)
            ]
            try:
                await self.ari.play(leg.id, leg.whisper_id, media)
                return
            except AriError as exc:
                log.warning("call %s: no whisper (%s); connecting", call.call_id, exc)
                leg.whisper_id = None
        await self._connect(call, leg)

    async def _connect(self, call: Call, leg: Leg) -> None:
        # The caller's music and prompts stop before the bridge, not after:
        # the operator must not hear the end of an announcement.
        await self.handle(call, flow.OperatorConnected(leg.operator.id))
        leg.bridge_id = f"{call.call_id}-b"
        await self.ari.create_bridge(leg.bridge_id)
        await self.ari.add_to_bridge(leg.bridge_id, [call.call_id, leg.id])
        if call.entry_id != call.call_id:
            # A callback reached its caller: the operator now handles the case.
            operator = leg.operator.id
            answered = ("assign", f"回电已接通，由{operator}接听", operator)
            await self._callback_case(call.entry_id, answered, ("start", "", None))

    async def _callback_case(self, entry_id: str, *moves: tuple[str, str, str | None]) -> None:
        if self.cases is None:
            return
        source = callback_source(entry_id)
        try:
            for action, note, operator in moves:
                await self.cases.transition(
                    source, action, actor="system", note=note, operator=operator, by_source=True
                )
        except IvrError as exc:
            log.warning("callback case %s: %s", source, exc)

    async def _leg_gone(self, call: Call, leg_id: str) -> None:
        leg = call.leg
        self.legs.pop(leg_id, None)
        if leg is None or leg.id != leg_id:
            return
        call.leg = None
        if leg.ring_timer is not None:
            leg.ring_timer.cancel()
        if leg.released:
            return
        if not leg.answered:
            # Not answered in the ring time, rejected, or the phone is away.
            await self._move(
                leg.operator.id, "no_answer", call.call_id, offer=(call.entry_id, "no_answer")
            )
            self.poke()
            return
        await self._move(leg.operator.id, "hang_up", call.call_id)
        if leg.bridge_id is None:
            # The operator hung up while hearing the whisper: the caller,
            # who never heard them, goes back to the head of the line.
            async with self.sessionmaker() as session, session.begin():
                await lines.back_in_line(session, call.entry_id)
            now = self.now()
            self.waiting[call.call_id] = Waiting(call.flow.department, now, now, call.entry_id)
            self.poke()
            return
        await self._destroy_bridge(leg)
        async with self.sessionmaker() as session, session.begin():
            await lines.leave(session, call.entry_id, "done", self.now())
        await self.handle(call, flow.OperatorLeft())
        self.poke()

    async def _release(self, call: Call, leg: Leg) -> None:
        """The caller went: free the operator and hang up their leg."""
        leg.released = True
        if leg.ring_timer is not None:
            leg.ring_timer.cancel()
        offer = None if leg.answered else (call.entry_id, "caller_left")
        await self._move(leg.operator.id, "hang_up", call.call_id, offer=offer)
        await self._destroy_bridge(leg)
        await self._hang_up(leg.id, "normal")

    async def _destroy_bridge(self, leg: Leg) -> None:
        if leg.bridge_id is None:
            return
        bridge, leg.bridge_id = leg.bridge_id, None
        try:
            await self.ari.destroy_bridge(bridge)
        except AriError:
            pass  # already gone

    async def _hang_up(self, channel_id: str, reason: str) -> None:
        try:
            await self.ari.hangup(channel_id, reason)
        except AriError:
            pass  # already gone

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
