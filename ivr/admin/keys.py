"""What every part of the HTTP side finds on the app (aiohttp app keys)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.admin.openapi import Api
from ivr.ari.client import AriClient
from ivr.directory.routing import Directory
from ivr.publish.in_force import Configuration
from ivr.settings import Settings
from ivr.stasis.controller import Controller

SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
CONTROLLER = web.AppKey("controller", Controller)
ARI = web.AppKey("ari", AriClient)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
DIRECTORY = web.AppKey("directory", Directory)
CONFIG = web.AppKey("config", Configuration)
API = web.AppKey("api", Api)
