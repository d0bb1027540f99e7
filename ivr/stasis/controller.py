"""Carries calls: ARI events in, flow commands out. The controller puts the
parts together and is the one face the composition root (`ivr/cli/serve.py`)
and the admin app see.

Theory of operation. One reader (the ARI client's event loop) hands each
event to the `EventRouter` (`router.py`), which puts it in the queue of the
call that owns its channel or playback. Each call has one task
(`CallRunner`, `runner.py`) that takes its events in order, asks the flow
what to do and does it: a slow call never delays another, and one call's
handlers never run out of order. The calls themselves, how each begins and
its task's life, are the `CallRegistry`'s (`registry.py`); a call's live
state is `Call` (`calls.py`). Records go to the `Recorder`, which writes
them in batches off the call path.

The operator queue is the `Desk`'s (`ivr/desk/desk.py`): the events of an
operator's leg go to the call it serves and are handled in that call's
task. What a call leaves for later (messages, callbacks, surveys) is
`Casework` (`casework.py`); feature codes from operators' phones are
`FeatureCodes` (`features.py`); what happens after every (re)connect is
`Recovery` (`recovery.py`). Each part gets what it works with, and reaches
the others through their public methods only.
"""

from __future__ import annotations

import asyncio
import logging

from ivr.ari.models import Event
from ivr.call import flow
from ivr.call.guide import Guide
from ivr.cases.messages import MessageBox
from ivr.desk.desk import Desk
from ivr.publish.in_force import Published
from ivr.stasis.calls import Call
from ivr.stasis.casework import Casework
from ivr.stasis.features import FeatureCodes
from ivr.stasis.parts import Collaborators, InForce
from ivr.stasis.recovery import Recovery
from ivr.stasis.registry import CallRegistry
from ivr.stasis.router import EventRouter
from ivr.stasis.runner import CallRunner

log = logging.getLogger(__name__)


class Controller:
    def __init__(self, parts: Collaborators) -> None:
        self._in_force = InForce(
            parts.catalog, parts.menus, parts.generation, parts.published_at
        )
        self.messages = MessageBox(
            ari=parts.ari,
            sessionmaker=parts.sessionmaker,
            directory=parts.directory,
            cases=parts.cases,
            now=parts.clock,
            node=parts.settings.node_name,
        )
        self.casework = Casework(
            messages=self.messages, cases=parts.cases, recorder=parts.recorder, now=parts.clock
        )
        self.desk = self._desk(parts)
        guide = Guide(parts.directory)
        self._runner = CallRunner(parts, self._in_force, guide, self.desk, self.casework)
        self.calls = CallRegistry(
            parts, self._in_force, guide, self.desk.service, self._runner.run
        )
        features = FeatureCodes(
            ari=parts.ari,
            in_force=self._in_force,
            prompt_base_url=parts.settings.prompt_base_url,
            sessionmaker=parts.sessionmaker,
            clock=parts.clock,
            poke=self.desk.poke,
        )
        self._router = EventRouter(parts.ari, self.calls, self.desk, self.casework, features)
        self._recovery = Recovery(parts, self.calls, self.desk, self.messages)
        self._ari = parts.ari
        self._node_lost_after = parts.settings.node_lost_after
        self.recoveries = 0  # ended since start (done or failed): one per (re)connect

    def _desk(self, parts: Collaborators) -> Desk:
        # The desk posts to calls and hands them flow events through the
        # controller: the calls and their runner are made after it.
        return Desk(
            settings=parts.settings,
            ari=parts.ari,
            sessionmaker=parts.sessionmaker,
            directory=parts.directory,
            catalog=parts.catalog,
            hours=parts.hours,
            queues=parts.queues,
            recorder=parts.recorder,
            now=parts.clock,
            post=self._post,
            handle=self._handle,
            cases=parts.cases,
            feed=parts.feed,
        )

    def on_event(self, event: Event) -> None:
        """Hand an event to its call. Runs on the reader: never blocks."""
        self._router.on_event(event)

    async def watch_asterisk(self) -> None:
        """End the calls of an Asterisk that stays away `node_lost_after`
        seconds (`node_lost`): no event will ever end them."""
        while True:
            await self._ari.disconnected.wait()
            try:
                async with asyncio.timeout(self._node_lost_after):
                    await self._ari.connected.wait()
                continue
            except TimeoutError:
                pass
            try:
                await self._recovery.lost()
            except Exception:
                log.exception("calls of a lost Asterisk not closed")
            await self._ari.connected.wait()

    async def recover(self) -> None:
        """Take back, or end politely, every channel of ours left in Stasis."""
        try:
            await self._recovery.recover()
        finally:
            self.recoveries += 1

    def publish(self, published: Published) -> None:
        """Put what admins published in force for every call that starts from now."""
        self._in_force.catalog = published.catalog
        self._in_force.menus = published.menus
        self._in_force.generation = published.generation
        self.desk.catalog = published.catalog
        self.desk.hours = published.hours

    async def close(self) -> None:
        await self.calls.close()

    def _post(self, call_id: str, event: object) -> bool:
        return self.calls.post(call_id, event)

    async def _handle(self, call: Call, event: flow.Event) -> None:
        await self._runner.handle(call, event)
