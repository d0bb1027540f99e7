"""What the controller is built from, and what admins published for it.

`Collaborators` is everything the controller works with, built once by the
composition root (`ivr/cli/serve.py`, or a test's rig) and handed over as
one value. `InForce` is what calls starting now hear: the prompts and the
service menus as last published. A call keeps the menus it was given for
its whole length (a publication while it is in the menu does not change
what it hears), while a prompt is looked up when it is played.
"""

from __future__ import annotations

from collections.abc import Callable
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
from ivr.metrics import Metrics
from ivr.publish.hours import Hours
from ivr.publish.menus import MenuBook
from ivr.settings import Settings


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


class InForce:
    """The prompts and service menus in force now."""

    def __init__(self, catalog: Catalog, menus: MenuBook | None) -> None:
        self.catalog = catalog
        self.menus = menus

    def service_menus(self) -> Callable[[str], flow.ServiceMenu] | None:
        """The service menus a call starting now gets, for its whole length."""
        return self.menus.effective if self.menus is not None else None
