"""Crashes of Asterisk and of the controller: no call is left hanging."""

from __future__ import annotations

import asyncio
import io
import re
import time
import urllib.error
import wave
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from devtools import asterisk
from devtools.callermedia import Audio, Hangup, Pause
from devtools.sipcall import CallPlan, place_call
from ivr.ari.client import FALLBACK_VARIABLE
from ivr.audio.catalog import Catalog
from ivr.settings import HOTLINE_TZ

from .harness import RECORD_WAIT_S, Platform, fresh_postgres_database, invalid_keys

pytestmark = pytest.mark.e2e

G711A_PCAP = "/usr/share/sip-tester/g711a.pcap"
E2E_DATABASE = "ivr_e2e"


def wait_until(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_controller_reconnects_by_itself_after_asterisk_is_killed(
    platform: Platform,
) -> None:
    asterisk.kill(platform.settings)
    wait_until(lambda: platform.http_get("/api/health")[0] == 503, 10, "health to say ARI down")
    platform.ivr("asterisk", "up")
    wait_until(lambda: platform.http_get("/api/health")[0] == 200, 20, "ARI reconnect")
    assert platform.controller is not None and platform.controller.poll() is None

    result, record = await platform.call(
        CallPlan(caller="055162345678", actions=invalid_keys(1.5))
    )
    assert result.answered and result.ended_by == "asterisk"
    assert record is not None and record["end_reason"] == "invalid_input"


async def test_a_call_in_the_menu_is_taken_back_after_the_controller_is_killed(
    platform: Platform,
) -> None:
    # The caller waits in the menu, and presses keys long after the
    # controller was killed and restarted.
    plan = CallPlan(caller="02154321000", actions=invalid_keys(14.0), max_call_s=40)
    call = asyncio.create_task(platform.call(plan))
    await asyncio.sleep(3.0)
    in_stasis = platform.ari_channels()
    assert len(in_stasis) == 1, "the call should be in the menu by now"
    platform.kill_controller()
    await asyncio.sleep(1.0)
    await asyncio.to_thread(platform.start_controller)

    result, record = await call
    assert result.answered and result.ended_by == "asterisk", result.sipp_log
    assert record is not None
    notes = [step["value"] for step in record["steps"] if step["kind"] == "note"]
    assert "resumed" in notes
    prompts = [step["value"] for step in record["steps"] if step["kind"] == "prompt"]
    assert "call.resumed" in prompts
    assert record["end_reason"] == "invalid_input"
    # The prompt the killed controller started was stopped, not left playing
    # with the apology and every answer to a key queued behind it.
    errors = [(s["value"], s["detail"]) for s in record["steps"] if s["kind"] == "error"]
    assert errors == []
    platform.wait_no_channels()


async def test_a_message_left_while_the_controller_is_down_becomes_a_case(
    platform: Platform,
) -> None:
    platform.stop_controller()
    spool = asterisk.layout(platform.settings)
    asterisk_log = spool.host(spool.log / "messages.log")
    # Asterisk logs every ARI request it gets from here on: proof of what the
    # controller asked on its reconnect, by Asterisk's own account.
    logged_from = asterisk_log.stat().st_size
    asterisk.cli_command(platform.settings, spool, "ari set debug all on")
    try:
        # The caller listens to the apology, then speaks after the tone.
        apology = Catalog.load(platform.settings.prompt_build_dir).entries["fallback.apology"]
        plan = CallPlan(
            caller="055162345678",
            actions=(
                Pause(apology.duration_ms + 1500), Audio(G711A_PCAP, 3000), Pause(500), Hangup()
            ),
            offer_pcma=True,
            max_call_s=40,
        )
        result = await place_call(plan, platform.settings)
        left = _fallback_list(platform)
    finally:
        await asyncio.to_thread(platform.start_controller)
    assert result.answered, "the fallback must answer, not ring out or be busy"
    assert result.ended_by == "caller"
    log = asterisk_log.read_text(errors="replace")
    assert "fallback-apology" in log
    assert len(left) == 1 and left[0].startswith("fallback-"), "noted in the fallback's list"
    # Back, the controller finds the message through ARI and registers it.
    case = await _case_of_caller(platform, "055162345678", "fallback-")
    assert case["recording"] == left[0]
    # ... from that list, which it empties, without listing every recording.
    await _wait_for(lambda: _fallback_list(platform) == [], "the message to leave the list")
    asterisk.cli_command(platform.settings, spool, "ari set debug all off")
    with asterisk_log.open("rb") as read:
        read.seek(logged_from)
        requests = read.read().decode(errors="replace")
    asked = re.findall(r"^(GET|POST|PUT|DELETE) (\S+)$", requests, re.M)
    assert ("GET", "channels") in asked, "the log holds the reconnect's requests"
    assert ("GET", "asterisk/variable") in asked
    assert ("GET", "recordings/stored") not in asked, "the reconnect listed every recording"
    assert case["department"] == "340100"  # routed from the caller's area code
    assert (case["kind"], case["status"]) == ("message", "registered")
    status, audio = platform.http_get_bytes(f"/api/cases/{case['number']}/recording")
    assert status == 200
    with wave.open(io.BytesIO(audio)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    assert 2.0 <= seconds <= 4.5, "the caller's 3 s of words were not kept"
    assert abs(seconds - case["recording_seconds"]) < 1.0
    await _retention_removes_it(platform, case["number"], left[0], audio)
    platform.wait_no_channels()


async def _retention_removes_it(platform: Platform, number: str, name: str, audio: bytes) -> None:
    """Closed, and past the retention: archived, then gone from the real Asterisk."""
    platform.ivr("operators", "add", "opr1", "--name", "R", "--departments", "650000")
    moves = (("assign", {"operator": "opr1"}), ("start", {}), ("resolve", {"note": "已答复"}))
    for action, body in (*moves, ("close", {})):
        status, _ = platform.http_post(f"/api/cases/{number}/{action}", body)
        assert status == 200, action
    archive = platform.state_dir / "archive"
    later = f"{datetime.now(HOTLINE_TZ) + timedelta(days=31):%Y-%m-%dT%H:%M:%S}"
    done = platform.ivr(
        "cases", "retention", "--now", "--days", "30",
        IVR_NOW=later, IVR_RECORDING_ARCHIVE_DIR=str(archive),
    )
    assert f"{number}: recording_archived: " in done.stdout
    assert (archive / f"{number}-{name}.wav").read_bytes() == audio
    with pytest.raises(urllib.error.HTTPError) as gone:
        asterisk.ari_get(platform.settings, f"/recordings/stored/{name}")
    gone.value.close()
    assert gone.value.code == 404
    status, body = platform.http_get(f"/api/cases/{number}/recording")
    assert (status, body["error_id"]) == (410, "gone")


def _fallback_list(platform: Platform) -> list[str]:
    """The messages Asterisk's fallback noted and the controller has not taken yet."""
    answer = asterisk.ari_get(platform.settings, f"/asterisk/variable?variable={FALLBACK_VARIABLE}")
    return [name for name in str(answer.get("value") or "").split(",") if name]


async def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + RECORD_WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.3)


async def _case_of_caller(platform: Platform, caller: str, prefix: str) -> dict[str, Any]:
    deadline = time.monotonic() + RECORD_WAIT_S
    while time.monotonic() < deadline:
        status, body = platform.http_get("/api/cases?limit=200")
        if status == 200:
            for case in body:
                if case["caller"] == caller and (case["recording"] or "").startswith(prefix):
                    return dict(case)
        await asyncio.sleep(0.3)
    raise AssertionError(f"no case for {caller} with a {prefix}* recording")


async def test_the_controller_runs_on_postgresql(platform: Platform) -> None:
    url = await fresh_postgres_database(E2E_DATABASE)
    platform.stop_controller()
    await asyncio.to_thread(platform.start_controller, IVR_DATABASE_URL=url)
    try:
        result, record = await platform.call(
            CallPlan(caller="02584001234", actions=invalid_keys(1.5))
        )
        assert result.answered
        assert record is not None
        assert record["department_code"] == "320100"
        assert record["end_reason"] == "invalid_input"
        stored = await _stored_end_reason(url, record["id"])
        assert stored == "invalid_input", "the record must be in PostgreSQL itself"
    finally:
        platform.stop_controller()
        await asyncio.to_thread(platform.start_controller)


async def _stored_end_reason(url: str, call_id: str) -> str | None:
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(plain)
    try:
        value = await conn.fetchval("SELECT end_reason FROM calls WHERE id = $1", call_id)
    finally:
        await conn.close()
    return None if value is None else str(value)
