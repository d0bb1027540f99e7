"""One call followed through the logs by its SIP Call-ID, as docs/operations.md
tells operations to: the controller's JSON lines (IVR_LOG_FORMAT=json) and
the line in Asterisk's log that ties the Call-ID to the channel, whose
[C-...] id then finds the rest of Asterisk's story.

The call moves from Hefei to a county and leaves a message there: its case
is registered beside the call's task (when Asterisk reports the recording's
end), and its line is the call's all the same.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import asterisk
from devtools.callermedia import Audio, Hangup, Key, Pause
from devtools.sipcall import CallPlan
from ivr.audio.catalog import Catalog

from .harness import Platform, start_platform

pytestmark = pytest.mark.e2e

G711A = str(Path("/usr/share/sip-tester/g711a.pcap"))
FRIDAY_EVENING = "2026-11-27T20:00:00+08:00"  # after hours: 2 leaves a message
HEFEI_LANDLINE = "055162345678"
COUNTY = "340121"  # 长丰县, 5 in Hefei's list of counties
CASE_LINE_WAIT_S = 15.0
# Asterisk's own id of a call, on every line it logs about it.
ASTERISK_CALLID = re.compile(r"\[(C-[0-9a-f]{8})\]")


@pytest.fixture(scope="module")
def json_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    platform = start_platform(
        tmp_path_factory.mktemp("json-logs"), IVR_LOG_FORMAT="json", IVR_NOW=FRIDAY_EVENING
    )
    try:
        yield platform
    finally:
        platform.stop()


def grep(path: Path, text: str) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if text in line]


def controller_lines(platform: Platform, text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in grep(platform.controller_logs[-1], text)]


def wait_for_line(platform: Platform, text: str, start: str) -> None:
    deadline = time.monotonic() + CASE_LINE_WAIT_S
    while not any(line["message"].startswith(start) for line in controller_lines(platform, text)):
        assert time.monotonic() < deadline, f"no line {start!r} of {text}"
        time.sleep(0.2)


async def test_one_grep_of_a_sip_call_id_finds_the_calls_story(json_logs: Platform) -> None:
    catalog = Catalog.load(json_logs.settings.prompt_build_dir)
    intro_ms = catalog.duration_ms("message.intro") + 1500
    plan = CallPlan(
        caller=HEFEI_LANDLINE,
        # 3: Hefei's counties; 5: 长丰县; 2: a message (after hours), then speak.
        actions=(
            Pause(1500), Key("3"), Pause(1500), Key("5"), Pause(1500), Key("2"),
            Pause(intro_ms), Audio(G711A, 3000), Hangup(),
        ),
        offer_pcma=True,
        max_call_s=60,
    )
    result, record = await json_logs.call(plan)
    assert result.answered, result.sipp_log
    assert record is not None
    sip_call_id, call_id = plan.call_id, record["id"]
    wait_for_line(json_logs, sip_call_id, "message ")

    # Every line the controller wrote is a JSON object.
    log = json_logs.controller_logs[-1].read_text()
    assert all(json.loads(line)["time"] for line in log.splitlines())
    lines = controller_lines(json_logs, sip_call_id)
    assert {(line["call_id"], line["sip_call_id"]) for line in lines} == {(call_id, sip_call_id)}
    story = [(line["department"], line["message"]) for line in lines]
    said = [message for _, message in story]
    assert said[0].startswith("call started on PJSIP/")
    assert said[0].endswith("dialed 12371, routed to 340100 by caller_area_code")
    assert ("340100", "answered") in story
    assert ("340100", "department 340100 (routed)") in story
    assert (COUNTY, f"department {COUNTY} (chosen)") in story
    assert any(d == COUNTY and m.startswith("recording message ") for d, m in story)
    (case_line,) = [m for d, m in story if d == COUNTY and m.startswith("message ")]
    assert re.fullmatch(r"message \S+ \(saved, [0-9.]+ s\): case \d{6}", case_line), case_line
    assert (COUNTY, f"ended: {record['end_reason']}") in story

    # Asterisk's side: one line ties the Call-ID to the channel and its UNIQUEID.
    spool = asterisk.layout(json_logs.settings)
    messages = spool.host(spool.log / "messages.log")
    # (Its verbose twin, "Executing [s@ivr:1] Log(...)", holds the Call-ID too.)
    (tie,) = [line for line in grep(messages, sip_call_id) if "] NOTICE[" in line]
    channel = said[0].removeprefix("call started on ").split(":")[0]
    assert f"12371 call {call_id} on {channel} SIP Call-ID {sip_call_id} from" in tie
    match = ASTERISK_CALLID.search(tie)
    assert match is not None, tie
    # ... and Asterisk's call id finds the rest: the call entering Stasis.
    asterisk_story = grep(messages, f"[{match.group(1)}]")
    assert any(f'Stasis("{channel}"' in line for line in asterisk_story), asterisk_story
    json_logs.wait_no_channels()
