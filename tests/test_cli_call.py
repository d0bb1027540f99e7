"""What `ivr call` prints about a call, from its record."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from devtools.calls import describe as _describe
from ivr.cli.main import main

RESULT = SimpleNamespace(answered=True, final_status=200, ended_by="caller", duration_s=60.1)
RECORD = {
    "route_rule": "caller_area_code",
    "route_read": "0551",
    "department_name": "中共合肥市委组织部",
    "department_code": "340100",
    "end_reason": "completed",
    "steps": [
        {"kind": "note", "value": "service", "detail": "operators"},
        {"kind": "prompt", "value": "queue.joined", "detail": None},
        {"kind": "note", "value": "connected", "detail": "op2"},
    ],
    "queue": {
        "department_code": "340100",
        "position": 2,
        "offers": [
            {"operator": "op1", "outcome": "no_answer"},
            {"operator": "op2", "outcome": "answered"},
        ],
        "wait_seconds": 21.5,
        "talk_seconds": 40.0,
        "status": "done",
    },
}


def test_a_call_through_the_queue_says_who_was_rung_and_how_long_it_waited() -> None:
    text = _describe(RESULT, RECORD, {"queue.joined": "正在为您转接工作人员，请稍候。"})
    assert "      played: 正在为您转接工作人员，请稍候。" in text
    assert "        note: connected (op2)" in text
    assert (
        "Queue: place 2 in 340100's line, waited 21.5 s, talked 40.0 s; "
        "rang op1 (no_answer), op2 (answered); done"
    ) in text
    assert text.endswith("Ended: completed")


def test_a_call_that_never_queued_says_nothing_of_a_queue() -> None:
    record = {**RECORD, "queue": None}
    assert "Queue:" not in _describe(RESULT, record, {})


@pytest.mark.parametrize("argv", [["call", "--from", "055162345678"], ["asterisk", "status"]])
def test_without_devtools_the_development_commands_say_so_in_one_line(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An installed wheel has no devtools/: importing it fails as here.
    monkeypatch.setitem(sys.modules, "devtools", None)
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "devtools" in error
