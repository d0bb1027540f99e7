"""The desk feed: each operator's screens get that operator's events, and a
slow screen never holds a call up."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from ivr.db.notify import Channel
from ivr.desk.feed import DeskFeed, FeedCall, FeedEvent, FeedKind, PathStep
from tests.conftest import _clean_postgres

RANG = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def event(kind: FeedKind, operator: str = "op1", call_id: str = "call-1") -> FeedEvent:
    call = FeedCall(
        call_id=call_id,
        caller="055162345678",
        department="340121",
        department_name="中共长丰县委组织部",
        path=(PathStep("340100", "中共合肥市委组织部", "routed"),
              PathStep("340121", "中共长丰县委组织部", "chosen")),
        category="dues",
        category_name="党费收缴、使用和管理",
        ringing_at=RANG,
    )
    return FeedEvent(kind, operator, call, RANG, "node-a")


async def test_every_screen_of_an_operator_gets_their_events_and_only_theirs() -> None:
    feed = DeskFeed()
    desk, phone, other = feed.subscribe("op1"), feed.subscribe("op1"), feed.subscribe("op2")
    feed.publish(event("ringing"))
    feed.publish(event("connected"))
    for screen in (desk, phone):
        first, second = await screen.get(1), await screen.get(1)
        assert first is not None and second is not None
        assert (first.kind, second.kind) == ("ringing", "connected")
    assert await other.get(0.01) is None
    assert other.pending() == 0


async def test_a_slow_screen_loses_its_oldest_events_and_never_blocks_the_call() -> None:
    feed = DeskFeed(queue_size=3)
    slow = feed.subscribe("op1")
    # Published from the call's own task: it must return at once, however many.
    for n in range(10):
        feed.publish(event("ringing", call_id=f"call-{n}"))
    assert slow.dropped == 7
    kept = [await slow.get(0) for _ in range(3)]
    assert [e.call.call_id for e in kept if e is not None] == ["call-7", "call-8", "call-9"]


async def test_an_unsubscribed_screen_gets_nothing_more() -> None:
    feed = DeskFeed()
    screen = feed.subscribe("op1")
    feed.unsubscribe(screen)
    feed.unsubscribe(screen)  # twice is harmless
    feed.publish(event("ringing"))
    assert screen.pending() == 0
    assert feed.subscribers("op1") == 0


async def test_a_waiting_screen_is_woken_by_an_event_and_by_the_feed_closing() -> None:
    feed = DeskFeed()
    screen = feed.subscribe("op1")
    waiting = asyncio.create_task(screen.get(5))
    await asyncio.sleep(0)
    feed.publish(event("missed"))
    got = await waiting
    assert got is not None and got.kind == "missed"
    waiting = asyncio.create_task(screen.get(5))
    await asyncio.sleep(0)
    feed.close()
    assert await asyncio.wait_for(waiting, 1) is None
    assert screen.closed


def test_an_event_reads_as_json_with_the_path_and_branch() -> None:
    data = event("ringing").as_json()
    assert data["kind"] == "ringing" and data["operator"] == "op1"
    assert data["call"]["ringing_at"] == "2026-11-24T02:00:00+00:00"
    assert [step["how"] for step in data["call"]["path"]] == ["routed", "chosen"]
    assert data["call"]["category_name"] == "党费收缴、使用和管理"


# -- several controllers on one PostgreSQL ---------------------------------------------


def test_an_event_reads_back_as_it_was_written() -> None:
    sent = event("connected", "op7", "call-9")
    assert FeedEvent.from_json(json.loads(json.dumps(sent.as_json()))) == sent


async def test_a_page_on_one_controller_sees_the_calls_another_offers() -> None:
    """Two controllers' feeds relayed through one PostgreSQL (LISTEN/NOTIFY):
    an operator's page is open on the second; the first offers the call."""
    async for url in _clean_postgres():
        first, second = DeskFeed(), DeskFeed()
        channels = [Channel(url, "ivr_desk_feed_test", feed.receive) for feed in (first, second)]
        for feed, channel in zip((first, second), channels, strict=True):
            await channel.start()
            feed.relay_through(channel.send)
        try:
            page = second.subscribe("op1")
            here = first.subscribe("op1")
            first.publish(event("ringing"))
            got = await page.get(5.0)
            assert got == event("ringing")
            assert await here.get(5.0) == event("ringing")  # its own page too, once
            assert await here.get(0.3) is None and await page.get(0.3) is None
        finally:
            for channel in channels:
                await channel.stop()


async def test_a_relayed_event_that_cannot_be_read_is_skipped() -> None:
    feed = DeskFeed()
    page = feed.subscribe("op1")
    feed.receive("{not json")
    feed.receive(json.dumps({**event("ringing").as_json(), "kind": "exploded"}))
    feed.receive(json.dumps(event("missed").as_json()))
    assert await page.get(1.0) == event("missed")
