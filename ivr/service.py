"""`ivr serve`: the controller process, assembled from its parts.

Start-up order matters and is expressed as aiohttp cleanup contexts: the
database (migrated) and the recorder first, then the ARI connection and the
controller. A context's cleanup runs only if its start-up finished, in
reverse order, so pending records are flushed after the last call stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from ivr import prompts
from ivr.ari.client import AriClient
from ivr.controller import Controller
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.db.recorder import Recorder
from ivr.directory import Directory
from ivr.settings import REPO_ROOT, Settings
from ivr.web import ARI, CLOCK, CONTROLLER, SESSIONS, SETTINGS, add_routes

log = logging.getLogger(__name__)

DIRECTORY_FILE = REPO_ROOT / "routing" / "departments.csv"
PROMPT_SPEC = REPO_ROOT / "prompts" / "prompts.yaml"
# Naive IVR_NOW values are read as Beijing time, the hotline's own clock.
HOTLINE_TZ = ZoneInfo("Asia/Shanghai")

RECORDER = web.AppKey("recorder", Recorder)
DIRECTORY = web.AppKey("directory", Directory)
CATALOG = web.AppKey("catalog", prompts.Catalog)


def make_clock(settings: Settings) -> Callable[[], datetime]:
    """Real time, or IVR_NOW advancing at real speed from start-up."""
    if settings.now is None:
        return lambda: datetime.now(UTC)
    fixed = settings.now if settings.now.tzinfo else settings.now.replace(tzinfo=HOTLINE_TZ)
    started = time.monotonic()
    return lambda: fixed + timedelta(seconds=time.monotonic() - started)


def load_directory() -> Directory:
    return Directory.load(DIRECTORY_FILE)


def build_prompts(settings: Settings, directory: Directory) -> prompts.Catalog:
    return prompts.build(PROMPT_SPEC, directory, settings.prompt_build_dir)


def fallback_sounds(settings: Settings, catalog: prompts.Catalog) -> dict[str, Path]:
    """The prompts the native dialplan fallback plays from Asterisk's disk."""
    return {
        name.replace(".", "-"): catalog.path(name)
        for name in prompts.FALLBACK_PROMPTS
    }


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    recorder = Recorder(
        sessions,
        batch_size=settings.record_batch_size,
        flush_interval=settings.record_flush_interval,
    )
    await recorder.start()
    app[SESSIONS] = sessions
    app[RECORDER] = recorder
    yield
    await recorder.stop()
    await engine.dispose()


async def _asterisk(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with AriClient(settings) as ari:
        controller = Controller(
            settings,
            ari,
            app[RECORDER],
            app[DIRECTORY],
            app[CATALOG],
            app[SESSIONS],
            app[CLOCK],
        )
        app[ARI] = ari
        app[CONTROLLER] = controller
        events = asyncio.create_task(
            ari.run_events(controller.recover, controller.on_event), name="ari-events"
        )
        yield
        events.cancel()
        await asyncio.gather(events, return_exceptions=True)
        await controller.close()


def make_app(settings: Settings, directory: Directory, catalog: prompts.Catalog) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[DIRECTORY] = directory
    app[CATALOG] = catalog
    app[CLOCK] = make_clock(settings)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_asterisk)
    add_routes(app, settings.prompt_build_dir)
    return app


def serve(settings: Settings) -> None:
    directory = load_directory()
    catalog = build_prompts(settings, directory)
    app = make_app(settings, directory, catalog)
    log.info(
        "controller %s: HTTP on %s:%d, ARI %s app %s, database %s",
        settings.node_name,
        settings.http_host,
        settings.http_port,
        settings.ari_base_url,
        settings.ari_app,
        settings.database_url.split("@")[-1],
    )
    web.run_app(
        app,
        host=settings.http_host,
        port=settings.http_port,
        print=None,
        access_log=None,
        handle_signals=True,
    )
