"""What the controller is built from, and what admins published for it.

`Collaborators` is everything the controller works with, built once by the
composition root (`ivr/cli/serve.py`, or a test's rig) and handed over as
one value. `InForce` is what calls starting now hear: the prompts and the
service menus as last published. A call keeps the menus it was given for
its whole length (a publication while it is in the menu does not change
what it hears; its saved state names the generation, so a controller that
takes it back reads those menus again), while a prompt is looked up when it
is played.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.ari.client import AriClient
from ivr.audio.catalog import Catalog
from ivr.call import flow
from ivr.cases.registry import Cases
from ivr.db.recorder import Recorder
from ivr.desk.feed import DeskFeed
from ivr.desk.queues import Queues
from ivr.directory.routing import Directory
from ivr.logs import CallTag, about_call
from ivr.metrics import Metrics
from ivr.publish.hours import Hours
from ivr.publish.in_force import Published
from ivr.publish.menus import MenuBook
from ivr.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Collaborators:
    settings: Settings
    ari: AriClient
    recorder: Recorder
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    directory: Directory
    queues: Queues
    cases: Cases
    # What admins published, in force at start (`Controller.publish` follows
    # every later publication).
    catalog: Catalog
    hours: Hours
    menus: MenuBook | None = None
    # Operators' screens, told of each call offered to them (one per process).
    feed: DeskFeed | None = None
    # What the calls count (one per process; a test's rig gets one of its own).
    metrics: Metrics = field(default_factory=Metrics)
    # The generation `menus` were published as (0: the files'), and how to
    # read an earlier one (`Configuration.at`): a call taken back after a
    # crash goes on with the menus it started with.
    generation: int = 0
    published_at: Callable[[int], Awaitable[Published | None]] | None = None

    def end_call(self, tag: CallTag, reason: str, department: str, how: str = "") -> None:
        """A call ended, however it ended: its record closed, its last log
        line (`how` says more), and the count by reason and province."""
        self.recorder.call_ended(tag.call_id, self.clock(), reason)
        with about_call(tag):
            log.info("ended: %s%s", reason, how)
        self.metrics.call_ended(reason, department)


class InForce:
    """The prompts and service menus in force now."""

    def __init__(
        self,
        catalog: Catalog,
        menus: MenuBook | None,
        generation: int = 0,
        published_at: Callable[[int], Awaitable[Published | None]] | None = None,
    ) -> None:
        self.catalog = catalog
        self.menus = menus
        self.generation = generation
        self._published_at = published_at
        # Read once per generation: a recovery takes back many calls of the same.
        self._earlier: dict[int, Callable[[str], flow.ServiceMenu]] = {}

    def service_menus(self) -> Callable[[str], flow.ServiceMenu] | None:
        """The service menus a call starting now gets, for its whole length."""
        return self.menus.effective if self.menus is not None else None

    async def service_menus_of(self, generation: int) -> Callable[[str], flow.ServiceMenu] | None:
        """The service menus of `generation` (a call's, saved): those in force if
        it is the one in force or cannot be read any more."""
        if generation in (0, self.generation) or self._published_at is None or self.menus is None:
            return self.service_menus()
        if generation not in self._earlier:
            published = await self._published_at(generation)
            if published is None:
                return self.service_menus()
            # Its prompts, beside those in force (the catalog holds every one loaded).
            self.catalog = published.catalog
            self._earlier[generation] = published.menus.effective
        return self._earlier[generation]
