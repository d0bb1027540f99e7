"""`ivr cases retention`: the recording retention job, once, for an admin to
see what it would do (`--dry-run`) or do it now (`--now`)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from ivr.cases.retention import Expired, Retention
from ivr.errors import DataError
from ivr.settings import HOTLINE_TZ, Settings

if TYPE_CHECKING:  # the ARI client (aiohttp) is loaded only by the commands that use it
    from ivr.ari.client import Keepers


def add_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`retention`, on the `ivr cases` subparsers `actions`."""
    retention = actions.add_parser(
        "retention",
        help="archive and delete the recordings of cases closed longer ago than "
        "IVR_RECORDING_RETENTION_DAYS",
    )
    when = retention.add_mutually_exclusive_group(required=True)
    when.add_argument("--dry-run", action="store_true", help="list what would be done, do nothing")
    when.add_argument("--now", action="store_true", help="do it now")
    retention.add_argument(
        "--days", type=int, help="closed this many days ago (default IVR_RECORDING_RETENTION_DAYS)"
    )
    retention.set_defaults(handler=_retention)


@asynccontextmanager
async def asterisks(settings: Settings) -> AsyncIterator[Keepers]:
    """Every Asterisk of the settings (IVR_ASTERISKS, or the one), asked for
    a recording as the controller's fleet asks: whichever keeps it."""
    from ivr.ari.client import AriClient, Keepers

    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(AriClient(each)) for each in settings.per_asterisk()
        ]
        yield Keepers(clients)


def _retention(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.cli.serve import make_clock, recording_retention
    from ivr.db.migrate import migrated_sessions

    days = args.days if args.days is not None else settings.recording_retention_days
    if days is None:
        raise DataError(
            "IVR_RECORDING_RETENTION_DAYS is not set, so recordings are kept for ever; "
            "set it, or say --days N"
        )
    if days < 1:
        raise DataError("--days must be at least 1", field="days")

    async def run() -> int:
        async with migrated_sessions(settings.database_url) as sessions, asterisks(
            settings
        ) as keeper:
            chosen = settings.model_copy(update={"recording_retention_days": days})
            job = recording_retention(chosen, sessions, keeper, make_clock(settings))
            assert job is not None  # days is set
            if args.dry_run:
                due = await job.due()
                print("\n".join(_plan(job, item) for item in due) or _nothing(days))
                return 0
            outcome = await job.run_once()
            for removed in outcome.removed:
                print(f"{removed.number}: {removed.action}: {removed.note}")
            for item, why in outcome.kept:
                print(f"{item.number}: kept for now, {why}")
            if not outcome.removed and not outcome.kept:
                print(_nothing(days))
            return 1 if outcome.kept else 0

    return asyncio.run(run())


def _plan(job: Retention, item: Expired) -> str:
    closed = f"{item.closed_at.astimezone(HOTLINE_TZ):%Y-%m-%d}"
    archive = job.archive_path(item)
    what = f"archive to {archive}, then delete" if archive else "delete"
    return f"{item.number}: closed {closed}; would {what} recording {item.recording}"


def _nothing(days: int) -> str:
    return f"no recording of a case closed more than {days} days ago is left in Asterisk"
