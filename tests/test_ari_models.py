"""The ARI models parse what Asterisk sends, and match the Asterisk they were generated from."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from devtools import asterisk
from ivr.ari import codegen
from ivr.ari.connection import read_frame
from ivr.ari.models import (
    EVENT_TYPES,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    Event,
    Message,
    MissingParams,
    PlaybackFinished,
    PlaybackStarted,
    StasisEnd,
    StasisStart,
    TextMessage,
    parse_event,
)
from ivr.settings import Settings

APP = "ivr12371"
CHANNEL_ID = "1715650212.42"
BEIJING = timezone(timedelta(hours=8))


def channel_json(**overrides: Any) -> dict[str, Any]:
    """A channel as Asterisk 22 describes an inbound trunk call that reached Stasis."""
    return {
        "id": CHANNEL_ID,
        "name": "PJSIP/trunk-00000015",
        "state": "Ring",
        "protocol_id": "3c5f6a2e-7b1d@10.20.0.5",
        "caller": {"name": "", "number": "13800138000"},
        "connected": {"name": "", "number": ""},
        "accountcode": "",
        "dialplan": {
            "context": "from-trunk",
            "exten": "12371",
            "priority": 3,
            "app_name": "Stasis",
            "app_data": "ivr12371,hotline,12371",
        },
        "creationtime": "2024-05-14T09:30:12.301+0800",
        "language": "zh",
        **overrides,
    }


def event_json(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "timestamp": "2024-05-14T09:30:12.345+0800",
        "asterisk_id": "52:54:00:12:34:56",
        "application": APP,
        **fields,
    }


def playback_json(state: str) -> dict[str, Any]:
    return {
        "id": "pb-welcome-1",
        "media_uri": "sound:ivr12371/welcome",
        "target_uri": f"channel:{CHANNEL_ID}",
        "language": "zh",
        "state": state,
    }


def test_stasis_start_carries_caller_dialplan_and_args() -> None:
    data = event_json("StasisStart", args=["hotline", "12371"], channel=channel_json())

    event = parse_event(data)

    assert isinstance(event, StasisStart)
    assert isinstance(event.channel, Channel)
    assert event.channel.id == CHANNEL_ID
    assert event.channel.caller.number == "13800138000"
    assert event.channel.dialplan.exten == "12371"
    assert event.channel.dialplan.priority == 3
    assert event.args == ["hotline", "12371"]
    assert event.replace_channel is None
    assert event.application == APP
    assert event.timestamp == datetime(2024, 5, 14, 9, 30, 12, 345000, tzinfo=BEIJING)
    assert event.channel.creationtime.utcoffset() == timedelta(hours=8)


def test_stasis_start_json_round_trip_keeps_asterisk_names() -> None:
    data = event_json("StasisStart", args=[], channel=channel_json())

    event = StasisStart.model_validate_json(json.dumps(data))

    assert parse_event(event.model_dump(mode="json", by_alias=True)) == event


def test_dtmf_digit() -> None:
    data = event_json("ChannelDtmfReceived", digit="5", duration_ms=120, channel=channel_json())

    event = parse_event(data)

    assert isinstance(event, ChannelDtmfReceived)
    assert (event.digit, event.duration_ms, event.channel.id) == ("5", 120, CHANNEL_ID)


def test_playback_started() -> None:
    event = parse_event(event_json("PlaybackStarted", playback=playback_json("playing")))

    assert isinstance(event, PlaybackStarted)
    assert event.playback.id == "pb-welcome-1"
    assert event.playback.target_uri == f"channel:{CHANNEL_ID}"
    assert event.playback.state == "playing"
    assert event.playback.next_media_uri is None


@pytest.mark.parametrize("state", ["done", "failed"])
def test_playback_finished_tells_done_from_failed(state: str) -> None:
    event = parse_event(event_json("PlaybackFinished", playback=playback_json(state)))

    assert isinstance(event, PlaybackFinished)
    assert event.playback.id == "pb-welcome-1"
    assert event.playback.target_uri == f"channel:{CHANNEL_ID}"
    assert event.playback.state == state


def test_hangup_request_cause_is_optional() -> None:
    with_cause = parse_event(
        event_json("ChannelHangupRequest", cause=16, soft=True, channel=channel_json(state="Up"))
    )
    without_cause = parse_event(event_json("ChannelHangupRequest", channel=channel_json()))

    assert isinstance(with_cause, ChannelHangupRequest)
    assert (with_cause.cause, with_cause.soft, with_cause.channel.state) == (16, True, "Up")
    assert isinstance(without_cause, ChannelHangupRequest)
    assert (without_cause.cause, without_cause.soft) == (None, None)


def test_channel_destroyed() -> None:
    data = event_json(
        "ChannelDestroyed", cause=16, cause_txt="Normal Clearing", channel=channel_json()
    )

    event = parse_event(data)

    assert isinstance(event, ChannelDestroyed)
    assert (event.cause, event.cause_txt, event.channel.id) == (16, "Normal Clearing", CHANNEL_ID)


def test_stasis_end() -> None:
    event = parse_event(event_json("StasisEnd", channel=channel_json(state="Up")))

    assert isinstance(event, StasisEnd)
    assert event.channel.id == CHANNEL_ID


def test_unknown_event_type_becomes_plain_event_with_extras() -> None:
    data = event_json("ChannelFutureThing", channel=channel_json(), level=3)

    event = parse_event(data)

    assert type(event) is Event
    assert event.type == "ChannelFutureThing"
    assert event.model_extra is not None
    assert event.model_extra["level"] == 3
    assert event.model_extra["channel"]["id"] == CHANNEL_ID


def test_fields_from_a_newer_asterisk_are_kept() -> None:
    data = event_json("StasisEnd", channel=channel_json(tenantid="t1", brand_new="x"))

    event = parse_event(data)

    assert isinstance(event, StasisEnd)
    assert event.channel.tenantid == "t1"
    assert event.channel.model_extra == {"brand_new": "x"}


@pytest.mark.parametrize(
    "data",
    [
        event_json("ChannelDtmfReceived", duration_ms=120, channel=channel_json()),  # no digit
        event_json("PlaybackFinished", playback={"id": "pb-1"}),
        event_json("StasisStart", args="hotline", channel=channel_json()),
        {"application": APP, "timestamp": "2024-05-14T09:30:12.345+0800"},  # no type
        {"type": ["StasisStart"], "application": APP},
    ],
)
def test_malformed_events_raise_validation_error(data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_event(data)


@pytest.mark.parametrize(
    "data",
    [
        event_json("StasisStart", args=["hotline", "12371"], channel=channel_json()),
        event_json("PlaybackFinished", playback=playback_json("failed")),
        event_json("ChannelDtmfReceived", digit="#", duration_ms=120, channel=channel_json()),
        # "type" last, after a nested object with a "type" of its own.
        {"application": APP, "timestamp": "2024-05-14T09:30:12.345+0800",
         "channel": channel_json(type="StasisEnd"), "type": "ChannelHangupRequest"},
        event_json("ChannelFutureThing", channel=channel_json(), level=3),
    ],
)
def test_an_event_read_from_the_socket_is_what_parse_event_makes(data: dict[str, Any]) -> None:
    text = json.dumps(data)

    event = read_frame(text)

    assert event == parse_event(json.loads(text))
    assert type(event) is type(parse_event(data))


def test_an_answer_on_the_socket_is_handed_back_as_it_came() -> None:
    data = {"type": "RESTResponse", "transaction_id": "", "request_id": "7", "status_code": 204,
            "reason_phrase": "No Content", "uri": "channels/c1/answer",
            "asterisk_id": "52:54:00:12:34:56", "application": APP}

    assert read_frame(json.dumps(data)) == data


@pytest.mark.parametrize(
    "text",
    ['{"type": "PlaybackFinished", "application": "ivr12371"}', '{"type": "StasisStart"',
     '["StasisStart"]'],
)
def test_a_malformed_frame_is_an_error_not_an_event(text: str) -> None:
    with pytest.raises((ValidationError, ValueError, AttributeError)):
        read_frame(text)


def test_event_types_map_each_type_string_to_its_class() -> None:
    assert EVENT_TYPES["StasisStart"] is StasisStart
    assert all(cls.__name__ == name and issubclass(cls, Event) for name, cls in EVENT_TYPES.items())
    assert list(EVENT_TYPES) == sorted(EVENT_TYPES)
    # MissingParams is a Message, not an Event: it has no application or timestamp.
    assert "MissingParams" not in EVENT_TYPES
    assert issubclass(MissingParams, Message)
    assert issubclass(Event, Message)


def test_keyword_property_uses_alias() -> None:
    message = TextMessage.model_validate({"from": "pjsip:alice", "to": "pjsip:bob", "body": "hi"})

    assert message.from_ == "pjsip:alice"
    assert TextMessage(from_="pjsip:alice", to="pjsip:bob", body="hi") == message
    assert message.model_dump(by_alias=True, exclude_none=True)["from"] == "pjsip:alice"


@pytest.fixture(scope="module")
def asterisk_installed() -> None:
    """The Asterisk we run, built if this machine has none yet (about a minute)."""
    settings = Settings()
    if asterisk.host_binary(settings) is None:
        asterisk.ensure_rootfs(settings)


@pytest.mark.usefixtures("asterisk_installed")
def test_models_py_is_generated_from_the_asterisk_we_run() -> None:
    api_dir = codegen.find_api_dir()  # raises, naming the places it looked, if there is none

    assert codegen.generate(api_dir) == codegen.MODELS_PATH.read_text(encoding="utf-8"), (
        f"ivr/ari/models.py is stale; run: python -m ivr.ari.codegen {api_dir}"
    )


@pytest.mark.usefixtures("asterisk_installed")
def test_check_exits_1_with_a_diff_when_output_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api_dir = str(codegen.find_api_dir())
    output = tmp_path / "models.py"
    assert codegen.main([api_dir, "--output", str(output)]) == 0
    assert codegen.main([api_dir, "--check", "--output", str(output)]) == 0

    output.write_text(output.read_text().replace("    digit: str\n", "    digit: int\n"))

    assert codegen.main([api_dir, "--check", "--output", str(output)]) == 1
    err = capsys.readouterr().err
    assert "does not match" in err
    assert "-    digit: int" in err
    assert "+    digit: str" in err


def test_find_api_dir_prefers_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "events.json").write_text("{}")
    monkeypatch.setenv(codegen.API_DIR_ENV, str(tmp_path))
    assert codegen.find_api_dir() == tmp_path

    monkeypatch.setenv(codegen.API_DIR_ENV, str(tmp_path / "missing"))
    with pytest.raises(codegen.CodegenError, match=codegen.API_DIR_ENV):
        codegen.find_api_dir()


def test_find_api_dir_names_the_places_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(codegen.API_DIR_ENV, raising=False)
    monkeypatch.setattr(codegen, "API_DIR_CANDIDATES", (tmp_path / "nowhere",))

    with pytest.raises(codegen.CodegenError, match=re.escape(f"looked in {tmp_path / 'nowhere'}")):
        codegen.find_api_dir()


def swagger(models: dict[str, Any]) -> str:
    return json.dumps({"swaggerVersion": "1.2", "models": models})


def prop(kind: str, required: bool | None = None) -> dict[str, Any]:
    return {"type": kind} if required is None else {"type": kind, "required": required}


def test_generate_small_description(tmp_path: Path) -> None:
    (tmp_path / "events.json").write_text(
        swagger(
            {
                "Message": {
                    "id": "Message",
                    "discriminator": "type",
                    "subTypes": ["Event"],
                    "properties": {"type": prop("string", True)},
                },
                "Event": {
                    "id": "Event",
                    "subTypes": ["Ping"],
                    "properties": {"application": prop("string", True)},
                },
                "Ping": {
                    "id": "Ping",
                    "properties": {
                        "from": prop("Peer", True),
                        "seen": prop("List[Date]"),
                        "json": prop("long", False),
                    },
                },
            }
        )
    )
    # Shared models appear in several files; identical copies are one model.
    peer = {"Peer": {"id": "Peer", "properties": {"ok": prop("boolean", True)}}}
    (tmp_path / "a.json").write_text(swagger(peer))
    (tmp_path / "b.json").write_text(swagger(peer))

    source = codegen.generate(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(source, "models.py", "exec", dont_inherit=True), namespace)

    assert "Asterisk of unknown version" in source
    assert source.index("class Peer(") < source.index("class Ping(Event)")
    ping = namespace["parse_event"](
        {
            "type": "Ping",
            "application": APP,
            "from": {"ok": True},
            "seen": ["2024-01-01T12:00:00.000+0000"],
        }
    )
    assert type(ping).__name__ == "Ping"
    assert ping.from_.ok is True
    assert ping.seen == [datetime(2024, 1, 1, 12, tzinfo=UTC)]
    assert ping.json_ is None  # "json" would shadow BaseModel.json


def test_conflicting_duplicate_models_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(swagger({"X": {"id": "X", "properties": {}}}))
    (tmp_path / "b.json").write_text(swagger({"X": {"id": "X", "properties": {"y": prop("int")}}}))

    with pytest.raises(codegen.CodegenError, match="differs"):
        codegen.load_models(tmp_path)


def test_model_without_id_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(swagger({"X": {"properties": {}}}))

    with pytest.raises(codegen.CodegenError, match=re.escape("a.json: a model lacks 'id'")):
        codegen.load_models(tmp_path)


def test_unknown_swagger_type_is_refused() -> None:
    with pytest.raises(codegen.CodegenError, match="Frobnicator"):
        codegen.python_type("List[Frobnicator]", {})
