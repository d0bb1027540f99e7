"""Recording retention on SQLite and PostgreSQL: the recording of a case
closed longer ago than the retention is archived and deleted from Asterisk
once, however many controllers run the job; anything else is left alone,
and a failure leaves the case as it was for the next run.

Asterisk here is the in-process fake ARI over real HTTP, reached through the
real ARI client (as the controller's fleet reaches it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.ari.client import AriClient
from ivr.cases import message_store
from ivr.cases.registry import Cases
from ivr.cases.retention import ACTOR, Retention
from ivr.cases.views import CaseView, recording_audio
from ivr.db.models import CaseEventRow
from ivr.errors import Gone
from ivr.settings import Settings
from tests.test_messages import wav as messages_wav

from .fake_ari import FakeAri, running
from .test_db_cases import Clock, message
from .test_db_operators import DIRECTORY, Sessions, add

DAYS = 30


def wav(seconds: float) -> bytes:
    return messages_wav(seconds, b"\1\0")  # not silence: an archive is the audio itself


@pytest.fixture
async def asterisk(tmp_path: Path) -> AsyncIterator[tuple[FakeAri, AriClient]]:
    async with running() as fake:
        settings = Settings(state_dir=tmp_path, **fake.settings())
        async with AriClient(settings) as ari:
            yield fake, ari


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cases(db_sessionmaker: Sessions, clock: Clock) -> Cases:
    await add(db_sessionmaker, "op1001")
    return Cases(db_sessionmaker, DIRECTORY, clock)


def job(
    sessions: Sessions, ari: AriClient, clock: Clock, archive: Path | None = None
) -> Retention:
    return Retention(sessions, ari, clock, DAYS, archive)


async def closed(cases: Cases, clock: Clock, name: str, days_ago: float) -> CaseView:
    """A message case closed `days_ago` days before the clock's now (which stays)."""
    now = clock.now
    clock.now = now - timedelta(days=days_ago + 1)
    number = (await message(cases, name)).number
    await handled(cases, number)
    clock.now = now - timedelta(days=days_ago)
    case = await cases.transition(number, "close", actor="admin", note="")
    clock.now = now
    return case


async def handled(cases: Cases, number: str) -> None:
    """Assigned, worked on and resolved: one step short of closed."""
    await cases.transition(number, "assign", actor="admin", note="", operator="op1001")
    await cases.transition(number, "start", actor="admin", note="")
    await cases.transition(number, "resolve", actor="admin", note="已电话答复")


async def test_a_recording_closed_longer_than_the_retention_is_archived_and_deleted(
    db_sessionmaker: Sessions,
    cases: Cases,
    clock: Clock,
    asterisk: tuple[FakeAri, AriClient],
    tmp_path: Path,
) -> None:
    fake, ari = asterisk
    audio = wav(2.5)
    fake.recordings = {"msg-old": audio, "msg-recent": wav(1.0)}
    old = await closed(cases, clock, "msg-old", days_ago=31)
    recent = await closed(cases, clock, "msg-recent", days_ago=29)
    archive = tmp_path / "archive"

    outcome = await job(db_sessionmaker, ari, clock, archive).run_once()

    assert [(r.number, r.action) for r in outcome.removed] == [(old.number, "recording_archived")]
    archived = archive / f"{old.number}-msg-old.wav"
    assert archived.read_bytes() == audio, "the archive holds the caller's audio"
    assert list(archive.iterdir()) == [archived]
    assert fake.recordings == {"msg-recent": wav(1.0)}
    case = await cases.get(old.number)
    assert case.recording_removed_at == clock.now
    event = case.events[-1]
    assert (event.action, event.actor, event.from_status, event.to_status) == (
        "recording_archived", ACTOR, "closed", "closed"
    )
    assert event.note is not None and str(archived) in event.note
    assert (await cases.get(recent.number)).recording_removed_at is None
    # The next run finds nothing more to do.
    assert (await job(db_sessionmaker, ari, clock, archive).run_once()).removed == []


async def test_without_an_archive_the_recording_is_deleted_only(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock, asterisk: tuple[FakeAri, AriClient]
) -> None:
    fake, ari = asterisk
    fake.recordings = {"msg-old": wav(1.0)}
    old = await closed(cases, clock, "msg-old", days_ago=40)
    (removed,) = (await job(db_sessionmaker, ari, clock).run_once()).removed
    assert (removed.action, removed.archived) == ("recording_deleted", None)
    assert fake.recordings == {}
    assert (await cases.get(old.number)).events[-1].action == "recording_deleted"


async def test_a_recording_made_again_takes_the_one_it_replaced_with_it(
    db_sessionmaker: Sessions,
    cases: Cases,
    clock: Clock,
    asterisk: tuple[FakeAri, AriClient],
    tmp_path: Path,
) -> None:
    fake, ari = asterisk
    first, again = wav(4.0), wav(2.0)
    fake.recordings = {"msg-a": first, "msg-a2": again}
    async with db_sessionmaker() as session, session.begin():
        for name in ("msg-a", "msg-a2"):  # the caller pressed 2: record again
            await message_store.start_message(
                session, name, call_id="call-msg-a", department="340100",
                caller="055162345678", at=clock.now - timedelta(days=40), source="msg-a",
            )
    old = await closed(cases, clock, "msg-a", days_ago=35)
    await message(cases, "msg-a", recording="msg-a2", seconds=2.0)  # as the box registers it
    archive = tmp_path / "archive"
    (removed,) = (await job(db_sessionmaker, ari, clock, archive).run_once()).removed
    assert removed.recording == "msg-a2"
    assert fake.recordings == {}
    assert (archive / f"{old.number}-msg-a2.wav").read_bytes() == again
    assert (archive / f"{old.number}-msg-a.wav").read_bytes() == first
    note = (await cases.get(old.number)).events[-1].note
    assert note is not None and "the earlier recordings it replaced too: msg-a" in note


async def test_open_resolved_and_reopened_cases_keep_their_recordings(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock, asterisk: tuple[FakeAri, AriClient]
) -> None:
    fake, ari = asterisk
    kept = {name: wav(1.0) for name in ("msg-open", "msg-resolved", "msg-reopened")}
    fake.recordings = dict(kept)
    clock.now -= timedelta(days=90)
    await message(cases, "msg-open")  # registered 90 days ago, never handled
    resolved = (await message(cases, "msg-resolved")).number
    await handled(cases, resolved)
    reopened = (await message(cases, "msg-reopened")).number
    await handled(cases, reopened)
    await cases.transition(reopened, "reopen", actor="admin", note="来电人不满意")
    clock.now += timedelta(days=90)

    retention = job(db_sessionmaker, ari, clock)
    assert await retention.due() == []
    assert (await retention.run_once()).removed == []
    assert fake.recordings == kept
    for case in await cases.list():
        assert case.recording_removed_at is None


async def test_a_recording_asterisk_no_longer_has_is_marked_and_said_so(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock, asterisk: tuple[FakeAri, AriClient],
    tmp_path: Path,
) -> None:
    _, ari = asterisk  # keeps nothing
    old = await closed(cases, clock, "msg-lost", days_ago=31)
    (removed,) = (await job(db_sessionmaker, ari, clock, tmp_path / "a").run_once()).removed
    assert removed.action == "recording_deleted" and removed.archived is None
    note = (await cases.get(old.number)).events[-1].note
    assert note is not None and "already gone from Asterisk" in note
    assert not (tmp_path / "a").exists() or list((tmp_path / "a").iterdir()) == []


async def test_asterisk_failing_leaves_the_case_untouched_for_the_next_run(
    db_sessionmaker: Sessions,
    cases: Cases,
    clock: Clock,
    asterisk: tuple[FakeAri, AriClient],
    tmp_path: Path,
) -> None:
    fake, ari = asterisk
    audio = wav(1.5)
    fake.recordings = {"msg-old": audio}
    old = await closed(cases, clock, "msg-old", days_ago=31)
    archive = tmp_path / "archive"
    fake.fail(503, method="DELETE", path=r"/recordings/stored/.*")

    outcome = await job(db_sessionmaker, ari, clock, archive).run_once()

    assert outcome.removed == [] and [item.number for item, _ in outcome.kept] == [old.number]
    case = await cases.get(old.number)
    assert case.recording_removed_at is None
    assert [e.action for e in case.events][-1] == "close", "no event for what was not done"
    assert fake.recordings == {"msg-old": audio}
    assert not archive.exists() or list(archive.iterdir()) == [], "no copy of a kept recording"

    fake.heal()
    (removed,) = (await job(db_sessionmaker, ari, clock, archive).run_once()).removed
    assert removed.number == old.number and fake.recordings == {}
    assert (archive / f"{old.number}-msg-old.wav").read_bytes() == audio


async def test_two_jobs_at_once_remove_each_recording_once(
    db_sessionmaker: Sessions,
    cases: Cases,
    clock: Clock,
    asterisk: tuple[FakeAri, AriClient],
    tmp_path: Path,
) -> None:
    fake, ari = asterisk
    names = [f"msg-{n}" for n in range(6)]
    fake.recordings = {name: wav(0.5) for name in names}
    for name in names:
        await closed(cases, clock, name, days_ago=31)
    archive = tmp_path / "archive"
    # Two controllers on one database: each with its own job, both at once.
    first, second = await asyncio.gather(
        job(db_sessionmaker, ari, clock, archive).run_once(),
        job(db_sessionmaker, ari, clock, archive).run_once(),
    )
    removed = [r.recording for r in first.removed + second.removed]
    assert sorted(removed) == names, "each recording removed exactly once"
    assert first.kept == [] and second.kept == []
    deletes = [r for r in fake.requests if r.method == "DELETE"]
    assert len(deletes) == len(names)
    async with db_sessionmaker() as session:
        events = (
            await session.scalars(
                select(CaseEventRow.case_id).where(CaseEventRow.actor == ACTOR)
            )
        ).all()
    assert len(events) == len(set(events)) == len(names), "one event per case"


async def test_a_removed_recording_is_answered_as_gone_without_asking_asterisk(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock, asterisk: tuple[FakeAri, AriClient]
) -> None:
    fake, ari = asterisk
    fake.recordings = {"msg-old": wav(1.0)}
    old = await closed(cases, clock, "msg-old", days_ago=31)
    await job(db_sessionmaker, ari, clock).run_once()
    asked = len(fake.requests)
    with pytest.raises(Gone) as gone:
        await recording_audio(ari, await cases.get(old.number))
    assert gone.value.status == 410
    assert "已按保存期限删除" in gone.value.message
    assert len(fake.requests) == asked


def test_the_controller_runs_the_job_only_once_a_retention_is_set(tmp_path: Path) -> None:
    from ivr.cli.serve import recording_retention

    keeper = object()  # never asked: nothing runs here
    off = Settings(state_dir=tmp_path)
    assert recording_retention(off, None, keeper, Clock()) is None  # type: ignore[arg-type]
    on = Settings(state_dir=tmp_path, recording_retention_days=180)
    job = recording_retention(on, None, keeper, Clock())  # type: ignore[arg-type]
    assert job is not None and job.days == 180
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Settings(state_dir=tmp_path, recording_retention_days=0)
