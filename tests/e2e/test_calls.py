"""Real SIP calls to 12371 through a real Asterisk and the running controller."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from devtools.callermedia import Action
from devtools.sipcall import CallPlan, presses
from ivr.audio.catalog import Catalog

from .harness import DIGIT_TIMEOUT_S, Platform, invalid_keys

pytestmark = pytest.mark.e2e

# The greeting names the department and lasts several seconds, and the menu
# after it far longer: keys pressed at these times land in the middle of a
# prompt (barge-in), as a caller who knows the menu would press them.
EARLY_S = 1.5
GAP_S = 1.5
HEFEI_LANDLINE = "055162345678"
SHANGHAI_MOBILE = "13916012345"  # 13916 is a Shanghai range (phonenumbers)


def prompts_of(record: dict[str, Any]) -> list[str]:
    return [step["value"] for step in record["steps"] if step["kind"] == "prompt"]


def keys_of(record: dict[str, Any]) -> list[str]:
    return [step["value"] for step in record["steps"] if step["kind"] == "key"]


def greeting(code: str) -> list[str]:
    return ["greeting.hello", f"dept.{code}", "greeting.hotline"]


def keys_at(*keys: str, hangup_after_s: float = 3.0) -> tuple[Action, ...]:
    """Actions pressing `keys` one every GAP_S from EARLY_S, then hanging up."""
    times = [(EARLY_S + n * GAP_S, key) for n, key in enumerate(keys)]
    end = EARLY_S + len(keys) * GAP_S + hangup_after_s
    return presses(*times, hangup_at_s=end)


def assert_played_cleanly(record: dict[str, Any]) -> None:
    errors = [step for step in record["steps"] if step["kind"] == "error"]
    assert errors == [], f"Asterisk could not play a prompt: {errors}"


LANDLINES = [
    (HEFEI_LANDLINE, "340100", "0551"),  # Hefei: the city department
    ("01065432100", "000000", "010"),  # Beijing: the central department
    ("02154321000", "310000", "021"),  # Shanghai: the municipal department
    ("+862584001234", "320100", "025"),  # Nanjing, in international form
    ("09915551234", "650100", "0991"),  # Urumqi
]


async def test_landlines_reach_the_department_of_their_area_code(platform: Platform) -> None:
    plans = [
        CallPlan(caller=caller, actions=presses(hangup_at_s=4.0)) for caller, _, _ in LANDLINES
    ]
    results = await asyncio.gather(*(platform.call(plan) for plan in plans))
    for (caller, code, area), (result, record) in zip(LANDLINES, results, strict=True):
        assert result.answered, result.sipp_log
        assert record is not None, f"no record for {caller}"
        assert record["caller"] == caller
        assert record["department_code"] == code, caller
        assert record["route_rule"] == "caller_area_code"
        assert record["route_read"] == area
        assert record["departments"] == [code]
        # The greeting names the department the call reached.
        assert prompts_of(record)[:3] == greeting(code)
        assert record["end_reason"] == "caller_hangup"
        assert record["answered_at"] is not None
        assert_played_cleanly(record)
    platform.wait_no_channels()


async def test_an_area_code_dialed_before_12371_wins_over_the_callers_own(
    platform: Platform,
) -> None:
    plans = [
        CallPlan(caller=HEFEI_LANDLINE, to="01012371", actions=presses(hangup_at_s=3.0)),
        CallPlan(caller="02154321000", to="055112371", actions=presses(hangup_at_s=3.0)),
    ]
    (_, to_central), (_, to_hefei) = await asyncio.gather(*map(platform.call, plans))
    assert to_central is not None and to_hefei is not None
    assert (to_central["department_code"], to_central["route_rule"]) == (
        "000000", "dialed_area_code",
    )
    assert to_central["dialed"] == "01012371"
    assert prompts_of(to_central)[:3] == greeting("000000")
    assert (to_hefei["department_code"], to_hefei["route_read"]) == ("340100", "0551")


async def test_a_shanghai_mobile_reaches_the_shanghai_municipal_department(
    platform: Platform,
) -> None:
    result, record = await platform.call(
        CallPlan(caller=SHANGHAI_MOBILE, actions=presses(hangup_at_s=3.0))
    )
    assert result.answered
    assert record is not None
    assert record["department_code"] == "310000"
    assert record["route_rule"] == "mobile_prefix"
    assert record["route_read"] == "1391601"
    assert prompts_of(record)[:3] == greeting("310000")


async def test_a_mobile_caller_away_from_home_chooses_another_city_with_0(
    platform: Platform,
) -> None:
    # 0: another region; 9, 9, 2: Anhui on the provinces' third page (five
    # to a page); 2: Hefei, after the provincial department.
    plan = CallPlan(
        caller=SHANGHAI_MOBILE, actions=keys_at("0", "9", "9", "2", "2"), max_call_s=30
    )
    result, record = await platform.call(plan)
    assert result.answered
    assert record is not None
    assert record["departments"] == ["310000", "340100"]
    assert record["department_code"] == "340100"
    assert record["department_name"] == "中共合肥市委组织部"
    heard = prompts_of(record)
    assert "region.choose_province" in heard and "region.choose_department" in heard
    last_greeting = len(heard) - 1 - heard[::-1].index("greeting.hello")
    assert heard[last_greeting : last_greeting + 3] == greeting("340100")
    assert_played_cleanly(record)


async def test_a_city_caller_moves_on_to_a_county_by_keys_and_back(platform: Platform) -> None:
    # 3: Hefei's departments below it, in code order: four districts, then
    # 长丰县 (340121) on key 5; # says the list again; * goes back to Hefei.
    plan = CallPlan(caller=HEFEI_LANDLINE, actions=keys_at("3", "#", "5", "*"), max_call_s=30)
    result, record = await platform.call(plan)
    assert result.answered
    assert record is not None
    assert record["departments"] == ["340100", "340121", "340100"]
    assert keys_of(record) == ["3", "#", "5", "*"]
    heard = prompts_of(record)
    # The list, said twice (# repeats it), before the county's greeting.
    assert heard.count("place.340121") == 2
    assert heard.count("dept.340121") == 1
    greetings = [heard[n : n + 3] for n, prompt in enumerate(heard) if prompt == "greeting.hello"]
    assert greetings == [greeting("340100"), greeting("340121"), greeting("340100")]
    assert record["department_code"] == "340100"
    # The keys came long before Hefei's menus could have finished: barge-in.
    assert result.duration_s < 15
    assert_played_cleanly(record)


async def test_an_anonymous_caller_chooses_a_province_by_keys(platform: Platform) -> None:
    # 9, 9: the provinces' third page; 2: Anhui; 1: the provincial department.
    plan = CallPlan(caller="anonymous", actions=keys_at("9", "9", "2", "1"), max_call_s=30)
    result, record = await platform.call(plan)
    assert result.answered
    assert record is not None
    assert record["route_rule"] == "default"
    assert prompts_of(record)[:2] == ["greeting.unplaced", "region.choose_province"]
    assert record["departments"] == ["000000", "340000"]
    assert record["department_code"] == "340000"
    assert "place.340000" in prompts_of(record)
    assert_played_cleanly(record)


async def test_what_the_carrier_says_about_the_origin_wins(platform: Platform) -> None:
    plan = CallPlan(caller=HEFEI_LANDLINE, origin="440100", actions=presses(hangup_at_s=3.0))
    _, record = await platform.call(plan)
    assert record is not None
    assert (record["department_code"], record["route_rule"]) == ("440100", "origin")


async def test_caller_hanging_up_mid_prompt_ends_the_call_cleanly(platform: Platform) -> None:
    plan = CallPlan(caller="02154321000", actions=presses(hangup_at_s=EARLY_S))
    result, record = await platform.call(plan)
    assert result.answered and result.ended_by == "caller"
    assert record is not None
    assert record["end_reason"] == "caller_hangup"
    assert record["ended_at"] is not None
    platform.wait_no_channels()


# A county department (reached here through the carrier's origin) has
# nothing below it, so its front page is short.
COUNTY = "340121"


async def test_silence_at_a_department_after_hours_opens_its_service_menu(
    platform: Platform,
) -> None:
    menu = ["front.self_service", "front.message", "menu.other_region", "menu.repeat"]
    # Nobody answers in person on this platform (no operators): after hours.
    opening = [*greeting(COUNTY), "hours.closed", *menu]
    catalog = Catalog.load(platform.settings.prompt_build_dir)
    heard_s = sum(catalog.duration_ms(prompt) for prompt in opening) / 1000
    plan = CallPlan(
        caller=HEFEI_LANDLINE,
        origin=COUNTY,
        actions=presses(hangup_at_s=heard_s + DIGIT_TIMEOUT_S + 4.0),
    )
    result, record = await platform.call(plan)
    assert result.answered and result.ended_by == "caller"
    assert record is not None
    prompts = prompts_of(record)
    assert prompts[: len(opening)] == opening
    assert prompts[len(opening)] == "svc.enter"
    assert ("service_menu", None) in [
        (step["value"], step["detail"]) for step in record["steps"] if step["kind"] == "note"
    ]
    assert_played_cleanly(record)
    platform.wait_no_channels()


async def test_invalid_keys_are_explained_and_the_third_ends_the_call(platform: Platform) -> None:
    plan = CallPlan(caller=HEFEI_LANDLINE, origin=COUNTY, actions=invalid_keys(EARLY_S))
    result, record = await platform.call(plan)
    assert result.ended_by == "asterisk"
    assert record is not None
    heard = prompts_of(record)
    assert heard.count("menu.invalid") == 2
    assert heard[-1] == "goodbye"
    assert record["end_reason"] == "invalid_input"


ODD_CALLERS = ["", "anonymous", "abcdef", "1234567890" * 4]


async def test_odd_caller_ids_are_asked_to_choose_a_province(platform: Platform) -> None:
    plans = [CallPlan(caller=caller, actions=presses(hangup_at_s=3.0)) for caller in ODD_CALLERS]
    results = await asyncio.gather(*(platform.call(plan) for plan in plans))
    for caller, (result, record) in zip(ODD_CALLERS, results, strict=True):
        assert result.answered, f"{caller!r} was not answered"
        assert record is not None, f"{caller!r} has no record"
        assert record["department_code"] == "000000"
        assert record["route_rule"] == "default"
        assert prompts_of(record)[:2] == ["greeting.unplaced", "region.choose_province"]
    by_caller = {record["caller"] for _, record in results if record}
    assert "1234567890" * 4 in by_caller
    platform.wait_no_channels()


async def test_every_call_appears_once_in_the_api_with_its_path(platform: Platform) -> None:
    plans = [CallPlan(caller=f"0551{n:08d}", actions=presses(hangup_at_s=2.0)) for n in range(3)]
    await asyncio.gather(*(platform.call(plan) for plan in plans))
    status, calls = platform.http_get("/api/calls?limit=1000")
    assert status == 200
    for plan in plans:
        mine = [call for call in calls if call["sip_call_id"] == plan.call_id]
        assert len(mine) == 1, plan.call_id
        assert [step["kind"] for step in mine[0]["steps"]][:1] == ["route"]
    assert calls == sorted(calls, key=lambda call: call["started_at"], reverse=True)
