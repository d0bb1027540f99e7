"""An operator's SIP phone, played by a real SIPp user agent server.

Theory of operation. An `OperatorPhone` says how the phone behaves when
Asterisk calls it: ring, then answer and talk (sending a recognisable G.711
tone) until either side hangs up; ring until Asterisk gives up (CANCEL); or
answer busy. `SipOperator` writes the plan as a SIPp scenario, starts SIPp
listening on 127.0.0.1, and returns only once SIPp's sockets are bound, so a
test can then have Asterisk dial `contact`. The result, read afterwards from
SIPp's message trace, says what Asterisk really sent: each INVITE's From, To,
P-Asserted-Identity and SDP, what became of it, and when.

A UAS started by INVITEs has no natural end: SIPp's `-m` counts every
message that starts a call, so an out-of-dialog OPTIONS (Asterisk's qualify)
would use up a call and the INVITE would then be dropped. The scenario
instead answers an OPTIONS as a call of its own and counts the INVITEs it
has seen through in a global variable, stopping SIPp gracefully after the
last one.

Media. The answer's SDP names a port we own (`media_port`), and SIPp plays
the tone from that same port: `[media_port+N]` also sets the source port of
`play_pcap_audio`. So Asterisk's RTP comes back to our socket whether or not
the endpoint uses symmetric RTP, and we count what arrives: packets by
payload type, and how many carry sound rather than silence.

Playing a capture needs a raw socket: run as root or give SIPp CAP_NET_RAW
(see `devtools.sipcall`). Everything is loopback.
"""

from __future__ import annotations

import asyncio
import math
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Literal, Self

from devtools.callermedia import (
    FRAME_MS,
    LOOPBACK,
    PT_EVENT,
    PT_PCMA,
    PT_PCMU,
    _Stream,
    frames,
    read_rtp_payload,
)
from devtools.sipcall import (
    _SIPP_BIND_FAILED,
    _TRACE_HEAD,
    LOG_TAIL_CHARS,
    PORT_ATTEMPTS,
    _free_ports,
    _open_write,
    _read,
    _send,
    _sipp_binary,
)
from ivr.errors import ConfigError, DataError

Behaviour = Literal["answer", "no_answer", "busy"]
Codec = Literal["PCMA", "PCMU"]
# How one INVITE ended, as the scenario saw it through: Asterisk hung up
# (BYE), the operator did (after `hangup_after_s`, or at `talk_max_s`),
# Asterisk cancelled the ringing, the phone stopped ringing by itself
# (`ring_max_s`, answered 480), or it answered busy (486).
EndedBy = Literal["asterisk", "operator", "operator_timeout", "cancelled", "gave_up", "busy"]
_ENDINGS: tuple[EndedBy, ...] = (
    "asterisk", "operator", "operator_timeout", "cancelled", "gave_up", "busy")

DEFAULT_RING_S = 1.0
DEFAULT_RING_MAX_S = 60.0
DEFAULT_TALK_MAX_S = 60.0
DEFAULT_LIFETIME_S = 120.0
READY_TIMEOUT_S = 5.0  # SIPp binds its sockets within this, or is given up on
READY_POLL_S = 0.02
STOP_GRACE_S = 2.0  # SIPp still running this long past lifetime_s is killed
# Every wait in the scenario without its own timeout (an ACK, the 200 to our
# BYE) ends at SIP's 64*T1, as a transaction would.
RECV_TIMEOUT_MS = 32_000
MEDIA_OFFSET = 4  # our RTP port, past SIPp's own audio and video echo ports
TONE_PCAP = "operator.pcap"  # relative: SIPp runs in the phone's directory
TONE_EXTRA_MS = 1000  # the capture outlasts the longest talk by this
# The G.711 digital milliwatt (ITU-T G.711 tables 5 and 6): a 1 kHz tone at
# 0 dBm0, one period of eight samples. Unmistakable in a capture or a
# recording, and no prompt Asterisk plays sounds like it.
MILLIWATT = {
    PT_PCMU: bytes((0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E)),
    PT_PCMA: bytes((0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4)),
}
CODECS: dict[Codec, int] = {"PCMA": PT_PCMA, "PCMU": PT_PCMU}
# A packet whose loudest sample reaches this (of 32767, about -30 dBFS)
# carries sound; G.711 silence and comfort noise stay far below.
LOUD_PEAK = 1000

_MARKER = "IVROP"
_MARKER_RE = re.compile(rf"{_MARKER} (\S+) ended_by=(\w+)")
_USER_RE = re.compile(r"[A-Za-z0-9._+-]{1,64}")
_TAG = ";tag=ivrop[pid].[call_number]"


@dataclass(frozen=True)
class OperatorPhone:
    """How an operator's phone behaves for each of `calls` successive INVITEs.

    "answer": ring `ring_s`, answer, send the tone (or `audio`, a capture of
    G.711 RTP in `codec`, looped) until Asterisk hangs up, or hang up after
    `hangup_after_s`, or at `talk_max_s` if nobody did. "no_answer": ring
    until Asterisk cancels, giving up (480) after `ring_max_s`. "busy": 486
    at once. `port` 0 picks a free one. After `lifetime_s` from the start
    SIPp is stopped whatever the calls are doing.
    """

    user: str
    behaviour: Behaviour = "answer"
    ring_s: float = DEFAULT_RING_S
    talk_max_s: float = DEFAULT_TALK_MAX_S
    hangup_after_s: float | None = None
    ring_max_s: float = DEFAULT_RING_MAX_S
    calls: int = 1
    port: int = 0
    codec: Codec = "PCMA"
    audio: Path | None = None
    lifetime_s: float = DEFAULT_LIFETIME_S

    def __post_init__(self) -> None:
        _check(_USER_RE.fullmatch(self.user), "user", self.user)
        _check(self.behaviour in ("answer", "no_answer", "busy"), "behaviour", self.behaviour)
        _check(self.codec in CODECS, "codec", self.codec)
        _check(self.ring_s >= 0 and self.ring_max_s > 0 and self.talk_max_s > 0, "durations",
               (self.ring_s, self.ring_max_s, self.talk_max_s))
        _check(self.hangup_after_s is None or 0 < self.hangup_after_s <= self.talk_max_s,
               "hangup_after_s must be in (0, talk_max_s]", self.hangup_after_s)
        _check(self.calls >= 1, "calls", self.calls)
        _check(0 <= self.port < 65536, "port", self.port)
        _check(self.lifetime_s > 0, "lifetime_s", self.lifetime_s)

    @property
    def talk_ms(self) -> int:
        """From the ACK until the operator hangs up unless Asterisk did."""
        return round((self.hangup_after_s or self.talk_max_s) * 1000)

    @property
    def payload_type(self) -> int:
        return CODECS[self.codec]


def _check(ok: object, what: str, value: object) -> None:
    if not ok:
        raise DataError(f"invalid operator phone: {what}", value=repr(value))


# --- the scenario ---------------------------------------------------------------


def _sdp(plan: OperatorPhone) -> str:
    """Both G.711 laws, ours first, and key presses; the port is our socket's."""
    order = [plan.payload_type, *(pt for pt in CODECS.values() if pt != plan.payload_type)]
    names = {PT_PCMA: "PCMA", PT_PCMU: "PCMU"}
    return "\n".join([
        "v=0",
        "o=ivr12371-operator 1 1 IN IP4 [media_ip]",
        "s=ivr12371 operator",
        "c=IN IP4 [media_ip]",
        "t=0 0",
        f"m=audio [media_port+{MEDIA_OFFSET}] RTP/AVP {' '.join(map(str, order))} {PT_EVENT}",
        *(f"a=rtpmap:{pt} {names[pt]}/8000" for pt in order),
        f"a=rtpmap:{PT_EVENT} telephone-event/8000",
        f"a=fmtp:{PT_EVENT} 0-16",
        f"a=ptime:{FRAME_MS}",
        "a=sendrecv",
    ])


def _reply(status: str, *, tag: bool = False, cseq: str = "[last_CSeq:]",
           contact: str = "", sdp: str = "") -> str:
    """A response copying the request's headers; `tag` adds ours to its To."""
    lines = ["SIP/2.0 " + status, "[last_Via:]", "[last_From:]",
             "[last_To:]" + (_TAG if tag else ""), "[last_Call-ID:]", cseq]
    if contact:
        lines += [contact, "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO",
                  "User-Agent: ivr12371-sipoperator"]
    if sdp:
        return "\n".join([*lines, "Content-Type: application/sdp",
                          "Content-Length: [len]", "", sdp])
    return "\n".join([*lines, "Content-Length: 0"])


def _log(ended_by: EndedBy) -> str:
    return f'<nop><action><log message="{_MARKER} [call_id] ended_by={ended_by}"/></action></nop>'


def _ended(ended_by: EndedBy) -> list[str]:
    """Log how the INVITE ended, and count it toward the plan's calls."""
    return [_log(ended_by), '<nop next="counted"/>']


class _Phone:
    """The operator's side of each dialog, as SIPp scenario elements."""

    def __init__(self, plan: OperatorPhone) -> None:
        self.plan = plan
        self.contact = f"Contact: <sip:{plan.user}@[local_ip]:[local_port]>"

    def invite(self) -> str:
        # The INVITE's CSeq number, for the 487 answered after a CANCEL
        # (whose own CSeq names CANCEL); From and To, for our own BYE.
        actions = []
        if self.plan.behaviour != "busy":
            actions.append('<ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" '
                           'assign_to="invite_cseq"/>')
        if self.plan.behaviour == "answer":
            actions += ['<ereg regexp=".*" search_in="hdr" header="From:" '
                        'assign_to="remote_from"/>',
                        '<ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>']
        if not actions:
            return '<recv request="INVITE" rrs="true"/>'
        return f'<recv request="INVITE" rrs="true"><action>{"".join(actions)}</action></recv>'

    def ringing(self) -> list[str]:
        return [_send(_reply("100 Trying")),
                _send(_reply("180 Ringing", tag=True, contact=self.contact))]

    def ring(self) -> list[str]:
        """Ring until answering time, or for good; a CANCEL ends the ringing."""
        if self.plan.behaviour == "answer":
            wait_ms, ontimeout = round(self.plan.ring_s * 1000), "answer"
        else:
            wait_ms, ontimeout = round(self.plan.ring_max_s * 1000), "give_up"
        if wait_ms == 0:
            return ['<nop next="answer"/>']
        return [f'<recv request="CANCEL" timeout="{wait_ms}" ontimeout="{ontimeout}"/>']

    def cancelled(self) -> list[str]:
        return [
            _send(_reply("200 OK", tag=True)),
            _send(_reply("487 Request Terminated", tag=True,
                         cseq="CSeq: [$invite_cseq] INVITE"), retrans=True),
            '<recv request="ACK"/>',
            *_ended("cancelled"),
        ]

    def give_up(self) -> list[str]:
        return ['<label id="give_up"/>',
                _send(_reply("480 Temporarily Unavailable", tag=True), retrans=True),
                '<recv request="ACK"/>', *_ended("gave_up")]

    def answer(self) -> list[str]:
        """200 with SDP until the ACK; a CANCEL crossing our 200 changes nothing."""
        return [
            '<label id="answer"/>',
            _send(_reply("200 OK", tag=True, contact=self.contact, sdp=_sdp(self.plan)),
                  retrans=True),
            '<label id="wait_ack"/>',
            '<recv request="CANCEL" optional="true" next="late_cancel"/>',
            '<recv request="ACK"/>',
            f'<nop><action><exec play_pcap_audio="{TONE_PCAP}"/></action></nop>',
        ]

    def talk(self) -> list[str]:
        """Wait for Asterisk's BYE while the tone plays; re-INVITEs get the same SDP."""
        ontimeout = "hangup" if self.plan.hangup_after_s else "hangup_timeout"
        return [
            '<label id="talk"/>',
            f'<recv request="INVITE" optional="true" next="reinvite" '
            f'timeout="{self.plan.talk_ms}" ontimeout="{ontimeout}"/>',
            '<recv request="BYE"/>',
            _send(_reply("200 OK")),
            *_ended("asterisk"),
            '<label id="reinvite"/>',
            _send(_reply("200 OK", contact=self.contact, sdp=_sdp(self.plan)), retrans=True),
            '<recv request="ACK" next="talk"/>',
            '<label id="late_cancel"/>',
            _send(_reply("200 OK", tag=True)),
            '<nop next="wait_ack"/>',
        ]

    def bye(self, label: str, ended_by: EndedBy) -> list[str]:
        """Our BYE; Asterisk's crossing it (glare) is answered and ends the call too."""
        request = "\n".join([
            "BYE [next_url] SIP/2.0",
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
            "From:[$local_to]" + _TAG,
            "To:[$remote_from]",
            "Call-ID: [call_id]",
            "CSeq: 1 BYE",
            self.contact,
            "Max-Forwards: 70",
            "Content-Length: 0",
        ])
        return [
            f'<label id="{label}"/>',
            _send(request, retrans=True),
            f'<recv request="BYE" optional="true" next="{label}_glare"/>',
            f'<recv response="481" optional="true" next="{label}_done"/>',
            '<recv response="200"/>',
            f'<label id="{label}_done"/>',
            *_ended(ended_by),
            f'<label id="{label}_glare"/>',
            _send(_reply("200 OK")),
            *_ended(ended_by),
        ]

    def calls(self) -> list[str]:
        """After `calls` INVITEs, SIPp takes no new call and ends with the last."""
        return [
            '<label id="counted"/>',
            '<nop><action><add assign_to="handled" value="1"/>'
            '<test assign_to="enough" variable="handled" compare="greater_than_equal" '
            f'value="{self.plan.calls}"/></action></nop>',
            '<nop test="enough" next="stop"/>',
            '<nop next="end"/>',
            '<label id="stop"/>',
            '<nop><action><exec int_cmd="stop_gracefully"/></action></nop>',
            '<nop next="end"/>',
        ]


def build_scenario(plan: OperatorPhone) -> str:
    """The SIPp UAS scenario for `plan`; it plays `TONE_PCAP` from its directory."""
    phone = _Phone(plan)
    body = [
        '<Global variables="handled"/>',
        # Asterisk's qualify, or unsolicited MWI: a call of its own, answered and over.
        '<recv request="OPTIONS" optional="true" next="out_of_dialog"/>',
        '<recv request="NOTIFY" optional="true" next="out_of_dialog"/>',
        phone.invite(),
    ]
    if plan.behaviour == "busy":
        body += [_send(_reply("486 Busy Here", tag=True, contact=phone.contact), retrans=True),
                 '<recv request="ACK"/>', *_ended("busy")]
    else:
        body += [*phone.ringing(), *phone.ring(), *phone.cancelled()]
        if plan.behaviour == "answer":
            body += [*phone.answer(), *phone.talk(),
                     *phone.bye("hangup", "operator"),
                     *phone.bye("hangup_timeout", "operator_timeout")]
        else:
            body += phone.give_up()
    body += [*phone.calls(), '<label id="out_of_dialog"/>', _send(_reply("200 OK")),
             '<label id="end"/>']
    return "\n".join(['<?xml version="1.0" encoding="ISO-8859-1" ?>',
                      f'<scenario name="ivr12371 operator {plan.user}">', *body,
                      "</scenario>", ""])


def build_media(plan: OperatorPhone) -> bytes:
    """What the phone sends from the answer on: the tone, or `audio` looped."""
    pt = plan.payload_type
    sound = read_rtp_payload(plan.audio, pt) if plan.audio else MILLIWATT[pt]
    count = frames(plan.talk_ms + TONE_EXTRA_MS)
    size = FRAME_MS * 8 * count
    stream = _Stream(f"ivr12371 operator {plan.user}", pt)
    stream.audio(sound * math.ceil(size / len(sound)), count)
    return b"".join(stream.records)


# --- what arrives on the media port ---------------------------------------------


@dataclass(frozen=True)
class RtpReceived:
    """What reached the phone's media port: the operator's half of "audio
    flowed both ways" (Asterisk's rtp_statistics gives the caller's)."""

    packets: int = 0
    by_payload_type: Mapping[int, int] = field(default_factory=dict)
    loud_packets: int = 0  # G.711 packets carrying sound, not silence
    sources: tuple[tuple[str, int], ...] = ()
    first_at: float | None = None  # wall clock, like the call times
    last_at: float | None = None
    rtcp_packets: int = 0


class _RtpCounter(asyncio.DatagramProtocol):
    """Counts the RTP Asterisk sends the phone; SIPp never reads this port."""

    def __init__(self) -> None:
        self.types: Counter[int] = Counter()
        self.loud = 0
        self.sources: dict[tuple[str, int], None] = {}
        self.first_at: float | None = None
        self.last_at: float | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        pt = data[1] & 0x7F
        self.types[pt] += 1
        self.sources[(str(addr[0]), int(addr[1]))] = None
        self.last_at = time.time()
        self.first_at = self.first_at or self.last_at
        if pt in (PT_PCMA, PT_PCMU) and g711_peak(_rtp_payload(data), pt) >= LOUD_PEAK:
            self.loud += 1

    def snapshot(self, rtcp: int) -> RtpReceived:
        return RtpReceived(sum(self.types.values()), dict(self.types), self.loud,
                           tuple(self.sources), self.first_at, self.last_at, rtcp)


class _Swallow(asyncio.DatagramProtocol):
    """Asterisk's RTCP: counted, and not bounced back as port unreachable."""

    def __init__(self) -> None:
        self.count = 0

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.count += 1


def _rtp_payload(data: bytes) -> bytes:
    start = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10 and len(data) >= start + 4:
        start += 4 + 4 * int.from_bytes(data[start + 2:start + 4], "big")
    return data[start:]


def _ulaw(byte: int) -> int:
    u = ~byte & 0xFF
    sample = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7)
    return -(sample - 0x84) if u & 0x80 else sample - 0x84


def _alaw(byte: int) -> int:
    a = byte ^ 0x55
    exponent, mantissa = (a >> 4) & 7, a & 0x0F
    sample = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return sample if a & 0x80 else -sample


_DECODE = {PT_PCMU: tuple(map(_ulaw, range(256))), PT_PCMA: tuple(map(_alaw, range(256)))}


def g711_decode(payload: bytes, pt: int) -> list[int]:
    """16-bit linear samples of a G.711 payload (`pt` PCMU or PCMA)."""
    table = _DECODE[pt]
    return [table[b] for b in payload]


def g711_peak(payload: bytes, pt: int) -> int:
    return max((abs(s) for s in g711_decode(payload, pt)), default=0)


# --- reading the outcome ------------------------------------------------------------

_BLOCK_RE = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*$", re.MULTILINE)
_HEAD_END = re.compile(r"\r?\n\r?\n")
_COMPACT = {"f": "from", "t": "to", "i": "call-id", "m": "contact", "v": "via",
            "l": "content-length", "c": "content-type"}


@dataclass(frozen=True)
class SipMessage:
    """One message of SIPp's `-trace_msg` log."""

    at: float  # wall clock, seconds since the epoch
    sent: bool
    start_line: str
    headers: Mapping[str, str]  # lower-case names, first occurrence
    body: str

    @property
    def method(self) -> str:
        """The request's method, or the method a response answers (from CSeq)."""
        if self.status is None:
            return self.start_line.split(" ", 1)[0]
        cseq = self.headers.get("cseq", "").split()
        return cseq[-1].upper() if cseq else ""

    @property
    def status(self) -> int | None:
        parts = self.start_line.split(" ", 2)
        if parts[0] != "SIP/2.0" or len(parts) < 2 or not parts[1].isdigit():
            return None
        return int(parts[1])


def parse_messages(trace: str) -> list[SipMessage]:
    """Every SIP message in a SIPp `-trace_msg` log, in order, with its headers."""
    parts = _BLOCK_RE.split(trace)
    return [message for stamp, block in zip(parts[1::2], parts[2::2], strict=True)
            if (message := _message(stamp, block)) is not None]


def _message(stamp: str, block: str) -> SipMessage | None:
    block = block.lstrip("\r\n")
    head = _TRACE_HEAD.match(block)
    if head is None:
        return None
    # The trace may log more after a message: the body ends at its
    # Content-Length, or at the blank lines closing the trace entry.
    text = block[head.end():]
    end = _HEAD_END.search(text)
    header_text, body = (text[:end.start()], text[end.end():]) if end else (text, "")
    lines = header_text.replace("\r", "").split("\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            key = name.strip().lower()
            headers.setdefault(_COMPACT.get(key, key), value.strip())
    length = headers.get("content-length", "")
    body = body[:int(length)] if length.isdigit() else body
    at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    body = body.replace("\r", "").rstrip("\n")
    return SipMessage(at, head.group(1) == "sent", lines[0].strip(), headers,
                      body + "\n" if body else "")


@dataclass(frozen=True)
class OfferedCall:
    """One INVITE Asterisk sent the phone, and what became of it."""

    call_id: str
    request_uri: str
    from_: str  # header values as received
    to: str
    p_asserted_identity: str | None
    sdp: str
    invited_at: float  # wall clock, seconds since the epoch
    ringing_at: float | None = None  # our 180
    answered_at: float | None = None  # our 200
    ended_at: float | None = None  # the BYE or CANCEL, or our rejection
    final_status: int | None = None  # our final answer to the INVITE
    cancelled: bool = False
    bye_received: bool = False
    bye_sent: bool = False
    reinvites: int = 0
    ended_by: EndedBy | None = None  # None: the scenario did not see it through


@dataclass(frozen=True)
class OperatorResult:
    user: str
    port: int
    media_port: int
    exit_code: int | None  # None: SIPp had to be killed
    calls: tuple[OfferedCall, ...]
    options: int  # OPTIONS requests answered
    rtp: RtpReceived
    duration_s: float
    sipp_log: str  # tail of SIPp's message trace and errors

    @property
    def invites(self) -> int:
        return len(self.calls)

    @property
    def call_ids(self) -> tuple[str, ...]:
        return tuple(call.call_id for call in self.calls)

    @property
    def answered(self) -> int:
        return sum(call.answered_at is not None for call in self.calls)

    @property
    def cancelled(self) -> int:
        return sum(call.cancelled for call in self.calls)

    @property
    def byes_received(self) -> int:
        return sum(call.bye_received for call in self.calls)

    @property
    def byes_sent(self) -> int:
        return sum(call.bye_sent for call in self.calls)


def calls_from_trace(messages: Iterable[SipMessage], outcome: str) -> tuple[OfferedCall, ...]:
    """Each INVITE dialog in the trace, in order, with its ending from the markers."""
    endings = dict(_MARKER_RE.findall(outcome))
    calls: dict[str, OfferedCall] = {}
    for message in messages:
        call_id = message.headers.get("call-id", "")
        call = calls.get(call_id)
        if call is None:
            if not message.sent and message.method == "INVITE" and message.status is None:
                calls[call_id] = _offered(message, endings.get(call_id))
            continue
        calls[call_id] = _advance(call, message)
    return tuple(calls.values())


def _offered(invite: SipMessage, ending: str | None) -> OfferedCall:
    parts = invite.start_line.split(" ")
    return OfferedCall(
        call_id=invite.headers.get("call-id", ""),
        request_uri=parts[1] if len(parts) > 1 else "",
        from_=invite.headers.get("from", ""),
        to=invite.headers.get("to", ""),
        p_asserted_identity=invite.headers.get("p-asserted-identity"),
        sdp=invite.body,
        invited_at=invite.at,
        ended_by=next((e for e in _ENDINGS if e == ending), None),
    )


def _advance(call: OfferedCall, m: SipMessage) -> OfferedCall:
    """The call after one more of its messages."""
    status, method = m.status, m.method
    if m.sent and method == "INVITE" and status is not None:
        if status == 180 and call.ringing_at is None:
            return replace(call, ringing_at=m.at)
        if status >= 200 and call.final_status is None:
            answered = m.at if status < 300 else None
            ended = None if status < 300 else m.at
            return replace(call, final_status=status, answered_at=answered,
                            ended_at=call.ended_at or ended)
    elif status is None and method == "INVITE" and not m.sent and "tag=" in m.headers.get("to", ""):
        return replace(call, reinvites=call.reinvites + 1)
    elif status is None and method == "CANCEL" and not m.sent and call.final_status is None:
        # Only a CANCEL that beat our final answer cancels anything.
        return replace(call, cancelled=True, ended_at=call.ended_at or m.at)
    elif status is None and method == "BYE":
        if m.sent and not call.bye_sent:
            return replace(call, bye_sent=True, ended_at=call.ended_at or m.at)
        if not m.sent and not call.bye_received:
            return replace(call, bye_received=True, ended_at=call.ended_at or m.at)
    return call


# --- running SIPp -------------------------------------------------------------------


@dataclass(frozen=True)
class _Ports:
    sip: int
    media: int  # SIPp's, with media + 2
    control: int

    @property
    def rtp(self) -> int:
        return self.media + MEDIA_OFFSET


def _pick_ports(sip_port: int) -> _Ports:
    sip, media, control = _free_ports()
    return _Ports(sip_port or sip, media, control)


def _sipp_args(sipp: str, plan: OperatorPhone, ports: _Ports, directory: Path) -> list[str]:
    return [
        sipp, "-sf", str(directory / "operator.xml"), "-nostdin", "-aa",
        "-i", LOOPBACK, "-p", str(ports.sip), "-bind_local",
        "-mi", LOOPBACK, "-mp", str(ports.media),
        "-ci", LOOPBACK, "-cp", str(ports.control),
        "-timeout", f"{math.ceil(plan.lifetime_s)}s",
        "-recv_timeout", str(RECV_TIMEOUT_MS),
        "-trace_msg", "-message_file", str(directory / "messages.log"),
        "-trace_err", "-error_file", str(directory / "errors.log"),
        "-trace_logs", "-log_file", str(directory / "outcome.log"),
    ]


def _write_files(plan: OperatorPhone, directory: Path) -> None:
    (directory / "operator.xml").write_text(build_scenario(plan), encoding="latin-1")
    if plan.behaviour == "answer":
        (directory / TONE_PCAP).write_bytes(build_media(plan))


def _bound_ports(pid: int) -> set[int]:
    """UDP ports `pid`'s own sockets are bound to (not another process's)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        inodes = {link[8:-1] for fd in fd_dir.iterdir()
                  if (link := _readlink(fd)).startswith("socket:[")}
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return set()
    return {int(cols[1].rsplit(":", 1)[1], 16) for line in lines
            if len(cols := line.split()) > 9 and cols[9] in inodes}


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


class SipOperator:
    """One operator phone, running: `async with SipOperator(plan) as phone:`.

    Entering returns once SIPp listens on `port`; `result()` waits (bounded)
    until the phone has handled its calls; leaving stops SIPp in any case.
    """

    def __init__(self, plan: OperatorPhone) -> None:
        self.plan = plan
        self._ports: _Ports | None = None
        self._directory: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._stderr: IO[bytes] | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._rtp = _RtpCounter()
        self._rtcp = _Swallow()
        self._started = 0.0
        self._result: OperatorResult | None = None

    @property
    def port(self) -> int:
        return self._running_ports().sip

    @property
    def media_port(self) -> int:
        """Where the phone receives RTP, and sends its own from."""
        return self._running_ports().rtp

    @property
    def contact(self) -> str:
        return f"sip:{self.plan.user}@{LOOPBACK}:{self.port}"

    def _running_ports(self) -> _Ports:
        if self._ports is None:
            raise ConfigError("the operator phone was never started", user=self.plan.user)
        return self._ports

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def start(self) -> Self:
        """Start SIPp; return once it listens. On a port race, again on new ports."""
        if self._ports is not None or self._directory is not None:
            raise ConfigError("an operator phone starts once", user=self.plan.user)
        sipp = _sipp_binary()
        directory = self._directory = Path(tempfile.mkdtemp(prefix="ivrop-"))
        try:
            await asyncio.to_thread(_write_files, self.plan, directory)
            for _ in range(1 if self.plan.port else PORT_ATTEMPTS):
                if await self._try_start(sipp, _pick_ports(self.plan.port), directory):
                    self._started = time.monotonic()
                    return self
            raise ConfigError("the operator phone's SIPp could not bind its ports",
                              user=self.plan.user, port=self.plan.port,
                              stderr=_read(directory / "stderr.txt")[-LOG_TAIL_CHARS:])
        except BaseException:
            await self._cleanup()
            raise

    async def _try_start(self, sipp: str, ports: _Ports, directory: Path) -> bool:
        """One start on `ports`: our RTP sockets bound, then SIPp listening."""
        await self._release()
        loop = asyncio.get_running_loop()
        try:
            rtp, _ = await loop.create_datagram_endpoint(
                lambda: self._rtp, local_addr=(LOOPBACK, ports.rtp))
            self._transports.append(rtp)
            rtcp, _ = await loop.create_datagram_endpoint(
                lambda: self._rtcp, local_addr=(LOOPBACK, ports.rtp + 1))
            self._transports.append(rtcp)
        except OSError:
            return False
        self._stderr = _open_write(directory / "stderr.txt")
        self._proc = await asyncio.create_subprocess_exec(
            *_sipp_args(sipp, self.plan, ports, directory), cwd=directory,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=self._stderr)
        self._ports = ports
        if await _listening(self._proc, ports):
            return True
        if self._proc.returncode not in (None, _SIPP_BIND_FAILED):
            raise ConfigError("the operator phone's SIPp failed to start", user=self.plan.user,
                              exit_code=self._proc.returncode,
                              stderr=_read(directory / "stderr.txt")[-LOG_TAIL_CHARS:])
        return False

    async def result(self, timeout_s: float | None = None) -> OperatorResult:
        """Wait until the phone has handled its calls (at most `timeout_s`), then stop it.

        Without `timeout_s`, waits out the rest of the plan's `lifetime_s`. A
        phone still running then is killed: its result shows how far it got.
        """
        if self._result is None and self._proc is not None:
            if timeout_s is None:  # SIPp's own -timeout, and a little more
                timeout_s = self.plan.lifetime_s + STOP_GRACE_S - (
                    time.monotonic() - self._started)
            try:
                await asyncio.wait_for(self._proc.wait(), max(timeout_s, 0.0))
            except TimeoutError:
                pass
        return await self.stop()

    async def stop(self) -> OperatorResult:
        """Stop SIPp now if still running, and report what happened so far."""
        if self._result is None:
            try:
                await self._kill()
                self._result = await asyncio.to_thread(self._collect)
            finally:
                await self._cleanup()
        return self._result

    async def _kill(self) -> None:
        """SIPp writes its logs as it goes: killing it loses nothing."""
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()
            await self._proc.wait()

    def _collect(self) -> OperatorResult:
        directory, ports = self._directory, self._running_ports()
        if directory is None:
            raise ConfigError("the operator phone did not start", user=self.plan.user)
        trace, errors, outcome, stderr = (
            _read(directory / name)
            for name in ("messages.log", "errors.log", "outcome.log", "stderr.txt"))
        messages = parse_messages(trace)
        code = self._proc.returncode if self._proc is not None else None
        events = dict.fromkeys(line for part in (errors, stderr)
                               for line in part.splitlines() if line.strip())
        log = "\n".join([trace[-LOG_TAIL_CHARS:], *events])
        return OperatorResult(
            user=self.plan.user, port=ports.sip, media_port=ports.rtp,
            exit_code=None if code is None or code < 0 else code,
            calls=calls_from_trace(messages, outcome),
            options=sum(1 for m in messages if not m.sent and m.method == "OPTIONS"),
            rtp=self._rtp.snapshot(self._rtcp.count),
            duration_s=time.monotonic() - self._started if self._started else 0.0,
            sipp_log=log[-LOG_TAIL_CHARS:],
        )

    async def _release(self) -> None:
        """No SIPp and no sockets of an earlier attempt."""
        try:
            await self._kill()
        finally:
            for transport in self._transports:
                transport.close()
            self._transports.clear()
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None

    async def _cleanup(self) -> None:
        """No SIPp, no sockets, no files left behind; safe to call twice."""
        try:
            await self._release()
        finally:
            if self._directory is not None:
                directory, self._directory = self._directory, None
                await asyncio.to_thread(shutil.rmtree, directory, True)


async def _listening(proc: asyncio.subprocess.Process, ports: _Ports) -> bool:
    """Whether SIPp has bound all its sockets (it does so before reading any)."""
    wanted = {ports.sip, ports.media, ports.media + 2, ports.control}
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and proc.returncode is None:
        if wanted <= _bound_ports(proc.pid):
            return True
        await asyncio.sleep(READY_POLL_S)
    return False
