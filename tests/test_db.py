"""The records store, on SQLite and on PostgreSQL (see `database_url` in conftest)."""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, event, func, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from ivr.db import (
    CallView,
    Recorder,
    find_by_sip_call_id,
    get_call,
    make_engine,
    open_calls,
    recent_calls,
    upgrade,
)
from ivr.db.models import Base, Call, CallStep
from ivr.db.recorder import Connects
from ivr.errors import DataError

REPO_ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


def fast_recorder(engine: Connects, stop_timeout: float | None = 10.0) -> Recorder:
    """A recorder with short timings, so failure tests take milliseconds, not seconds."""
    return Recorder(
        engine, flush_interval=0.01, retry_min=0.01, retry_max=0.05, stop_timeout=stop_timeout
    )


def start(recorder: Recorder, call_id: str, *, at: datetime = T0, **given: Any) -> None:
    fields: dict[str, Any] = {
        "sip_call_id": f"sip-{call_id}",
        "node": "node-a",
        "caller": "13800138000",
        "dialed": "12371",
        "department_code": "110000",
        "department_name": "北京市委组织部",
        "route_rule": "caller_area_code",
        "route_read": "010",
        "started_at": at,
    }
    fields.update(given)
    recorder.call_started(call_id, **fields)


async def count(sessions: async_sessionmaker[AsyncSession], model: type[Base]) -> int:
    async with sessions() as session:
        return (await session.scalar(select(func.count()).select_from(model))) or 0


def _schema_differences(connection: Connection, metadata: MetaData) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_apply_twice_and_match_models(database_url: str) -> None:
    # Controllers starting together: one migrates, the others find it done.
    await asyncio.gather(*(upgrade(database_url) for _ in range(3)))
    await upgrade(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            differences = await connection.run_sync(_schema_differences, Base.metadata)
            # The comparison must be able to fail: a column the migration lacks shows up.
            extra = MetaData()
            for table in Base.metadata.sorted_tables:
                table.to_metadata(extra)
            extra.tables["calls"].append_column(Column("not_migrated", Integer))
            missing = await connection.run_sync(_schema_differences, extra)
    finally:
        await engine.dispose()
    assert version == "0011"
    assert differences == []
    assert [d[0] for d in missing] == ["add_column"]


async def test_migrations_from_several_processes_at_once(database_url: str) -> None:
    async def migrate() -> tuple[int | None, bytes]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ivr.db",
            "upgrade",
            database_url,
            cwd=REPO_ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        return process.returncode, output

    results = await asyncio.gather(*(migrate() for _ in range(3)))
    assert [code for code, _ in results] == [0, 0, 0], results
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_schema_differences, Base.metadata)
    finally:
        await engine.dispose()
    assert differences == []


async def test_full_call_is_recorded_and_read_back(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    recorder = fast_recorder(db_engine)
    await recorder.start()
    start(recorder, "1732380000.42")
    recorder.call_answered("1732380000.42", T0 + timedelta(seconds=1))
    recorder.step("1732380000.42", T0 + timedelta(seconds=2), "prompt", "welcome", "done")
    recorder.step("1732380000.42", T0 + timedelta(seconds=3), "key", "1")
    recorder.step("1732380000.42", T0 + timedelta(seconds=4), "route", "110000")
    recorder.step("1732380000.42", T0 + timedelta(seconds=5), "note", "queued", "operator busy")
    recorder.call_ended("1732380000.42", T0 + timedelta(seconds=9), "caller_hangup")
    await recorder.stop()

    async with db_sessionmaker() as session:
        [call] = await recent_calls(session, 10)
        assert await get_call(session, "1732380000.42") == call
        assert await find_by_sip_call_id(session, "sip-1732380000.42") == call
        assert await get_call(session, "nope") is None
        assert await find_by_sip_call_id(session, "nope") is None
    assert call.department_name == "北京市委组织部"
    assert call.answered_at == T0 + timedelta(seconds=1)
    assert (call.ended_at, call.end_reason) == (T0 + timedelta(seconds=9), "caller_hangup")
    assert [(s.seq, s.kind, s.value, s.detail) for s in call.steps] == [
        (1, "prompt", "welcome", "done"),
        (2, "key", "1", None),
        (3, "route", "110000", None),
        (4, "note", "queued", "operator busy"),
    ]
    as_json = call.model_dump(mode="json")
    assert as_json["started_at"] == "2024-11-23T10:00:00.123456Z"
    assert as_json["steps"][0]["at"] == "2024-11-23T10:00:02.123456Z"


async def test_recent_calls_newest_first_and_limited(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    recorder = fast_recorder(db_engine)
    await recorder.start()
    for minute in range(5):
        start(recorder, f"c{minute}", at=T0 + timedelta(minutes=minute))
    await recorder.stop()
    async with db_sessionmaker() as session:
        assert [c.id for c in await recent_calls(session, 3)] == ["c4", "c3", "c2"]
        with pytest.raises(DataError):
            await recent_calls(session, 0)


async def _one_call(recorder: Recorder, n: int, steps: int) -> None:
    call_id = f"{1732380000 + n}.{n}"
    start(recorder, call_id, at=T0 + timedelta(milliseconds=n))
    await asyncio.sleep(0)
    recorder.call_answered(call_id, T0 + timedelta(seconds=1))
    for i in range(steps):
        await asyncio.sleep(0)
        recorder.step(call_id, T0 + timedelta(seconds=2 + i), "prompt", f"p{i}", "done")
    recorder.flow_state(call_id, {"menu": "main", "n": n})
    await asyncio.sleep(0)
    recorder.call_ended(call_id, T0 + timedelta(seconds=60), "caller_hangup")


async def test_300_concurrent_calls_in_few_transactions(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    calls, steps = 300, 10
    # A long interval: on a loaded machine a short one could cut a batch
    # early; here only a full batch or flush() starts a write.
    recorder = Recorder(db_engine, batch_size=200, flush_interval=5.0)
    await recorder.start()
    began = time.perf_counter()
    await asyncio.gather(*(_one_call(recorder, n, steps) for n in range(calls)))
    await recorder.flush()
    elapsed = time.perf_counter() - began
    await recorder.stop()

    ops = calls * (steps + 4)
    print(
        f"\n{make_url(database_url).get_backend_name()}: {ops} ops, {calls} calls "
        f"in {elapsed:.3f}s, {recorder.stats.commits} commits"
    )
    assert recorder.stats.written == ops
    assert recorder.stats.commits == math.ceil(ops / 200)
    assert await count(db_sessionmaker, Call) == calls
    assert await count(db_sessionmaker, CallStep) == calls * steps
    async with db_sessionmaker() as session:
        views = await recent_calls(session, 1000)
        assert await open_calls(session) == []
    assert len(views) == calls
    for view in views:
        assert [s.value for s in view.steps] == [f"p{i}" for i in range(steps)]
        assert [s.seq for s in view.steps] == list(range(1, steps + 1))
        assert view.flow_state == {"menu": "main", "n": int(view.id.split(".")[1])}


async def test_datetimes_round_trip_timezone_aware(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    beijing = timezone(timedelta(hours=8))
    local = datetime(2024, 11, 23, 18, 30, 15, 654321, tzinfo=beijing)
    recorder = fast_recorder(db_engine)
    await recorder.start()
    start(recorder, "tz", at=local)
    recorder.call_answered("tz", local + timedelta(microseconds=1))
    recorder.step("tz", local, "key", "5")
    recorder.call_ended("tz", local + timedelta(days=1), "silence")
    await recorder.stop()

    async with db_sessionmaker() as session:
        call = await session.get(Call, "tz")
        view = await get_call(session, "tz")
    assert call is not None and view is not None
    for when in (call.started_at, view.started_at, view.steps[0].at, call.updated_at):
        assert when.utcoffset() == timedelta(0)
    assert call.started_at == local
    assert call.started_at.hour == 10
    assert view.answered_at == local + timedelta(microseconds=1)
    assert view.ended_at == local + timedelta(days=1)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("1" * 40, "1" * 40),
        ("", ""),
        ("anonymous", "anonymous"),
        ("Alice <sip:alice@example.org>", "Alice <sip:alice@example.org>"),
        ("张三", "张三"),
        ("9" * 300, "9" * 128),
        ("12\x0034", "12\ufffd34"),
    ],
)
async def test_caller_id_stored_as_given(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession], given: str, stored: str
) -> None:
    recorder = fast_recorder(db_engine)
    await recorder.start()
    start(recorder, "caller", caller=given)
    await recorder.stop()
    async with db_sessionmaker() as session:
        view = await get_call(session, "caller")
    assert view is not None
    assert view.caller == stored


async def test_flow_state_round_trips(
    db_engine: AsyncEngine, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    state: dict[str, Any] = {
        "state": "menu",
        "department": {"code": "110000", "name": "北京"},
        "digits": ["1", "2"],
        "silences": 1,
        "ratio": 0.5,
        "answered": True,
        "playback": None,
    }
    recorder = fast_recorder(db_engine)
    await recorder.start()
    start(recorder, "fs")
    recorder.flow_state("fs", {"state": "greeting"})
    recorder.flow_state("fs", state)
    state["digits"].append("3")  # after submission: must not change the record
    await recorder.flush()
    async with db_sessionmaker() as session:
        view = await get_call(session, "fs")
    assert view is not None
    assert view.flow_state == {**state, "digits": ["1", "2"]}

    recorder.flow_state("fs", {"state": "queue"})
    await recorder.stop()
    async with db_sessionmaker() as session:
        view = await get_call(session, "fs")
    assert view is not None and view.flow_state == {"state": "queue"}


async def stored_view(sessions: async_sessionmaker[AsyncSession], call_id: str) -> CallView:
    """A call as read back from the database."""
    async with sessions() as session:
        view = await get_call(session, call_id)
    assert view is not None
    return view


async def test_a_playbacks_prompts_are_a_step_each_in_order(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    recorder = fast_recorder(db_engine)
    await recorder.start()
    start(recorder, "pp")
    recorder.step("pp", T0, "key", "0")
    recorder.prompts_played("pp", T0, ("region.intro", "province.11", "province.12"))
    await recorder.flush()  # the next batch numbers on from the last prompt
    recorder.step("pp", T0, "key", "1")
    recorder.prompts_played("pp", T0, ("dept.110000",))
    await recorder.stop()

    view = await stored_view(db_sessionmaker, "pp")
    assert [(s.seq, s.kind, s.value) for s in view.steps] == [
        (1, "key", "0"),
        (2, "prompt", "region.intro"),
        (3, "prompt", "province.11"),
        (4, "prompt", "province.12"),
        (5, "key", "1"),
        (6, "prompt", "dept.110000"),
    ]


class FlakyEngine:
    """Connects to an unreachable database the first `failures` times."""

    def __init__(self, good: AsyncEngine, bad: AsyncEngine, failures: int) -> None:
        self._good = good
        self._bad = bad
        self.failures = failures

    def connect(self) -> AsyncConnection:
        if self.failures > 0:
            self.failures -= 1
            return self._bad.connect()
        return self._good.connect()


def unreachable_engine(database_url: str, tmp_path: Path) -> AsyncEngine:
    # Not make_engine: it would create the missing SQLite folder.
    if make_url(database_url).get_backend_name() == "sqlite":
        return create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.sqlite3'}")
    return create_async_engine(make_url(database_url).set(port=1))


async def test_recorder_keeps_ops_while_database_is_down(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = unreachable_engine(database_url, tmp_path)
    sessions = FlakyEngine(db_engine, bad, failures=3)
    recorder = fast_recorder(sessions)
    await recorder.start()
    start(recorder, "down")
    recorder.step("down", T0, "prompt", "welcome", "done")
    recorder.step("down", T0, "key", "0")
    recorder.call_ended("down", T0, "caller_ended")
    await recorder.flush()
    await recorder.stop()
    await bad.dispose()

    assert sessions.failures == 0
    assert recorder.stats.failed_attempts == 3
    assert recorder.stats.written == 4
    assert "could not write 4 records (attempt 3)" in caplog.text
    async with db_sessionmaker() as session:
        view = await get_call(session, "down")
    assert view is not None
    assert [(s.seq, s.value) for s in view.steps] == [(1, "welcome"), (2, "0")]


async def test_failure_inside_a_batch_rolls_it_back_and_retries(
    db_engine: AsyncEngine, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    failures = 2

    def fail_step_inserts(*args: Any) -> None:
        nonlocal failures
        statement = args[2]
        if "INSERT INTO call_steps" in statement and failures > 0:
            failures -= 1
            raise ConnectionResetError("connection lost during the batch")

    event.listen(db_engine.sync_engine, "before_cursor_execute", fail_step_inserts)
    recorder = fast_recorder(db_engine)
    await recorder.start()
    start(recorder, "mid")
    recorder.call_answered("mid", T0)
    recorder.step("mid", T0, "prompt", "welcome", "done")
    recorder.step("mid", T0, "key", "2")
    await recorder.stop()
    event.remove(db_engine.sync_engine, "before_cursor_execute", fail_step_inserts)

    assert recorder.stats.failed_attempts == 2
    assert await count(db_sessionmaker, Call) == 1
    async with db_sessionmaker() as session:
        view = await get_call(session, "mid")
    assert view is not None and view.answered_at == T0
    assert [(s.seq, s.value) for s in view.steps] == [(1, "welcome"), (2, "2")]


async def test_stop_gives_up_after_its_timeout_and_says_so(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = unreachable_engine(database_url, tmp_path)
    sessions = FlakyEngine(db_engine, bad, failures=10**6)
    recorder = fast_recorder(sessions, stop_timeout=0.2)
    await recorder.start()
    start(recorder, "lost")
    recorder.step("lost", T0, "key", "1")
    await recorder.stop()
    await bad.dispose()
    assert recorder.unwritten == 2
    assert "recorder stopped with 2 records not written" in caplog.text


async def test_seq_continues_after_the_call_is_taken_back(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = fast_recorder(db_engine)
    await first.start()
    start(first, "crash", node="node-a")
    for digit in "123":
        first.step("crash", T0, "key", digit)
    first.flow_state("crash", {"state": "menu", "digits": "123"})
    await first.stop()  # the controller dies here, the call goes on

    async with db_sessionmaker() as session:
        [orphan] = await open_calls(session, "node-a")
    assert orphan.flow_state == {"state": "menu", "digits": "123"}

    second = fast_recorder(db_engine)
    await second.start()
    second.step("crash", T0, "note", "taken back", "node-b")
    second.step("crash", T0, "key", "4")
    second.call_ended("crash", T0, "controller_recovered_ended")
    await second.flush()
    second.step("crash", T0, "note", "after end")  # read the last number again
    await second.stop()

    async with db_sessionmaker() as session:
        view = await get_call(session, "crash")
    assert view is not None
    assert [(s.seq, s.value) for s in view.steps] == [
        (1, "1"),
        (2, "2"),
        (3, "3"),
        (4, "taken back"),
        (5, "4"),
        (6, "after end"),
    ]


async def test_seq_continues_after_a_playback_when_the_call_is_taken_back(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first = fast_recorder(db_engine)
    await first.start()
    start(first, "page", node="node-a")
    first.prompts_played("page", T0, ("greeting.hello", "dept.340100", "menu.repeat"))
    await first.stop()  # the controller dies while the page plays

    second = fast_recorder(db_engine)
    await second.start()
    second.step("page", T0, "note", "taken back", "node-b")
    second.prompts_played("page", T0, ("call.resumed",))
    await second.stop()

    view = await stored_view(db_sessionmaker, "page")
    assert [(s.seq, s.kind, s.value) for s in view.steps] == [
        (1, "prompt", "greeting.hello"),
        (2, "prompt", "dept.340100"),
        (3, "prompt", "menu.repeat"),
        (4, "note", "taken back"),
        (5, "prompt", "call.resumed"),
    ]
    assert all(s.detail is None for s in view.steps if s.kind == "prompt")


async def test_open_calls_lists_only_calls_not_ended(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    recorder = fast_recorder(db_engine)
    await recorder.start()
    start(recorder, "a1", node="node-a", at=T0)
    start(recorder, "a2", node="node-a", at=T0 + timedelta(seconds=1))
    start(recorder, "b1", node="node-b", at=T0 + timedelta(seconds=2))
    start(recorder, "a3", node="node-a", at=T0 + timedelta(seconds=3))
    recorder.call_ended("a2", T0 + timedelta(seconds=5), "caller_hangup")
    await recorder.stop()
    async with db_sessionmaker() as session:
        assert [c.id for c in await open_calls(session)] == ["a1", "b1", "a3"]
        assert [c.id for c in await open_calls(session, "node-a")] == ["a1", "a3"]
        assert await open_calls(session, "node-c") == []


async def test_bad_records_are_logged_and_never_raise(
    db_engine: AsyncEngine,
    db_sessionmaker: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="ivr.db.recorder")
    recorder = fast_recorder(db_engine)
    await recorder.start()
    recorder.flow_state("x", {"ratio": math.nan})  # PostgreSQL's json refuses NaN
    recorder.step("never-started", T0, "key", "1")
    start(recorder, "fine")
    recorder.step("fine", T0, "key", "1")
    await recorder.stop()
    assert "record could not be made" in caplog.text
    assert "dropped 1 records for calls never started: ['never-started']" in caplog.text
    assert recorder.stats.dropped == 1
    async with db_sessionmaker() as session:
        view = await get_call(session, "fine")
    assert view is not None and [s.value for s in view.steps] == ["1"]
