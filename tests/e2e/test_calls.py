"""Real SIP calls to 12371 through a real Asterisk and the running controller."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ivr.sipcall import CallPlan, presses

from .harness import Platform

pytestmark = pytest.mark.e2e

# The greeting names the department and lasts several seconds: keys pressed
# at these times land in the middle of it (barge-in) or after it.
EARLY_S = 1.5


def prompts_of(record: dict[str, Any]) -> list[str]:
    return [step["value"] for step in record["steps"] if step["kind"] == "prompt"]


def keys_of(record: dict[str, Any]) -> list[str]:
    return [step["value"] for step in record["steps"] if step["kind"] == "key"]


def assert_played_cleanly(record: dict[str, Any]) -> None:
    errors = [step for step in record["steps"] if step["kind"] == "error"]
    assert errors == [], f"Asterisk could not play a prompt: {errors}"


LANDLINES = [
    ("055162345678", "340100", "0551"),  # Hefei
    ("01065432100", "000000", "010"),  # Beijing: the central department
    ("02154321000", "310000", "021"),  # Shanghai
    ("02087654321", "440100", "020"),  # Guangzhou
    ("+862584001234", "320100", "025"),  # Nanjing, in international form
]


async def test_landlines_of_five_area_codes_reach_their_departments(platform: Platform) -> None:
    plans = [
        CallPlan(caller=caller, actions=presses((EARLY_S, "9")))
        for caller, _, _ in LANDLINES
    ]
    results = await asyncio.gather(*(platform.call(plan) for plan in plans))
    for (caller, code, area), (result, record) in zip(LANDLINES, results, strict=True):
        assert result.answered, result.sipp_log
        assert result.ended_by == "asterisk", f"{caller}: the IVR should hang up after 9"
        assert record is not None, f"no record for {caller}"
        assert record["caller"] == caller
        assert record["department_code"] == code
        assert record["route_rule"] == "caller_area_code"
        assert record["route_read"] == area
        assert prompts_of(record) == [f"greeting.{code}", "menu.choices", "goodbye"]
        assert keys_of(record) == ["9"]
        assert record["end_reason"] == "caller_ended"
        assert record["answered_at"] is not None
        assert_played_cleanly(record)
    platform.wait_no_channels()


async def test_area_code_dialed_before_12371_wins_over_the_callers_own(
    platform: Platform,
) -> None:
    plan = CallPlan(caller="055162345678", to="01012371", actions=presses((EARLY_S, "9")))
    result, record = await platform.call(plan)
    assert result.answered
    assert record is not None
    assert record["dialed"] == "01012371"
    assert record["department_code"] == "000000"
    assert record["route_rule"] == "dialed_area_code"


async def test_key_1_interrupts_and_repeats_the_greeting(platform: Platform) -> None:
    plan = CallPlan(caller="055162345678", actions=presses((EARLY_S, "1"), (2 * EARLY_S, "9")))
    result, record = await platform.call(plan)
    assert result.ended_by == "asterisk"
    assert record is not None
    assert keys_of(record) == ["1", "9"]
    assert prompts_of(record) == [
        "greeting.340100", "menu.choices", "greeting.340100", "menu.choices", "goodbye",
    ]
    # Both keys came before the first greeting could have finished: barge-in.
    assert result.duration_s < 15
    assert_played_cleanly(record)


async def test_caller_hanging_up_mid_prompt_ends_the_call_cleanly(platform: Platform) -> None:
    plan = CallPlan(caller="02154321000", actions=presses(hangup_at_s=EARLY_S))
    result, record = await platform.call(plan)
    assert result.answered and result.ended_by == "caller"
    assert record is not None
    assert record["end_reason"] == "caller_hangup"
    assert record["ended_at"] is not None
    platform.wait_no_channels()


async def test_silence_is_asked_about_once_then_the_call_ends(platform: Platform) -> None:
    plan = CallPlan(caller="02087654321", max_call_s=60)
    result, record = await platform.call(plan)
    assert result.answered and result.ended_by == "asterisk"
    assert record is not None
    assert record["end_reason"] == "silence"
    assert prompts_of(record) == [
        "greeting.440100", "menu.choices", "menu.no_input", "menu.choices", "goodbye",
    ]
    assert_played_cleanly(record)
    platform.wait_no_channels()


async def test_invalid_keys_are_explained(platform: Platform) -> None:
    plan = CallPlan(caller="02087654321", actions=presses((EARLY_S, "5"), (2 * EARLY_S, "9")))
    result, record = await platform.call(plan)
    assert result.ended_by == "asterisk"
    assert record is not None
    assert prompts_of(record)[2:4] == ["menu.invalid", "menu.choices"]
    assert record["end_reason"] == "caller_ended"


ODD_CALLERS = ["", "anonymous", "abcdef", "1234567890" * 4]


async def test_odd_caller_ids_reach_the_default_department(platform: Platform) -> None:
    plans = [CallPlan(caller=caller, actions=presses((EARLY_S, "9"))) for caller in ODD_CALLERS]
    results = await asyncio.gather(*(platform.call(plan) for plan in plans))
    for caller, (result, record) in zip(ODD_CALLERS, results, strict=True):
        assert result.answered, f"{caller!r} was not answered"
        assert record is not None, f"{caller!r} has no record"
        assert record["department_code"] == "000000"
        assert record["route_rule"] == "default"
        assert record["end_reason"] == "caller_ended"
    by_caller = {record["caller"] for _, record in results if record}
    assert "1234567890" * 4 in by_caller
    platform.wait_no_channels()


async def test_every_call_appears_once_in_the_api_with_its_path(platform: Platform) -> None:
    plans = [CallPlan(caller=f"0551{n:08d}", actions=presses((EARLY_S, "9"))) for n in range(3)]
    await asyncio.gather(*(platform.call(plan) for plan in plans))
    status, calls = platform.http_get("/api/calls?limit=1000")
    assert status == 200
    for plan in plans:
        mine = [call for call in calls if call["sip_call_id"] == plan.call_id]
        assert len(mine) == 1, plan.call_id
        assert [step["kind"] for step in mine[0]["steps"]][:1] == ["route"]
    assert calls == sorted(calls, key=lambda call: call["started_at"], reverse=True)
