"""Working hours end to end: real callers reach real operators through Asterisk.

Callers and operators are SIPp user agents; the operators' phones are
`devtools.sipoperator` phones that Asterisk rings at the contact the operator was
added with. The platform's clock is a Tuesday morning (IVR_NOW), in working
hours, and its queue rules are short so that each test takes seconds. Each
test uses its own county of Hefei, so operators of one test never answer
another's callers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import asterisk
from devtools.callermedia import Audio, Hangup, Key, Pause
from devtools.sipcall import CallPlan, place_call
from devtools.sipoperator import OperatorPhone, SipOperator
from devtools.sipregister import Registration, register
from tests.browser_support import SHOTS, chromium, signed_in_page

from .harness import Platform, start_platform

pytestmark = pytest.mark.e2e

G711A = Path("/usr/share/sip-tester/g711a.pcap")
IN_HOURS = "2026-11-24T10:00:00+08:00"  # a Tuesday, a working day
QUEUE_RULES = """\
default:
  ring_seconds: 4
  wrap_up_seconds: 2
  max_wait_seconds: 8
  announce_every_seconds: 5
  whisper: true
departments:
  # Without the whisper, what the operator's phone hears is the caller only.
  "340121": {whisper: false}
"""
PUSH_WAIT_S = 10.0
OPERATORS_DESK = "127.0.0.2"  # where operators' phones call from
CALL_S = 60.0


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    state = tmp_path_factory.mktemp("desk")
    rules = state / "queues.yaml"
    rules.write_text(QUEUE_RULES, encoding="utf-8")
    # The carrier's trunk is 127.0.0.1; operators' phones call from 127.0.0.2.
    platform = start_platform(
        state,
        IVR_NOW=IN_HOURS,
        IVR_QUEUES_FILE=str(rules),
        IVR_SIP_CALLER_NETWORKS="127.0.0.1/32",
    )
    try:
        yield platform
    finally:
        platform.stop()


def speaking(seconds: int, *, after_s: int = 6) -> tuple[Pause | Audio, ...]:
    """A caller who listens for `after_s`, then talks (a real A-law recording)."""
    return (Pause(after_s * 1000), *(Audio(str(G711A), 3000) for _ in range(seconds // 3)))


def add_operator(platform: Platform, operator_id: str, department: str, phone: SipOperator) -> None:
    platform.ivr(
        "operators", "add", operator_id, "--name", operator_id.upper(),
        "--departments", department, "--contact", phone.contact,
    )
    # Through the API: the controller's clock says when, and who idles longest.
    status, body = platform.http_post(f"/api/operators/{operator_id}/sign-in")
    assert status == 200, body
    wait_phone(platform, operator_id)


def wait_phone(platform: Platform, operator_id: str) -> None:
    """The controller gives Asterisk the phone within a tick; wait for it."""
    deadline = time.monotonic() + PUSH_WAIT_S
    while time.monotonic() < deadline:
        try:
            asterisk.ari_get(platform.settings, f"/endpoints/PJSIP/{operator_id}")
            return
        except Exception:
            time.sleep(0.2)
    raise AssertionError(f"Asterisk never learnt operator {operator_id}'s phone")


def operator_today(platform: Platform, operator_id: str) -> dict[str, Any]:
    _, operators = platform.http_get("/api/operators")
    (found,) = [op for op in operators if op["id"] == operator_id]
    return dict(found)


def steps(record: dict[str, Any], kind: str) -> list[str]:
    return [step["value"] for step in record["steps"] if step["kind"] == kind]


def notes(record: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(s["value"], s["detail"]) for s in record["steps"] if s["kind"] == "note"]


async def wait_bridged(platform: Platform, within_s: float = 40.0) -> dict[str, Any]:
    """The first mixing bridge Asterisk lists with two channels in it."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        bridges = asterisk.ari_get(platform.settings, "/bridges")
        for bridge in bridges:
            if len(bridge["channels"]) == 2:
                return dict(bridge)
        await asyncio.sleep(0.2)
    raise AssertionError("no caller was ever bridged with an operator")


def rtp_of(platform: Platform, channel_id: str) -> dict[str, Any]:
    stats: dict[str, Any] = asterisk.ari_get(
        platform.settings, f"/channels/{channel_id}/rtp_statistics"
    )
    return stats


def assert_nothing_left(platform: Platform) -> None:
    platform.wait_no_channels()
    assert asterisk.ari_get(platform.settings, "/bridges") == []


async def test_a_caller_in_hours_talks_with_the_longest_idle_operator(desk: Platform) -> None:
    county = "340121"
    idle = SipOperator(OperatorPhone("opa1", ring_s=1, hangup_after_s=10))
    fresh = SipOperator(OperatorPhone("opa2", ring_s=1, hangup_after_s=10))
    async with idle, fresh:
        add_operator(desk, "opa1", county, idle)  # signed in first: idle longest
        add_operator(desk, "opa2", county, fresh)
        plan = CallPlan(
            caller="13800138000", origin=county, offer_pcma=True,
            actions=speaking(30), max_call_s=CALL_S,
        )
        call = asyncio.create_task(desk.call(plan))
        bridge = await wait_bridged(desk)
        await asyncio.sleep(2.0)  # both talk for a while
        stats = {channel: rtp_of(desk, channel) for channel in bridge["channels"]}
        result, record = await call
        phone = await idle.result(timeout_s=20)
        other = await fresh.result(timeout_s=1)

    assert result.answered, result.sipp_log
    assert record is not None
    # The longest-idle operator was rung, answered, and hung up after talking.
    assert phone.invites == phone.answered == 1, phone.sipp_log
    assert other.invites == 0
    assert phone.calls[0].ended_by == "operator"
    assert "13800138000" in phone.calls[0].from_  # the operator sees who calls
    # Audio both ways: the caller's recording reached the operator's phone...
    assert phone.rtp.loud_packets > 50, phone.rtp
    # ...and Asterisk received the operator's audio and sent the caller the bridge.
    leg = next(c for c in bridge["channels"] if "-op" in c)
    caller_leg = next(c for c in bridge["channels"] if c != leg)
    assert stats[leg]["rxcount"] > 50 and stats[leg]["txcount"] > 50, stats
    assert stats[caller_leg]["rxcount"] > 50 and stats[caller_leg]["txcount"] > 50, stats

    assert record["end_reason"] == "completed"
    assert ("service", "operators") in notes(record)
    assert ("connected", "opa1") in notes(record)
    assert "queue.joined" in steps(record, "prompt")
    queue = record["queue"]
    assert queue["department_code"] == county
    assert queue["position"] == 1
    assert queue["offered"] == ["opa1"]
    assert queue["operator_id"] == "opa1"
    assert queue["status"] == "done"
    assert 0 <= queue["wait_seconds"] < 10
    assert 6 <= queue["talk_seconds"] <= 15
    today = operator_today(desk, "opa1")
    assert today["today"]["answered"] == 1 and today["today"]["talk_seconds"] >= 4
    assert today["status"] in ("wrap_up", "available")
    assert_nothing_left(desk)


async def test_an_operator_who_does_not_answer_is_skipped(desk: Platform) -> None:
    county = "340122"
    silent = SipOperator(OperatorPhone("opb1", behaviour="no_answer", ring_max_s=30))
    # Talks past the whisper (the department's name, then "a call").
    ready = SipOperator(OperatorPhone("opb2", ring_s=1, hangup_after_s=8))
    async with silent, ready:
        add_operator(desk, "opb1", county, silent)  # idle longest: rung first
        add_operator(desk, "opb2", county, ready)
        plan = CallPlan(caller="13800138001", origin=county, max_call_s=CALL_S)
        result, record = await desk.call(plan)
        missed = await silent.result(timeout_s=20)
        answered = await ready.result(timeout_s=20)

    assert result.answered, result.sipp_log
    assert record is not None and record["end_reason"] == "completed"
    assert missed.invites == missed.cancelled == 1, missed.sipp_log
    assert answered.answered == 1, answered.sipp_log
    queue = record["queue"]
    assert [(o["operator"], o["outcome"]) for o in queue["offers"]] == [
        ("opb1", "no_answer"), ("opb2", "answered"),
    ]
    # The ring time (4 s) passed before the next operator was tried.
    assert queue["wait_seconds"] >= 4
    assert operator_today(desk, "opb1")["today"]["missed"] == 1
    assert_nothing_left(desk)


async def test_two_callers_and_one_operator_are_served_in_order(desk: Platform) -> None:
    county = "340123"
    # Rings long enough that the second caller joins while the first is offered.
    phone = SipOperator(OperatorPhone("opc1", ring_s=3, hangup_after_s=8, calls=2))
    async with phone:
        add_operator(desk, "opc1", county, phone)
        first = CallPlan(caller="13800138002", origin=county, max_call_s=CALL_S)
        second = CallPlan(caller="13800138003", origin=county, max_call_s=CALL_S)
        one = asyncio.create_task(desk.call(first))
        await asyncio.sleep(1.0)
        two = asyncio.create_task(desk.call(second))
        (_, record_one), (_, record_two) = await asyncio.gather(one, two)
        served = await phone.result(timeout_s=30)

    assert served.answered == 2, served.sipp_log
    assert "13800138002" in served.calls[0].from_
    assert "13800138003" in served.calls[1].from_
    assert record_one is not None and record_two is not None
    assert record_one["queue"]["position"] == 1
    assert record_two["queue"]["position"] == 2
    # The second caller heard their place, and waited for the first call and
    # the operator's wrap-up.
    assert "count.1" in steps(record_two, "prompt")
    gap = record_two["queue"]["wait_seconds"] - record_one["queue"]["wait_seconds"]
    assert gap >= 8 + 2 - 1.0  # the first call's talk, the wrap-up, less the head start
    assert record_one["end_reason"] == record_two["end_reason"] == "completed"
    assert_nothing_left(desk)


async def test_a_long_wait_is_offered_a_message_and_the_message_is_kept(desk: Platform) -> None:
    county = "340124"
    phone = SipOperator(OperatorPhone("opd1", ring_s=1))
    async with phone:
        add_operator(desk, "opd1", county, phone)
        # On duty but paused: the caller waits in line, and nobody rings.
        desk.http_post("/api/operators/opd1/pause", {"reason": "meeting"})
        # 1 on the front page (a person) joins the line at once (1.5 s); the
        # line's limit is 8 s, and the offer (after any announcement) starts
        # 9.5 to 11 s in and waits until about 15.5 to 17 s: at 13 s the
        # caller presses 2 (a message), then speaks after the message's
        # introduction (~10 s).
        plan = CallPlan(
            caller="13800138004", origin=county, offer_pcma=True, max_call_s=CALL_S,
            actions=(
                Pause(1500), Key("1"), Pause(11500), Key("2"), Pause(11000),
                Audio(str(G711A), 3000), Audio(str(G711A), 3000), Pause(1000), Hangup(),
            ),
        )
        result, record = await desk.call(plan)
        rung = await phone.result(timeout_s=1)

    assert result.answered, result.sipp_log
    assert record is not None
    assert rung.invites == 0
    prompts = steps(record, "prompt")
    assert prompts.index("desk.long_wait") < prompts.index("message.intro")
    assert "desk.choices_no_callback" in prompts  # no way to call back configured
    (message,) = steps(record, "message")
    assert record["queue"]["status"] == "message"
    assert record["end_reason"] in ("message_left", "caller_hangup")
    recordings = asterisk.ari_get(desk.settings, "/recordings/stored")
    assert message in [stored["name"] for stored in recordings]
    assert_nothing_left(desk)


async def test_a_caller_who_hangs_up_in_line_leaves_it(desk: Platform) -> None:
    county = "340181"
    phone = SipOperator(OperatorPhone("ope1", ring_s=1))
    async with phone:
        add_operator(desk, "ope1", county, phone)
        desk.http_post("/api/operators/ope1/pause", {"reason": "training"})
        plan = CallPlan(caller="13800138005", origin=county, max_call_s=CALL_S,
                        actions=(Pause(26000), Hangup()))
        call = asyncio.create_task(desk.call(plan))
        waiting = await _wait_in_line(desk, county)
        assert waiting["caller"] == "13800138005"
        result, record = await call
        # Free now: nobody must ring, the caller left.
        desk.http_post("/api/operators/ope1/resume")
        await asyncio.sleep(3)
        rung = await phone.result(timeout_s=1)

    assert result.answered
    assert record is not None and record["end_reason"] == "abandoned"
    assert record["queue"]["status"] == "abandoned"
    assert rung.invites == 0
    _, queues = desk.http_get("/api/queues")
    assert county not in [queue["department"] for queue in queues["queues"]]
    assert_nothing_left(desk)


async def _wait_in_line(platform: Platform, department: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, body = platform.http_get("/api/queues")
        for queue in body["queues"]:
            if queue["department"] == department and queue["callers"]:
                return dict(queue["callers"][0])
        await asyncio.sleep(0.3)
    raise AssertionError(f"nobody ever waited in {department}'s line")


async def test_a_caller_who_asks_for_a_callback_is_called_back_at_their_turn(
    desk: Platform,
) -> None:
    county = "340103"
    number = "13800138007"
    callee = SipOperator(OperatorPhone(number, ring_s=1, talk_max_s=50))
    phone = SipOperator(OperatorPhone("opg1", ring_s=1, hangup_after_s=8))
    async with callee, phone:
        dial = f"PJSIP/callers/sip:{number}@127.0.0.1:{callee.port}"
        desk.stop_controller()
        desk.start_controller(IVR_NOW=IN_HOURS, IVR_CALLBACK_DIAL=dial)
        try:
            add_operator(desk, "opg1", county, phone)
            desk.http_post("/api/operators/opg1/pause", {"reason": "meeting"})
            # In line at once (1 on the front page); past the limit the caller
            # presses 3 and hangs up after the goodbye.
            plan = CallPlan(
                caller=number, origin=county, max_call_s=CALL_S,
                actions=(Pause(1500), Key("1"), Pause(11500), Key("3")),
            )
            result, record = await desk.call(plan)
            assert record is not None and record["end_reason"] == "callback_requested"
            assert "callback.confirmed" in steps(record, "prompt")
            assert record["queue"]["status"] == "callback"
            # An operator is free: the platform calls the caller back, and
            # connects them once they answer.
            desk.http_post("/api/operators/opg1/resume")
            called = await callee.result(timeout_s=60)
            talked = await phone.result(timeout_s=10)
        finally:
            desk.stop_controller()
            desk.start_controller(IVR_NOW=IN_HOURS)

    assert result.answered
    assert called.answered == 1, called.calls
    assert called.calls[0].ended_by == "asterisk"  # the platform said goodbye
    assert talked.answered == 1, talked.sipp_log
    _, calls = desk.http_get("/api/calls?limit=20")
    (back,) = [c for c in calls if c["dialed"] == "callback" and c["caller"] == number]
    assert back["end_reason"] == "completed"
    assert steps(back, "prompt")[0] == "callback.greeting"
    assert ("connected", "opg1") in notes(back)
    # The operator hung up first: the caller was asked how it went, and
    # pressing nothing was an answer too (no score, a goodbye).
    assert steps(back, "prompt")[-2:] == ["survey.ask", "goodbye"]
    _, first = desk.http_get(f"/api/calls/{record['id']}")
    assert first["queue"]["status"] == "done"
    assert first["queue"]["operator_id"] == "opg1"
    # The request is a case, and the operator who called back now handles it.
    (number_,) = [detail for value, detail in notes(record) if value == "case"]
    _, case = desk.http_get(f"/api/cases/{number_}")
    assert (case["kind"], case["caller"], case["department"]) == ("callback", number, county)
    assert (case["status"], case["assigned_to"]) == ("in_progress", "opg1")
    assert [e["action"] for e in case["events"]] == ["registered", "assign", "start"]
    assert_nothing_left(desk)


async def test_a_caller_in_line_keeps_their_place_when_the_controller_dies(
    desk: Platform,
) -> None:
    county = "340111"
    phone = SipOperator(OperatorPhone("oph1", ring_s=1, hangup_after_s=8))
    async with phone:
        add_operator(desk, "oph1", county, phone)
        desk.http_post("/api/operators/oph1/pause", {"reason": "meeting"})
        plan = CallPlan(caller="13800138008", origin=county, max_call_s=CALL_S)
        call = asyncio.create_task(desk.call(plan))
        await _wait_in_line(desk, county)
        desk.kill_controller()
        desk.start_controller(IVR_NOW=IN_HOURS)
        desk.http_post("/api/operators/oph1/resume")
        result, record = await call
        talked = await phone.result(timeout_s=10)

    assert result.answered
    assert talked.answered == 1, talked.sipp_log
    assert record is not None and record["end_reason"] == "completed"
    assert ("resumed", "queued") in notes(record)
    assert record["queue"]["operator_id"] == "oph1"
    assert record["queue"]["status"] == "done"
    assert_nothing_left(desk)


async def test_operators_phones_and_calls_survive_an_asterisk_restart(desk: Platform) -> None:
    county = "340202"  # 镜湖区, Wuhu
    phone = SipOperator(OperatorPhone("opj1", ring_s=1, hangup_after_s=8))
    async with phone:
        add_operator(desk, "opj1", county, phone)
        asterisk.kill(desk.settings)
        desk.ivr("asterisk", "up")
        # Asterisk forgot every pushed phone; the controller, reconnected,
        # gives them back without anyone touching a file.
        wait_phone(desk, "opj1")
        plan = CallPlan(caller="13800138009", origin=county, max_call_s=CALL_S)
        result, record = await desk.call(plan)
        talked = await phone.result(timeout_s=10)

    assert result.answered and talked.answered == 1, talked.sipp_log
    assert record is not None and record["queue"]["operator_id"] == "opj1"
    assert_nothing_left(desk)

PHONE_PASSWORD = "e2e-only-phone-password"  # a throwaway phone's, on a throwaway Asterisk
WEB_PASSWORD = "e2e-only-password-管理员"


def wait_phone_state(platform: Platform, operator_id: str, state: str) -> dict[str, Any]:
    """The operator as `/api/operators` shows them once their phone is `state`."""
    deadline = time.monotonic() + PUSH_WAIT_S
    while True:
        operator = operator_today(platform, operator_id)
        if operator["phone"]["state"] == state or time.monotonic() > deadline:
            assert operator["phone"]["state"] == state, operator
            return operator
        time.sleep(0.2)


async def shown_phone(platform: Platform, county: str, operator_id: str) -> str:
    """What the admin page's Today view says of the operator's phone, in Chromium."""
    platform.ivr(
        "users", "add", "phones-admin", "--name", "管理员", "--role", "department_admin",
        "--department", county, "--password-env", "WEB_PASSWORD", WEB_PASSWORD=WEB_PASSWORD,
    )
    async with chromium("--lang=zh-CN") as browser:
        url = f"http://127.0.0.1:{platform.settings.http_port}/admin/"
        page = await signed_in_page(browser, url, "phones-admin", WEB_PASSWORD)
        await page.goto(page.url.split("#")[0] + f"#/today/{county}")
        row = page.locator(f'[data-testid="operator-row"][data-operator="{operator_id}"]')
        await row.wait_for()
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / "operator-phone-offline.png"), full_page=True)
        return f"{await row.get_attribute('data-phone')}: {await row.inner_text()}"


async def test_an_operator_whose_phone_is_not_registered_is_offered_no_call(
    desk: Platform,
) -> None:
    county = "340207"  # Wuhu's 鸠江区: every other county here is another test's
    phone = SipOperator(OperatorPhone("opr1", ring_s=1, hangup_after_s=6))
    async with phone:
        # A phone that registers (a password, no fixed contact), signed in
        # from the admin page before the phone is switched on.
        desk.ivr(
            "operators", "add", "opr1", "--name", "R", "--departments", county,
            "--password-env", "PHONE_PASSWORD", PHONE_PASSWORD=PHONE_PASSWORD,
        )
        status, body = desk.http_post("/api/operators/opr1/sign-in")
        assert status == 200, body
        wait_phone(desk, "opr1")
        operator = wait_phone_state(desk, "opr1", "offline")
        assert operator["status"] == "available"
        assert operator["phone"]["nodes"] == {desk.settings.node_name: "offline"}
        shown = await shown_phone(desk, county, "opr1")
        assert shown.startswith("offline:") and "话机未注册" in shown, shown

        # Nobody can be rung: the caller hears nobody is on duty, not music
        # until the wait runs out.
        plan = CallPlan(caller="13800138010", origin=county, actions=(Pause(4000), Hangup()))
        result, record = await desk.call(plan)
        assert result.answered and record is not None
        assert ("service", "unstaffed") in notes(record)
        assert record["queue"] is None or record["queue"]["offered"] == []

        # The phone registers: Asterisk says so, and the next caller reaches it.
        registration = Registration("opr1", PHONE_PASSWORD, phone.contact, local_ip=OPERATORS_DESK)
        await register(registration, desk.settings)
        wait_phone_state(desk, "opr1", "online")
        plan = CallPlan(caller="13800138011", origin=county, max_call_s=CALL_S)
        result, record = await desk.call(plan)
        rung = await phone.result(timeout_s=20)
    assert result.answered and record is not None, result.sipp_log
    assert ("service", "operators") in notes(record)
    assert record["queue"]["operator_id"] == "opr1"
    assert rung.invites == rung.answered == 1, rung.sipp_log
    # Switched off properly (REGISTER with Expires: 0): unreachable again.
    await register(
        Registration("opr1", PHONE_PASSWORD, phone.contact, expires=0, local_ip=OPERATORS_DESK),
        desk.settings,
    )
    wait_phone_state(desk, "opr1", "offline")
    assert_nothing_left(desk)


CLOCK = [
    ("2026-11-24T10:00:00+08:00", "operators"),  # a Tuesday morning
    ("2026-11-24T12:30:00+08:00", "after_hours"),  # lunch
    ("2026-10-01T10:00:00+08:00", "after_hours"),  # National Day
    ("2026-10-10T10:00:00+08:00", "operators"),  # a make-up Saturday (调休)
]


async def test_the_clock_decides_between_operators_and_after_hours(desk: Platform) -> None:
    county = "340102"
    # On duty, but never rung: each caller hangs up during the greeting.
    desk.ivr(
        "operators", "add", "opf1", "--name", "F", "--departments", county,
        "--contact", "sip:opf1@127.0.0.1:9",
    )
    desk.http_post("/api/operators/opf1/sign-in")
    try:
        for when, expected in CLOCK:
            desk.stop_controller()
            desk.start_controller(IVR_NOW=when)
            plan = CallPlan(caller="13800138006", origin=county, actions=(Pause(3000), Hangup()))
            result, record = await desk.call(plan)
            assert result.answered and record is not None
            assert ("service", expected) in notes(record), when
            prompts = steps(record, "prompt")
            if expected == "operators":
                assert "front.operator" in prompts and "hours.closed" not in prompts, when
            else:
                assert "hours.closed" in prompts and "front.operator" not in prompts, when
    finally:
        desk.stop_controller()
        desk.start_controller(IVR_NOW=IN_HOURS)
    assert_nothing_left(desk)


FEATURES = [
    ("*21", "available", None),
    ("*222", "paused", "meeting"),
    ("*23", "available", None),
    ("*24", "signed_out", None),
]


async def test_an_operator_moves_from_the_phone_with_feature_codes(desk: Platform) -> None:
    desk.ivr("operators", "add", "opi1", "--name", "I", "--departments", "340104")
    wait_phone(desk, "opi1")
    for code, status, reason in FEATURES:
        plan = CallPlan(caller="opi1", to=code, local_ip=OPERATORS_DESK, max_call_s=15)
        result = await place_call(plan, desk.settings)
        # The phone is answered, told what happened, and hung up.
        assert result.answered and result.ended_by == "asterisk", result.sipp_log
        operator = operator_today(desk, "opi1")
        assert (operator["status"], operator["pause_reason"]) == (status, reason), code
    # A move the status does not allow is refused, and changes nothing.
    plan = CallPlan(caller="opi1", to="*22", local_ip=OPERATORS_DESK, max_call_s=15)
    result = await place_call(plan, desk.settings)
    assert result.answered
    assert operator_today(desk, "opi1")["status"] == "signed_out"
    assert_nothing_left(desk)
