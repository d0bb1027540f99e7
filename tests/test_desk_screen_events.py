"""What the desk tells an operator's screen, moment by moment, as it rings,
bridges and ends one caller's operator leg (`ivr.desk.legs.OperatorLegs`).

No Asterisk: the leg's ARI commands and the operator's moves are stand-ins;
the feed and the line's database (SQLite and PostgreSQL) are real.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr import logs
from ivr.desk import queues
from ivr.desk.core import DeskState, Leg
from ivr.desk.feed import DeskFeed, FeedEvent, Subscription
from ivr.desk.legs import LegAnswered, LegGone, Offer, OperatorLegs
from ivr.desk.operators import Operator
from ivr.directory.routing import Directory
from ivr.errors import AriError
from ivr.settings import HOTLINE_TZ, Settings

DIRECTORY = Directory.load(Path(__file__).parent / "data" / "departments.csv")
AT = datetime(2026, 11, 24, 10, 0, tzinfo=HOTLINE_TZ)
OPERATOR = Operator("op1", "张敏", "op1", frozenset({"340121"}), "available", AT)


@dataclass
class Flow:
    department: str = "340121"
    queued: bool = True
    category: str = "dues"


@dataclass
class Call:
    call_id: str = "call-1"
    caller: str = "055162345678"
    entry_id: str = "call-1"
    flow: Flow = field(default_factory=Flow)
    leg: Leg | None = None
    offers: int = 0
    path: list[tuple[str, str]] = field(
        default_factory=lambda: [("340100", "routed"), ("340121", "chosen")]
    )


class Asterisk:
    def __init__(self, fail_originate: bool = False) -> None:
        self.fail_originate = fail_originate
        self.commands: list[str] = []

    async def originate(self, channel_id: str, *args: Any, **kwargs: Any) -> None:
        if self.fail_originate:
            raise AriError("no such endpoint", http_status=404)
        self.commands.append(f"originate {channel_id}")

    async def hangup_quietly(self, channel_id: str, reason: str = "normal") -> None:
        self.commands.append(f"hangup {channel_id}")

    async def create_bridge(self, bridge_id: str) -> None:
        self.commands.append(f"bridge {bridge_id}")

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        pass

    async def destroy_bridge(self, bridge_id: str) -> None:
        pass


class Moves:
    async def move(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def callback_case(self, *args: Any) -> None:
        pass


class Recorder:
    def step(self, *args: Any) -> None:
        pass


def legs(
    tmp_path: Path, ari: Asterisk, feed: DeskFeed, sessions: async_sessionmaker[AsyncSession]
) -> OperatorLegs[Any]:
    rules = tmp_path / "queues.yaml"
    rules.write_text("default: {ring_seconds: 10, whisper: false}", encoding="utf-8")

    async def handle(call: Any, event: Any) -> None:
        pass

    return OperatorLegs(
        ari, Settings(state_dir=tmp_path, node_name="node-a"), sessions,  # type: ignore[arg-type]
        DIRECTORY, None, queues.load(rules, DIRECTORY), Recorder(),  # type: ignore[arg-type]
        lambda: AT, lambda _call, _event: True, handle, DeskState(), Moves(),  # type: ignore[arg-type]
        feed,
    )


async def drain(screen: Subscription) -> list[FeedEvent]:
    """What the screen got so far."""
    events = []
    while screen.pending():
        event = await screen.get(0)
        assert event is not None
        events.append(event)
    return events


async def test_a_ring_answered_and_ended_is_ringing_connected_ended(
    tmp_path: Path, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    feed = DeskFeed()
    screen = feed.subscribe("op1")
    desk = legs(tmp_path, Asterisk(), feed, db_sessionmaker)
    call = Call()
    await desk.on_event(call, Offer(OPERATOR))
    (ringing,) = await drain(screen)
    assert (ringing.kind, ringing.call.caller, ringing.node) == ("ringing", call.caller, "node-a")
    path = [(step.code, step.how) for step in ringing.call.path]
    assert path == [("340100", "routed"), ("340121", "chosen")]
    assert ringing.call.department_name == DIRECTORY.by_code("340121").name
    assert (ringing.call.category, ringing.call.category_name) == ("dues", "党费收缴、使用和管理")
    assert ringing.call.ringing_at == AT
    assert call.leg is not None
    leg_id = call.leg.id
    await desk.on_event(call, LegAnswered(leg_id))
    assert [e.kind for e in await drain(screen)] == ["connected"]
    await desk.on_event(call, LegGone(leg_id))
    (ended,) = await drain(screen)
    assert ended.kind == "ended" and ended.call == ringing.call  # the same call, as it rang


async def test_a_ring_nobody_answers_or_the_caller_leaves_is_missed(
    tmp_path: Path, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    feed = DeskFeed()
    screen = feed.subscribe("op1")
    desk = legs(tmp_path, Asterisk(), feed, db_sessionmaker)
    unanswered = Call()
    await desk.on_event(unanswered, Offer(OPERATOR))
    assert unanswered.leg is not None
    await desk.on_event(unanswered, LegGone(unanswered.leg.id))
    assert [e.kind for e in await drain(screen)] == ["ringing", "missed"]
    gone = Call(call_id="call-2", entry_id="call-2")
    await desk.on_event(gone, Offer(OPERATOR))
    assert gone.leg is not None
    await desk.release(gone, gone.leg)  # the caller hung up while the phone rang
    assert [e.kind for e in await drain(screen)] == ["ringing", "missed"]


async def test_a_phone_that_could_not_be_rung_pops_nothing(
    tmp_path: Path, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    feed = DeskFeed()
    screen = feed.subscribe("op1")
    desk = legs(tmp_path, Asterisk(fail_originate=True), feed, db_sessionmaker)
    await desk.on_event(Call(), Offer(OPERATOR))
    assert await drain(screen) == []


async def test_each_moment_of_the_leg_is_a_line_of_the_calls_story(
    tmp_path: Path, db_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """In the call's task (its tag entered), the leg's lines carry the call's ids."""
    out = io.StringIO()
    lines = logs.handler("json", stream=out)
    logger = logging.getLogger("ivr.desk.legs")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    call = Call()
    desk = legs(tmp_path, Asterisk(), DeskFeed(), db_sessionmaker)

    async def the_calls_task() -> None:
        logs.enter_call(logs.CallTag(call.call_id, "abc@carrier", "340121"))
        await desk.on_event(call, Offer(OPERATOR))
        assert call.leg is not None
        leg_id = call.leg.id
        await desk.on_event(call, LegAnswered(leg_id))
        await desk.on_event(call, LegGone(leg_id))

    try:
        await asyncio.create_task(the_calls_task())
    finally:
        logger.removeHandler(lines)
        logger.setLevel(logging.NOTSET)
    told = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["message"] for line in told] == [
        f"operator op1: {moment} (leg call-1-op1)" for moment in ("ringing", "connected", "ended")
    ]
    assert {(line["call_id"], line["sip_call_id"], line["department"]) for line in told} == {
        ("call-1", "abc@carrier", "340121")
    }
