"""Place one real SIP call with SIPp, as a caller would.

Theory of operation. A `CallPlan` says who calls, what is dialled and what
the caller does once answered: pause, press keys, play audio, hang up. The
plan becomes two files: a SIPp scenario (`build_scenario`) for signalling,
and one RTP capture (`build_media`, made by `devtools.callermedia`) holding
everything the caller's phone sends from the answer on, as one continuous
stream. SIPp starts that capture right after its ACK, so "press 1 at 3.0 s"
is measured from the answer on the capture's own clock, and the scenario
only waits.

The scenario waits for Asterisk's BYE with a timed `<recv>` rather than
`<pause>`: SIPp counts a BYE that arrives during a pause as a failed call.
`place_call` runs SIPp in a private temporary directory with its own ports
(many calls may run at once), and reads the outcome from SIPp's message
trace (what was really said on the wire) and from markers the scenario logs
when each way of ending has completed.

Playing a capture needs a raw socket: SIPp must run as root or with
CAP_NET_RAW. Everything is loopback: SIPp binds 127.0.0.1 only and calls
only a loopback `settings.sip_host`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import math
import os
import re
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from devtools.callermedia import (
    EVENT_CODES,
    FRAME_MS,
    KEY_TONE_MS,
    LOOPBACK,
    PT_EVENT,
    PT_PCMA,
    PT_PCMU,
    Action,
    Hangup,
    Key,
    Pause,
    frames,
    media_capture,
)
from ivr.errors import ConfigError, DataError
from ivr.settings import Settings

SIPP_BINARY = "sipp"

# Timing defaults (milliseconds or seconds as named).
DEFAULT_MAX_CALL_S = 60.0  # longest call after the answer
DEFAULT_ANSWER_TIMEOUT_S = 15.0  # longest wait for the final answer to INVITE
SIP_RETRANS_MS = 500  # SIP T1 for our requests
SIPP_TIMEOUT_MARGIN_S = 5.0  # SIPp's own global timeout, beyond the call's budget
KILL_GRACE_S = 10.0  # SIPp still running this long past the budget is killed
PORT_ATTEMPTS = 3  # SIPp runs again on fresh ports when a bind fails
LOG_TAIL_CHARS = 8000

MEDIA_PCAP = "media.pcap"  # relative: SIPp runs in the call's directory
_SIPP_BIND_FAILED = 254  # SIPp exits -2 when it cannot bind a socket

# Final answers a rejected INVITE may get; each is ACKed and reported.
REJECT_CODES = (
    *(300, 301, 302, 305, 380),
    *range(400, 439),
    *(439, 440, 469, 470, *range(480, 495)),
    *range(500, 506),
    *(513, 555, 580, 600, 603, 604, 606, 607, 608),
)

EndedBy = Literal["asterisk", "caller", "caller_timeout", "rejected", "error"]
_MARKER = "IVRCALL ended_by="
_ENDINGS: dict[str, EndedBy] = {
    name: name for name in ("asterisk", "caller", "caller_timeout", "rejected")
}




def _default_call_id() -> str:
    return f"ivrcall-{uuid.uuid4().hex}@{LOOPBACK}"


_CALLER_RE = re.compile(r"[A-Za-z0-9+._-]{0,64}")
_TO_RE = re.compile(r"[0-9*+]{1,32}")
_ORIGIN_RE = re.compile(r"[0-9]{0,12}")
# The header a carrier uses to say where a call comes from (IVR_ORIGIN_HEADER).
ORIGIN_HEADER = "X-12371-Origin"
_CALL_ID_RE = re.compile(r"[A-Za-z0-9._~+!*-]{1,100}(@[A-Za-z0-9._~+!*:-]{1,100})?")


@dataclass(frozen=True)
class CallPlan:
    """One call: who calls, what is dialled, what the caller does.

    `caller` is the From user part: "" gives `<sip:127.0.0.1>`, "anonymous"
    gives the RFC 3323 anonymous URI. Action times count from the answer and
    are rounded up to the 20 ms packet clock. Without a final `Hangup` the
    caller waits for Asterisk's BYE until `max_call_s` after the answer,
    then hangs up itself.
    """

    caller: str
    to: str = "12371"
    actions: tuple[Action, ...] = ()
    call_id: str = field(default_factory=_default_call_id)
    offer_pcma: bool = False
    origin: str = ""  # sent as ORIGIN_HEADER, as a carrier would
    max_call_s: float = DEFAULT_MAX_CALL_S
    answer_timeout_s: float = DEFAULT_ANSWER_TIMEOUT_S
    # Where the phone is: another loopback address is another device to
    # Asterisk (an operator's desk phone rather than the carrier's trunk).
    local_ip: str = LOOPBACK

    def __post_init__(self) -> None:
        _check(_CALLER_RE.fullmatch(self.caller), "caller", self.caller)
        _check(_is_loopback(self.local_ip), "local_ip (loopback only)", self.local_ip)
        _check(_TO_RE.fullmatch(self.to), "to", self.to)
        _check(_ORIGIN_RE.fullmatch(self.origin), "origin", self.origin)
        _check(_CALL_ID_RE.fullmatch(self.call_id), "call_id", self.call_id)
        _check(self.max_call_s > 0 and self.answer_timeout_s > 0, "timeouts", self.max_call_s)
        for i, action in enumerate(self.actions):
            if isinstance(action, Hangup):
                _check(i == len(self.actions) - 1, "Hangup must be the last action", i)
            elif isinstance(action, Key):
                _check(action.digit in EVENT_CODES and action.ms > 0, "key", action.digit)
            else:
                _check(action.ms >= 0, "duration", action.ms)
        _check(self.media_ms <= self.max_call_s * 1000, "actions longer than max_call_s",
               self.media_ms)

    @property
    def hangs_up(self) -> bool:
        return bool(self.actions) and isinstance(self.actions[-1], Hangup)

    @property
    def media_ms(self) -> int:
        """How long the actions take, on the packet clock."""
        return sum(frames(a.ms) * FRAME_MS for a in self.actions if not isinstance(a, Hangup))

    @property
    def wait_ms(self) -> int:
        """From the answer until the caller hangs up unless Asterisk did."""
        return self.media_ms if self.hangs_up else int(self.max_call_s * 1000)


def _check(ok: object, what: str, value: object) -> None:
    if not ok:
        raise DataError(f"invalid call plan: {what}", value=repr(value))


def presses(*keys: tuple[float, str], hangup_at_s: float | None = None) -> tuple[Action, ...]:
    """Actions pressing each `(seconds after answer, key)`, then maybe hanging up.

    `presses((3.0, "1"), (9.0, "9"), hangup_at_s=12.0)` presses 1 at 3.0 s,
    9 at 9.0 s and hangs up at 12.0 s.
    """
    actions: list[Action] = []
    now_ms = 0
    for at_s, digit in keys:
        start_ms = round(at_s * 1000)
        _check(start_ms >= now_ms, "key pressed before the previous one ended", at_s)
        actions += [Pause(start_ms - now_ms), Key(digit)]
        now_ms = start_ms + frames(KEY_TONE_MS) * FRAME_MS
    if hangup_at_s is not None:
        end_ms = round(hangup_at_s * 1000)
        _check(end_ms >= now_ms, "hangup before the last key ended", hangup_at_s)
        actions += [Pause(end_ms - now_ms), Hangup()]
    return tuple(a for a in actions if a != Pause(0))


@dataclass(frozen=True)
class CallResult:
    call_id: str
    exit_code: int | None  # None: SIPp had to be killed
    answered: bool
    final_status: int | None  # the INVITE's final response
    ended_by: EndedBy
    duration_s: float  # from starting SIPp to its exit
    sipp_log: str  # tail of SIPp's message trace and errors


# --- the scenario ---------------------------------------------------------


def _from_header(caller: str, tag: str, host: str = LOOPBACK) -> str:
    if caller == "anonymous":
        return f'From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag={tag}'
    user = f"{caller}@" if caller else ""
    return f"From: <sip:{user}{host}>;tag={tag}"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.IPv4Address(address).is_loopback
    except ValueError:
        return False


def _sdp(offer_pcma: bool) -> str:
    codecs = [(PT_PCMA, "PCMA")] if offer_pcma else [(PT_PCMU, "PCMU"), (PT_PCMA, "PCMA")]
    payloads = " ".join(str(pt) for pt, _ in codecs)
    return "\n".join([
        "v=0",
        "o=ivr12371 1 1 IN IP4 [media_ip]",
        "s=ivr12371 caller",
        "c=IN IP4 [media_ip]",
        "t=0 0",
        f"m=audio [media_port] RTP/AVP {payloads} {PT_EVENT}",
        *(f"a=rtpmap:{pt} {name}/8000" for pt, name in codecs),
        f"a=rtpmap:{PT_EVENT} telephone-event/8000",
        f"a=fmtp:{PT_EVENT} 0-16",
        f"a=ptime:{FRAME_MS}",
        "a=sendrecv",
    ])


def _send(text: str, retrans: bool = False) -> str:
    attr = f' retrans="{SIP_RETRANS_MS}"' if retrans else ""
    return f"<send{attr}><![CDATA[\n\n{text.strip()}\n\n]]></send>"


def _log(ended_by: EndedBy, next_label: str | None = None) -> str:
    attr = f' next="{next_label}"' if next_label else ""
    return f'<nop{attr}><action><log message="{_MARKER}{ended_by}"/></action></nop>'


_OK_TO_BYE = (
    "SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n"
    "[last_CSeq:]\nContent-Length: 0"
)


class _Dialog:
    """The caller's side of the dialog, as SIPp scenario elements."""

    def __init__(self, plan: CallPlan) -> None:
        self.plan = plan
        self.uri = f"sip:{plan.to}@[remote_ip]:[remote_port]"
        tag = hashlib.sha1(plan.call_id.encode()).hexdigest()[:16]
        self.from_ = _from_header(plan.caller, tag, plan.local_ip)
        self.contact = "Contact: <sip:[local_ip]:[local_port]>\nMax-Forwards: 70"
        self.origin = f"{ORIGIN_HEADER}: {plan.origin}\n" if plan.origin else ""

    def headers(self, branch: str = "[branch]", to_tag: str = "[peer_tag_param]") -> str:
        return (f"Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch};rport\n"
                f"{self.from_}\nTo: <{self.uri}>{to_tag}\nCall-ID: {self.plan.call_id}")

    def invite(self) -> str:
        return _send(
            f"INVITE {self.uri} SIP/2.0\n{self.headers(to_tag='')}\nCSeq: 1 INVITE\n"
            f"{self.contact}\nUser-Agent: ivr12371-sipcall\n{self.origin}"
            "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\nContent-Type: application/sdp\n"
            f"Content-Length: [len]\n\n{_sdp(self.plan.offer_pcma)}", retrans=True)

    def in_dialog(self, method: str, cseq: int) -> str:
        return _send(f"{method} [next_url] SIP/2.0\n{self.headers()}\nCSeq: {cseq} {method}\n"
                     f"{self.contact}\nContent-Length: 0", retrans=method != "ACK")

    def ack_rejection(self) -> str:
        """A non-2xx answer is ACKed in the INVITE's transaction: its Via, its To tag."""
        return _send(f"ACK {self.uri} SIP/2.0\n[last_Via:]\n{self.from_}\n[last_To:]\n"
                     f"Call-ID: {self.plan.call_id}\nCSeq: 1 ACK\nMax-Forwards: 70\n"
                     "Content-Length: 0")

    def cancel(self, index: int) -> str:
        """CANCEL reuses the INVITE's branch: [branch-N] counts back N elements to it."""
        return _send(f"CANCEL {self.uri} SIP/2.0\n"
                     f"{self.headers(branch=f'[branch-{index}]', to_tag='')}\n"
                     "CSeq: 1 CANCEL\nMax-Forwards: 70\nContent-Length: 0", retrans=True)

    def setup(self) -> list[str]:
        answer_ms = round(self.plan.answer_timeout_s * 1000)
        return [
            self.invite(),
            '<label id="wait_answer"/>',
            # The first element of an optional group carries the group's timeout.
            f'<recv response="100" optional="true" next="wait_answer" timeout="{answer_ms}"'
            ' ontimeout="no_answer"/>',
            *(f'<recv response="{c}" optional="true" next="wait_answer"/>'
              for c in (180, 181, 182, 183)),
            *(f'<recv response="{c}" optional="true" next="rejected"/>' for c in REJECT_CODES),
            '<recv response="200" rrs="true"/>',
            self.in_dialog("ACK", 1),
            f'<nop><action><exec play_pcap_audio="{MEDIA_PCAP}"/></action></nop>',
        ]

    def caller_bye(self, label: str, ended_by: EndedBy) -> list[str]:
        return [
            f'<label id="{label}"/>',
            self.in_dialog("BYE", 2),
            f'<recv request="BYE" optional="true" next="{label}_glare"/>',
            f'<recv response="481" optional="true" next="{label}_done"/>',
            '<recv response="200"/>',
            f'<label id="{label}_done"/>',
            _log(ended_by, "end"),
            # Both sides hung up at once: answer theirs, ours is done too.
            f'<label id="{label}_glare"/>',
            _send(_OK_TO_BYE),
            _log(ended_by, "end"),
        ]


def build_scenario(plan: CallPlan) -> str:
    """The SIPp scenario for `plan`; it plays `MEDIA_PCAP` from its directory."""
    dialog = _Dialog(plan)
    ending: EndedBy = "caller" if plan.hangs_up else "caller_timeout"
    label = "caller_hangup" if plan.hangs_up else "caller_timeout"
    body = [
        *dialog.setup(),
        f'<recv request="BYE" timeout="{plan.wait_ms}" ontimeout="{label}"/>',
        _send(_OK_TO_BYE),
        _log("asterisk", "end"),
        *dialog.caller_bye(label, ending),
        '<label id="rejected"/>',
        dialog.ack_rejection(),
        _log("rejected", "end"),
        '<label id="no_answer"/>',
    ]
    invite_to_cancel = sum(1 for element in body if not element.startswith("<label"))
    body += [
        dialog.cancel(invite_to_cancel),
        '<recv response="200" optional="true"/>',
        '<recv response="487"/>',
        dialog.ack_rejection(),
        _log("caller_timeout"),
        '<label id="end"/>',
    ]
    return "\n".join(['<?xml version="1.0" encoding="ISO-8859-1" ?>',
                      f'<scenario name="ivr12371 call {plan.call_id}">', *body, "</scenario>", ""])


def build_media(plan: CallPlan) -> bytes:
    """The capture of everything the caller sends from the answer on."""
    codec = PT_PCMA if plan.offer_pcma else PT_PCMU
    return media_capture(plan.call_id, codec, plan.actions, plan.wait_ms)


# --- running SIPp -----------------------------------------------------------


def _free_ports(host: str = LOOPBACK) -> tuple[int, int, int]:
    """SIP, media and control ports; the media port needs port + 2 free too (SIPp's video)."""
    socks: list[socket.socket] = []
    try:
        def bind(port: int = 0) -> int:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.bind((host, port))
            return int(sock.getsockname()[1])

        sip, control = bind(), bind()
        while True:
            media = bind()
            try:
                bind(media + 2)
                return sip, media, control
            except (OSError, OverflowError):
                continue
    finally:
        for sock in socks:
            sock.close()


@dataclass(frozen=True)
class _Run:
    exit_code: int | None
    seconds: float
    stderr: str


async def _run_sipp(args: list[str], cwd: Path, deadline_s: float) -> _Run:
    """Run SIPp to its end, killing it past the deadline, and on cancellation."""
    started = time.monotonic()
    stderr_file = _open_write(cwd / "stderr.txt")
    try:
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=stderr_file)
        try:
            exit_code: int | None = await asyncio.wait_for(proc.wait(), deadline_s)
        except TimeoutError:
            exit_code = None
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    finally:
        stderr_file.close()
    return _Run(exit_code, time.monotonic() - started, _read(cwd / "stderr.txt"))


def _open_write(path: Path) -> IO[bytes]:
    """Opening a small file is quick; kept out of coroutines all the same (ASYNC230)."""
    return path.open("wb")


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _write_call_files(plan: CallPlan, directory: Path) -> None:
    (directory / "call.xml").write_text(build_scenario(plan), encoding="latin-1")
    (directory / MEDIA_PCAP).write_bytes(build_media(plan))


def _sipp_args(sipp: str, plan: CallPlan, settings: Settings, directory: Path) -> list[str]:
    host = plan.local_ip
    sip_port, media_port, control_port = _free_ports(host)
    budget_s = plan.answer_timeout_s + plan.max_call_s + SIPP_TIMEOUT_MARGIN_S
    return [
        sipp, f"{settings.sip_host}:{settings.sip_port}",
        "-sf", str(directory / "call.xml"), "-m", "1", "-nostdin", "-aa",
        "-i", host, "-p", str(sip_port), "-bind_local",
        "-mi", host, "-mp", str(media_port),
        "-ci", host, "-cp", str(control_port),
        "-cid_str", plan.call_id,
        "-timeout", f"{math.ceil(budget_s)}s",
        # Every wait without its own timeout: the 200 to our BYE, the 487 to our CANCEL.
        "-recv_timeout", f"{math.ceil(plan.answer_timeout_s * 1000)}",
        "-trace_msg", "-message_file", str(directory / "messages.log"),
        "-trace_err", "-error_file", str(directory / "errors.log"),
        "-trace_logs", "-log_file", str(directory / "outcome.log"),
    ]


@functools.cache
def _sipp_binary() -> str:
    """SIPp, able to play captures; checked once, before any call is placed."""
    sipp = shutil.which(SIPP_BINARY)
    if sipp is None:
        raise ConfigError("sipp not found: install sip-tester")
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP).close()
    except PermissionError:
        # Without it SIPp dies right after the ACK, leaving the call up.
        if "security.capability" not in os.listxattr(sipp):
            raise ConfigError("SIPp plays RTP through a raw socket: run as root or "
                              f"`setcap cap_net_raw+ep {sipp}`", sipp=sipp) from None
    return sipp


async def place_call(plan: CallPlan, settings: Settings) -> CallResult:
    """Place the call with SIPp and report how it went; SIPp never outlives this."""
    sipp = _sipp_binary()
    if not ipaddress.ip_address(settings.sip_host).is_loopback:
        raise ConfigError("calls go to loopback only", sip_host=settings.sip_host)
    deadline_s = plan.answer_timeout_s + plan.max_call_s + KILL_GRACE_S
    with tempfile.TemporaryDirectory(prefix="ivrcall-") as tmp:
        directory = Path(tmp)
        await asyncio.to_thread(_write_call_files, plan, directory)
        for _ in range(PORT_ATTEMPTS):
            run = await _run_sipp(_sipp_args(sipp, plan, settings, directory), directory,
                                  deadline_s)
            if run.exit_code != _SIPP_BIND_FAILED:
                break
        trace, errors, outcome = (_read(directory / name)
                                  for name in ("messages.log", "errors.log", "outcome.log"))
    return result_from_logs(plan.call_id, run.exit_code, run.seconds, trace, outcome,
                            extra=(errors, run.stderr))


# --- reading the outcome ------------------------------------------------------

_TRACE_SPLIT = re.compile(r"^-{20,}.*$", re.MULTILINE)
_TRACE_HEAD = re.compile(r"^\w+ message (sent|received)\b.*?\n\s*\n", re.DOTALL)
_STATUS = re.compile(r"SIP/2\.0 (\d{3}) ")
_CSEQ = re.compile(r"^CSeq:\s*\d+\s+(\w+)", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class TracedMessage:
    sent: bool
    start_line: str
    cseq_method: str


def parse_trace(trace: str) -> list[TracedMessage]:
    """The SIP messages in a SIPp `-trace_msg` log, in order."""
    messages = []
    for block in _TRACE_SPLIT.split(trace):
        head = _TRACE_HEAD.match(block.lstrip("\n"))
        if head is None:
            continue
        body = block.lstrip("\n")[head.end():]
        cseq = _CSEQ.search(body)
        messages.append(TracedMessage(head.group(1) == "sent", body.split("\n", 1)[0].strip(),
                                      cseq.group(1).upper() if cseq else ""))
    return messages


def final_invite_status(messages: Iterable[TracedMessage]) -> int | None:
    for message in messages:
        status = _STATUS.match(message.start_line)
        if not message.sent and status and message.cseq_method == "INVITE":
            code = int(status.group(1))
            if code >= 200:
                return code
    return None


def result_from_logs(call_id: str, exit_code: int | None, seconds: float, trace: str,
                     outcome: str, extra: Iterable[str] = ()) -> CallResult:
    final_status = final_invite_status(parse_trace(trace))
    markers = re.findall(re.escape(_MARKER) + r"(\w+)", outcome)
    # Only an ending the scenario saw through counts; anything else (SIPp
    # aborted the call, was killed, got an answer code it did not expect)
    # is an error, with the final status still reported.
    ended_by: EndedBy = "error"
    if exit_code is not None and markers and markers[-1] in _ENDINGS:
        ended_by = _ENDINGS[markers[-1]]
    # SIPp writes the same events to its error log and to stderr: each once.
    events = dict.fromkeys(line for part in extra for line in part.splitlines() if line.strip())
    log = "\n".join([trace[-LOG_TAIL_CHARS:], *events])
    return CallResult(
        call_id=call_id,
        exit_code=exit_code,
        answered=final_status is not None and 200 <= final_status < 300,
        final_status=final_status,
        ended_by=ended_by,
        duration_s=seconds,
        sipp_log=log[-LOG_TAIL_CHARS:],
    )
