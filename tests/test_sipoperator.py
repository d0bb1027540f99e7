"""An operator's phone as a SIPp UAS: the scenario and media as data, then real calls.

The real calls come from `devtools.sipcall`'s SIPp UAC dialling the phone
directly, no Asterisk in between; a raw socket watches what the phone sends
on the wire, and a plain UDP socket plays Asterisk's qualify (OPTIONS).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devtools.callermedia import PT_EVENT, PT_PCMA, PT_PCMU, Audio, Hangup, frames, read_rtp_payload
from devtools.sipcall import CallPlan, place_call, presses
from devtools.sipoperator import (
    MILLIWATT,
    Codec,
    OperatorPhone,
    SipOperator,
    _RtpCounter,
    build_media,
    build_scenario,
    calls_from_trace,
    g711_decode,
    g711_peak,
    parse_messages,
)
from ivr.errors import ConfigError, DataError
from ivr.settings import Settings

from .test_sipcall import G711A, no_sipp_left, sipp_children

# --- the plan and the scenario as data ---------------------------------------------


def root_of(plan: OperatorPhone) -> ET.Element:
    return ET.fromstring(build_scenario(plan))


def sends(plan: OperatorPhone) -> list[str]:
    return [(el.text or "").strip() for el in root_of(plan).iter("send")]


def sent_starting(plan: OperatorPhone, start: str, containing: str = "") -> str:
    return next(message for message in sends(plan)
                if message.startswith(start) and containing in message)


def recv(plan: OperatorPhone, **attrs: str) -> ET.Element:
    return next(el for el in root_of(plan).iter("recv")
                if all(el.get(k) == v for k, v in attrs.items()))


BEHAVIOURS = [
    OperatorPhone("op1001"),
    OperatorPhone("op1001", hangup_after_s=2, ring_s=0),
    OperatorPhone("op1001", behaviour="no_answer"),
    OperatorPhone("op1001", behaviour="busy", calls=3),
]


@pytest.mark.parametrize("plan", BEHAVIOURS, ids=lambda p: f"{p.behaviour}-{p.hangup_after_s}")
def test_labels_jumped_to_exist_and_variables_set_are_used(plan: OperatorPhone) -> None:
    text = build_scenario(plan)
    root = ET.fromstring(text)
    labels = {el.get("id") for el in root.iter("label")}
    targets = {el.get(a) for el in root.iter() for a in ("next", "ontimeout") if el.get(a)}
    assert targets <= labels
    # SIPp refuses a scenario that sets a variable it never uses.
    for el in root.iter():
        if name := el.get("assign_to"):
            assert f"[${name}]" in text or f'variable="{name}"' in text or \
                f'test="{name}"' in text, name


@pytest.mark.parametrize("bad", [
    {"user": "op 1"}, {"user": ""}, {"user": "x]"}, {"user": "a" * 65},
    {"behaviour": "reject"}, {"codec": "G729"}, {"ring_s": -1}, {"ring_max_s": 0},
    {"hangup_after_s": 0}, {"hangup_after_s": 61, "talk_max_s": 60},
    {"calls": 0}, {"port": 70000}, {"lifetime_s": 0},
])
def test_bad_plans_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(DataError):
        OperatorPhone(**{"user": "op1", **bad})  # type: ignore[arg-type]


def test_invite_gets_trying_then_ringing_with_our_tag_and_contact() -> None:
    plan = OperatorPhone("op1001")
    trying, ringing = sends(plan)[:2]
    assert trying.startswith("SIP/2.0 100 Trying") and "tag=" not in trying
    assert ringing.startswith("SIP/2.0 180 Ringing")
    assert "[last_To:];tag=ivrop[pid].[call_number]" in ringing
    assert "Contact: <sip:op1001@[local_ip]:[local_port]>" in ringing


@pytest.mark.parametrize(
    ("plan", "timeout", "ontimeout"),
    [
        (OperatorPhone("op1", ring_s=2.5), "2500", "answer"),
        (OperatorPhone("op1", behaviour="no_answer", ring_max_s=30), "30000", "give_up"),
    ],
)
def test_rings_until_answer_time_or_cancel(plan: OperatorPhone, timeout: str,
                                           ontimeout: str) -> None:
    ring = recv(plan, request="CANCEL")
    assert (ring.get("timeout"), ring.get("ontimeout"), ring.get("optional")) == (
        timeout, ontimeout, None)


def test_ring_s_zero_answers_at_once() -> None:
    root = root_of(OperatorPhone("op1", ring_s=0))
    nops = [el.get("next") for el in root.iter("nop")]
    assert "answer" in nops
    assert all(el.get("timeout") != "0" for el in root.iter("recv"))


def test_cancel_gets_200_then_487_in_the_invites_transaction() -> None:
    plan = OperatorPhone("op1", behaviour="no_answer")
    invite = recv(plan, request="INVITE")
    eregs = {el.get("assign_to"): el for el in invite.iter("ereg")}
    assert eregs["invite_cseq"].get("header") == "CSeq:"
    ok, terminated = [m for m in sends(plan) if m.startswith(("SIP/2.0 200", "SIP/2.0 487"))][:2]
    assert "[last_CSeq:]" in ok and ";tag=" in ok
    assert "CSeq: [$invite_cseq] INVITE" in terminated and ";tag=" in terminated
    assert "[last_Via:]" in terminated  # the CANCEL's Via is the INVITE's branch


@pytest.mark.parametrize(("codec", "m_line", "maps"), [
    ("PCMA", "m=audio [media_port+4] RTP/AVP 8 0 101", ["8 PCMA/8000", "0 PCMU/8000"]),
    ("PCMU", "m=audio [media_port+4] RTP/AVP 0 8 101", ["0 PCMU/8000", "8 PCMA/8000"]),
])
def test_answer_sdp_offers_both_laws_ours_first(codec: Codec, m_line: str,
                                                maps: list[str]) -> None:
    answer = sent_starting(OperatorPhone("op1", codec=codec), "SIP/2.0 200 OK", "v=0")
    sdp = answer.split("\n\n", 1)[1].splitlines()
    # [media_port+N] is also where SIPp plays from: our socket's port.
    assert m_line in sdp and "c=IN IP4 [media_ip]" in sdp
    rtpmaps = [line.removeprefix("a=rtpmap:") for line in sdp if line.startswith("a=rtpmap:")]
    assert rtpmaps == [*maps, "101 telephone-event/8000"]
    assert "Content-Type: application/sdp" in answer and ";tag=ivrop" in answer


@pytest.mark.parametrize(("plan", "timeout", "ontimeout"), [
    (OperatorPhone("op1", hangup_after_s=3), "3000", "hangup"),
    (OperatorPhone("op1", talk_max_s=42), "42000", "hangup_timeout"),
])
def test_talk_waits_for_bye_until_the_operator_hangs_up(plan: OperatorPhone, timeout: str,
                                                        ontimeout: str) -> None:
    wait = recv(plan, request="INVITE", optional="true")  # a re-INVITE, first of the group
    assert (wait.get("timeout"), wait.get("ontimeout"), wait.get("next")) == (
        timeout, ontimeout, "reinvite")
    root = root_of(plan)
    assert [el.get("play_pcap_audio") for el in root.iter("exec") if el.get("play_pcap_audio")
            ] == ["operator.pcap"]
    bye = sent_starting(plan, "BYE [next_url] SIP/2.0")
    assert "From:[$local_to];tag=ivrop[pid].[call_number]" in bye and "To:[$remote_from]" in bye


def test_options_answered_and_calls_counted_then_sipp_stops() -> None:
    plan = OperatorPhone("op1", calls=3)
    root = root_of(plan)
    assert recv(plan, request="OPTIONS").get("next") == "out_of_dialog"
    assert recv(plan, request="NOTIFY").get("next") == "out_of_dialog"
    tests = list(root.iter("test"))
    assert [(t.get("variable"), t.get("compare"), t.get("value")) for t in tests] == [
        ("handled", "greater_than_equal", "3")]
    assert [el.get("int_cmd") for el in root.iter("exec") if el.get("int_cmd")] == [
        "stop_gracefully"]
    assert root.find("Global") is not None


def test_busy_answers_486_and_captures_nothing() -> None:
    plan = OperatorPhone("op1", behaviour="busy")
    assert sends(plan)[0].startswith("SIP/2.0 486 Busy Here")
    assert not list(recv(plan, request="INVITE").iter("ereg"))


# --- the media as data ---------------------------------------------------------------


def test_milliwatt_is_a_1khz_tone_at_0dbm0() -> None:
    for pt, period in MILLIWATT.items():
        samples = g711_decode(period, pt)
        assert samples[:4] == [-s for s in samples[4:]]  # a sine: half a period negated
        assert 20_000 < max(samples) < 21_500 and 8_500 < abs(samples[0]) < 9_200
    assert g711_peak(b"\xff" * 160, PT_PCMU) == 0
    assert g711_peak(b"\xd5" * 160, PT_PCMA) == 8


@pytest.mark.parametrize("codec", ["PCMA", "PCMU"])
def test_media_is_the_tone_for_the_longest_talk(tmp_path: Path, codec: Codec) -> None:
    plan = OperatorPhone("op1", codec=codec, hangup_after_s=2.5)
    pcap = tmp_path / "tone.pcap"
    pcap.write_bytes(build_media(plan))
    payload = read_rtp_payload(pcap, plan.payload_type)
    assert len(payload) == frames(2500 + 1000) * 160
    assert payload == MILLIWATT[plan.payload_type] * (len(payload) // 8)


def test_media_loops_a_clip(tmp_path: Path) -> None:
    plan = OperatorPhone("op1", audio=G711A, talk_max_s=20)
    pcap = tmp_path / "clip.pcap"
    pcap.write_bytes(build_media(plan))
    payload, clip = read_rtp_payload(pcap, PT_PCMA), read_rtp_payload(G711A, PT_PCMA)
    assert len(payload) == 21 * 8000 and len(clip) < len(payload) // 2
    assert payload[:len(clip)] == clip == payload[len(clip):2 * len(clip)]


def rtp(pt: int, payload: bytes, seq: int = 1) -> bytes:
    return struct.pack("!BBHII", 0x80, pt, seq, seq * 160, 0x1234) + payload


def test_counter_tells_sound_from_silence() -> None:
    counter = _RtpCounter()
    for data in [rtp(PT_PCMU, b"\xff" * 160), rtp(PT_PCMA, MILLIWATT[PT_PCMA] * 20),
                 rtp(PT_EVENT, b"\x01\x0a\x00\xa0"), b"\x00junk", rtp(PT_PCMA, b"\xd5" * 160)]:
        counter.datagram_received(data, ("127.0.0.1", 4000))
    got = counter.snapshot(rtcp=2)
    assert (got.packets, got.loud_packets, got.rtcp_packets) == (4, 1, 2)
    assert got.by_payload_type == {PT_PCMU: 1, PT_PCMA: 2, PT_EVENT: 1}
    assert got.sources == (("127.0.0.1", 4000),)


# --- reading SIPp's trace -------------------------------------------------------------

SEP = "----------------------------------------------- "


def entry(stamp: str, sent: bool, message: str) -> str:
    head = "UDP message sent (1 bytes):" if sent else "UDP message received [1] bytes :"
    return f"{SEP}2026-01-01 10:00:{stamp}\n{head}\n\n{message}\n\n"


SDP = "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 20000 RTP/AVP 8 0 101\r\n"
INVITE = ("INVITE sip:op1@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060\r\n"
          'From: "Alice" <sip:13800138000@127.0.0.1>;tag=a\r\nTo: <sip:op1@127.0.0.1>\r\n'
          "Call-ID: c1\r\nCSeq: 25 INVITE\r\n"
          'P-Asserted-Identity: "Alice" <sip:13800138000@127.0.0.1>\r\n'
          f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n{SDP}")


def response(status: str, cseq: str, call_id: str = "c1") -> str:
    return (f"SIP/2.0 {status}\r\nTo: <sip:op1@127.0.0.1>;tag=o\r\ni: {call_id}\r\n"
            f"CSeq: {cseq}\r\nContent-Length: 0\r\n")


def request(method: str, cseq: int, call_id: str = "c1", tag: str = ";tag=o") -> str:
    return (f"{method} sip:op1@127.0.0.1 SIP/2.0\r\nTo: <sip:op1@127.0.0.1>{tag}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n")


TRACE = "".join([
    entry("00.000000", False, request("OPTIONS", 1, "q1", "")),
    entry("00.000100", True, response("200 OK", "1 OPTIONS", "q1")),
    entry("01.000000", False, INVITE),
    entry("01.000100", True, response("100 Trying", "25 INVITE")),
    entry("01.000200", True, response("180 Ringing", "25 INVITE")),
    entry("01.400000", False, INVITE),  # a retransmission, not a re-INVITE
    entry("02.000000", True, response("200 OK", "25 INVITE")),
    entry("02.100000", False, request("ACK", 25)),
    entry("03.000000", False, request("INVITE", 26)),
    entry("03.100000", True, response("200 OK", "26 INVITE")),
    entry("04.500000", False, request("BYE", 27)),
    entry("04.500100", True, response("200 OK", "27 BYE")),
    entry("05.000000", False, INVITE.replace("c1", "c2").replace("25 INVITE", "9 INVITE")),
    entry("05.000100", True, response("180 Ringing", "9 INVITE", "c2")),
    entry("06.000000", False, request("CANCEL", 9, "c2", "")),
    entry("06.000100", True, response("200 OK", "9 CANCEL", "c2")),
    entry("06.000200", True, response("487 Request Terminated", "9 INVITE", "c2")),
    "Discarded message for new calls while quitting\n",
])
OUTCOME = "2026-01-01\t10:00:04\tIVROP c1 ended_by=asterisk\nx IVROP c2 ended_by=cancelled\n"


def test_trace_gives_each_invite_and_what_became_of_it() -> None:
    messages = parse_messages(TRACE)
    assert [m.method for m in messages][:4] == ["OPTIONS", "OPTIONS", "INVITE", "INVITE"]
    first, second = calls_from_trace(messages, OUTCOME)
    at = messages[2].at
    assert first.call_id == "c1" and first.request_uri == "sip:op1@127.0.0.1:5070"
    assert first.from_ == '"Alice" <sip:13800138000@127.0.0.1>;tag=a'
    assert first.p_asserted_identity == '"Alice" <sip:13800138000@127.0.0.1>'
    assert first.sdp == SDP.replace("\r", "")
    assert first.ringing_at == pytest.approx(at + 0.0002)
    assert first.answered_at == pytest.approx(at + 1.0)
    assert first.ended_at == pytest.approx(at + 3.5)
    assert (first.final_status, first.reinvites, first.bye_received, first.bye_sent,
            first.cancelled, first.ended_by) == (200, 1, True, False, False, "asterisk")
    assert (second.call_id, second.answered_at, second.final_status, second.cancelled,
            second.ended_by, second.p_asserted_identity) == (
        "c2", None, 487, True, "cancelled", '"Alice" <sip:13800138000@127.0.0.1>')
    assert second.ended_at == pytest.approx(at + 5.0)


def test_trace_entries_are_local_wall_clock() -> None:
    (message,) = parse_messages(entry("07.250000", False, request("OPTIONS", 1)))
    assert message.at == time.mktime((2026, 1, 1, 10, 0, 7, 0, 0, -1)) + 0.25
    assert (message.sent, message.status, message.body) == (False, None, "")


def test_a_cancel_after_our_answer_cancels_nothing() -> None:
    trace = "".join([entry("01.0", False, INVITE),
                     entry("02.0", True, response("200 OK", "25 INVITE")),
                     entry("02.1", False, request("CANCEL", 25, "c1", ""))])
    (call,) = calls_from_trace(parse_messages(trace), "")
    assert (call.cancelled, call.final_status, call.ended_by) == (False, 200, None)


# --- real calls -----------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def sipp_installed() -> None:
    if shutil.which("sipp") is None:
        pytest.fail("sipp not found: install sip-tester")


@contextlib.asynccontextmanager
async def sniff_rtp(source_port: int) -> AsyncIterator[list[tuple[int, int, bytes]]]:
    """(destination port, payload type, payload) of each UDP packet from `source_port`.

    A raw UDP socket gets a copy of every datagram on the host: what the
    phone sends is checked on the wire, not taken from SIPp's word."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    sock.setblocking(False)
    seen: list[tuple[int, int, bytes]] = []

    async def read() -> None:
        loop = asyncio.get_running_loop()
        while True:
            packet = await loop.sock_recv(sock, 65535)
            udp = packet[(packet[0] & 0x0F) * 4:]
            source, destination = struct.unpack("!HH", udp[:4])
            if source == source_port and len(udp) >= 20:
                seen.append((destination, udp[9] & 0x7F, udp[20:]))

    task = asyncio.create_task(read())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()


def uac(phone: SipOperator) -> Settings:
    return Settings(sip_port=phone.port)


async def test_answers_plays_the_tone_and_hears_the_caller() -> None:
    plan = CallPlan(caller="13800138000", to="1001", offer_pcma=True,
                    actions=(Audio(str(G711A), 2000), Hangup()))
    with no_sipp_left():
        async with SipOperator(OperatorPhone("1001", ring_s=0.5)) as phone:
            assert phone.contact == f"sip:1001@127.0.0.1:{phone.port}"
            async with sniff_rtp(phone.media_port) as sent:
                call = await place_call(plan, uac(phone))
                result = await phone.result(timeout_s=5)
    assert (call.answered, call.final_status, call.ended_by) == (True, 200, "caller"), \
        call.sipp_log
    assert (result.exit_code, result.invites, result.answered, result.byes_received,
            result.byes_sent, result.cancelled) == (0, 1, 1, 1, 0, 0), result.sipp_log
    (offered,) = result.calls
    assert offered.call_id == plan.call_id and result.call_ids == (plan.call_id,)
    assert offered.from_.startswith("<sip:13800138000@127.0.0.1>;tag=")
    assert offered.request_uri == f"sip:1001@127.0.0.1:{result.port}"
    assert "m=audio " in offered.sdp and "a=rtpmap:8 PCMA/8000" in offered.sdp
    assert offered.ended_by == "asterisk"  # the other side's BYE
    assert offered.answered_at is not None and offered.ended_at is not None
    assert 0.4 < offered.answered_at - offered.invited_at < 1.0
    assert 1.8 < offered.ended_at - offered.answered_at < 3.0
    # The caller's clip arrived, from the port its SDP named ...
    assert result.rtp.by_payload_type.keys() == {PT_PCMA}
    assert 90 < result.rtp.packets <= 100 and result.rtp.loud_packets > 10
    caller_media = int(offered.sdp.split("m=audio ")[1].split()[0])
    assert result.rtp.sources == (("127.0.0.1", caller_media),)
    # ... and the tone went to it, from the port ours named.
    tone = [payload for port, pt, payload in sent if port == caller_media and pt == PT_PCMA]
    assert len(tone) > 80 and set(tone) == {MILLIWATT[PT_PCMA] * 20}


async def test_operator_hangs_up() -> None:
    phone_plan = OperatorPhone("1001", ring_s=0, hangup_after_s=1.0, codec="PCMU")
    async with SipOperator(phone_plan) as phone:
        call = await place_call(CallPlan(caller="1", to="1001", max_call_s=10), uac(phone))
        result = await phone.result(timeout_s=5)
    assert (call.answered, call.ended_by, call.exit_code) == (True, "asterisk", 0), call.sipp_log
    assert 0.9 < call.duration_s < 3
    assert (result.exit_code, result.answered, result.byes_sent, result.byes_received) == (
        0, 1, 1, 0), result.sipp_log
    assert result.calls[0].ended_by == "operator"
    assert result.rtp.by_payload_type.keys() == {PT_PCMU}  # the caller's silence
    assert result.rtp.loud_packets == 0


async def test_no_answer_rings_until_cancelled() -> None:
    plan = CallPlan(caller="1", to="1001", answer_timeout_s=1)
    async with SipOperator(OperatorPhone("1001", behaviour="no_answer")) as phone:
        call = await place_call(plan, uac(phone))
        result = await phone.result(timeout_s=5)
    assert (call.answered, call.final_status, call.ended_by, call.exit_code) == (
        False, 487, "caller_timeout", 0), call.sipp_log
    assert (result.exit_code, result.invites, result.answered, result.cancelled) == (
        0, 1, 0, 1), result.sipp_log
    (offered,) = result.calls
    assert (offered.final_status, offered.ended_by) == (487, "cancelled")
    assert offered.ringing_at is not None and offered.ended_at is not None
    assert 0.9 < offered.ended_at - offered.ringing_at < 1.5
    assert result.rtp.packets == 0


async def test_no_answer_gives_up_after_ring_max() -> None:
    phone_plan = OperatorPhone("1001", behaviour="no_answer", ring_max_s=0.5)
    async with SipOperator(phone_plan) as phone:
        call = await place_call(CallPlan(caller="1", to="1001", answer_timeout_s=5), uac(phone))
        result = await phone.result(timeout_s=5)
    assert (call.final_status, call.ended_by) == (480, "rejected"), call.sipp_log
    assert (result.exit_code, result.calls[0].ended_by) == (0, "gave_up"), result.sipp_log


async def test_busy() -> None:
    async with SipOperator(OperatorPhone("1001", behaviour="busy")) as phone:
        call = await place_call(CallPlan(caller="1", to="1001"), uac(phone))
        result = await phone.result(timeout_s=5)
    assert (call.final_status, call.ended_by) == (486, "rejected"), call.sipp_log
    assert (result.exit_code, result.calls[0].ended_by, result.answered) == (0, "busy", 0)


def options(port: int) -> str:
    """Asterisk's qualify, out of any dialog; the status line of the answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        local = sock.getsockname()[1]
        sock.sendto((f"OPTIONS sip:op@127.0.0.1:{port} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK-q1\r\n"
                     "From: <sip:asterisk@127.0.0.1>;tag=q\r\n"
                     f"To: <sip:op@127.0.0.1:{port}>\r\nCall-ID: qualify-1\r\n"
                     "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
                    ("127.0.0.1", port))
        return sock.recv(4096).decode().split("\r\n", 1)[0]


async def test_qualify_does_not_use_up_a_call_and_calls_follow_each_other() -> None:
    plans = [CallPlan(caller=f"10{i}", to="1001", actions=presses(hangup_at_s=0.3))
             for i in range(2)]
    async with SipOperator(OperatorPhone("1001", ring_s=0, calls=2)) as phone:
        assert await asyncio.to_thread(options, phone.port) == "SIP/2.0 200 OK"
        calls = [await place_call(plan, uac(phone)) for plan in plans]
        started = time.monotonic()
        result = await phone.result(timeout_s=5)
        assert time.monotonic() - started < 1  # SIPp stopped itself after the second
    assert [c.ended_by for c in calls] == ["caller", "caller"]
    assert (result.exit_code, result.options, result.answered) == (0, 1, 2), result.sipp_log
    assert result.call_ids == tuple(p.call_id for p in plans)
    assert [c.from_.split(";")[0] for c in result.calls] == [
        "<sip:100@127.0.0.1>", "<sip:101@127.0.0.1>"]


async def test_a_phone_never_called_is_stopped_and_leaves_nothing() -> None:
    with no_sipp_left():
        async with SipOperator(OperatorPhone("1001")) as phone:
            assert len(sipp_children()) >= 1
            started = time.monotonic()
            result = await phone.result(timeout_s=0.2)
            assert time.monotonic() - started < 3
        assert await phone.stop() is result  # the same report, however often asked
        with pytest.raises(ConfigError):
            await phone.start()  # a phone starts once
    assert (result.exit_code, result.invites, result.rtp.packets) == (None, 0, 0)
    for port in (result.port, result.media_port):  # free again: ours to bind
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", port))


async def test_a_given_port_in_use_is_an_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with no_sipp_left(), pytest.raises(ConfigError):
            async with SipOperator(OperatorPhone("1001", port=port)):
                pass


async def test_leaving_early_kills_sipp_mid_call() -> None:
    plan = CallPlan(caller="1", to="1001", max_call_s=30)
    with no_sipp_left():
        async with SipOperator(OperatorPhone("1001", ring_s=0)) as phone:
            task = asyncio.create_task(place_call(plan, uac(phone)))
            await asyncio.sleep(1.0)
        result = await phone.stop()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (result.exit_code, result.answered, result.calls[0].ended_by) == (None, 1, None)
