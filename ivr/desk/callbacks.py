"""Callbacks: ringing back a caller who asked for it, and what their answer does.

A part of the desk (`ivr/desk/desk.py`). When the dispatcher's claim comes up
for a caller who asked to be called back, `call_back` rings their phone.
If they pick up, that channel takes the entry's place in line; if not, the
callback is tried again later, and after the department's attempts the
request's case says so (the request itself stays on record).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.desk import line_store as lines
from ivr.desk.core import CALLBACK_ARG, DeskState, Moves, PlacedCallback
from ivr.desk.interfaces import DeskAsterisk, QueuedCall
from ivr.desk.queues import Queues
from ivr.directory.numbers import read_caller
from ivr.errors import AriError
from ivr.logs import CallTag, about_call
from ivr.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Callbacks:
    """Callers called back: the ring, and their answer or its absence."""

    ari: DeskAsterisk
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    queues: Queues
    now: Callable[[], datetime]
    state: DeskState
    moves: Moves

    async def call_back(self, claim: lines.Claim, department: str) -> None:
        """Ring the caller who asked for a callback; their answer puts them in line."""
        channel = f"{claim.call_id}-cb{claim.attempt}"
        number = read_caller(claim.caller).number
        self.state.callbacks[channel] = PlacedCallback(claim.call_id, department, claim.caller)
        # The lines of a callback are the story of the call that asked for it.
        with about_call(CallTag(claim.call_id, department=department)):
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
                await self.unanswered(channel)

    def answered(self, channel_id: str) -> PlacedCallback | None:
        """The caller picked up: their channel now holds the entry's place."""
        placed = self.state.callbacks.pop(channel_id, None)
        if placed is not None:
            self.state.channels[placed.entry_id] = channel_id
            self.state.wait_in_line(channel_id, placed.department, placed.entry_id, self.now())
        return placed

    async def back_in_line(self, entry_id: str) -> None:
        async with self.sessionmaker() as session, session.begin():
            await lines.callback_answered(session, entry_id, self.settings.node_name)
        self.state.poke()

    async def unanswered(self, channel_id: str) -> None:
        """Nobody picked up: try again later, or give up (the request stays on record)."""
        placed = self.state.callbacks.pop(channel_id, None)
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
        with about_call(CallTag(placed.entry_id, department=placed.department)):
            log.info("callback %s unanswered: now %s", placed.entry_id, status)
            if status == "callback_failed":
                note = f"回电{rules.callback_attempts}次无人接听，请工作人员跟进"
                await self.moves.callback_case(placed.entry_id, ("note", note, None))

    async def request(self, call: QueuedCall) -> None:
        """The caller asked to be called back: out of line, their request kept."""
        self.state.waiting.pop(call.call_id, None)
        async with self.sessionmaker() as session, session.begin():
            await lines.request_callback(session, call.entry_id, self.now())
