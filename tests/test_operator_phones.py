"""An operator whose phone is not registered is offered no calls, and is
shown as unreachable (issue 18).

The desk here runs on a real database (SQLite and PostgreSQL) and a stand-in
for the few ARI commands it uses of Asterisk for phones: a push, a
subscription and `GET /endpoints/PJSIP`, whose states the test sets as
Asterisk would report them. tests/e2e/test_desk.py has the same with a real
Asterisk and a real SIPp phone registering.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.desk import operator_store as stored
from ivr.desk.desk import Desk
from ivr.desk.legs import Offer
from ivr.desk.presence import Presence, phone_json, phones_seen, record
from ivr.settings import Settings

from .test_db_operators import add
from .test_desk import TUESDAY_10
from .test_desk import desk as desk_at

Sessions = async_sessionmaker[AsyncSession]
COUNTY = "340121"
TICK_S = 0.02


class Phones:
    """What the desk asks of Asterisk about phones, answered as Asterisk would."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = states
        self.pushed: list[tuple[str, str]] = []
        self.watched: list[str] = []

    async def push_config(self, object_type: str, object_id: str, fields: dict[str, str]) -> None:
        self.pushed.append((object_type, object_id))

    async def watch_endpoint(self, technology: str, resource: str) -> None:
        self.watched.append(f"{technology}/{resource}")

    async def endpoint_states(self, technology: str = "PJSIP") -> dict[str, str]:
        return dict(self.states)


def make_desk(
    tmp_path: Path, sessions: Sessions, phones: Phones, posted: list[tuple[str, object]]
) -> Desk:
    def post(channel: str, event: object) -> bool:
        posted.append((channel, event))
        return True

    settings = Settings(state_dir=tmp_path, node_name="ast1", queue_tick=TICK_S)
    return desk_at(
        TUESDAY_10, [], tmp_path, sessionmaker=sessions, settings=settings, ari=phones, post=post
    )


async def signed_in(sessions: Sessions, operator_id: str) -> None:
    await add(sessions, operator_id, departments=[COUNTY])
    async with sessions() as session, session.begin():
        await stored.act(session, operator_id, "sign_in", TUESDAY_10 - timedelta(minutes=5))


async def offers_within(desk: Desk, posted: list[tuple[str, object]], ticks: int = 10) -> list[str]:
    """Run the desk's dispatcher for a few ticks: the operators it offered calls to."""
    running = asyncio.create_task(desk.run())
    try:
        await asyncio.sleep(TICK_S * ticks)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    return [event.operator.id for _, event in posted if isinstance(event, Offer)]


async def test_a_signed_in_operator_whose_phone_is_not_registered_is_offered_no_call(
    tmp_path: Path, db_sessionmaker: Sessions
) -> None:
    await signed_in(db_sessionmaker, "op1")
    phones = Phones({"op1": "offline", "callers": "online"})
    posted: list[tuple[str, object]] = []
    desk = make_desk(tmp_path, db_sessionmaker, phones, posted)
    await desk.refresh()
    # Signed in, but nobody can be rung: the caller hears nobody is on duty.
    assert desk.service(COUNTY) == "unstaffed"
    await desk.join("caller-1", COUNTY, "13800138000")
    assert await offers_within(desk, posted) == []
    # The desk heard of the phone's changes from its push on.
    assert "PJSIP/op1" in phones.watched
    # The phone registers: Asterisk's event, and the next tick rings it.
    desk.phone_seen("op1", "online")
    assert desk.service(COUNTY) == "operators"
    assert await offers_within(desk, posted) == ["op1"]


async def test_only_the_operator_who_cannot_be_rung_is_passed_over(
    tmp_path: Path, db_sessionmaker: Sessions
) -> None:
    await signed_in(db_sessionmaker, "op1")  # idle longest: would ring first
    await signed_in(db_sessionmaker, "op2")
    phones = Phones({"op1": "offline", "op2": "online"})
    posted: list[tuple[str, object]] = []
    desk = make_desk(tmp_path, db_sessionmaker, phones, posted)
    await desk.refresh()
    await desk.join("caller-1", COUNTY, "13800138000")
    assert await offers_within(desk, posted) == ["op2"]


async def test_a_state_asterisk_has_not_told_holds_nobody_back(
    tmp_path: Path, db_sessionmaker: Sessions
) -> None:
    # A fixed contact without qualify is `online`; a phone Asterisk does not
    # list yet (the push not through) is not known to be gone.
    await signed_in(db_sessionmaker, "op1")
    posted: list[tuple[str, object]] = []
    desk = make_desk(tmp_path, db_sessionmaker, Phones({}), posted)
    await desk.refresh()
    assert desk.service(COUNTY) == "operators"


async def test_every_controller_writes_its_asterisks_view_for_the_page(
    tmp_path: Path, db_sessionmaker: Sessions
) -> None:
    await signed_in(db_sessionmaker, "op1")
    phones = Phones({"op1": "offline"})
    desk = make_desk(tmp_path, db_sessionmaker, phones, [])
    await desk.refresh()
    async with db_sessionmaker() as session:
        seen = await phones_seen(session)
    assert phone_json(seen["op1"])["state"] == "offline"
    desk.phone_seen("op1", "online")
    await desk.refresh()
    async with db_sessionmaker() as session:
        seen = await phones_seen(session)
    assert phone_json(seen["op1"]) == {
        "state": "online",
        "since": TUESDAY_10.astimezone(UTC).isoformat(),
        "nodes": {"ast1": "online"},
    }
    # Asterisk restarted, and does not list the phone: what it said before is
    # void, and the page says it does not know.
    desk.forget_phones()
    phones.states.clear()
    await desk.refresh()
    async with db_sessionmaker() as session:
        seen = await phones_seen(session)
    assert phone_json(seen["op1"])["nodes"] == {"ast1": "unknown"}


async def test_a_phone_registered_with_one_asterisk_of_two_is_reachable(
    db_sessionmaker: Sessions,
) -> None:
    at = TUESDAY_10
    async with db_sessionmaker() as session, session.begin():
        await record(session, "ast1", {"op1": ("offline", at)})
        await record(session, "ast2", {"op1": ("online", at + timedelta(seconds=5))})
    async with db_sessionmaker() as session:
        seen = await phones_seen(session)
    assert phone_json(seen["op1"]) == {
        "state": "online",
        "since": (at + timedelta(seconds=5)).astimezone(UTC).isoformat(),
        "nodes": {"ast1": "offline", "ast2": "online"},
    }
    assert phone_json({})["state"] == "unknown"


@pytest.mark.parametrize(
    ("reported", "kept"),
    [("online", "online"), ("offline", "offline"), ("unknown", "unknown"), (None, "unknown"),
     ("weird", "unknown")],
)
def test_asterisks_words_for_a_phone(reported: str | None, kept: str) -> None:
    presence = Presence()
    presence.seen("op1", reported, TUESDAY_10)
    assert presence.states["op1"] == kept
    # Said again: no news, nothing more to write.
    assert presence.seen("op1", reported, TUESDAY_10) is False
