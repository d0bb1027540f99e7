"""The operator queue in the database, on SQLite and PostgreSQL: order, claims, outcomes."""

from __future__ import annotations

from datetime import timedelta

from ivr.desk import line_store as lines
from ivr.desk import operator_store as stored

from .test_db_operators import T0, Sessions, act, add

NODE = "node-a"
WRAP_UP = timedelta(seconds=10)
HEFEI = "340100"


async def join(sessions: Sessions, call_id: str, seconds: float, node: str = NODE) -> int:
    async with sessions() as session, session.begin():
        moment = T0 + timedelta(seconds=seconds)
        return await lines.join(session, call_id, HEFEI, node, "13800138000", moment)


async def claim(sessions: Sessions, seconds: float, node: str = NODE) -> lines.Claim | None:
    async with sessions() as session, session.begin():
        return await lines.claim(session, HEFEI, node, T0 + timedelta(seconds=seconds), WRAP_UP)


async def test_callers_get_their_place_and_the_oldest_is_served_first(
    db_sessionmaker: Sessions,
) -> None:
    await add(db_sessionmaker, "op1")
    await act(db_sessionmaker, "sign_in", 0, operator_id="op1")
    assert await join(db_sessionmaker, "c1", 60) == 1
    assert await join(db_sessionmaker, "c2", 61) == 2
    async with db_sessionmaker() as session:
        assert await lines.positions(session, [HEFEI]) == {"c1": 1, "c2": 2}
    first = await claim(db_sessionmaker, 62)
    assert first is not None and (first.call_id, first.operator.id) == ("c1", "op1")
    assert first.operator.status == "ringing"
    # The only operator is ringing: nobody for the second caller yet.
    assert await claim(db_sessionmaker, 62) is None


async def test_the_longest_idle_operator_rings_and_a_miss_moves_on(
    db_sessionmaker: Sessions,
) -> None:
    for operator_id, minute in (("op1", 0), ("op2", 1)):
        await add(db_sessionmaker, operator_id)
        await act(db_sessionmaker, "sign_in", minute, operator_id=operator_id)
    await join(db_sessionmaker, "c1", 120)
    offered = await claim(db_sessionmaker, 121)
    assert offered is not None and offered.operator.id == "op1"  # idle since minute 0
    async with db_sessionmaker() as session, session.begin():
        await stored.act(session, "op1", "no_answer", T0 + timedelta(seconds=136))
        await lines.offer_ended(session, "c1", "op1", "no_answer", T0 + timedelta(seconds=136))
    # op1 is free again, but missed this caller: the next operator rings.
    again = await claim(db_sessionmaker, 137)
    assert again is not None and again.operator.id == "op2"
    async with db_sessionmaker() as session:
        entry = await lines.get_entry(session, "c1")
        counts = await stored.counts_since(session, T0)
    assert entry is not None and [o["outcome"] for o in entry.offers] == ["no_answer", None]
    assert counts["op1"].missed == 1


async def test_an_operator_rings_again_after_the_wrap_up_only(
    db_sessionmaker: Sessions,
) -> None:
    await add(db_sessionmaker, "op1")
    await act(db_sessionmaker, "sign_in", 0, operator_id="op1")
    await join(db_sessionmaker, "c1", 60)
    await join(db_sessionmaker, "c2", 61)
    assert await claim(db_sessionmaker, 62) is not None
    async with db_sessionmaker() as session, session.begin():
        await stored.act(session, "op1", "answer", T0 + timedelta(seconds=63))
        await lines.offer_ended(session, "c1", "op1", "answered", T0 + timedelta(seconds=63))
        await stored.act(session, "op1", "hang_up", T0 + timedelta(seconds=100))
        await lines.leave(session, "c1", "completed", T0 + timedelta(seconds=100))
    assert await claim(db_sessionmaker, 105) is None  # still wrapping up
    second = await claim(db_sessionmaker, 111)
    assert second is not None and (second.call_id, second.operator.status) == ("c2", "ringing")
    async with db_sessionmaker() as session:
        done = await lines.get_entry(session, "c1")
    assert done is not None and done.status == "done" and done.operator_id == "op1"


async def test_a_caller_held_by_another_controller_is_served_by_it_first(
    db_sessionmaker: Sessions,
) -> None:
    await add(db_sessionmaker, "op1")
    await act(db_sessionmaker, "sign_in", 0, operator_id="op1")
    await join(db_sessionmaker, "theirs", 60, node="node-b")
    await join(db_sessionmaker, "ours", 61)
    assert await claim(db_sessionmaker, 62) is None  # their caller is older
    theirs = await claim(db_sessionmaker, 62, node="node-b")
    assert theirs is not None and theirs.call_id == "theirs"


async def test_a_caller_who_leaves_is_out_of_line_and_out_of_the_count(
    db_sessionmaker: Sessions,
) -> None:
    await join(db_sessionmaker, "c1", 60)
    await join(db_sessionmaker, "c2", 61)
    async with db_sessionmaker() as session, session.begin():
        await lines.leave(session, "c1", "abandoned", T0 + timedelta(seconds=70))
    async with db_sessionmaker() as session:
        assert await lines.positions(session, [HEFEI]) == {"c2": 1}
        (waiting,) = await lines.in_line(session)
        left = await lines.get_entry(session, "c1")
    assert waiting.call_id == "c2"
    assert left is not None and left.status == "abandoned"
    assert lines.entry_json(left, T0)["wait_seconds"] == 10.0


async def test_a_callback_keeps_its_place_and_is_tried_a_set_number_of_times(
    db_sessionmaker: Sessions,
) -> None:
    await add(db_sessionmaker, "op1")
    await act(db_sessionmaker, "sign_in", 0, operator_id="op1")
    await join(db_sessionmaker, "asked", 60)
    await join(db_sessionmaker, "later", 61)
    async with db_sessionmaker() as session, session.begin():
        await lines.request_callback(session, "asked", T0 + timedelta(seconds=70))
    async with db_sessionmaker() as session:
        assert await lines.callback_departments(session, NODE, T0 + timedelta(seconds=71)) == [
            HEFEI
        ]
    # Its turn: the caller is called back, and no operator is taken yet.
    first = await claim(db_sessionmaker, 71)
    assert first is not None and first.call_id == "asked" and first.operator is None
    assert (first.caller, first.attempt) == ("13800138000", 1)
    retry = timedelta(seconds=300)
    async with db_sessionmaker() as session, session.begin():
        status = await lines.callback_unanswered(
            session, "asked", T0 + timedelta(seconds=100), 2, retry
        )
    assert status == "callback"
    # Not due again yet: the next caller is served meanwhile.
    served = await claim(db_sessionmaker, 101)
    assert served is not None and served.call_id == "later"
    async with db_sessionmaker() as session, session.begin():
        await stored.act(session, "op1", "no_answer", T0 + timedelta(seconds=110))
    second = await claim(db_sessionmaker, 401)
    assert second is not None and (second.call_id, second.attempt) == ("asked", 2)
    async with db_sessionmaker() as session, session.begin():
        status = await lines.callback_unanswered(
            session, "asked", T0 + timedelta(seconds=430), 2, retry
        )
        entry = await lines.get_entry(session, "asked")
    assert status == "callback_failed"
    assert entry is not None and entry.ended_at is not None


async def test_a_department_may_overflow_to_its_parents_operators_after_a_while(
    db_sessionmaker: Sessions,
) -> None:
    await add(db_sessionmaker, "province", departments=["340000"])
    await act(db_sessionmaker, "sign_in", 0, operator_id="province")
    await join(db_sessionmaker, "c1", 60)
    overflow = lines.Overflow("340000", timedelta(seconds=30))
    async with db_sessionmaker() as session, session.begin():
        early = await lines.claim(
            session, HEFEI, NODE, T0 + timedelta(seconds=80), WRAP_UP, overflow
        )
    assert early is None  # 20 s in line: Hefei's own operators only (none)
    async with db_sessionmaker() as session, session.begin():
        late = await lines.claim(
            session, HEFEI, NODE, T0 + timedelta(seconds=91), WRAP_UP, overflow
        )
    assert late is not None and late.operator is not None
    assert late.operator.id == "province"
