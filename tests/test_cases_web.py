"""`/api/cases` and `/api/report` with aiohttp's test client, over SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.admin.app import ARI, CLOCK, SESSIONS, SETTINGS, add_routes
from ivr.admin.cases import CASES
from ivr.admin.keys import DIRECTORY as WEB_DIRECTORY
from ivr.ari.client import AriClient
from ivr.cases.registry import Cases
from ivr.cases.retention import Retention
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.desk import operator_store as stored_operators
from ivr.errors import AriError
from ivr.settings import Settings
from tests.web_support import add_user

from .test_db_cases import T0, Clock
from .test_db_operators import DIRECTORY
from .test_web import error_of

NOW = T0  # the clock's start
WAV = b"RIFF....WAVEfmt fake audio"


class Recordings(AriClient):
    """Asterisk's stored recordings, without Asterisk: some kept, the rest gone."""

    def __init__(self, settings: Settings, kept: dict[str, bytes]) -> None:
        super().__init__(settings)
        self.kept = kept

    async def stored_recording_file(self, name: str) -> bytes:
        if name not in self.kept:
            raise AriError(f"GET /recordings/stored/{name}/file: 404", http_status=404)
        return self.kept[name]

    async def delete_stored_recording(self, name: str) -> None:
        if self.kept.pop(name, None) is None:
            raise AriError(f"DELETE /recordings/stored/{name}: 404", http_status=404)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(tmp_path: Path, clock: Clock) -> AsyncIterator[web.Application]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}"
    await upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await stored_operators.add_operator(
            session, DIRECTORY, "op1001", name="张敏", endpoint="op1001",
            departments=["340100"], at=NOW,
        )
    settings = Settings(state_dir=tmp_path, database_url=database_url)
    application = web.Application()
    application[SETTINGS] = settings
    application[SESSIONS] = sessions
    application[ARI] = Recordings(settings, {"msg-kept": WAV})
    application[CLOCK] = clock
    application[WEB_DIRECTORY] = DIRECTORY
    application[CASES] = Cases(sessions, DIRECTORY, clock)
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    add_routes(application, prompts)
    try:
        yield application
    finally:
        await engine.dispose()


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[TestClient[Any, Any]]:
    headers = await add_user(app[SESSIONS], "admin")
    async with TestClient(TestServer(app), headers=headers) as test_client:
        yield test_client


async def register(app: web.Application, name: str, department: str = "340100") -> str:
    case = await app[CASES].register(
        source=name, kind="message", department=department, category="dues",
        caller="055162345678", call_id=f"call-{name}", recording=name, seconds=3.0,
    )
    return case.number


async def test_cases_are_listed_and_shown(
    app: web.Application, client: TestClient[Any, Any]
) -> None:
    first = await register(app, "msg-kept", "340121")
    second = await register(app, "msg-gone")
    listed = await (await client.get("/api/cases")).json()
    assert [case["number"] for case in listed] == [second, first]
    hefei = await (await client.get("/api/cases?department=340100")).json()
    assert [case["number"] for case in hefei] == [second]
    below = await (await client.get("/api/cases?department=340100&sub=1&limit=5")).json()
    assert len(below) == 2
    assert await (await client.get("/api/cases?status=closed")).json() == []
    response = await client.get(f"/api/cases/{first}")
    shown = await response.json()
    assert (shown["number"], shown["department"]) == (first, "340121")
    assert shown["status"] == "registered"
    assert shown["due_at"] == "2026-11-27T16:00:00Z"
    assert [event["action"] for event in shown["events"]] == ["registered"]


async def test_a_case_is_moved_with_a_json_body(
    app: web.Application, client: TestClient[Any, Any]
) -> None:
    number = await register(app, "msg-kept")
    body = {"operator": "op1001", "note": "请办理"}
    response = await client.post(f"/api/cases/{number}/assign", json=body)
    assert response.status == 200
    case = await response.json()
    assert (case["status"], case["assigned_to"]) == ("assigned", "op1001")
    # Who acted is the signed-in user, never what the body claims.
    assert case["events"][-1]["actor"] == "admin"
    assert (await client.post(f"/api/cases/{number}/start")).status == 200
    forwarded = await client.post(
        f"/api/cases/{number}/forward", json={"department": "340122", "note": "属肥东县"}
    )
    body = await forwarded.json()
    assert (body["department"], body["status"], body["events"][-1]["actor"]) == (
        "340122", "registered", "admin"
    )
    urgent = await (await client.post(f"/api/cases/{number}/urgent", json={})).json()
    assert urgent["urgent"] and urgent["due_at"] == "2026-11-25T02:00:00Z"


async def test_mistakes_are_json_errors(app: web.Application, client: TestClient[Any, Any]) -> None:
    number = await register(app, "msg-kept")
    url = f"/api/cases/{number}"
    bad = await client.post(f"{url}/resolve", data=b"{not json")
    says = await error_of(bad, 400, "invalid_input")
    assert "must be JSON" in says
    says = await error_of(await client.post(f"{url}/resolve", json=["note"]), 400, "invalid_input")
    assert "JSON object" in says
    says = await error_of(await client.post(f"{url}/resolve", json={}), 400, "invalid_input")
    assert says == "resolve needs a note: what was done, and why"
    says = await error_of(
        await client.post(f"{url}/note", json={"note": "x" * 2001}), 400, "invalid_input"
    )
    assert "at most 2000 characters" in says
    says = await error_of(await client.post(f"{url}/note", json={"note": 5}), 400, "invalid_input")
    assert "note must be text" in says
    says = await error_of(await client.post(f"{url}/note", json={"who": "x"}), 400, "invalid_input")
    assert "unknown field 'who'" in says
    says = await error_of(await client.post(f"{url}/assign", json={}), 400, "invalid_input")
    assert "assign needs an operator" in says
    says = await error_of(await client.post(f"{url}/start"), 409, "case_state")
    assert says == f"cannot start case {number}: it is registered (assign it first)"
    await error_of(await client.post(f"{url}/explode"), 404, "not_found")
    await error_of(await client.get("/api/cases/20990101-000009"), 404, "case_not_found")
    await error_of(await client.post("/api/cases/20990101-000009/start"), 404, "case_not_found")
    await error_of(await client.get("/api/cases?limit=0"), 400, "invalid_input")
    await error_of(await client.get("/api/cases?sub=maybe"), 400, "invalid_input")
    await error_of(await client.get("/api/cases?status=lost"), 400, "invalid_input")
    await error_of(await client.get("/api/cases?department=999999"), 400, "invalid_input")


async def test_the_overdue_list_of_a_supervisor(
    app: web.Application, client: TestClient[Any, Any], clock: Clock
) -> None:
    number = await register(app, "msg-kept", "340121")
    clock.now = NOW + timedelta(days=5)
    late = await (await client.get("/api/cases/overdue?department=340100")).json()
    assert [(item["case"]["number"], item["supervisor"], item["late_by"]) for item in late] == [
        (number, "340100", "1天10小时")
    ]
    assert await (await client.get("/api/cases/overdue?department=340121")).json() == []
    says = await error_of(await client.get("/api/cases/overdue"), 400, "invalid_input")
    assert "department" in says


async def test_a_recording_comes_from_asterisk(
    app: web.Application, client: TestClient[Any, Any]
) -> None:
    kept = await register(app, "msg-kept")
    gone = await register(app, "msg-gone")
    callback = await app[CASES].register(
        source="callback:c1", kind="callback", department="340100", category="",
        caller="13800138000", call_id="c1",
    )
    response = await client.get(f"/api/cases/{kept}/recording")
    assert response.status == 200 and response.content_type == "audio/wav"
    assert await response.read() == WAV
    says = await error_of(await client.get(f"/api/cases/{gone}/recording"), 404, "not_found")
    assert says == f"Asterisk no longer has recording msg-gone of case {gone}"
    says = await error_of(
        await client.get(f"/api/cases/{callback.number}/recording"), 404, "not_found"
    )
    assert says == f"case {callback.number} has no recording"


async def test_a_recording_removed_by_retention_is_gone_not_an_asterisk_error(
    app: web.Application, client: TestClient[Any, Any], clock: Clock
) -> None:
    number = await register(app, "msg-kept")
    cases = app[CASES]
    await cases.transition(number, "assign", actor="admin", note="", operator="op1001")
    for action, note in (("start", ""), ("resolve", "已答复"), ("close", "")):
        await cases.transition(number, action, actor="admin", note=note)
    clock.now += timedelta(days=31)
    retention = Retention(app[SESSIONS], app[ARI], clock, days=30)
    (removed,) = (await retention.run_once()).removed
    assert removed.number == number
    response = await client.get(f"/api/cases/{number}/recording")
    says = await error_of(response, 410, "gone")
    assert says == f"案件 {number} 的录音已按保存期限删除（2026-12-25 10:00）"
    body = await (await client.get(f"/api/cases/{number}")).json()
    assert body["recording_removed_at"] == "2026-12-25T02:00:00Z"
    assert body["events"][-1]["action"] == "recording_deleted"


async def test_the_report_over_http(app: web.Application, client: TestClient[Any, Any]) -> None:
    await register(app, "msg-kept")
    body = await (await client.get("/api/report?period=week&date=2026-11-25")).json()
    assert (body["period"], body["first_day"], body["last_day"]) == (
        "week", "2026-11-23", "2026-11-29"
    )
    assert body["cases"] == 1 and body["calls"] == 0
    today = await (await client.get("/api/report?period=day")).json()
    assert today["first_day"] == "2026-11-24"
    await error_of(await client.get("/api/report?period=year"), 400, "invalid_input")
    await error_of(await client.get("/api/report?date=24.11.2026"), 400, "invalid_input")
