"""What every part of the HTTP side finds on the app (aiohttp app keys)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.ari.client import AriClient
from ivr.controller import Controller
from ivr.directory import Directory
from ivr.openapi import Api
from ivr.published import Configuration
from ivr.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
CONTROLLER = web.AppKey("controller", Controller)
ARI = web.AppKey("ari", AriClient)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
DIRECTORY = web.AppKey("directory", Directory)
CONFIG = web.AppKey("config", Configuration)
API = web.AppKey("api", Api)
