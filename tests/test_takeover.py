"""Leases of Stasis applications, and controllers taking over each other's
calls: on SQLite and PostgreSQL, with the nodes stood in for (what a node
does with the calls is the recovery's, tested in test_controller.py and end
to end in tests/e2e/test_cluster.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.db import leases
from ivr.settings import Settings
from ivr.stasis.fleet import Fleet
from ivr.stasis.takeover import Membership

TTL = timedelta(seconds=2.5)
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def take(
    sessions: async_sessionmaker[AsyncSession], app: str, holder: str, at: datetime, *, own: bool
) -> bool:
    async with sessions() as session, session.begin():
        return await leases.take(session, app, app.removeprefix("ivr-"), holder, at, TTL, own=own)


async def test_an_application_is_held_by_one_process_until_its_lease_expires(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await take(db_sessionmaker, "ivr-c1", "c1:1", T0, own=True)
    # Another may not take it while it lives, even asking as its owner.
    assert not await take(db_sessionmaker, "ivr-c1", "c2:1", T0 + timedelta(seconds=1), own=False)
    assert not await take(db_sessionmaker, "ivr-c1", "c1:2", T0 + timedelta(seconds=1), own=True)
    # Renewed, it lives on; unrenewed, it expires and another takes it.
    async with db_sessionmaker() as session, session.begin():
        held = await leases.renew(session, "c1:1", ["ivr-c1"], T0 + timedelta(seconds=2), TTL)
    assert held == {"ivr-c1": False}
    assert not await take(db_sessionmaker, "ivr-c1", "c2:1", T0 + timedelta(seconds=4), own=False)
    assert await take(db_sessionmaker, "ivr-c1", "c2:1", T0 + timedelta(seconds=5), own=False)
    async with db_sessionmaker() as session, session.begin():
        lost = await leases.renew(session, "c1:1", ["ivr-c1"], T0 + timedelta(seconds=5), TTL)
    assert lost == {}


async def test_a_dead_controllers_lease_goes_to_exactly_one_of_many(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await take(db_sessionmaker, "ivr-c1", "c1:1", T0, own=True)
    later = T0 + timedelta(seconds=10)
    results = await asyncio.gather(
        *(take(db_sessionmaker, "ivr-c1", f"c{n}:1", later, own=False) for n in range(2, 22))
    )
    assert results.count(True) == 1
    async with db_sessionmaker() as session:
        lease = await leases.get(session, "ivr-c1")
    assert lease is not None
    assert lease.holder == f"c{results.index(True) + 2}:1"
    assert lease.node == "c1"  # its calls keep their node


async def test_first_starts_at_once_make_one_row(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    results = await asyncio.gather(
        *(take(db_sessionmaker, "ivr-c1", f"c1:{n}", T0, own=True) for n in range(10))
    )
    assert results.count(True) == 1


async def test_a_controller_back_gets_its_lease_back_and_nobody_else_takes_it_meanwhile(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    assert await take(db_sessionmaker, "ivr-c1", "c1:1", T0, own=True)
    assert await take(db_sessionmaker, "ivr-c1", "c2:1", T0 + timedelta(seconds=5), own=False)
    async with db_sessionmaker() as session, session.begin():
        await leases.want(session, "ivr-c1")
        held = await leases.renew(session, "c2:1", ["ivr-c1"], T0 + timedelta(seconds=6), TTL)
    assert held == {"ivr-c1": True}  # the holder learns it is wanted back
    async with db_sessionmaker() as session, session.begin():
        await leases.release(session, "ivr-c1", "c2:1")
    at = T0 + timedelta(seconds=7)
    async with db_sessionmaker() as session:
        assert await leases.orphans(session, at, []) == []  # wanted: not an orphan
    assert not await take(db_sessionmaker, "ivr-c1", "c3:1", at, own=False)
    assert await take(db_sessionmaker, "ivr-c1", "c1:2", at, own=True)
    async with db_sessionmaker() as session:
        lease = await leases.get(session, "ivr-c1")
    assert lease is not None and (lease.holder, lease.wanted) == ("c1:2", False)


# -- Membership, with nodes stood in for ------------------------------------------


class _Node:
    def __init__(self, app: str, name: str, log: list[str]) -> None:
        self.app, self.name, self._log = app, name, log
        self.ari: Any = None
        self.controller: Any = None

    async def stop(self) -> None:
        self._log.append(f"stop {self.name}")


def member(
    sessions: async_sessionmaker[AsyncSession], name: str, log: list[str], clock: list[datetime]
) -> tuple[Membership, Fleet]:
    settings = Settings(
        node_name=name, ari_app=f"ivr-{name}", asterisks="a=127.0.0.2:8088,b=127.0.0.3:8088",
        lease_renew=0.5, lease_seconds=2.5,
    )

    async def make_nodes(serving: Settings) -> list[Any]:
        nodes = [_Node(s.ari_app, s.node_name, log) for s in serving.per_asterisk()]
        log.extend(f"start {node.name}" for node in nodes)
        return nodes

    fleet = Fleet()
    return Membership(settings, sessions, fleet, make_nodes, now=lambda: clock[0]), fleet


async def test_a_survivor_serves_a_dead_controllers_application_under_its_node_names(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = [T0]
    log1: list[str] = []
    log2: list[str] = []
    c1, _ = member(db_sessionmaker, "c1", log1, clock)
    c2, fleet2 = member(db_sessionmaker, "c2", log2, clock)
    await c1.join()
    await c2.join()
    assert log2 == ["start c2@a", "start c2@b"]
    c2._reachable_since = 0.0  # the database has answered for long
    # c1 dies: it renews no more. While its lease lives, c2 leaves it alone.
    clock[0] = T0 + timedelta(seconds=2)
    await c2.tick()
    assert c2.adopted == {}
    clock[0] = T0 + timedelta(seconds=3)
    await c2.tick()
    assert c2.adopted == {"ivr-c1": "c1"}
    assert log2[-2:] == ["start c1@a", "start c1@b"]
    assert sorted(node.name for node in fleet2.nodes) == ["c1@a", "c1@b", "c2@a", "c2@b"]

    # c1 comes back: it asks, c2 hands the calls back, c1 serves them again.
    back, _ = member(db_sessionmaker, "c1", log1, clock)
    joining = asyncio.create_task(back.join())
    await asyncio.sleep(0.1)
    assert not joining.done()
    await c2.tick()
    await asyncio.wait_for(joining, 5)
    assert log2[-2:] == ["stop c1@a", "stop c1@b"]
    assert c2.adopted == {}
    assert log1[-2:] == ["start c1@a", "start c1@b"]


async def test_after_the_database_was_away_nobody_takes_a_living_controllers_calls(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = [T0]
    c1, _ = member(db_sessionmaker, "c1", [], clock)
    c2, _ = member(db_sessionmaker, "c2", [], clock)
    await c1.join()
    await c2.join()
    # Ten seconds without a database: every lease looks expired when it is back.
    c2._reachable_since = None
    clock[0] = T0 + timedelta(seconds=10)
    await c2.tick()  # back: c2 renews, and waits a lease time before taking any
    assert c2.adopted == {}
    await c1.tick()  # c1 renews in that time
    await c2.tick()
    assert c2.adopted == {}


async def test_a_clean_stop_releases_the_calls_at_once(
    db_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    clock = [T0]
    log: list[str] = []
    c1, _ = member(db_sessionmaker, "c1", log, clock)
    c2, _ = member(db_sessionmaker, "c2", [], clock)
    await c1.join()
    await c2.join()
    c2._reachable_since = 0.0
    await c1.leave()
    assert log[-2:] == ["stop c1@a", "stop c1@b"]
    await c2.tick()  # no waiting for the lease to run out
    assert c2.adopted == {"ivr-c1": "c1"}
