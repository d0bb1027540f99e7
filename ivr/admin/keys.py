"""What every part of the HTTP side finds on the app (aiohttp app keys), and
the narrow interfaces it needs of the live controller and of Asterisk.

The admin never imports the controller or the ARI client: `ivr serve` (the
composition root) puts the real ones on the app, and they fit these
`Protocol`s as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.admin.openapi import Api
from ivr.cases.views import RecordingStore
from ivr.directory.routing import Directory
from ivr.loop_lag import LoopLag
from ivr.metrics import Metrics
from ivr.publish.in_force import Configuration
from ivr.settings import Settings


class LiveCalls(Protocol):
    """What the web app reads of the controller (`ivr.stasis.controller.Controller`)."""

    @property
    def calls(self) -> Mapping[str, object]:
        """The calls in progress on this controller, by id."""
        ...


class Asterisk(RecordingStore, Protocol):
    """What the web app needs of ARI (`ivr.ari.client.AriClient`, or every
    Asterisk a controller serves: `ivr.stasis.fleet.Fleet`): which Asterisks
    are connected, for health, and a case's recording (`RecordingStore`)."""

    @property
    def connections(self) -> Mapping[str, bool]:
        """Whether each Asterisk's events connection is up, by node name."""
        ...


SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
CONTROLLER: web.AppKey[LiveCalls] = web.AppKey("controller")
ARI: web.AppKey[Asterisk] = web.AppKey("ari")
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
DIRECTORY = web.AppKey("directory", Directory)
CONFIG = web.AppKey("config", Configuration)
API = web.AppKey("api", Api)
# Absent in apps built without the watchdog (tests of the HTTP side).
LOOP_LAG = web.AppKey("loop_lag", LoopLag)
# The controller's metrics (`GET /metrics`): the composition root's, or, in
# an app built without one, the admin's own (`ivr.admin.app.add_routes`).
METRICS = web.AppKey("metrics", Metrics)
