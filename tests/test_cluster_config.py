"""The cluster's configuration: Kamailio's, which Asterisks a controller
serves, which applications a dialplan offers calls to, and the fleet of
controllers one process runs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ivr.ari.client import FALLBACK_FORGET_CONTEXT, FALLBACK_VARIABLE
from ivr.dialplan import DIALPLAN_DIR, template_values
from ivr.errors import AriError, AriUnavailable, ConfigError
from ivr.frontdoor import FrontDoor, SipNode, config_text, install, kamailio_binary
from ivr.settings import Settings
from ivr.stasis.fleet import Fleet, Node

NODES = (SipNode("127.0.0.2", 5060), SipNode("127.0.0.3", 5070))


def door(folder: Path) -> FrontDoor:
    return FrontDoor(host="127.0.0.1", port=5999, nodes=NODES, folder=folder)


def test_the_door_lists_every_asterisk_in_order(tmp_path: Path) -> None:
    install(door(tmp_path))
    lines = (tmp_path / "dispatcher.list").read_text().splitlines()
    assert [line for line in lines if not line.startswith("#")] == [
        "1 sip:127.0.0.2:5060",
        "1 sip:127.0.0.3:5070",
    ]
    text = config_text(door(tmp_path))
    assert "listen=udp:127.0.0.1:5999" in text
    assert f'"list_file", "{tmp_path / "dispatcher.list"}"' in text


@pytest.mark.skipif(kamailio_binary() is None, reason="scripts/setup-machine installs kamailio")
def test_kamailio_itself_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    install(door(tmp_path))
    binary = kamailio_binary()
    assert binary is not None
    checked = subprocess.run(
        [binary, "-c", "-f", str(tmp_path / "kamailio.cfg")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr[-2000:]


def test_a_door_without_asterisks_or_with_one_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least one"):
        FrontDoor(host="127.0.0.1", port=5999, nodes=(), folder=tmp_path)
    with pytest.raises(ConfigError, match="twice"):
        FrontDoor(host="127.0.0.1", port=5999, nodes=(NODES[0], NODES[0]), folder=tmp_path)


def test_each_asterisk_gets_its_own_connection_and_node_name() -> None:
    settings = Settings(node_name="c1", asterisks="a=127.0.0.2:8088, b=127.0.0.3:8089")
    nodes = settings.per_asterisk()
    assert [(s.node_name, s.ari_base_url) for s in nodes] == [
        ("c1@a", "http://127.0.0.2:8088/ari"),
        ("c1@b", "http://127.0.0.3:8089/ari"),
    ]
    # One Asterisk, as `make run` has it: the controller is the node.
    assert Settings(node_name="c1").per_asterisk()[0].node_name == "c1"


@pytest.mark.parametrize(
    ("value", "problem"),
    [("a=127.0.0.2", "not name=host:port"), ("a=h:1,a=h:2", "given twice")],
)
def test_a_bad_asterisk_list_is_refused_with_its_reason(value: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        Settings(asterisks=value)


def test_the_dialplan_offers_calls_to_every_controllers_application(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, stasis_apps="ivr12371-c1,ivr12371-c2")
    values = template_values(settings, _layout(tmp_path))
    assert values["stasis_apps"] == "ivr12371-c1&ivr12371-c2"
    assert values["stasis_app_count"] == "2"
    # Alone, a controller's own application (make run).
    alone = template_values(Settings(state_dir=tmp_path), _layout(tmp_path))
    assert (alone["stasis_apps"], alone["stasis_app_count"]) == ("ivr12371", "1")
    with pytest.raises(ValidationError, match="not a Stasis application name"):
        Settings(stasis_apps="ivr12371-c1,bad name")
    text = (DIALPLAN_DIR / "extensions.conf").read_text()
    assert "Gosub(stasis,s,1(${IVR_DIALED},${ORIGIN}))" in text


def test_the_fallback_dialplan_keeps_the_list_the_controller_reads() -> None:
    text = (DIALPLAN_DIR / "extensions.conf").read_text()
    assert f"{FALLBACK_VARIABLE} = ${{DB_KEYS(ivr_fallback)}}" in text  # again after a restart
    assert f"Set(GLOBAL({FALLBACK_VARIABLE})=${{DB_KEYS(ivr_fallback)}})" in text
    assert f"[{FALLBACK_FORGET_CONTEXT}]" in text


def _layout(folder: Path) -> Any:
    from ivr.dialplan import Layout

    return Layout(root=None, base=folder / "instance", state=folder)


class _Recordings:
    def __init__(self, name: str, kept: dict[str, bytes], up: bool = True) -> None:
        self.settings = Settings(node_name=name)
        self.kept = kept
        self.up = up

    @property
    def connections(self) -> dict[str, bool]:
        return {self.settings.node_name: self.up}

    @property
    def connected(self) -> Any:
        class _Flag:
            def is_set(inner) -> bool:
                return self.up

        return _Flag()

    async def stored_recording_file(self, name: str) -> bytes:
        if not self.up:
            raise AriError("Cannot connect", http_status=None)
        if name not in self.kept:
            raise AriError("Recording not found", http_status=404)
        return self.kept[name]

    async def delete_stored_recording(self, name: str) -> None:
        if not self.up:
            raise AriUnavailable("Cannot connect")
        if self.kept.pop(name, None) is None:
            raise AriError("Recording not found", http_status=404)


class _Controller:
    def __init__(self, calls: dict[str, Any]) -> None:
        self.calls = calls


def fleet(*parts: tuple[_Recordings, dict[str, Any]]) -> Fleet:
    serving = Fleet()
    serving.add([Node(ari, _Controller(calls)) for ari, calls in parts])  # type: ignore[arg-type]
    return serving


async def test_a_recording_is_found_on_whichever_asterisk_keeps_it() -> None:
    both = fleet(
        (_Recordings("c1@a", {"msg-a": b"A"}), {}),
        (_Recordings("c1@b", {"msg-b": b"B"}), {}),
    )
    assert await both.stored_recording_file("msg-b") == b"B"
    assert await both.stored_recording_file("msg-a") == b"A"
    with pytest.raises(AriError) as missing:
        await both.stored_recording_file("msg-c")
    assert missing.value.http_status == 404


async def test_an_asterisk_that_is_down_does_not_hide_the_others_recordings() -> None:
    one_down = fleet(
        (_Recordings("c1@a", {}, up=False), {}),
        (_Recordings("c1@b", {"msg-b": b"B"}), {}),
    )
    assert await one_down.stored_recording_file("msg-b") == b"B"
    assert one_down.connections == {"c1@a": False, "c1@b": True}


async def test_a_recording_is_deleted_from_the_asterisk_that_keeps_it() -> None:
    a, b = _Recordings("c1@a", {"msg-a": b"A"}), _Recordings("c1@b", {"msg-b": b"B"})
    both = fleet((a, {}), (b, {}))
    await both.delete_stored_recording("msg-b")
    assert (a.kept, b.kept) == ({"msg-a": b"A"}, {})
    with pytest.raises(AriError) as missing:
        await both.delete_stored_recording("msg-b")
    assert missing.value.http_status == 404


async def test_a_recording_is_not_called_gone_while_an_asterisk_that_may_keep_it_is_away(
) -> None:
    # Retention marks a recording "already gone" only on a 404 from everyone.
    one_down = fleet(
        (_Recordings("c1@a", {"msg-a": b"A"}, up=False), {}),
        (_Recordings("c1@b", {}), {}),
    )
    with pytest.raises(AriUnavailable):
        await one_down.delete_stored_recording("msg-a")


def test_the_fleet_counts_the_calls_of_every_asterisk() -> None:
    both = fleet(
        (_Recordings("c1@a", {}), {"call-1": "on a"}),
        (_Recordings("c1@b", {}), {"call-2": "on b", "call-3": "on b"}),
    )
    assert len(both.calls) == 3
    assert both.calls["call-2"] == "on b"
    assert sorted(both.calls) == ["call-1", "call-2", "call-3"]
    assert "call-4" not in both.calls

