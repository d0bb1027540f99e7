"""The HTTP side with aiohttp's test client: /api/ over an SQLite database of
recorded calls, health, and the prompt files."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ivr.admin.app import ARI, CLOCK, CONTROLLER, SESSIONS, SETTINGS, add_routes
from ivr.admin.keys import DIRECTORY as WEB_DIRECTORY
from ivr.admin.keys import LOOP_LAG
from ivr.ari.client import AriClient
from ivr.audio.catalog import Catalog
from ivr.cases.registry import Cases
from ivr.cli.serve import HOURS_FILE, QUEUES_FILE
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.db.recorder import Recorder
from ivr.desk import operator_store as stored_operators
from ivr.desk import queues
from ivr.directory.routing import Directory
from ivr.loop_lag import LoopLag
from ivr.publish import hours as working_hours
from ivr.settings import REPO_ROOT, Settings
from ivr.stasis.controller import Controller
from ivr.stasis.parts import Collaborators
from tests.web_support import add_user

NODE = "node-web"
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
FIRST = "1763892000.1"  # the oldest call, still open
SECOND = "1763892000.2"  # ended; has a SIP Call-ID
THIRD = "1763892000.3"  # the newest
SIP_CALL_ID = "a84b4c76e66710@pc33.example.com"
PROMPT = "greeting.340100-0123456789abcdef.wav"
SECRET = "ARI_PASSWORD = 'never served over HTTP'"


def write_wav(path: Path) -> bytes:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x01" * 800)
    return path.read_bytes()


async def record_calls(recorder: Recorder) -> None:
    calls = [
        (FIRST, None, "055162345678", NOW - timedelta(minutes=20)),
        (SECOND, SIP_CALL_ID, "02154321000", NOW - timedelta(minutes=10)),
        (THIRD, None, "01062345678", NOW - timedelta(minutes=5)),
    ]
    for call_id, sip_call_id, caller, started in calls:
        recorder.call_started(
            call_id,
            sip_call_id=sip_call_id,
            node=NODE,
            caller=caller,
            dialed="12371",
            department_code="340100",
            department_name="中共合肥市委组织部",
            route_rule="caller_area_code",
            route_read=caller[:4],
            started_at=started,
        )
        recorder.step(call_id, started, "route", f"caller {caller!r}")
        recorder.step(call_id, started + timedelta(seconds=1), "prompt", "greeting.340100")
        recorder.step(call_id, started + timedelta(seconds=2), "prompt", "menu.choices")
    recorder.call_answered(SECOND, NOW - timedelta(minutes=10))
    recorder.step(SECOND, NOW - timedelta(minutes=9), "key", "9")
    recorder.call_ended(SECOND, NOW - timedelta(minutes=9), "caller_ended")
    await recorder.flush()


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[web.Application]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}"
    await upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    recorder = Recorder(engine, flush_interval=0.01)
    await recorder.start()
    await record_calls(recorder)

    prompt_dir = tmp_path / "prompts"
    prompt_dir.mkdir()
    write_wav(prompt_dir / PROMPT)
    # Next to the prompt folder, where a path trick would reach.
    (tmp_path / "settings.py").write_text(SECRET, encoding="utf-8")

    settings = Settings(state_dir=tmp_path, database_url=database_url, node_name=NODE)
    directory = Directory.load(REPO_ROOT / "routing" / "departments.csv")
    ari = AriClient(settings)  # never connected: health reads its `connected`
    controller = Controller(
        Collaborators(
            settings=settings,
            ari=ari,
            recorder=recorder,
            sessionmaker=sessions,
            clock=lambda: NOW,
            directory=directory,
            queues=queues.load(QUEUES_FILE, directory),
            cases=Cases(sessions, directory, lambda: NOW),
            catalog=Catalog(prompt_dir, {}),
            hours=working_hours.load(HOURS_FILE, directory),
        )
    )
    application = web.Application()
    application[SETTINGS] = settings
    application[SESSIONS] = sessions
    application[ARI] = ari
    application[CONTROLLER] = controller
    application[CLOCK] = lambda: NOW
    application[WEB_DIRECTORY] = directory
    application[LOOP_LAG] = LoopLag(warn_ms=100)  # never run: the test feeds it
    add_routes(application, prompt_dir)
    try:
        yield application
    finally:
        await recorder.stop()
        await engine.dispose()


@pytest.fixture
async def client(app: web.Application) -> AsyncIterator[TestClient[Any, Any]]:
    headers = await add_user(app[SESSIONS], "admin")
    async with TestClient(TestServer(app), headers=headers) as test_client:
        yield test_client


async def raw_get(client: TestClient[Any, Any], target: str) -> tuple[int, bytes]:
    """GET `target` exactly as written: no client cleans up `..` or `%2e` first."""
    host, port = client.server.host, client.server.port
    assert port is not None
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    status = int(data.split(b" ", 2)[1])
    return status, data


async def error_of(response: Any, status: int, error_id: str) -> str:
    assert response.status == status
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["error_id"] == error_id
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    return str(body["message"])


# /api/calls -----------------------------------------------------------------------


async def test_calls_are_listed_newest_first_with_their_steps(
    client: TestClient[Any, Any],
) -> None:
    response = await client.get("/api/calls")
    assert response.status == 200
    calls = await response.json()
    assert [call["id"] for call in calls] == [THIRD, SECOND, FIRST]
    second = calls[1]
    assert second["sip_call_id"] == SIP_CALL_ID
    assert second["end_reason"] == "caller_ended"
    assert second["department_name"] == "中共合肥市委组织部"
    assert datetime.fromisoformat(second["started_at"]) == NOW - timedelta(minutes=10)
    assert [(s["seq"], s["kind"], s["value"]) for s in second["steps"]] == [
        (1, "route", "caller '02154321000'"),
        (2, "prompt", "greeting.340100"),
        (3, "prompt", "menu.choices"),
        (4, "key", "9"),
    ]
    assert calls[2]["ended_at"] is None and calls[2]["end_reason"] is None


async def test_limit_keeps_the_newest(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/calls", params={"limit": "2"})
    assert [call["id"] for call in await response.json()] == [THIRD, SECOND]
    response = await client.get("/api/calls", params={"limit": "1000"})
    assert len(await response.json()) == 3


@pytest.mark.parametrize(
    ("limit", "says"),
    [
        ("0", "between 1 and 1000"),
        ("-1", "between 1 and 1000"),
        ("5000", "between 1 and 1000"),
        ("abc", "whole number"),
        ("", "whole number"),
        ("1.5", "whole number"),
    ],
)
async def test_a_bad_limit_is_400_json(client: TestClient[Any, Any], limit: str, says: str) -> None:
    response = await client.get("/api/calls", params={"limit": limit})
    message = await error_of(response, 400, "invalid_input")
    assert "limit" in message and says in message


async def test_sip_call_id_finds_one_call(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/calls", params={"sip_call_id": SIP_CALL_ID})
    assert response.status == 200
    assert [call["id"] for call in await response.json()] == [SECOND]
    response = await client.get("/api/calls", params={"sip_call_id": "nobody@nowhere"})
    assert response.status == 200
    assert await response.json() == []


async def test_one_call_by_id(client: TestClient[Any, Any]) -> None:
    response = await client.get(f"/api/calls/{FIRST}")
    assert response.status == 200
    call = await response.json()
    assert call["id"] == FIRST and call["caller"] == "055162345678"
    assert [s["value"] for s in call["steps"]][1:] == ["greeting.340100", "menu.choices"]


async def test_an_unknown_call_is_404_json(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/calls/1763892000.999")
    message = await error_of(response, 404, "not_found")
    assert "1763892000.999" in message


async def test_unknown_api_paths_and_methods_answer_json(client: TestClient[Any, Any]) -> None:
    await error_of(await client.get("/api/nothing-here"), 404, "http_404")
    await error_of(await client.post("/api/calls"), 405, "http_405")


# /api/health ------------------------------------------------------------------------


async def test_health_follows_the_ari_connection(
    client: TestClient[Any, Any], app: web.Application
) -> None:
    response = await client.get("/api/health")
    assert response.status == 503
    body = await response.json()
    assert body["ari_connected"] is False
    assert body["node"] == NODE and body["active_calls"] == 0
    assert datetime.fromisoformat(body["now"]) == NOW

    app[ARI].connected.set()
    response = await client.get("/api/health")
    assert response.status == 200
    assert (await response.json())["ari_connected"] is True

    app[ARI].connected.clear()
    assert (await client.get("/api/health")).status == 503


async def test_health_reports_the_event_loops_lag(
    client: TestClient[Any, Any], app: web.Application
) -> None:
    assert (await (await client.get("/api/health")).json())["loop_lag_worst_ms"] == 0.0
    app[LOOP_LAG].observe(12.34, now=0.0)
    body = await (await client.get("/api/health")).json()
    assert body["loop_lag_worst_ms"] == 12.3 and body["loop_lag_recent_ms"] == 12.3


# /prompts/ ---------------------------------------------------------------------------


async def test_a_prompt_is_served_as_wav(
    client: TestClient[Any, Any], app: web.Application
) -> None:
    response = await client.get(f"/prompts/{PROMPT}")
    assert response.status == 200
    assert response.content_type in ("audio/x-wav", "audio/wav", "audio/wave")
    body = await response.read()
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    # The name carries the content hash: Asterisk may cache it for good.
    assert "immutable" in response.headers.get("Cache-Control", "")


async def test_an_unknown_prompt_is_404(client: TestClient[Any, Any]) -> None:
    response = await client.get("/prompts/greeting.999999-0000000000000000.wav")
    assert response.status == 404


@pytest.mark.parametrize(
    "target",
    [
        "/prompts/../settings.py",
        "/prompts/%2e%2e/settings.py",
        "/prompts/..%2fsettings.py",
        "/prompts/%2e%2e%2fsettings.py",
        "/prompts//../settings.py",
    ],
)
async def test_nothing_outside_the_prompt_folder_is_served(
    client: TestClient[Any, Any], target: str
) -> None:
    status, data = await raw_get(client, target)
    assert status in (400, 403, 404), data[:200]
    assert SECRET.encode() not in data


async def test_a_symlink_out_of_the_prompt_folder_is_not_followed(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    (tmp_path / "prompts" / "leak.wav").symlink_to(tmp_path / "settings.py")
    status, data = await raw_get(client, "/prompts/leak.wav")
    assert status in (403, 404)
    assert SECRET.encode() not in data


def write_tone(path: Path, sample: bytes, frames: int, rate: int = 8000) -> bytes:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(sample * frames)
    return sample * frames


async def test_a_menu_page_is_served_as_its_prompts_joined(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    first = write_tone(tmp_path / "prompts" / "front.hello-00000000000000aa.wav", b"\x01\x00", 400)
    second = write_tone(tmp_path / "prompts" / "dept.340100-00000000000000bb.wav", b"\x02\x00", 800)
    response = await client.get(
        "/prompts/join/front.hello-00000000000000aa+dept.340100-00000000000000bb"
        "+front.hello-00000000000000aa.wav"
    )
    assert response.status == 200
    assert response.content_type in ("audio/x-wav", "audio/wav", "audio/wave")
    assert "immutable" in response.headers.get("Cache-Control", "")
    with wave.open(io.BytesIO(await response.read()), "rb") as page:
        assert (page.getnchannels(), page.getsampwidth(), page.getframerate()) == (1, 2, 8000)
        assert page.getnframes() == 1600  # 0.2 s
        assert page.readframes(1600) == first + second + first


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("greeting.999999-0000000000000000+greeting.340100-0123456789abcdef.wav", 404),
        ("greeting.340100-0123456789abcdef.wav", 400),  # one prompt is not a page
        ("greeting.340100-0123456789abcdef+..%2fsettings.wav", 400),
        ("greeting.340100-0123456789abcdef+greeting.340100-0123456789abcdef.mp3", 400),
        ("+".join(["greeting.340100-0123456789abcdef"] * 25) + ".wav", 400),
    ],
)
async def test_a_page_that_names_no_prompts_is_refused(
    client: TestClient[Any, Any], name: str, status: int
) -> None:
    response = await client.get(f"/prompts/join/{name}")
    assert response.status == status
    body = await response.json()
    assert body["message"]
    assert SECRET not in await response.text()


async def test_a_page_does_not_follow_a_symlink_or_mix_formats(
    client: TestClient[Any, Any], tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts"
    (prompts / "leak-00000000000000cc.wav").symlink_to(tmp_path / "settings.py")
    status, data = await raw_get(
        client, f"/prompts/join/leak-00000000000000cc+{PROMPT.removesuffix('.wav')}.wav"
    )
    assert status == 404 and SECRET.encode() not in data

    write_tone(prompts / "wide-00000000000000dd.wav", b"\x01\x00", 1600, rate=16000)
    response = await client.get(
        f"/prompts/join/wide-00000000000000dd+{PROMPT.removesuffix('.wav')}.wav"
    )
    assert response.status == 400
    assert "one format" in (await response.json())["message"]


# Operators -------------------------------------------------------------------------


async def add_operator(app: web.Application) -> None:
    directory = Directory.load(REPO_ROOT / "routing" / "departments.csv")
    async with app[SESSIONS]() as session, session.begin():
        await stored_operators.add_operator(
            session,
            directory,
            "op1001",
            name="张敏",
            endpoint="op1001",
            departments=["340100"],
            at=NOW,
        )


async def test_operators_are_listed_with_their_status_and_todays_counts(
    app: web.Application, client: TestClient[Any, Any]
) -> None:
    await add_operator(app)
    response = await client.get("/api/operators")
    assert response.status == 200
    (operator,) = await response.json()
    assert operator["id"] == "op1001" and operator["status"] == "signed_out"
    assert operator["departments"] == ["340100"]
    assert operator["today"] == {"offered": 0, "answered": 0, "missed": 0, "talk_seconds": 0}


async def test_an_admin_signs_in_and_pauses_an_operator(
    app: web.Application, client: TestClient[Any, Any]
) -> None:
    await add_operator(app)
    response = await client.post("/api/operators/op1001/sign-in")
    assert response.status == 200
    assert (await response.json())["status"] == "available"
    response = await client.post("/api/operators/op1001/pause", json={"reason": "培训"})
    body = await response.json()
    assert (body["status"], body["pause_reason"]) == ("paused", "培训")
    listed = await (await client.get("/api/operators")).json()
    assert listed[0]["status"] == "paused"


async def test_operator_actions_refuse_clearly(
    app: web.Application, client: TestClient[Any, Any]
) -> None:
    await add_operator(app)
    message = await error_of(
        await client.post("/api/operators/op1001/pause", json={"reason": "培训"}),
        409,
        "operator_state",
    )
    assert message == "operator op1001 is signed out: cannot pause"
    await error_of(await client.post("/api/operators/op9/sign-in"), 404, "not_found")
    await error_of(await client.post("/api/operators/op1001/dance"), 404, "not_found")
    bad_body = await client.post("/api/operators/op1001/pause", data=b"{not json")
    await error_of(bad_body, 400, "invalid_input")
    long_reason = await client.post("/api/operators/op1001/pause", json={"reason": "x" * 201})
    await error_of(long_reason, 400, "invalid_input")
