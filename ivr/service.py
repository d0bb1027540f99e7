"""`ivr serve`: the controller process, assembled from its parts.

Start-up order matters. The directory comes from the database first (migrated,
and seeded from routing/departments.csv if it has none), because the prompts
are built from it before the app starts. Then aiohttp cleanup contexts: the
database and the recorder, then the ARI connection and the controller. A
context's cleanup runs only if its start-up finished, in reverse order, so
pending records are flushed after the last call stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr import hours as working_hours
from ivr import menu, prompts, queues
from ivr.ari.client import AriClient
from ivr.cases import Cases
from ivr.catalog import Catalog
from ivr.controller import Controller
from ivr.db import directory as stored
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.db.recorder import Recorder
from ivr.directory import Directory
from ivr.directory_build import for_import
from ivr.errors import ConfigError
from ivr.settings import HOTLINE_TZ, REPO_ROOT, Settings
from ivr.web import ARI, CLOCK, CONTROLLER, SESSIONS, SETTINGS, add_routes
from ivr.web_cases import CASES

log = logging.getLogger(__name__)

DIRECTORY_FILE = REPO_ROOT / "routing" / "departments.csv"
HOURS_FILE = REPO_ROOT / "routing" / "hours.yaml"
QUEUES_FILE = REPO_ROOT / "routing" / "queues.yaml"
PROMPT_SPEC = REPO_ROOT / "prompts" / "prompts.yaml"

RECORDER = web.AppKey("recorder", Recorder)
DIRECTORY = web.AppKey("directory", Directory)
CATALOG = web.AppKey("catalog", Catalog)
MENUS = web.AppKey("menus", menu.MenuBook)


def make_clock(settings: Settings) -> Callable[[], datetime]:
    """Real time, or IVR_NOW advancing at real speed from start-up."""
    if settings.now is None:
        return lambda: datetime.now(UTC)
    fixed = settings.now if settings.now.tzinfo else settings.now.replace(tzinfo=HOTLINE_TZ)
    started = time.monotonic()
    return lambda: fixed + timedelta(seconds=time.monotonic() - started)


async def database_directory(settings: Settings, seed_file: Path = DIRECTORY_FILE) -> Directory:
    """The directory the controllers route by, from the database (migrated
    first); a database without one is seeded from `seed_file`."""
    async with _migrated_sessions(settings) as sessions:
        await _seed_if_empty(sessions, seed_file)
        async with sessions() as session:
            directory = await stored.load_directory(session)
    if directory is None:
        raise ConfigError("the directory vanished from the database right after its import")
    return directory


def load_directory(settings: Settings) -> Directory:
    """`database_directory` for the command line, outside any event loop."""
    return asyncio.run(database_directory(settings))


@asynccontextmanager
async def _migrated_sessions(
    settings: Settings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _seed_if_empty(sessions: async_sessionmaker[AsyncSession], seed_file: Path) -> None:
    async with sessions() as session:
        if await stored.has_directory(session):
            return
    departments, ranges, packages = for_import(seed_file)
    async with sessions() as session, session.begin():
        record = await stored.seed_directory(session, departments, ranges, packages)
    if record is not None:
        log.info(
            "directory imported from %s: %d departments, %d area codes, %d mobile ranges",
            record.source,
            record.departments,
            record.area_codes,
            record.mobile_ranges,
        )


def build_prompts(settings: Settings, directory: Directory) -> Catalog:
    """Every prompt, with the service menus' texts (checked once built: `menu.load`)."""
    menus = menu.read(settings.menus_file, directory)
    return prompts.build(
        PROMPT_SPEC,
        directory,
        settings.prompt_build_dir,
        settings.prompt_render_cache,
        menus.prompt_texts(),
    )


def fallback_sounds(settings: Settings, catalog: Catalog) -> dict[str, Path]:
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
    app[CASES] = Cases(
        sessions,
        app[DIRECTORY],
        app[CLOCK],
        settings.case_due_working_days,
        settings.case_urgent_hours,
    )
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
            working_hours.load(settings.hours_file, app[DIRECTORY]),
            queues.load(settings.queues_file, app[DIRECTORY]),
            cases=app[CASES],
            menus=app[MENUS],
        )
        app[ARI] = ari
        app[CONTROLLER] = controller
        await controller.desk.refresh()
        events = asyncio.create_task(
            ari.run_events(controller.recover, controller.on_event), name="ari-events"
        )
        dispatcher = asyncio.create_task(controller.desk.run(), name="queue-dispatcher")
        yield
        events.cancel()
        dispatcher.cancel()
        await asyncio.gather(events, dispatcher, return_exceptions=True)
        await controller.close()


def make_app(
    settings: Settings, directory: Directory, catalog: Catalog, menus: menu.MenuBook
) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[DIRECTORY] = directory
    app[CATALOG] = catalog
    app[MENUS] = menus
    app[CLOCK] = make_clock(settings)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_asterisk)
    add_routes(app, settings.prompt_build_dir)
    return app


def _seed(settings: Settings) -> None:
    async def seed() -> None:
        async with _migrated_sessions(settings) as sessions:
            await _seed_if_empty(sessions, DIRECTORY_FILE)

    asyncio.run(seed())


def serve(settings: Settings) -> None:
    # Seeding reads phonenumbers' data (about 100 MB in memory) for the mobile
    # ranges: do it in a child process, so the controller never holds it.
    with ProcessPoolExecutor(max_workers=1) as pool:
        pool.submit(_seed, settings).result()
    directory = load_directory(settings)
    catalog = build_prompts(settings, directory)
    # A menu that does not pass its checks (a key leading nowhere, a node
    # without audio, a loop) stops the start, naming every problem.
    menus = menu.load(settings.menus_file, directory, catalog)
    app = make_app(settings, directory, catalog, menus)
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
