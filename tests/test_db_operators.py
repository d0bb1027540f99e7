"""Operators in the database, on SQLite and PostgreSQL: what an admin and the queue rely on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.desk import operator_store as stored
from ivr.desk.operators import Action, OperatorError
from ivr.directory.routing import Directory
from ivr.errors import DataError, NotFound

Sessions = async_sessionmaker[AsyncSession]
DIRECTORY = Directory.load(Path(__file__).parent / "data" / "departments.csv")
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


async def add(sessions: Sessions, operator_id: str = "op1001", **changes: object) -> None:
    fields: dict[str, object] = {
        "name": "张敏",
        "endpoint": operator_id,
        "departments": ["340100", "340121"],
        "at": T0,
    }
    fields.update(changes)
    async with sessions() as session, session.begin():
        await stored.add_operator(session, DIRECTORY, operator_id, **fields)  # type: ignore[arg-type]


async def act(
    sessions: Sessions,
    action: Action,
    minutes: float,
    reason: str | None = None,
    operator_id: str = "op1001",
) -> str:
    async with sessions() as session, session.begin():
        after = await stored.act(
            session, operator_id, action, T0 + timedelta(minutes=minutes), reason=reason
        )
    return after.status


async def test_an_added_operator_is_signed_out_with_their_departments(
    db_sessionmaker: Sessions,
) -> None:
    await add(db_sessionmaker)
    async with db_sessionmaker() as session:
        (operator,) = await stored.list_operators(session)
    assert (operator.id, operator.name, operator.status) == ("op1001", "张敏", "signed_out")
    assert operator.departments == {"340100", "340121"}
    assert operator.since == T0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"departments": ["999999"]}, "no such departments: 999999"),
        ({"departments": []}, "at least one department"),
        ({"endpoint": "op 1"}, "letters, digits"),
        ({"name": " "}, "name must have"),
    ],
)
async def test_a_bad_operator_is_refused_and_nothing_is_stored(
    db_sessionmaker: Sessions, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        await add(db_sessionmaker, **changes)
    async with db_sessionmaker() as session:
        assert await stored.list_operators(session) == []


async def test_an_id_or_endpoint_cannot_be_taken_twice(db_sessionmaker: Sessions) -> None:
    await add(db_sessionmaker)
    with pytest.raises(DataError, match="already has that id or endpoint"):
        await add(db_sessionmaker, "op1002", endpoint="op1001")


async def test_the_status_survives_in_the_database_with_every_event(
    db_sessionmaker: Sessions,
) -> None:
    await add(db_sessionmaker)
    assert await act(db_sessionmaker, "sign_in", 1) == "available"
    assert await act(db_sessionmaker, "pause", 2, "培训") == "paused"
    with pytest.raises(OperatorError, match="paused: cannot offer"):
        await act(db_sessionmaker, "offer", 3)
    async with db_sessionmaker() as session:
        operator = await stored.get_operator(session, "op1001")
    # The refused offer changed nothing.
    assert (operator.status, operator.pause_reason) == ("paused", "培训")
    assert operator.since == T0 + timedelta(minutes=2)


async def test_todays_counts_come_from_the_events(db_sessionmaker: Sessions) -> None:
    await add(db_sessionmaker)
    await act(db_sessionmaker, "sign_in", 0)
    await act(db_sessionmaker, "offer", 1)
    await act(db_sessionmaker, "no_answer", 1.5)
    await act(db_sessionmaker, "offer", 2)
    await act(db_sessionmaker, "answer", 2.25)
    await act(db_sessionmaker, "hang_up", 5.25)  # three minutes talking
    async with db_sessionmaker() as session:
        counts = await stored.counts_since(session, T0)
        later = await stored.counts_since(session, T0 + timedelta(minutes=4))
    assert counts["op1001"] == stored.DayCounts(offered=2, answered=1, missed=1, talk_seconds=180)
    assert later["op1001"] == stored.DayCounts()


async def test_two_controllers_moving_one_operator_lose_no_change(
    db_sessionmaker: Sessions,
) -> None:
    await add(db_sessionmaker)
    await act(db_sessionmaker, "sign_in", 0)
    # Four offers at once: exactly one wins, the others are refused for the
    # status they find, never with a database error.
    results = await asyncio.gather(
        *(act(db_sessionmaker, "offer", 1) for _ in range(4)), return_exceptions=True
    )
    assert sorted(type(r).__name__ for r in results) == ["OperatorError"] * 3 + ["str"]
    async with db_sessionmaker() as session:
        assert (await stored.counts_since(session, T0))["op1001"].offered == 1


async def test_an_unknown_operator_is_not_found(db_sessionmaker: Sessions) -> None:
    with pytest.raises(NotFound, match="no operator 'op9'"):
        await act(db_sessionmaker, "sign_in", 0, operator_id="op9")
