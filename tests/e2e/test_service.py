"""After hours end to end: real SIPp callers in the service menu, leaving
messages that become cases, and the cases' deadlines, supervision and report.

The platform's clock is a Friday evening (IVR_NOW), after hours everywhere.
Every call reaches one county of Hefei through the carrier's origin. Its
front page offers self-service on 1, which some callers press at once; a
caller who presses nothing reaches the service menu after a known time,
computed from the built prompts' lengths. Keys are then pressed every 1.2 s,
long before any prompt ends: each is barge-in.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devtools.callermedia import Action, Audio, Hangup, Key, Pause
from devtools.sipcall import CallPlan
from ivr.audio.catalog import Catalog
from ivr.call.tracking import number_prompts
from ivr.publish.menus import CATEGORIES, VERSION_MARK

from .harness import DIGIT_TIMEOUT_S, Platform, start_platform

pytestmark = pytest.mark.e2e

G711A = str(Path("/usr/share/sip-tester/g711a.pcap"))
FRIDAY_EVENING = "2026-11-27T20:00:00+08:00"
# Three working days after Friday 27 November: Monday 30, Tuesday 1, Wednesday 2.
DUE = datetime.fromisoformat("2026-12-03T00:00:00+08:00")
COUNTY = "340121"  # 长丰县, of Hefei (340100)
HEFEI = "340100"
CALLER = "055162345678"
SILENT_CALLER = "055162345679"  # the caller who never presses a key
GAP_S = 1.2
# Every call this module places, for the report's counts.
PLACED: list[dict[str, Any]] = []


@pytest.fixture(scope="module")
def after_hours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    state = tmp_path_factory.mktemp("after-hours")
    platform = start_platform(
        state,
        IVR_NOW=FRIDAY_EVENING,
        # After hours no callback is dialled: a number that could be is enough.
        IVR_CALLBACK_DIAL="PJSIP/{number}@callers",
    )
    try:
        yield platform
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def silent_call(after_hours: Platform) -> Iterator[Future[dict[str, Any]]]:
    """A caller who never presses a key, placed beside the other tests' calls:
    three full turns of the top menu take over two minutes."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(asyncio.run, call(after_hours, caller=SILENT_CALLER, max_call_s=240))


def prompt_s(platform: Platform, *prompts: str) -> float:
    """How long the prompts play. A menu text published as version 1 on first
    start (svc.main@v1) is the build's rendering of routing/menus.yaml."""
    catalog = Catalog.load(platform.settings.prompt_build_dir)
    return sum(catalog.duration_ms(prompt.split(VERSION_MARK)[0]) for prompt in prompts) / 1000


def service_menu_at(platform: Platform) -> float:
    """Seconds after the answer when the caller is in the service menu."""
    front = [
        "greeting.hello", f"dept.{COUNTY}", "greeting.hotline", "hours.closed",
        "front.self_service", "front.message", "menu.other_region", "menu.repeat",
    ]
    return prompt_s(platform, *front) + DIGIT_TIMEOUT_S + 1.0


def self_service_by_key() -> tuple[Action, ...]:
    """A caller who knows the front page: 1 (self-service) while the greeting plays."""
    return (Pause(1500), Key("1"), Pause(round(GAP_S * 1000)))


def keys_every(gap_s: float, *keys: str) -> tuple[Action, ...]:
    actions: list[Action] = []
    for digit in keys:
        actions += [Key(digit), Pause(round(gap_s * 1000))]
    return tuple(actions)


async def call(
    platform: Platform, *actions: Action, caller: str = CALLER, max_call_s: int = 90
) -> dict[str, Any]:
    plan = CallPlan(
        caller=caller, origin=COUNTY, actions=actions, offer_pcma=True, max_call_s=max_call_s
    )
    result, record = await platform.call(plan)
    assert result.answered, result.sipp_log
    assert record is not None, "no record of the call"
    PLACED.append(record)
    return record


def steps(record: dict[str, Any], kind: str) -> list[str]:
    return [step["value"] for step in record["steps"] if step["kind"] == kind]


def notes(record: dict[str, Any], value: str) -> list[str | None]:
    return [s["detail"] for s in record["steps"] if s["kind"] == "note" and s["value"] == value]


def case_of(platform: Platform, record: dict[str, Any]) -> dict[str, Any]:
    (number,) = notes(record, "case")
    assert number is not None
    status, case = platform.http_get(f"/api/cases/{number}")
    assert status == 200, case
    return case


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as audio:
        return audio.getnframes() / audio.getframerate()


def assert_nothing_left(platform: Platform) -> None:
    """No prompt failed, and no channel is left but the silent caller's."""
    errors = [s for r in PLACED for s in r["steps"] if s["kind"] == "error"]
    assert errors == [], f"Asterisk could not play a prompt: {errors}"
    deadline = time.monotonic() + 10
    while True:
        left = [
            c["name"] for c in platform.ari_channels()
            if c["caller"]["number"] != SILENT_CALLER
        ]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert left == [], f"channels left in Asterisk: {left}"


# -- the menu ----------------------------------------------------------------------


async def test_each_of_the_seven_categories_and_back(
    after_hours: Platform, silent_call: Future[dict[str, Any]]
) -> None:
    keys = [key for n in range(1, 8) for key in (str(n), "*")]
    record = await call(after_hours, *self_service_by_key(), *keys_every(GAP_S, *keys), Hangup())
    assert steps(record, "category") == list(CATEGORIES)
    assert notes(record, "service_menu") == [None]
    prompts = steps(record, "prompt")
    root = prompts[prompts.index("svc.enter") + 1]
    # Each category's own menu, then `*` back to the top: seven times over.
    assert prompts.count(root) == 1 + 7
    assert "menu.invalid" not in prompts
    # Barge-in: fourteen keys in 17 s, where the prompts alone last far longer.
    assert prompt_s(after_hours, *prompts) > 3 * len(keys) * GAP_S
    assert record["end_reason"] == "caller_hangup"
    assert not silent_call.done(), "the silent caller is still in the menu meanwhile"


async def test_wrong_keys_lead_to_the_message_box_and_a_dropped_message_is_kept(
    after_hours: Platform,
) -> None:
    to_beep = prompt_s(after_hours, "svc.too_many", "message.intro") + 1.0
    record = await call(
        after_hours,
        Pause(round((service_menu_at(after_hours) + 1.0) * 1000)),
        # Every key of the top level leads somewhere (9: a case's status), so
        # into 党费 (3), whose level offers 1 to 4, and 9 there, three times.
        *keys_every(GAP_S, "3", "9", "9", "9"),
        Pause(round(to_beep * 1000)),
        Audio(G711A, 3000), Audio(G711A, 3000),
        Hangup(),  # mid-message
    )
    prompts = steps(record, "prompt")
    assert prompts.count("menu.invalid") == 2
    assert prompts[-2:] == ["svc.too_many", "message.intro"]
    assert record["end_reason"] == "message_left"
    case = case_of(after_hours, record)
    assert (case["kind"], case["department"], case["caller"]) == ("message", COUNTY, CALLER)
    assert case["status"] == "registered"
    (recording,) = steps(record, "message")
    assert case["recording"] == recording
    # What was said before the hang-up: about 6 s.
    assert 4.5 <= case["recording_seconds"] <= 7.5
    status, audio = after_hours.http_get_bytes(f"/api/cases/{case['number']}/recording")
    assert status == 200
    assert abs(wav_seconds(audio) - case["recording_seconds"]) < 1.0
    assert_nothing_left(after_hours)


# -- a message, reviewed and confirmed -------------------------------------------------


async def test_a_message_in_a_category_becomes_a_case_with_its_recording(
    after_hours: Platform,
) -> None:
    intro = prompt_s(after_hours, "message.intro") + 1.0
    review = prompt_s(after_hours, "message.review")
    # The thanks, then the case's number said twice (six digits): then the survey.
    thanks = prompt_s(after_hours, "message.thanks", *number_prompts("000000"))
    record = await call(
        after_hours,
        *self_service_by_key(),
        *keys_every(GAP_S, "3", "0"),  # dues, then leave a message there
        Pause(round(intro * 1000)),
        Audio(G711A, 3000),
        Key("#"),  # the end of the message
        Pause(1500), Key("1"),  # listen back: ~3 s, then the choices again
        Pause(round((3.0 + 1.5) * 1000)), Key("3"),  # confirm
        Pause(round((thanks + 1.5) * 1000)), Key("1"),  # satisfied
        Pause(20000),
        max_call_s=120,
    )
    prompts = steps(record, "prompt")
    (recording,) = steps(record, "message")
    assert f"recording:{recording}" in prompts  # heard back
    assert prompts[-2:] == ["survey.thanks", "goodbye"]
    assert steps(record, "survey") == ["1"]
    # The caller heard the case's number, digit by digit, twice, before the survey.
    (number,) = notes(record, "case")
    assert number is not None
    thanked = prompts.index("message.thanks")
    said = number_prompts(number)
    assert tuple(prompts[thanked + 1 : thanked + 1 + len(said)]) == said
    assert prompts[thanked + 1 + len(said)] == "survey.ask"
    assert notes(record, "message_confirmed") == [None]
    assert record["end_reason"] == "message_left"
    assert review > 0

    case = case_of(after_hours, record)
    assert (case["kind"], case["category"], case["urgent"]) == ("message", "dues", False)
    assert case["recording"] == recording
    assert datetime.fromisoformat(case["due_at"]) == DUE
    assert case["satisfaction"] == 1
    assert 2.0 <= case["recording_seconds"] <= 4.0
    status, audio = after_hours.http_get_bytes(f"/api/cases/{case['number']}/recording")
    assert status == 200
    assert audio[:4] == b"RIFF"
    assert abs(wav_seconds(audio) - case["recording_seconds"]) < 1.0
    assert_nothing_left(after_hours)


async def test_a_callback_request_after_hours_is_a_case(after_hours: Platform) -> None:
    record = await call(
        after_hours,
        Pause(round((service_menu_at(after_hours) + 1.0) * 1000)),
        Key("8"),
        Pause(30000),
    )
    case = case_of(after_hours, record)
    # Confirmed, then the case's number twice, then goodbye.
    said = ("svc.callback_registered", *number_prompts(case["number"]), "goodbye")
    assert tuple(steps(record, "prompt")[-len(said) :]) == said
    assert record["end_reason"] == "callback_registered"
    assert (case["kind"], case["caller"], case["recording"]) == ("callback", CALLER, None)
    assert datetime.fromisoformat(case["due_at"]) == DUE
    assert_nothing_left(after_hours)


async def lookup(platform: Platform, number: str, caller: str) -> dict[str, Any]:
    """A caller in the service menu chooses 9 and keys `number` and `#`."""
    answer = prompt_s(
        platform, "case.status.registered", "case.handled_by", f"dept.{COUNTY}", "case.due",
        "date.month.12", "date.day.2", "case.lookup_after",
    )
    return await call(
        platform,
        *self_service_by_key(),
        Key("9"), Pause(1500),  # the lookup, while its question plays
        *keys_every(0.4, *number, "#"),
        Pause(round((answer + 2.0) * 1000)),
        caller=caller,
    )


async def test_a_caller_looks_up_their_case_by_its_number_and_nobody_else_can(
    after_hours: Platform,
) -> None:
    # A message, registered: its number is what the caller heard.
    left = await call(
        after_hours,
        *self_service_by_key(),
        *keys_every(GAP_S, "0"),  # a message at the top of the service menu
        Pause(round((prompt_s(after_hours, "message.intro") + 1.0) * 1000)),
        Audio(G711A, 2000),
        Key("#"),
        Pause(1500), Key("3"),  # confirm
        Pause(round((prompt_s(after_hours, "message.thanks") + 12) * 1000)),
        max_call_s=120,
    )
    (number,) = notes(left, "case")
    assert number is not None
    prompts = steps(left, "prompt")
    thanked = prompts.index("message.thanks")
    said = number_prompts(number)
    assert tuple(prompts[thanked + 1 : thanked + 1 + len(said)]) == said

    # The same caller, later: keys the number and hears the case's status.
    again = await lookup(after_hours, number, CALLER)
    assert notes(again, "case_lookup_found") == [f"{number} registered"]
    prompts = steps(again, "prompt")
    answer = [
        "case.status.registered", "case.handled_by", f"dept.{COUNTY}",
        # Due at 24:00 on Wednesday 2 December: that is the day said.
        "case.due", "date.month.12", "date.day.2", "case.lookup_after",
    ]
    at = prompts.index("case.status.registered")
    assert prompts[at : at + len(answer)] == answer
    assert "case.lookup_none" not in prompts

    # Another caller keying the same number hears "未查到", not the case.
    other = await lookup(after_hours, number, "055162345670")
    assert notes(other, "case_lookup_found") == []
    assert notes(other, "case_lookup_none") == [number]
    prompts = steps(other, "prompt")
    assert "case.lookup_none" in prompts and "case.status.registered" not in prompts
    assert_nothing_left(after_hours)


def test_silence_replays_the_choices_and_the_third_ends_politely(
    after_hours: Platform, silent_call: Future[dict[str, Any]]
) -> None:
    record = silent_call.result(timeout=300)
    assert record["caller"] == SILENT_CALLER
    prompts = steps(record, "prompt")
    after = prompts[prompts.index("svc.enter") + 1 :]
    root = after[0]
    assert after == [
        root, "svc.keys", "menu.no_input", root, "svc.keys", "menu.no_input", root,
        "svc.keys", "svc.no_input_end", "goodbye",
    ]
    assert record["end_reason"] == "silence"
    assert_nothing_left(after_hours)
    after_hours.wait_no_channels()


# -- deadlines, supervision and the report ------------------------------------------------


def test_a_case_past_due_is_in_the_parents_overdue_list(after_hours: Platform) -> None:
    cases = [number for r in PLACED for number in notes(r, "case")]
    assert cases, "the tests above registered no case"
    later = {"IVR_NOW": "2026-12-04T09:00:00+08:00"}  # Friday after the Wednesday due
    listed = after_hours.ivr("cases", "overdue", "--department", HEFEI, "--json", **later)
    overdue = {row["case"]["number"]: row for row in json.loads(listed.stdout)}
    assert set(cases) <= set(overdue)
    for number in cases:
        row = overdue[number]
        assert (row["late_department"], row["supervisor"]) == (COUNTY, HEFEI)
        # Due at Thursday 00:00, now Friday 09:00: 33 hours late.
        assert row["late_seconds"] == 33 * 3600
    # Not yet late on the Wednesday itself, and nobody else's to supervise.
    early = {"IVR_NOW": "2026-12-02T18:00:00+08:00"}
    listed = after_hours.ivr("cases", "overdue", "--department", HEFEI, "--json", **early)
    assert json.loads(listed.stdout) == []
    listed = after_hours.ivr("cases", "overdue", "--department", "340200", "--json", **later)
    assert json.loads(listed.stdout) == []


def test_the_weekly_report_counts_the_calls_placed(after_hours: Platform) -> None:
    report = after_hours.ivr("report", "--period", "week", "--date", "2026-11-27", "--json")
    data = json.loads(report.stdout)
    assert PLACED, "the tests above placed no call"
    assert data["calls"] == len(PLACED)
    assert data["after_hours"] == len(PLACED)
    cases = [number for r in PLACED for number in notes(r, "case")]
    assert data["cases"] == len(cases)
    by_category: dict[str, int] = {}
    for line in data["call_lines"]:
        assert line["department"] == COUNTY
        by_category[line["category"]] = by_category.get(line["category"], 0) + line["calls"]
    expected: dict[str, int] = {}
    for record in PLACED:
        visited = steps(record, "category")
        key = visited[-1] if visited else ""
        expected[key] = expected.get(key, 0) + 1
    assert by_category == expected
    (county,) = data["departments"]
    assert (county["department"], county["registered"]) == (COUNTY, len(cases))
    assert data["surveys"]["case"]["1"] == 1
