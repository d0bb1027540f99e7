"""The operator's screen pop over HTTP: the live feed (server-sent events)
and a case registered from a call, on SQLite and PostgreSQL.

The desk itself is stood in for by publishing into the app's `DeskFeed`, as
the controller's operator legs do (tests/e2e/test_screen_pop.py has the
real thing: Asterisk, a SIPp caller, an operator's phone and Chromium).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr.admin.auth import Role
from ivr.admin.cases import CASES
from ivr.admin.desk_screen import FEED
from ivr.admin.keys import DIRECTORY, SETTINGS
from ivr.db.recorder import Recorder
from ivr.desk import line_store as lines
from ivr.desk import operator_store as stored_operators
from ivr.desk.feed import FeedCall, FeedEvent, FeedKind, PathStep
from tests.admin_support import NOW, AdminApp, admin_app

Client = TestClient[Any, Any]

COUNTY, BEIJING = "340123", "110101"  # 肥西县, and a department far away
OPERATOR = "op0001"
CALLER = "055168880001"
CALL = "call-feixi-1"
HEARTBEAT_S = 0.05
READ_S = 5.0


def _quick_heartbeat(app: web.Application) -> None:
    quick = {"operator_feed_heartbeat_seconds": HEARTBEAT_S}
    app[SETTINGS] = app[SETTINGS].model_copy(update=quick)


@pytest.fixture
async def admin(tmp_path: Path, database_url: str) -> AsyncIterator[AdminApp]:
    async with admin_app(tmp_path, database_url, _quick_heartbeat) as made:
        async with made.sessions() as session, session.begin():
            for operator_id, code in ((OPERATOR, COUNTY), ("op0002", BEIJING)):
                await stored_operators.add_operator(
                    session, made.app[DIRECTORY], operator_id, name=f"话务员{code}",
                    endpoint=operator_id, departments=[code], at=NOW,
                )
        yield made


async def operator(admin: AdminApp, username: str = OPERATOR, code: str = COUNTY) -> Client:
    return await admin.as_user(username, Role.OPERATOR, code)


def feed_event(kind: FeedKind, operator_id: str = OPERATOR) -> FeedEvent:
    call = FeedCall(
        call_id=CALL, caller=CALLER, department=COUNTY, department_name="中共肥西县委组织部",
        path=(PathStep("340100", "中共合肥市委组织部", "routed"),
              PathStep(COUNTY, "中共肥西县委组织部", "chosen")),
        category="dues", category_name="党费收缴、使用和管理", ringing_at=NOW,
    )
    return FeedEvent(kind, operator_id, call, NOW, "node-a")


class Stream:
    """A server-sent event stream, read event by event."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.retry: int | None = None

    async def next(self) -> tuple[str, dict[str, Any]]:
        kind, data = "message", ""
        async with asyncio.timeout(READ_S):
            while True:
                line = (await self.response.content.readline()).decode().rstrip("\n")
                if line == "":
                    if data:
                        return kind, json.loads(data)
                    continue
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "event":
                    kind = value
                elif field == "data":
                    data += value
                elif field == "retry":
                    self.retry = int(value)


async def open_feed(client: Client) -> Stream:
    response = await client.get("/api/operator/feed")
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/event-stream"
    stream = Stream(response)
    kind, hello = await stream.next()
    assert (kind, hello["operator"]) == ("hello", OPERATOR)
    return stream


async def register(admin: AdminApp, code: str, n: int, caller: str = CALLER) -> str:
    admin.clock.advance(minutes=1)  # newest last
    case = await admin.app[CASES].register(
        source=f"msg-{code}-{n}", kind="message", department=code, category="relations",
        caller=caller, call_id=f"old-{code}-{n}", recording=f"msg-{code}-{n}", seconds=4.0,
    )
    return case.number


# The feed -------------------------------------------------------------------------------


async def test_an_operator_sees_the_call_ringing_them_and_its_moments(admin: AdminApp) -> None:
    stream = await open_feed(await operator(admin))
    assert stream.retry is not None
    feed = admin.app[FEED]
    feed.publish(feed_event("ringing", "op0002"))  # another operator's call: not shown
    for kind in ("ringing", "connected", "ended"):
        feed.publish(feed_event(kind))
        got, data = await stream.next()
        assert (got, data["kind"], data["call"]["call_id"]) == (kind, kind, CALL)
    assert data["call"]["caller"] == CALLER
    assert [step["code"] for step in data["call"]["path"]] == ["340100", COUNTY]
    assert (data["call"]["category"], data["node"]) == ("dues", "node-a")


async def test_a_quiet_feed_sends_heartbeats(admin: AdminApp) -> None:
    stream = await open_feed(await operator(admin))
    async with asyncio.timeout(READ_S):  # nothing happens: the next line is a comment
        line = await stream.response.content.readline()
    assert line == b": heartbeat\n"
    admin.app[FEED].publish(feed_event("missed"))
    assert (await stream.next())[0] == "missed"  # the stream is still alive


async def test_the_pop_lists_the_callers_last_five_cases_of_the_operators_departments(
    admin: AdminApp,
) -> None:
    own = [await register(admin, COUNTY, n) for n in range(6)]
    await register(admin, BEIJING, 0)  # the same caller, at another department
    await register(admin, COUNTY, 9, caller="13900000000")  # another caller
    stream = await open_feed(await operator(admin))
    admin.app[FEED].publish(feed_event("ringing"))
    _, data = await stream.next()
    earlier = data["earlier_cases"]
    assert [case["number"] for case in earlier] == own[::-1][:5]
    assert {case["department"] for case in earlier} == {COUNTY}
    first = earlier[0]
    assert (first["status"], first["category"], first["category_name"]) == (
        "registered", "relations", "组织关系接转、组织生活、党籍党龄",
    )
    assert first["due_at"] and first["created_at"]
    admin.app[FEED].publish(feed_event("ended"))
    _, ended = await stream.next()
    assert ended["earlier_cases"] == []  # listed while ringing and talking only


async def test_the_feed_is_an_operators_own(admin: AdminApp) -> None:
    anyone = await admin.client()
    assert (await anyone.get("/api/operator/feed")).status == 401
    other = await operator(admin)
    refused = await other.get("/api/operator/feed?operator=op0002")
    assert refused.status == 403
    assert (await refused.json())["error_id"] == "forbidden"
    for role in (Role.DEPARTMENT_ADMIN, Role.AUDITOR):
        user = await admin.as_user(f"user-{role.value}", role, COUNTY)
        assert (await user.get("/api/operator/feed")).status == 403
    national = await admin.as_user("boss")
    assert (await national.get("/api/operator/feed")).status == 403
    nobody = await operator(admin, "op9999")  # an operator user without a desk operator
    missing = await nobody.get("/api/operator/feed")
    assert missing.status == 404
    assert "ivr operators add" in (await missing.json())["message"]


async def test_a_closed_page_leaves_no_subscriber(admin: AdminApp) -> None:
    stream = await open_feed(await operator(admin))
    assert admin.app[FEED].subscribers(OPERATOR) == 1
    stream.response.close()
    for _ in range(100):  # the next heartbeat finds the page gone
        if admin.app[FEED].subscribers(OPERATOR) == 0:
            break
        await asyncio.sleep(HEARTBEAT_S)
    assert admin.app[FEED].subscribers(OPERATOR) == 0


# A case from a call -----------------------------------------------------------------------


async def offered_call(admin: AdminApp, operator_id: str = OPERATOR) -> None:
    """A call of 肥西县 that went through 党费 and rang `operator_id`."""
    recorder = Recorder(admin.engine, flush_interval=0.01)
    await recorder.start()
    recorder.call_started(
        CALL, sip_call_id="sip-feixi-1", node="node-a", caller=CALLER, dialed="12371",
        department_code=COUNTY, department_name="中共肥西县委组织部",
        route_rule="caller_area_code", route_read="0551", started_at=NOW,
    )
    recorder.step(CALL, NOW, "department", COUNTY, "routed")
    recorder.step(CALL, NOW, "category", "dues")
    await recorder.stop()
    async with admin.sessions() as session, session.begin():
        await stored_operators.act(session, operator_id, "sign_in", NOW)
        await lines.join(session, CALL, COUNTY, "node-a", CALLER, NOW)
        claim = await lines.claim(session, COUNTY, "node-a", NOW, timedelta(0))
        assert claim is not None and claim.operator is not None
        assert claim.operator.id == operator_id


async def test_an_operator_registers_a_case_from_the_call_they_answered(admin: AdminApp) -> None:
    await offered_call(admin)
    client = await operator(admin)
    note = {"note": "来电询问党费标准，已解答"}
    made = await client.post(f"/api/calls/{CALL}/case", json=note)
    assert made.status == 201, await made.text()
    case = await made.json()
    assert (case["kind"], case["category"], case["department"]) == ("call", "dues", COUNTY)
    assert (case["caller"], case["call_id"], case["source"]) == (CALLER, CALL, f"call:{CALL}")
    (registered,) = case["events"]
    assert (registered["actor"], registered["note"]) == (OPERATOR, note["note"])
    again = await client.post(f"/api/calls/{CALL}/case", json={"note": "再点一次"})
    assert again.status == 200  # once per call
    assert (await again.json())["number"] == case["number"]
    listed = await (await client.get(f"/api/cases?department={COUNTY}")).json()
    assert [c["number"] for c in listed] == [case["number"]]


async def test_the_operator_may_choose_another_category(admin: AdminApp) -> None:
    await offered_call(admin)
    client = await operator(admin)
    made = await client.post(f"/api/calls/{CALL}/case", json={"category": "opinions"})
    assert made.status == 201
    assert (await made.json())["category"] == "opinions"


async def test_a_wrong_category_is_refused_clearly(admin: AdminApp) -> None:
    await offered_call(admin)
    client = await operator(admin)
    wrong = await client.post(f"/api/calls/{CALL}/case", json={"category": "weather"})
    assert wrong.status == 400
    assert "weather" in (await wrong.json())["message"]


async def test_only_an_operator_the_call_was_offered_to_registers_it(admin: AdminApp) -> None:
    await offered_call(admin)
    async with admin.sessions() as session, session.begin():
        await stored_operators.add_operator(
            session, admin.app[DIRECTORY], "op0003", name="另一位", endpoint="op0003",
            departments=[COUNTY], at=NOW,
        )
    colleague = await operator(admin, "op0003")
    refused = await colleague.post(f"/api/calls/{CALL}/case", json={"note": "不是我接的"})
    assert refused.status == 403
    assert "was not offered" in (await refused.json())["message"]
    missing = await (await operator(admin)).post("/api/calls/no-such-call/case", json={})
    assert missing.status == 404
    admin_of_beijing = await admin.as_user("beijing", Role.DEPARTMENT_ADMIN, BEIJING)
    # Another department's call is not found, like one that does not exist.
    elsewhere = await admin_of_beijing.post(f"/api/calls/{CALL}/case", json={})
    assert (elsewhere.status, (await elsewhere.json())["error_id"]) == (404, "not_found")
    admin_of_county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, COUNTY)
    assert (await admin_of_county.post(f"/api/calls/{CALL}/case", json={})).status == 201
