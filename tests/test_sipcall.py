"""Placing calls with SIPp: the scenario and media as data, then real calls.

The real calls go to a SIPp UAS started by each test on 127.0.0.1, whose SDP
points the caller's RTP at a UDP socket the test reads, so the keys pressed
are checked as they arrive on the wire.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import socket
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from devtools.callermedia import (
    KEY_TONE_MS,
    PT_EVENT,
    PT_PCMA,
    PT_PCMU,
    Audio,
    Hangup,
    Key,
    Pause,
    read_rtp_payload,
)
from devtools.sipcall import (
    MEDIA_PCAP,
    REJECT_CODES,
    CallPlan,
    build_media,
    build_scenario,
    parse_trace,
    place_call,
    presses,
    result_from_logs,
)
from ivr.errors import ConfigError, DataError
from ivr.settings import Settings

G711A = Path("/usr/share/sip-tester/g711a.pcap")
UAS_TIMEOUT_S = 30
DTMF_CODES = "0123456789*#"


# --- the scenario as data ------------------------------------------------------


def sends(plan: CallPlan) -> list[str]:
    root = ET.fromstring(build_scenario(plan))
    return [(el.text or "").strip() for el in root.iter("send")]


def header(message: str, name: str) -> str:
    lines = [line for line in message.splitlines() if line.startswith(f"{name}:")]
    assert lines, f"no {name} header in {message!r}"
    return lines[0]


def test_scenario_is_xml_with_the_call_id_everywhere() -> None:
    plan = CallPlan(caller="13800138000", call_id="ivrcall-fixed@127.0.0.1")
    messages = sends(plan)
    assert messages[0].startswith("INVITE sip:12371@[remote_ip]:[remote_port] SIP/2.0")
    for message in messages:
        if not message.startswith("SIP/2.0"):  # our answers copy the Call-ID they got
            assert header(message, "Call-ID") == "Call-ID: ivrcall-fixed@127.0.0.1"


def test_labels_that_are_jumped_to_exist() -> None:
    plan = CallPlan(caller="1", actions=(Key("1"), Hangup()))
    root = ET.fromstring(build_scenario(plan))
    labels = {el.get("id") for el in root.iter("label")}
    targets = {el.get(attr) for el in root for attr in ("next", "ontimeout") if el.get(attr)}
    assert targets <= labels
    assert {"rejected", "caller_hangup", "end"} <= labels


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("", "From: <sip:127.0.0.1>;tag="),
        ("anonymous", 'From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag='),
        ("alice", "From: <sip:alice@127.0.0.1>;tag="),
        ("1" * 40, f"From: <sip:{'1' * 40}@127.0.0.1>;tag="),
    ],
)
def test_from_header_for_each_kind_of_caller(caller: str, expected: str) -> None:
    invite = sends(CallPlan(caller=caller))[0]
    assert header(invite, "From").startswith(expected)


def test_dialled_number_is_the_request_uri() -> None:
    invite = sends(CallPlan(caller="1", to="055112371"))[0]
    assert invite.startswith("INVITE sip:055112371@[remote_ip]:[remote_port] SIP/2.0")
    assert header(invite, "To") == "To: <sip:055112371@[remote_ip]:[remote_port]>"


@pytest.mark.parametrize(
    ("offer_pcma", "m_line", "rtpmaps"),
    [
        (False, "m=audio [media_port] RTP/AVP 0 8 101", ["0 PCMU/8000", "8 PCMA/8000"]),
        (True, "m=audio [media_port] RTP/AVP 8 101", ["8 PCMA/8000"]),
    ],
)
def test_sdp_offer(offer_pcma: bool, m_line: str, rtpmaps: list[str]) -> None:
    invite = sends(CallPlan(caller="1", offer_pcma=offer_pcma))[0]
    sdp = invite.split("\n\n", 1)[1].splitlines()
    assert m_line in sdp
    assert "c=IN IP4 [media_ip]" in sdp
    maps = [line.removeprefix("a=rtpmap:") for line in sdp if line.startswith("a=rtpmap:")]
    assert maps == [*rtpmaps, "101 telephone-event/8000"]
    assert "a=fmtp:101 0-16" in sdp


def test_media_is_played_once_and_the_wait_matches_the_plan() -> None:
    plan = CallPlan(caller="1", actions=presses((3.0, "1"), hangup_at_s=5.0))
    root = ET.fromstring(build_scenario(plan))
    assert [el.get("play_pcap_audio") for el in root.iter("exec")] == [MEDIA_PCAP]
    bye_wait = next(el for el in root.iter("recv") if el.get("request") == "BYE")
    assert (bye_wait.get("timeout"), bye_wait.get("ontimeout")) == ("5000", "caller_hangup")


def test_without_hangup_the_caller_waits_up_to_max_call() -> None:
    plan = CallPlan(caller="1", actions=(Key("1"),), max_call_s=42)
    root = ET.fromstring(build_scenario(plan))
    bye_wait = next(el for el in root.iter("recv") if el.get("request") == "BYE")
    assert (bye_wait.get("timeout"), bye_wait.get("ontimeout")) == ("42000", "caller_timeout")


def test_rejections_are_acked_with_the_invite_branch() -> None:
    root = ET.fromstring(build_scenario(CallPlan(caller="1")))
    rejected = {el.get("response") for el in root.iter("recv") if el.get("next") == "rejected"}
    assert {"404", "486", "503", "603"} <= rejected
    assert len(rejected) == len(REJECT_CODES)
    acks = [m for m in sends(CallPlan(caller="1")) if m.startswith("ACK sip:12371@")]
    assert len(acks) == 2  # after a rejection, and after our CANCEL's 487
    assert all("[last_Via:]" in ack and "[last_To:]" in ack for ack in acks)


def test_cancel_reuses_the_invite_branch() -> None:
    root = ET.fromstring(build_scenario(CallPlan(caller="1")))
    elements = [el for el in root if el.tag != "label"]
    index, cancel = next((i, el) for i, el in enumerate(elements)
                         if el.tag == "send" and (el.text or "").strip().startswith("CANCEL"))
    assert f";branch=[branch-{index}];" in header((cancel.text or "").strip(), "Via")
    assert "[branch]" in header(sends(CallPlan(caller="1"))[0], "Via")


@pytest.mark.parametrize(
    "bad",
    [
        {"caller": "a b"},
        {"caller": "x]"},
        {"caller": "1", "to": "12#"},
        {"caller": "1", "call_id": "has space"},
        {"caller": "1", "actions": (Hangup(), Key("1"))},
        {"caller": "1", "actions": (Key("A"),)},
        {"caller": "1", "actions": (Pause(61_000),), "max_call_s": 60},
        {"caller": "1", "local_ip": "192.0.2.1"},  # never off the machine
        {"caller": "1", "local_ip": "localhost"},
    ],
)
def test_bad_plans_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(DataError):
        CallPlan(**bad)  # type: ignore[arg-type]


def test_presses_at_given_seconds() -> None:
    tone = KEY_TONE_MS
    assert presses((3.0, "1"), (9.0, "9"), hangup_at_s=12.0) == (
        Pause(3000), Key("1"), Pause(6000 - tone), Key("9"), Pause(3000 - tone), Hangup(),
    )
    with pytest.raises(DataError):
        presses((3.0, "1"), (3.1, "2"))


def test_call_ids_are_unique() -> None:
    ids = {CallPlan(caller="1").call_id for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("ivrcall-") and i.endswith("@127.0.0.1") for i in ids)


# --- the media as data ----------------------------------------------------------


@dataclass(frozen=True)
class Rtp:
    at_ms: float
    marker: bool
    pt: int
    seq: int
    ts: int
    ssrc: int
    payload: bytes


def decode_rtp(at_ms: float, data: bytes) -> Rtp:
    b0, b1, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    assert b0 == 0x80
    return Rtp(at_ms, bool(b1 & 0x80), b1 & 0x7F, seq, ts, ssrc, data[12:])


def pcap_rtp(pcap: bytes) -> list[Rtp]:
    packets, pos = [], 24
    while pos < len(pcap):
        sec, usec, length, _ = struct.unpack("<IIII", pcap[pos:pos + 16])
        frame = pcap[pos + 16:pos + 16 + length]
        packets.append(decode_rtp(sec * 1000 + usec / 1000, frame[14 + 20 + 8:]))
        pos += 16 + length
    return packets


def keys_in(packets: list[Rtp]) -> list[tuple[float, str]]:
    """(ms of the first packet, key) of each telephone-event, by its timestamp."""
    seen: dict[int, tuple[float, str]] = {}
    for p in packets:
        if p.pt == PT_EVENT and p.ts not in seen:
            seen[p.ts] = (p.at_ms, DTMF_CODES[p.payload[0]])
    return sorted(seen.values())


def test_media_presses_keys_at_their_times_in_one_stream() -> None:
    plan = CallPlan(caller="1", actions=presses((3.0, "1"), (9.0, "1"), (9.5, "#"),
                                                hangup_at_s=10.0))
    packets = pcap_rtp(build_media(plan))
    assert keys_in(packets) == [(3000, "1"), (9000, "1"), (9500, "#")]
    assert {p.ssrc for p in packets} == {packets[0].ssrc}
    assert all((b.seq - a.seq) % 65536 == 1 for a, b in itertools.pairwise(packets))
    audio = [p for p in packets if p.pt != PT_EVENT]
    assert {p.pt for p in audio} == {PT_PCMU}
    assert all(len(p.payload) == 160 and set(p.payload) == {0xFF} for p in audio)
    # Audio timestamps follow the clock; an event carries its start time.
    assert all(p.ts - packets[0].ts == p.at_ms * 8 for p in audio)
    assert packets[-1].at_ms < 10_000


def test_key_events_are_sipps_own_rfc_2833_packets_resequenced() -> None:
    shipped = read_rtp_payload(Path("/usr/share/sip-tester/dtmf_2833_5.pcap"), PT_EVENT)
    plan = CallPlan(caller="1", actions=(Key("5"), Pause(100), Key("5")))
    packets = pcap_rtp(build_media(plan))
    events = [p for p in packets if p.pt == PT_EVENT]
    per_key = len(shipped) // 4
    assert len(events) == 2 * per_key
    first, second = events[:per_key], events[per_key:]
    # The payloads (event 5, volume, durations, three end packets) are the capture's.
    assert b"".join(p.payload for p in first) == shipped
    assert b"".join(p.payload for p in second) == shipped
    assert [bool(p.payload[1] & 0x80) for p in first][-3:] == [True] * 3
    assert [p.marker for p in first] == [True] + [False] * (per_key - 1)
    # One continuous stream: a repeated key is a new event, not a retransmission.
    seqs = [p.seq for p in packets]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))]
    assert first[0].ts != second[0].ts


def test_without_hangup_silence_runs_to_max_call() -> None:
    packets = pcap_rtp(build_media(CallPlan(caller="1", max_call_s=2)))
    assert len(packets) == 100 and packets[-1].at_ms == 1980


def test_audio_clip_is_spliced_into_the_stream() -> None:
    plan = CallPlan(caller="1", offer_pcma=True,
                    actions=(Pause(100), Audio(str(G711A), 1000), Hangup()))
    packets = pcap_rtp(build_media(plan))
    assert {p.pt for p in packets} == {PT_PCMA}
    clip = read_rtp_payload(G711A, PT_PCMA)
    assert b"".join(p.payload for p in packets[5:55]) == clip[:8000]
    assert len(packets) == 55


def test_audio_clip_must_match_the_offered_codec() -> None:
    plan = CallPlan(caller="1", actions=(Audio(str(G711A), 1000),))
    with pytest.raises(DataError):
        build_media(plan)


# --- reading SIPp's trace -------------------------------------------------------

TRACE = """\
----------------------------------------------- 2026-01-01 10:00:00.000001
UDP message sent (10 bytes):

INVITE sip:12371@127.0.0.1:5060 SIP/2.0
CSeq: 1 INVITE

----------------------------------------------- 2026-01-01 10:00:00.000002
UDP message received [10] bytes :

SIP/2.0 100 Trying
CSeq: 1 INVITE

----------------------------------------------- 2026-01-01 10:00:00.000003
UDP message received [10] bytes :

SIP/2.0 486 Busy Here
CSeq: 1 INVITE

"""


def test_trace_gives_the_final_status() -> None:
    assert [(m.sent, m.start_line[:11], m.cseq_method) for m in parse_trace(TRACE)] == [
        (True, "INVITE sip:", "INVITE"), (False, "SIP/2.0 100", "INVITE"),
        (False, "SIP/2.0 486", "INVITE"),
    ]
    result = result_from_logs("c", 0, 1.0, TRACE, "x\tIVRCALL ended_by=rejected\n")
    assert (result.answered, result.final_status, result.ended_by) == (False, 486, "rejected")
    assert "486 Busy Here" in result.sipp_log


def test_no_marker_or_killed_is_an_error() -> None:
    assert result_from_logs("c", 1, 1.0, TRACE, "").ended_by == "error"
    killed = result_from_logs("c", None, 1.0, TRACE, "IVRCALL ended_by=rejected")
    assert killed.ended_by == "error"


# --- real calls -----------------------------------------------------------------

UasMode = Literal["answer", "bye_after_2s", "reject_486", "ring_forever"]

_OK_SDP = """\
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=uas[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=uas 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio {rtp_port} RTP/AVP {pt} 101
a=rtpmap:101 telephone-event/8000
"""

_REPLY = """\
SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:]{tag}
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
"""

_BYE = """\
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From:[$local_to];tag=uas[call_number]
To:[$remote_from]
Call-ID: [call_id]
CSeq: 1 BYE
Max-Forwards: 70
Content-Length: 0
"""


def _send(text: str, retrans: bool = False) -> str:
    attr = ' retrans="500"' if retrans else ""
    return f"<send{attr}><![CDATA[\n\n{text}\n]]></send>"


def uas_scenario(mode: UasMode, rtp_port: int, pt: int) -> str:
    # SIPp refuses a scenario that sets a variable it never uses.
    invite = (
        '<recv request="INVITE" rrs="true"><action>'
        '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>'
        '<ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>'
        "</action></recv>"
    ) if mode == "bye_after_2s" else '<recv request="INVITE" rrs="true"/>'
    ringing = _send(_REPLY.format(status="180 Ringing", tag=";tag=uas[call_number]"))
    answer = [_send(_OK_SDP.format(rtp_port=rtp_port, pt=pt), retrans=True),
              '<recv request="ACK"/>']
    steps = {
        "answer": [ringing, *answer, '<recv request="BYE"/>',
                   _send(_REPLY.format(status="200 OK", tag=""))],
        "bye_after_2s": [*answer, '<pause milliseconds="2000"/>', _send(_BYE, retrans=True),
                         '<recv response="200"/>'],
        "reject_486": [_send(_REPLY.format(status="100 Trying", tag="")),
                       _send(_REPLY.format(status="486 Busy Here", tag=";tag=uas[call_number]"),
                             retrans=True),
                       '<recv request="ACK"/>'],
        "ring_forever": [ringing, '<recv request="CANCEL"/>',
                         _send(_REPLY.format(status="200 OK", tag=";tag=uas[call_number]")),
                         _send(_REPLY.format(status="487 Request Terminated",
                                             tag=";tag=uas[call_number]").replace(
                                                 "[last_CSeq:]", "CSeq: 1 INVITE"),
                               retrans=True),
                         '<recv request="ACK"/>'],
    }[mode]
    return "\n".join(['<?xml version="1.0" encoding="ISO-8859-1" ?>',
                      f'<scenario name="test uas {mode}">', invite, *steps, "</scenario>"])


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bound_udp_ports() -> set[int]:
    """Ports bound on this host, read without touching them (a probe bind could race SIPp)."""
    lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    return {int(line.split()[1].split(":")[1], 16) for line in lines}


@pytest.fixture(scope="module", autouse=True)
def sipp_installed() -> None:
    if shutil.which("sipp") is None:
        pytest.fail("sipp not found: install sip-tester")


@dataclass
class RtpSink(asyncio.DatagramProtocol):
    packets: list[Rtp] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.packets.append(decode_rtp((time.monotonic() - self.started) * 1000, data))


@dataclass
class Uas:
    settings: Settings
    rtp: RtpSink


@asynccontextmanager
async def uas(tmp_path: Path, mode: UasMode, calls: int = 1, pt: int = PT_PCMU,
              completes: bool = True) -> AsyncIterator[Uas]:
    """A SIPp UAS for `calls` calls, and the RTP sink its SDP points at.

    Unless told the calls will not `complete`, the UAS must end cleanly.
    """
    loop = asyncio.get_running_loop()
    sink = RtpSink()
    transport, _ = await loop.create_datagram_endpoint(lambda: sink,
                                                       local_addr=("127.0.0.1", 0))
    rtp_port = transport.get_extra_info("sockname")[1]
    scenario = tmp_path / f"uas-{mode}.xml"
    scenario.write_text(uas_scenario(mode, rtp_port, pt))
    trace = tmp_path / f"uas-{mode}.log"
    try:
        proc, port = await start_uas(scenario, calls, trace)
    except BaseException:
        transport.close()
        raise
    try:
        yield Uas(Settings(sip_port=port), sink)
        if completes:
            _, stderr = await asyncio.wait_for(proc.communicate(), 10)
            assert proc.returncode == 0, (stderr.decode(errors="replace"),
                                          trace.exists() and trace.read_text())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        transport.close()


async def start_uas(scenario: Path, calls: int,
                    trace: Path) -> tuple[asyncio.subprocess.Process, int]:
    """SIPp listening with all its sockets bound; on a port race, again on new ports."""
    errors = []
    for _ in range(3):
        port, media, control = free_udp_port(), free_udp_port(), free_udp_port()
        proc = await asyncio.create_subprocess_exec(
            "sipp", "-sf", str(scenario), "-m", str(calls), "-nostdin", "-bind_local",
            "-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1", "-mp", str(media),
            "-ci", "127.0.0.1", "-cp", str(control), "-timeout", f"{UAS_TIMEOUT_S}s",
            "-trace_msg", "-message_file", str(trace),
            cwd=scenario.parent, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        for _ in range(100):
            if {port, media, media + 2, control} <= bound_udp_ports():
                return proc, port
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        if proc.returncode is None:
            proc.kill()
        _, stderr = await proc.communicate()
        errors.append(stderr.decode(errors="replace")[-500:])
    pytest.fail(f"the test UAS did not start: {errors}")


def sipp_children() -> set[str]:
    return {p.parent.name for p in Path("/proc").glob("[0-9]*/comm")
            if _read_comm(p) == "sipp" and _parent(p.parent) == _self_pid()}


@contextmanager
def no_sipp_left() -> Iterator[None]:
    """No SIPp started inside the block is still running (or unreaped) after it."""
    before = sipp_children()
    yield
    assert sipp_children() <= before


def _read_comm(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _parent(proc_dir: Path) -> int:
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _self_pid() -> int:
    return int(Path("/proc/self").resolve().name)


async def test_caller_presses_keys_and_hangs_up(tmp_path: Path) -> None:
    plan = CallPlan(caller="13800138000",
                    actions=presses((0.5, "1"), (1.0, "1"), (1.5, "9"), hangup_at_s=2.0))
    async with uas(tmp_path, "answer") as remote:
        with no_sipp_left():
            result = await place_call(plan, remote.settings)
    assert (result.answered, result.final_status, result.ended_by) == (True, 200, "caller")
    assert result.exit_code == 0 and result.call_id == plan.call_id
    assert 1.9 < result.duration_s < 5, result.sipp_log
    keys = keys_in(remote.rtp.packets)
    assert [key for _, key in keys] == ["1", "1", "9"]
    first = remote.rtp.packets[0].at_ms
    gaps = [at - first for at, _ in keys]
    assert all(abs(gap - want) < 150 for gap, want in zip(gaps, (500, 1000, 1500), strict=True))
    assert {p.pt for p in remote.rtp.packets} == {PT_PCMU, PT_EVENT}


async def test_remote_bye_in_the_middle_of_the_actions(tmp_path: Path) -> None:
    plan = CallPlan(caller="", actions=presses((0.5, "9"), (5.0, "1"), hangup_at_s=8.0))
    async with uas(tmp_path, "bye_after_2s") as remote:
        result = await place_call(plan, remote.settings)
    assert (result.answered, result.final_status, result.ended_by) == (True, 200, "asterisk")
    assert result.exit_code == 0 and result.duration_s < 4, result.sipp_log
    assert [key for _, key in keys_in(remote.rtp.packets)] == ["9"]


async def test_remote_bye_when_the_caller_just_waits(tmp_path: Path) -> None:
    plan = CallPlan(caller="anonymous", actions=(Key("#"),), max_call_s=20)
    async with uas(tmp_path, "bye_after_2s") as remote:
        result = await place_call(plan, remote.settings)
    assert (result.ended_by, result.exit_code) == ("asterisk", 0), result.sipp_log
    assert result.duration_s < 4


async def test_caller_hangs_up_when_nobody_does(tmp_path: Path) -> None:
    plan = CallPlan(caller="alice", actions=(Key("0"),), max_call_s=1.5)
    async with uas(tmp_path, "answer") as remote:
        result = await place_call(plan, remote.settings)
    assert (result.answered, result.ended_by, result.exit_code) == (True, "caller_timeout", 0)
    assert 1.4 < result.duration_s < 4


async def test_busy_is_rejected(tmp_path: Path) -> None:
    async with uas(tmp_path, "reject_486") as remote:
        result = await place_call(CallPlan(caller="1" * 40), remote.settings)
    assert (result.answered, result.final_status, result.ended_by) == (False, 486, "rejected")
    assert result.exit_code == 0, result.sipp_log


async def test_caller_gives_up_when_nobody_answers(tmp_path: Path) -> None:
    plan = CallPlan(caller="1", answer_timeout_s=1)
    async with uas(tmp_path, "ring_forever") as remote:  # ends only if CANCEL and ACK are right
        result = await place_call(plan, remote.settings)
    assert (result.answered, result.final_status, result.ended_by, result.exit_code) == (
        False, 487, "caller_timeout", 0), result.sipp_log
    branches = {line for line in result.sipp_log.splitlines() if line.startswith("Via:")}
    assert len(branches) == 1  # CANCEL and ACK in the INVITE's transaction


async def test_pcma_caller_sends_the_clip(tmp_path: Path) -> None:
    plan = CallPlan(caller="1", offer_pcma=True,
                    actions=(Audio(str(G711A), 500), Key("2"), Hangup()))
    async with uas(tmp_path, "answer", pt=PT_PCMA) as remote:
        result = await place_call(plan, remote.settings)
    assert (result.answered, result.ended_by) == (True, "caller"), result.sipp_log
    audio = b"".join(p.payload for p in remote.rtp.packets if p.pt == PT_PCMA)
    assert audio[:4000] == read_rtp_payload(G711A, PT_PCMA)[:4000]
    assert [key for _, key in keys_in(remote.rtp.packets)] == ["2"]


async def test_calls_run_concurrently(tmp_path: Path) -> None:
    count = 5
    plans = [CallPlan(caller=f"10{i}", actions=presses((0.3, str(i)), hangup_at_s=1.5))
             for i in range(count)]
    async with uas(tmp_path, "answer", calls=count) as remote:
        started = time.monotonic()
        results = await asyncio.gather(*(place_call(p, remote.settings) for p in plans))
        elapsed = time.monotonic() - started
    assert [(r.call_id, r.ended_by) for r in results] == [(p.call_id, "caller") for p in plans]
    assert elapsed < 5
    assert sorted(key for _, key in keys_in(remote.rtp.packets)) == [str(i) for i in range(count)]


async def test_cancelling_kills_sipp(tmp_path: Path) -> None:
    plan = CallPlan(caller="1", max_call_s=30)
    async with uas(tmp_path, "answer", completes=False) as remote:
        with no_sipp_left():
            task = asyncio.create_task(place_call(plan, remote.settings))
            await asyncio.sleep(1.0)
            assert len(sipp_children()) == 2  # the test UAS and the caller
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_refuses_to_call_off_loopback() -> None:
    with pytest.raises(ConfigError):
        await place_call(CallPlan(caller="1"), Settings(sip_host="192.0.2.1"))
