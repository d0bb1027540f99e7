"""Log lines: the JSON and text formats, and each call's lines tagged with it."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ivr.cli.main import main
from ivr.logs import CallTag, JsonFormatter, about_call, configure, enter_call, handler


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO, list[logging.Handler]]]:
    """A logger of ours writing JSON lines to a buffer (and nowhere else)."""
    out = io.StringIO()
    logger = logging.getLogger("ivr.test_logs")
    json_lines = handler("json", node="node-a", stream=out)
    logger.addHandler(json_lines)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield logger, out, [json_lines]
    finally:
        for installed in logger.handlers[:]:
            logger.removeHandler(installed)
        logger.propagate = True


def parsed(out: io.StringIO) -> list[dict[str, Any]]:
    """Every line of the buffer as JSON (fails on a line that is not)."""
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_json_line_has_time_level_logger_message_and_node(lines: Any) -> None:
    logger, out, _ = lines
    before = datetime.now(UTC)
    logger.warning("queue of %s: %d waiting", "340100", 3)
    [line] = parsed(out)
    assert line["level"] == "WARNING"
    assert line["logger"] == "ivr.test_logs"
    assert line["message"] == "queue of 340100: 3 waiting"
    assert line["node"] == "node-a"
    assert line["time"].endswith("Z")  # UTC, whatever the machine's zone
    when = datetime.fromisoformat(line["time"])
    assert before - timedelta(seconds=1) <= when <= datetime.now(UTC)
    assert "call_id" not in line  # not about a call


def test_an_exception_and_a_multiline_message_stay_on_one_json_line(lines: Any) -> None:
    logger, out, _ = lines
    try:
        raise ValueError("bad menu\nsecond line")
    except ValueError:
        logger.exception("call failed; hanging up")
    logger.info("两行\n消息")
    assert out.getvalue().count("\n") == 2  # two records, two lines
    failed, chinese = parsed(out)
    assert failed["level"] == "ERROR"
    assert failed["message"] == "call failed; hanging up"
    assert failed["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError: bad menu\nsecond line" in failed["exception"]
    assert chinese["message"] == "两行\n消息"
    assert "消息" in out.getvalue()  # readable in the raw line too


def test_a_line_about_a_call_carries_its_id_sip_call_id_and_department(lines: Any) -> None:
    logger, out, _ = lines
    tag = CallTag("1764000000.7", "abc-123@10.0.0.1", "340100")
    with about_call(tag):
        logger.info("answered")
        tag.department = "340121"  # the call moved on
        logger.info("department 340121 (chosen)")
    logger.info("not about a call")
    answered, moved, other = parsed(out)
    assert (answered["call_id"], answered["sip_call_id"], answered["department"]) == (
        "1764000000.7",
        "abc-123@10.0.0.1",
        "340100",
    )
    assert moved["department"] == "340121"
    assert not {"call_id", "sip_call_id", "department"} & other.keys()


def test_the_text_format_ends_a_calls_line_with_its_tag() -> None:
    out = io.StringIO()
    logger = logging.getLogger("ivr.test_logs.text")
    logger.addHandler(handler("text", stream=out))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        with about_call(CallTag("1764000000.7", "abc-123@10.0.0.1", "340100")):
            logger.info("answered")
        logger.info("ARI events connected")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    answered, other = out.getvalue().splitlines()
    assert answered.endswith(
        " INFO ivr.test_logs.text: answered [call=1764000000.7 sip=abc-123@10.0.0.1 dept=340100]"
    )
    assert other.endswith(" INFO ivr.test_logs.text: ARI events connected")


async def test_two_calls_interleaved_in_one_loop_each_log_as_themselves(lines: Any) -> None:
    """Each call's task enters its own tag once; asyncio gives every task its
    own copy of the context, so interleaved lines never swap calls."""
    logger, out, _ = lines

    async def call(tag: CallTag, moves: list[str]) -> None:
        enter_call(tag)
        for department in moves:
            tag.department = department
            logger.info("department %s", department)
            await asyncio.sleep(0)  # the other call's turn
        logger.info("ended: caller_hangup")

    a = CallTag("1764000000.1", "a@sip", "340100")
    b = CallTag("1764000000.2", "b@sip", "310000")
    with about_call(CallTag("outside")):
        # Started from inside another call's context: each task still logs as itself.
        await asyncio.gather(
            call(a, ["340100", "340121", "340100"]), call(b, ["310000", "310101"])
        )
    logger.info("after the calls")

    records = parsed(out)
    mine = {
        "1764000000.1": ("a@sip", "340100 340121 340100"),
        "1764000000.2": ("b@sip", "310000 310101"),
    }
    order = [line.get("call_id") for line in records]
    assert order[:4] == ["1764000000.1", "1764000000.2", "1764000000.1", "1764000000.2"]
    for call_id, (sip, moves) in mine.items():
        own = [line for line in records if line.get("call_id") == call_id]
        assert {line["sip_call_id"] for line in own} == {sip}
        said = [line["message"].split()[1] for line in own if line["message"].startswith("dep")]
        assert said == moves.split()
        # Each line says the department the call was at when it was logged.
        assert all(line["department"] == line["message"].split()[1] for line in own[:-1])
        assert own[-1]["message"] == "ended: caller_hangup"
    assert "call_id" not in records[-1]  # the context outside the tasks is as it was


def test_ivr_log_format_json_makes_every_line_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`IVR_LOG_FORMAT=json`: the command's own log lines are JSON on stderr."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    monkeypatch.setenv("IVR_LOG_FORMAT", "json")
    monkeypatch.setenv("IVR_NODE_NAME", "node-json")
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))  # not the user's database
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}")
    root.handlers.clear()  # as in a process of its own (pytest's are back after)
    try:
        assert main(["hours", "340100", "--at", "2026-11-24T10:00"]) == 0
        logging.getLogger("ivr.test_logs.main").warning("a line of the command's")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    # Every line is JSON; a line another test's leftover thread logged in the
    # meantime may be among them (seen under -n 2), so the command's is found.
    lines = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
    mine = [line for line in lines if line["logger"] == "ivr.test_logs.main"]
    assert [(line["logger"], line["node"]) for line in mine] == [
        ("ivr.test_logs.main", "node-json")
    ]


def test_an_unknown_log_format_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IVR_LOG_FORMAT", "xml")
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    assert main(["hours", "340100"]) == 2
    assert "log_format" in capsys.readouterr().err


def test_configure_installs_one_handler_and_leaves_a_configured_root_alone() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers.clear()
    try:
        configure("json", logging.DEBUG)
        (installed,) = root.handlers
        assert isinstance(installed.formatter, JsonFormatter)
        assert root.level == logging.DEBUG
        configure("text", logging.INFO)  # a second time: nothing changes
        assert root.handlers == [installed]
        assert root.level == logging.DEBUG
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
