"""How long callers' recordings are kept: retention of closed cases' messages.

A caller's message stays in Asterisk (fetched over ARI, never copied to the
controller) for as long as its case needs it. Once a case has been closed
for `IVR_RECORDING_RETENTION_DAYS`, `Retention` copies its recording (and
any earlier one the caller recorded again over) to
`IVR_RECORDING_ARCHIVE_DIR` as `<case number>-<recording>.wav` (when set),
deletes it from Asterisk, and marks the case (`recording_removed_at`) with a
line of history, all in one transaction. "Closed" is the status `closed`
(final: nothing reopens a closed case; a resolved case that was reopened is
open again), and the moment is its `close` event.

Every controller may run the job. Each case is claimed first by an update
that only one transaction can make (`recording_removed_at` still empty,
status still closed): on PostgreSQL a second controller's claim waits for
the first's transaction, then finds the case taken. Asterisk's answer
decides the rest before anything is committed: an Asterisk away rolls the
claim back, so the case is tried again next run, never left half-done; a
recording Asterisk no longer has is marked as such.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.audio.catalog import write_atomically
from ivr.cases import store as stored
from ivr.db.models import CaseEventRow, CaseRow, MessageRow, cases_table
from ivr.errors import AriError, IvrError
from ivr.settings import HOTLINE_TZ

log = logging.getLogger(__name__)

ACTOR = "retention"
Action = Literal["recording_archived", "recording_deleted"]
ARCHIVED: Action = "recording_archived"
DELETED: Action = "recording_deleted"
# Cases looked at in one run: more wait for the next one.
BATCH = 500


class RecordingKeeper(Protocol):
    """Where recordings are kept: Asterisk (every Asterisk of the fleet)."""

    async def stored_recording_file(self, name: str) -> bytes:
        """The recording's WAV; `AriError` 404 if Asterisk has none."""
        ...

    async def delete_stored_recording(self, name: str) -> None:
        """Delete it; `AriError` 404 if Asterisk has none."""
        ...


@dataclass(frozen=True)
class Expired:
    """A closed case whose recording has been kept long enough."""

    case_id: int
    number: str
    source: str  # what made the case: its first recording
    recording: str
    closed_at: datetime


@dataclass(frozen=True)
class Fate:
    """What became of one recording: its copy, or that Asterisk had none."""

    name: str
    archived: Path | None
    missing: bool


@dataclass(frozen=True)
class Removed:
    number: str
    recording: str
    action: Action
    note: str
    archived: Path | None


@dataclass
class Outcome:
    """What a run did: recordings removed, and those kept for the next run (why)."""

    removed: list[Removed] = field(default_factory=list)
    kept: list[tuple[Expired, str]] = field(default_factory=list)


class Retention:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        keeper: RecordingKeeper,
        clock: Callable[[], datetime],
        days: int,
        archive_dir: Path | None = None,
    ) -> None:
        self._sessions = sessions
        self._keeper = keeper
        self._clock = clock
        self._days = days
        self._archive_dir = archive_dir

    async def due(self, limit: int = BATCH) -> list[Expired]:
        """Cases closed more than `days` ago whose recording is still in Asterisk,
        the longest closed first."""
        cutoff = self._clock() - timedelta(days=self._days)
        closed = (
            select(CaseEventRow.case_id, func.max(CaseEventRow.at).label("at"))
            .where(CaseEventRow.action == "close")
            .group_by(CaseEventRow.case_id)
            .subquery()
        )
        query = (
            select(CaseRow.id, CaseRow.number, CaseRow.source, CaseRow.recording, closed.c.at)
            .join(closed, closed.c.case_id == CaseRow.id)
            .where(
                CaseRow.status == "closed",
                CaseRow.recording.is_not(None),
                CaseRow.recording_removed_at.is_(None),
                closed.c.at < cutoff,
            )
            .order_by(closed.c.at, CaseRow.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            Expired(row.id, row.number, row.source, str(row.recording), row.at) for row in rows
        ]

    async def run_once(self) -> Outcome:
        """Archive and delete every due recording; one that fails is logged
        and left for the next run."""
        outcome = Outcome()
        for item in await self.due():
            try:
                removed = await self.remove(item)
            except (IvrError, OSError) as exc:
                log.warning(
                    "recording %s of case %s kept for now (%s); tried again next run",
                    item.recording, item.number, exc,
                )
                outcome.kept.append((item, str(exc)))
                continue
            if removed is not None:
                log.info("case %s: %s (%s)", removed.number, removed.action, removed.note)
                outcome.removed.append(removed)
        return outcome

    async def remove(self, item: Expired) -> Removed | None:
        """Archive (if set) and delete the case's recordings, and mark the case;
        None if another controller has it, or the case changed meanwhile."""
        async with self._sessions() as session, session.begin():
            now = self._clock()
            if not await _claim(session, item, now):
                return None
            names = [item.recording, *await _earlier(session, item)]
            # An error here rolls the claim back: the case stays as it was.
            fates = await self._archive_and_delete(item, names)
            row = await session.get(CaseRow, item.case_id)
            assert row is not None  # claimed in this transaction
            action: Action = ARCHIVED if fates[0].archived is not None else DELETED
            note = self._note(item, fates)
            stored.add_event(session, row, now, action, ACTOR, from_status=row.status, note=note)
            return Removed(item.number, item.recording, action, note, fates[0].archived)

    @property
    def days(self) -> int:
        return self._days

    def archive_path(self, item: Expired, name: str | None = None) -> Path | None:
        """Where `item`'s recording (or its earlier one `name`) is archived;
        None: it is deleted only."""
        if self._archive_dir is None:
            return None
        return self._archive_dir / archive_name(item.number, name or item.recording)

    async def _archive_and_delete(self, item: Expired, names: list[str]) -> list[Fate]:
        """Every copy first, then every deletion. On a failure the copies of
        what Asterisk still has are taken back; those of what it deleted
        stay, the only ones left."""
        copies: dict[str, Path] = {}
        missing: set[str] = set()
        fresh: dict[str, Path] = {}  # copied by this run: still in Asterisk
        try:
            for name in names:
                path = self.archive_path(item, name)
                if path is None:
                    break
                try:
                    audio = await self._keeper.stored_recording_file(name)
                except AriError as exc:
                    if exc.http_status != 404:
                        raise
                    if path.exists():  # copied by a run that failed after deleting it
                        copies[name] = path
                    else:
                        missing.add(name)
                    continue
                await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
                await asyncio.to_thread(write_atomically, path, audio)  # whole or not at all
                copies[name] = fresh[name] = path
            for name in names:
                if name not in missing:
                    await self._delete(name, missing, known=name in copies)
                fresh.pop(name, None)
        except BaseException:
            for path in fresh.values():
                path.unlink(missing_ok=True)
            raise
        return [Fate(name, copies.get(name), name in missing) for name in names]

    async def _delete(self, name: str, missing: set[str], *, known: bool) -> None:
        try:
            await self._keeper.delete_stored_recording(name)
        except AriError as exc:
            if exc.http_status != 404:
                raise
            if not known:
                missing.add(name)

    def _note(self, item: Expired, fates: list[Fate]) -> str:
        closed = f"{item.closed_at.astimezone(HOTLINE_TZ):%Y-%m-%d}"
        kept = f"closed {closed}, kept {self._days} days"
        first, earlier = fates[0], fates[1:]
        if first.missing:
            said = f"recording {first.name} was already gone from Asterisk"
        elif first.archived is not None:
            said = f"recording {first.name} archived to {first.archived}, deleted from Asterisk"
        else:
            said = f"recording {first.name} deleted from Asterisk"
        if earlier:
            names = ", ".join(fate.name for fate in earlier)
            said += f"; the earlier recordings it replaced too: {names}"
        return f"{said} ({kept})"


async def _claim(session: AsyncSession, item: Expired, now: datetime) -> bool:
    """Take the case for this transaction; False if another run took it first."""
    result = await session.execute(
        update(cases_table)
        .where(
            cases_table.c.id == item.case_id,
            cases_table.c.recording_removed_at.is_(None),
            cases_table.c.status == "closed",
            cases_table.c.recording == item.recording,
        )
        .values(recording_removed_at=now)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def archive_name(number: str, recording: str) -> str:
    """The archived file's name: the case number first, for whoever looks for it."""
    return f"{number}-{recording}.wav"


async def _earlier(session: AsyncSession, item: Expired) -> list[str]:
    """The case's recordings made before the one it has now (the caller
    recorded again): each message of the case is a row of its own."""
    query = (
        select(MessageRow.name)
        .where(MessageRow.source == item.source, MessageRow.name != item.recording)
        .order_by(MessageRow.started_at, MessageRow.name)
    )
    return list((await session.scalars(query)).all())
