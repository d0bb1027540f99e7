"""One caller's operator leg: ring the operator, whisper, bridge, hang up.

A part of the desk (`ivr/desk/desk.py`). Everything here runs in the call's own
task (`on_event`, fed from the call's event queue), so it never races the
caller's own hang-up: dial the operator's phone into our app, ring for the
department's ring time, on answer whisper the department's name to the
operator and bridge the two in a mixing bridge. When either side hangs up
the other is hung up and the bridge destroyed, so nothing stays in Asterisk
after a call.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivr.call import flow
from ivr.call.queueing import PROMPT_WHISPER
from ivr.desk import line_store as lines
from ivr.desk.core import LEG_ARG, DeskCore, Waiting
from ivr.desk.operators import Operator
from ivr.errors import AriError

if TYPE_CHECKING:
    from ivr.stasis.calls import Call

log = logging.getLogger(__name__)


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


class DeskLegs(DeskCore):
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
