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
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvloop
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.admin import auth
from ivr.admin import user_store as users
from ivr.admin.app import UPLOAD_BODY_MAX, add_routes
from ivr.admin.cases import CASES
from ivr.admin.desk_screen import FEED
from ivr.admin.inbox import ESCALATIONS
from ivr.admin.keys import (
    ARI,
    CLOCK,
    CONFIG,
    CONTROLLER,
    DIRECTORY,
    LOOP_LAG,
    METRICS,
    SESSIONS,
    SETTINGS,
)
from ivr.admin.menus import MENU_ADMIN
from ivr.ari.client import AriClient
from ivr.audio import build as prompts
from ivr.audio.catalog import Catalog
from ivr.audio.speech import Speaker
from ivr.cases.escalation import Deliveries, Escalations
from ivr.cases.registry import Cases
from ivr.cases.retention import RecordingKeeper, Retention
from ivr.cli.prompt_ids import REQUIRED_PROMPTS
from ivr.db.engine import count_errors, make_sessionmaker
from ivr.db.migrate import migrated_engine, migrated_sessions
from ivr.db.notify import Channel, is_postgresql
from ivr.db.recorder import Recorder
from ivr.desk import queues
from ivr.directory import store as stored
from ivr.directory.build.builder import for_import
from ivr.directory.routing import Directory
from ivr.errors import ConfigError
from ivr.loop_lag import LoopLag
from ivr.metrics import Metrics
from ivr.publish import hours as working_hours
from ivr.publish import in_force as published
from ivr.publish import menus as menu
from ivr.publish.drafts import MenuAdmin, Voice
from ivr.publish.in_force import Configuration
from ivr.publish.pruning import AudioPruner
from ivr.settings import HOTLINE_TZ, REPO_ROOT, Settings
from ivr.stasis.controller import Controller
from ivr.stasis.fleet import Fleet, Node
from ivr.stasis.parts import Collaborators
from ivr.stasis.takeover import Membership
from ivr.webhook.sender import WebhookSender

log = logging.getLogger(__name__)

DIRECTORY_FILE = REPO_ROOT / "routing" / "departments.csv"
HOURS_FILE = REPO_ROOT / "routing" / "hours.yaml"
QUEUES_FILE = REPO_ROOT / "routing" / "queues.yaml"
PROMPT_SPEC = REPO_ROOT / "prompts" / "prompts.yaml"

FIRST_ADMIN = "admin"
# The PostgreSQL channel operators' screen pops go through (ivr/db/notify.py).
DESK_FEED_CHANNEL = "ivr_desk_feed"

RECORDER = web.AppKey("recorder", Recorder)
CATALOG = web.AppKey("catalog", Catalog)
MENUS = web.AppKey("menus", menu.MenuBook)
HOURS = web.AppKey("hours", working_hours.Hours)
# Every Asterisk this process serves (as the admin sees them: ARI, CONTROLLER).
FLEET = web.AppKey("fleet", Fleet)


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
    async with migrated_sessions(settings.database_url) as sessions:
        return await seeded_directory(sessions, seed_file)


async def seeded_directory(
    sessions: async_sessionmaker[AsyncSession], seed_file: Path = DIRECTORY_FILE
) -> Directory:
    """`database_directory` on a migrated database's `sessions`."""
    await _seed_if_empty(sessions, seed_file)
    async with sessions() as session:
        directory = await stored.load_directory(session)
    if directory is None:
        raise ConfigError("the directory vanished from the database right after its import")
    return directory


def load_directory(settings: Settings) -> Directory:
    """`database_directory` for the command line, outside any event loop."""
    return asyncio.run(database_directory(settings))


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
        required=REQUIRED_PROMPTS,
        voice=settings.tts_voice,
        rate=settings.tts_rate,
    )


def fallback_sounds(settings: Settings, catalog: Catalog) -> dict[str, Path]:
    """The prompts the native dialplan fallback plays from Asterisk's disk."""
    return {name.replace(".", "-"): catalog.path(name) for name in prompts.FALLBACK_PROMPTS}


async def _loop_watch(app: web.Application) -> AsyncIterator[None]:
    """The event-loop watchdog, first in and last out: it sees start-up and shutdown too."""
    watchdog = LoopLag(app[SETTINGS].loop_lag_warn_ms, metrics=app[METRICS])
    app[LOOP_LAG] = watchdog
    task = asyncio.create_task(watchdog.run(), name="loop-lag")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    log.info("event loop: worst lag %.0f ms, %d warnings", watchdog.worst_ms, watchdog.warnings)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with migrated_engine(settings.database_url) as engine:
        count_errors(engine, app[METRICS])
        sessions = make_sessionmaker(engine)
        recorder = Recorder(
            engine,
            batch_size=settings.record_batch_size,
            flush_interval=settings.record_flush_interval,
            metrics=app[METRICS],
        )
        await recorder.start()
        app[SESSIONS] = sessions
        app[RECORDER] = recorder
        config = await _admin_parts(app, sessions)
        watcher = asyncio.create_task(config.watch(), name="config-watch")
        yield
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await recorder.stop()


async def _admin_parts(
    app: web.Application, sessions: async_sessionmaker[AsyncSession]
) -> Configuration:
    """Cases, what is published (routing/'s files on a new database), the
    first admin and the menu admin, on the app; the configuration in force."""
    settings = app[SETTINGS]
    app[CASES] = Cases(
        sessions,
        app[DIRECTORY],
        app[CLOCK],
        settings.case_due_working_days,
        settings.case_urgent_hours,
        metrics=app[METRICS],
    )
    app[ESCALATIONS] = Escalations(
        sessions,
        app[DIRECTORY],
        app[CLOCK],
        webhook_url=settings.webhook_url or None,
        metrics=app[METRICS],
    )
    config = Configuration(sessions, app[DIRECTORY], app[CATALOG], settings.config_poll_seconds)
    await published.seed(sessions, app[MENUS].spec, app[HOURS].spec, app[CATALOG], app[CLOCK]())
    await config.refresh(force=True)
    app[CONFIG] = config
    await first_admin(sessions, settings, app[CLOCK]())
    spec = prompts.load_spec(PROMPT_SPEC, REQUIRED_PROMPTS)
    speaker = Speaker.chosen(spec.voice, settings.tts_voice, settings.tts_rate)
    voice = Voice(spec, settings.prompt_render_cache, speaker)
    app[MENU_ADMIN] = MenuAdmin(sessions, config, voice)
    return config


async def every(seconds: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """`work` now and every `seconds`, for as long as the controller runs; a
    failed run is logged and the next one comes as planned."""
    while True:
        try:
            await work()
        except Exception:
            log.exception("%s failed; again in %.0f s", what, seconds)
        await asyncio.sleep(seconds)


async def _periodic_jobs(app: web.Application) -> AsyncIterator[None]:
    """Every job on a timer, started and stopped here: supervision
    (escalations), the webhook sender if one is set, unused audio pruned
    (ivr/publish/pruning.py, each controller its own prompt folder), and
    recordings' retention if set (through the fleet's Asterisks). Every
    controller runs them; the database decides who does what."""
    settings = app[SETTINGS]
    jobs: dict[str, Coroutine[Any, Any, None]] = {
        "escalation": every(settings.escalation_seconds, app[ESCALATIONS].run, "escalation"),
    }
    if settings.webhook_url:
        deliveries = Deliveries(app[SESSIONS], app[CLOCK])
        jobs["webhook"] = WebhookSender(settings, deliveries, app[CLOCK], app[METRICS]).run()
    pruner = AudioPruner(
        app[SESSIONS], app[CATALOG].directory, app[CLOCK], settings.audio_prune_days
    )
    jobs["audio-pruning"] = every(settings.audio_prune_interval, pruner.run_once, "audio pruning")
    retention = recording_retention(settings, app[SESSIONS], app[FLEET], app[CLOCK])
    if retention is not None:
        interval = settings.recording_retention_interval
        jobs["recording-retention"] = every(interval, retention.run_once, "recording retention")
    tasks = [asyncio.create_task(job, name=name) for name, job in jobs.items()]
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _desk_feed_relay(app: web.Application) -> AsyncIterator[None]:
    """On PostgreSQL, operators' screen pops go through the database, so a
    page open on one controller sees the calls every controller offers."""
    settings = app[SETTINGS]
    if not is_postgresql(settings.database_url):
        yield
        return
    feed = app[FEED]
    channel = Channel(settings.database_url, DESK_FEED_CHANNEL, feed.receive)
    await channel.start()
    feed.relay_through(channel.send)
    yield
    feed.relay_through(None)
    await channel.stop()


async def first_admin(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> None:
    """A database without users gets `admin`, a national admin with a random
    password, written to the state folder for whoever runs the service."""
    async with sessions() as session, session.begin():
        if await users.count_users(session) > 0:
            return
        password = auth.new_token()[:20]
        await users.add_user(
            session,
            username=FIRST_ADMIN,
            name="管理员",
            role=auth.Role.NATIONAL_ADMIN,
            department=None,
            include_sub=True,
            password=password,
            now=now,
        )
    path = settings.state_dir / "initial-admin-password"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(password + "\n")
    log.warning(
        "created the national admin %r; its password is in %s (change it: ivr users passwd %s)",
        FIRST_ADMIN,
        path,
        FIRST_ADMIN,
    )


async def _asterisk(app: web.Application) -> AsyncIterator[None]:
    """This process's own Stasis application on every Asterisk it serves (one
    unless IVR_ASTERISKS lists several), and those it takes over from
    controllers that died (`Membership`), on one recorder, directory and
    configuration."""
    settings = app[SETTINGS]
    config = app[CONFIG]
    # Read once: every node (each Asterisk, each application taken over) shares them.
    queue_rules = queues.load(settings.queues_file, app[DIRECTORY])

    async def make_nodes(serving: Settings) -> list[Node]:
        in_force = config.now()
        nodes = []
        for node_settings in serving.per_asterisk():
            ari = AriClient(node_settings, app[METRICS])
            await ari.__aenter__()
            controller = Controller(
                Collaborators(
                    settings=node_settings,
                    ari=ari,
                    recorder=app[RECORDER],
                    sessionmaker=app[SESSIONS],
                    clock=app[CLOCK],
                    directory=app[DIRECTORY],
                    queues=queue_rules,
                    cases=app[CASES],
                    catalog=in_force.catalog,
                    hours=in_force.hours,
                    menus=in_force.menus,
                    feed=app[FEED],
                    metrics=app[METRICS],
                    generation=in_force.generation,
                    published_at=config.at,
                )
            )
            await controller.desk.refresh()
            node = Node(ari, controller)
            node.start()
            nodes.append(node)
        return nodes

    fleet = Fleet()
    config.on_change(fleet.publish)
    app[ARI] = fleet
    app[CONTROLLER] = fleet
    app[FLEET] = fleet
    membership = Membership(settings, app[SESSIONS], fleet, make_nodes)
    await membership.join()
    leases = asyncio.create_task(membership.run(), name="leases")
    yield
    leases.cancel()
    await asyncio.gather(leases, return_exceptions=True)
    await membership.leave()


def recording_retention(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    keeper: RecordingKeeper,
    clock: Callable[[], datetime],
) -> Retention | None:
    """The retention job on `keeper` (the fleet, or the CLI's Asterisks), or
    None while IVR_RECORDING_RETENTION_DAYS is unset: recordings are kept."""
    if settings.recording_retention_days is None:
        return None
    return Retention(
        sessions, keeper, clock, settings.recording_retention_days, settings.recording_archive_dir
    )


# The collector's generation thresholds once started (Python's are 700, 10, 10).
GC_THRESHOLDS = (20_000, 10, 10)


def freeze_heap() -> None:
    """Set the collector for serving calls, once start-up has loaded everything."""
    # What start-up loaded (the directory's 80,000 number ranges, prompts,
    # menus) lives as long as the process: moved out of the collector's way,
    # so that a full collection walks what the calls made, not all of it.
    # It was a tenth of the controller's CPU under load.
    gc.collect()
    gc.freeze()
    # A call allocates thousands of short-lived objects; at the default 700
    # a young collection ran several times a call and walked calls still
    # in progress (another tenth of the CPU). Most of them are gone by 20,000.
    gc.set_threshold(*GC_THRESHOLDS)


async def _frozen_heap(app: web.Application) -> AsyncIterator[None]:
    freeze_heap()
    yield
    gc.unfreeze()


def make_app(
    settings: Settings,
    directory: Directory,
    catalog: Catalog,
    menus: menu.MenuBook,
    hours: working_hours.Hours,
) -> web.Application:
    """The controller's app. `menus` and `hours` are the files' (routing/):
    published as version 1 when the database has none; after that the
    database's versions are in force."""
    # Uploads are bounded by the upload route itself; every other body is small.
    app = web.Application(client_max_size=UPLOAD_BODY_MAX)
    app[SETTINGS] = settings
    app[DIRECTORY] = directory
    app[CATALOG] = catalog
    app[MENUS] = menus
    app[HOURS] = hours
    app[CLOCK] = make_clock(settings)
    # Every part counts into this one set, on a registry of the app's own.
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_loop_watch)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_desk_feed_relay)
    app.cleanup_ctx.append(_asterisk)
    app.cleanup_ctx.append(_periodic_jobs)  # retention needs the fleet
    app.cleanup_ctx.append(_frozen_heap)
    add_routes(app, settings.prompt_build_dir)
    return app


def _seed(settings: Settings) -> None:
    async def seed() -> None:
        async with migrated_sessions(settings.database_url) as sessions:
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
    hours = working_hours.load(settings.hours_file, directory)
    app = make_app(settings, directory, catalog, menus, hours)
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
        # libuv's loop: every event, request and database round trip wakes
        # the loop, and uvloop's wake-ups and socket writes cost a fraction
        # of asyncio's own.
        loop=uvloop.new_event_loop(),
    )
