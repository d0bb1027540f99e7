"""One caller's operator leg: ring the operator, whisper, bridge, hang up.

A part of the desk (`ivr/desk/desk.py`), and the desk's events. Everything
here runs in the call's own task (`on_event`, fed from the call's event
queue), so it never races the caller's own hang-up: dial the operator's phone
into our app, ring for the department's ring time, on answer whisper the
department's name to the operator and bridge the two in a mixing bridge.
When either side hangs up the other is hung up and the bridge destroyed,
so nothing stays in Asterisk after a call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.audio.catalog import Catalog
from ivr.call import flow
from ivr.call.queueing import PROMPT_WHISPER
from ivr.db.recorder import Recorder
from ivr.desk import line_store as lines
from ivr.desk.core import LEG_ARG, DeskState, Leg, Moves
from ivr.desk.feed import DeskFeed, FeedCall, FeedEvent, FeedKind, PathStep
from ivr.desk.interfaces import CallT, DeskAsterisk, destroy_bridge
from ivr.desk.operators import Operator
from ivr.desk.queues import Queues
from ivr.directory.routing import Directory
from ivr.errors import AriError
from ivr.publish.menus import CATEGORIES
from ivr.settings import Settings

log = logging.getLogger(__name__)


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
class OperatorLegs(Generic[CallT]):
    """Each caller's operator leg, from the offer to the end of the talk."""

    ari: DeskAsterisk
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    directory: Directory
    catalog: Catalog  # replaced on publication (`Desk.catalog`)
    queues: Queues
    recorder: Recorder
    now: Callable[[], datetime]
    # Put an event in a call's queue; False if there is no such call.
    post: Callable[[str, object], bool]
    # Hand a flow event to a call (in its task) and carry out its commands.
    handle: Callable[[CallT, flow.Event], Awaitable[None]]
    state: DeskState
    moves: Moves
    # Operators' screens (`ivr/desk/feed.py`): told of each moment of an offer.
    feed: DeskFeed | None = None

    async def on_event(self, call: CallT, event: DeskEvent) -> None:
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
                    await self.ari.hangup_quietly(leg.id, "no_answer")
            case LegGone(leg_id):
                await self._leg_gone(call, leg_id)

    async def _offer(self, call: CallT, operator: Operator) -> None:
        if not call.flow.queued or call.leg is not None:
            offer = (call.entry_id, "caller_left")
            await self.moves.move(operator.id, "hang_up", call.call_id, offer=offer)
            return
        department = call.flow.department
        rules = self.queues.rules(department)
        call.offers += 1
        leg = Leg(f"{call.call_id}-op{call.offers}", operator)
        call.leg = leg
        self.state.legs[leg.id] = call.call_id
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
            self.state.legs.pop(leg.id, None)
            offer = (call.entry_id, "no_answer")
            await self.moves.move(operator.id, "no_answer", call.call_id, offer=offer)
            return
        loop = asyncio.get_running_loop()
        leg.ring_timer = loop.call_later(
            rules.ring_seconds, self.post, call.call_id, RingTimeout(leg.id)
        )
        self._tell("ringing", call, leg)

    async def _answered(self, call: CallT, leg_id: str) -> None:
        leg = call.leg
        if leg is None or leg.id != leg_id or not call.flow.queued:
            await self.ari.hangup_quietly(leg_id, "normal")  # too late: the caller left or moved on
            return
        if leg.ring_timer is not None:
            leg.ring_timer.cancel()
        leg.answered = True
        offer = (call.entry_id, "answered")
        await self.moves.move(leg.operator.id, "answer", call.call_id, offer=offer)
        self.state.waiting.pop(call.call_id, None)
        if self.queues.rules(call.flow.department).whisper:
            leg.whisper_id = f"{leg.id}-w"
            whisper = (f"dept.{call.flow.department}", PROMPT_WHISPER)
            media = self.catalog.page_uris(whisper, self.settings.prompt_base_url)
            try:
                await self.ari.play(leg.id, leg.whisper_id, media)
                return
            except AriError as exc:
                log.warning("call %s: no whisper (%s); connecting", call.call_id, exc)
                leg.whisper_id = None
        await self._connect(call, leg)

    async def _connect(self, call: CallT, leg: Leg) -> None:
        # The caller's music and prompts stop before the bridge, not after:
        # the operator must not hear the end of an announcement.
        await self.handle(call, flow.OperatorConnected(leg.operator.id))
        leg.bridge_id = f"{call.call_id}-b"
        await self.ari.create_bridge(leg.bridge_id)
        await self.ari.add_to_bridge(leg.bridge_id, [call.call_id, leg.id])
        self._tell("connected", call, leg)
        if call.entry_id != call.call_id:
            # A callback reached its caller: the operator now handles the case.
            operator = leg.operator.id
            answered = ("assign", f"回电已接通，由{operator}接听", operator)
            await self.moves.callback_case(call.entry_id, answered, ("start", "", None))

    async def _leg_gone(self, call: CallT, leg_id: str) -> None:
        leg = call.leg
        self.state.legs.pop(leg_id, None)
        if leg is None or leg.id != leg_id:
            return
        call.leg = None
        if leg.ring_timer is not None:
            leg.ring_timer.cancel()
        if leg.released:
            return
        self._tell("ended" if leg.answered else "missed", call, leg)
        if not leg.answered:
            # Not answered in the ring time, rejected, or the phone is away.
            offer = (call.entry_id, "no_answer")
            await self.moves.move(leg.operator.id, "no_answer", call.call_id, offer=offer)
            self.state.poke()
            return
        await self.moves.move(leg.operator.id, "hang_up", call.call_id)
        if leg.bridge_id is None:
            # The operator hung up while hearing the whisper: the caller,
            # who never heard them, goes back to the head of the line.
            async with self.sessionmaker() as session, session.begin():
                await lines.back_in_line(session, call.entry_id)
            self.state.wait_in_line(call.call_id, call.flow.department, call.entry_id, self.now())
            self.state.poke()
            return
        await self._destroy_bridge(leg)
        async with self.sessionmaker() as session, session.begin():
            await lines.leave(session, call.entry_id, "done", self.now())
        await self.handle(call, flow.OperatorLeft())
        self.state.poke()

    async def release(self, call: CallT, leg: Leg) -> None:
        """The caller went: free the operator and hang up their leg."""
        leg.released = True
        if leg.ring_timer is not None:
            leg.ring_timer.cancel()
        self._tell("ended" if leg.answered else "missed", call, leg)
        offer = None if leg.answered else (call.entry_id, "caller_left")
        await self.moves.move(leg.operator.id, "hang_up", call.call_id, offer=offer)
        await self._destroy_bridge(leg)
        await self.ari.hangup_quietly(leg.id, "normal")

    def _tell(self, kind: FeedKind, call: CallT, leg: Leg) -> None:
        """Put the moment on the operator's screen (never waits for it), and in the log."""
        # In the call's task: the line carries the call's tag (ivr/logs.py).
        log.info("operator %s: %s (leg %s)", leg.operator.id, kind, leg.id)
        if self.feed is None:
            return
        if leg.shown is None:
            leg.shown = self._shown(call)
        event = FeedEvent(kind, leg.operator.id, leg.shown, self.now(), self.settings.node_name)
        self.feed.publish(event)

    def _shown(self, call: CallT) -> FeedCall:
        directory = self.directory

        def name(code: str) -> str:
            return directory.by_code(code).name if directory.has(code) else code

        department = call.flow.department
        path = tuple(PathStep(code, name(code), how) for code, how in call.path)
        category = call.flow.category
        return FeedCall(
            call_id=call.call_id,
            caller=call.caller,
            department=department,
            department_name=name(department),
            path=path or (PathStep(department, name(department), ""),),
            category=category,
            category_name=CATEGORIES.get(category, ""),
            ringing_at=self.now(),
        )

    async def _destroy_bridge(self, leg: Leg) -> None:
        if leg.bridge_id is None:
            return
        bridge, leg.bridge_id = leg.bridge_id, None
        await destroy_bridge(self.ari, bridge)
