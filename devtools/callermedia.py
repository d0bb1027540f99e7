"""What a caller's phone sends: one continuous RTP stream, written as a pcap.

SIPp plays the capture right after its ACK: 20 ms G.711 silence frames, the
RFC 2833 packets of sip-tester's own `dtmf_2833_N.pcap` files for key
presses, and audio clips spliced from other captures, all on one SSRC with
sequence numbers and timestamps that keep counting. Played as shipped, the
DTMF captures all carry the same sequence numbers and timestamp, so
Asterisk drops a repeated key as a retransmission (SIPp issue #516); a
caller that sends no audio also trips strict RTP and `rtp_timeout`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ivr.errors import DataError

LOOPBACK = "127.0.0.1"
# RFC 2833 key presses and G.711 audio that Debian's sip-tester ships.
SIPP_PCAP_DIR = Path("/usr/share/sip-tester")
FRAME_MS = 20  # one RTP packet of audio, as phones send it
KEY_TONE_MS = 200  # how long a key is held down
PT_PCMU, PT_PCMA, PT_EVENT = 0, 8, 101
EVENT_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}
_SILENCE = {PT_PCMU: b"\xff", PT_PCMA: b"\xd5"}
_SAMPLES_PER_MS = 8


@dataclass(frozen=True)
class Pause:
    """The caller stays on the line, sending silence."""

    ms: int


@dataclass(frozen=True)
class Key:
    """The caller presses one key (0-9, * or #) for `ms`."""

    digit: str
    ms: int = KEY_TONE_MS


@dataclass(frozen=True)
class Audio:
    """The caller speaks: `ms` of the G.711 RTP in a capture, silence-padded."""

    pcap: str
    ms: int


@dataclass(frozen=True)
class Hangup:
    """The caller sends BYE. Only as the last action."""


Action = Pause | Key | Audio | Hangup

def _pcap_packet(offset_ms: int, rtp: bytes) -> bytes:
    """One Ethernet/IPv4/UDP record; SIPp rewrites addresses and ports."""
    udp = struct.pack("!HHHH", 10000, 10000, 8 + len(rtp), 0) + rtp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(LOOPBACK), socket.inet_aton(LOOPBACK))
    frame = b"\x00" * 12 + b"\x08\x00" + ip + udp
    sec, ms = divmod(offset_ms, 1000)
    return struct.pack("<IIII", sec, ms * 1000, len(frame), len(frame)) + frame


class _Stream:
    """The caller's RTP stream, written as a capture."""

    def __init__(self, call_id: str, codec: int) -> None:
        seed = hashlib.sha1(call_id.encode()).digest()
        self.ssrc, ts0, seq0 = struct.unpack("!IIH", seed[:10])
        self.ts0, self.seq, self.codec = ts0, seq0, codec
        self.now_ms = 0
        self.records: list[bytes] = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]

    def _emit(self, at_ms: int, pt: int, marker: bool, ts_ms: int, payload: bytes) -> None:
        ts = (self.ts0 + ts_ms * _SAMPLES_PER_MS) & 0xFFFFFFFF
        header = struct.pack("!BBHII", 0x80, pt | (0x80 if marker else 0), self.seq, ts, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        self.records.append(_pcap_packet(at_ms, header + payload))

    def audio(self, data: bytes, frames: int) -> None:
        size = FRAME_MS * _SAMPLES_PER_MS
        data = data[: frames * size].ljust(frames * size, _SILENCE[self.codec])
        for i in range(frames):
            self._emit(self.now_ms, self.codec, False, self.now_ms, data[i * size:(i + 1) * size])
            self.now_ms += FRAME_MS

    def key(self, digit: str, frames: int) -> None:
        """The RFC 2833 packets of SIPp's own capture for `digit`, re-sequenced.

        The payloads (event, volume, durations, the thrice-sent end) are the
        capture's; sequence numbers, timestamps and SSRC continue this
        stream's, so a repeated key is a new event to Asterisk."""
        start = self.now_ms
        step = 0
        for payload in _key_payloads(digit):
            self._emit(start + step * FRAME_MS, PT_EVENT, step == 0, start, payload)
            if not payload[1] & 0x80:  # the end packets share one moment
                step += 1
        self.now_ms = start + (step + 1) * FRAME_MS
        self.audio(b"", max(0, frames - step - 1))


def media_capture(call_id: str, codec: int, actions: Iterable[Action], wait_ms: int) -> bytes:
    """The capture of everything the caller sends from the answer on."""
    stream = _Stream(call_id, codec)
    for action in actions:
        if isinstance(action, Pause):
            stream.audio(b"", frames(action.ms))
        elif isinstance(action, Key):
            stream.key(action.digit, frames(action.ms))
        elif isinstance(action, Audio):
            stream.audio(read_rtp_payload(Path(action.pcap), stream.codec), frames(action.ms))
    stream.audio(b"", frames(wait_ms - stream.now_ms))
    return b"".join(stream.records)


@functools.cache
def _key_payloads(digit: str) -> tuple[bytes, ...]:
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    data = read_rtp_payload(SIPP_PCAP_DIR / f"dtmf_2833_{name}.pcap", PT_EVENT)
    return tuple(data[i:i + 4] for i in range(0, len(data), 4))


def read_rtp_payload(path: Path, payload_type: int) -> bytes:
    """The RTP payload of one type in a capture, in order (Ethernet or SLL, IPv4/UDP)."""
    data = path.read_bytes()
    if len(data) < 24:
        raise DataError("not a pcap file", path=str(path))
    magic = data[:4]
    endian = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<",
              b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}.get(magic)
    link_offset = {1: 14, 113: 16}.get(struct.unpack(f"{endian or '<'}I", data[20:24])[0])
    if endian is None or link_offset is None:
        raise DataError("unsupported capture (need pcap, Ethernet or Linux SLL)", path=str(path))
    out, pos = bytearray(), 24
    while pos + 16 <= len(data):
        (length,) = struct.unpack(f"{endian}I", data[pos + 8:pos + 12])
        packet, pos = data[pos + 16:pos + 16 + length], pos + 16 + length
        ip = packet[link_offset:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        rtp = ip[(ip[0] & 0x0F) * 4 + 8:]
        if len(rtp) < 12 or rtp[0] >> 6 != 2 or rtp[1] & 0x7F != payload_type:
            continue
        start = 12 + 4 * (rtp[0] & 0x0F)
        if rtp[0] & 0x10:  # header extension
            start += 4 + 4 * struct.unpack("!H", rtp[start + 2:start + 4])[0]
        out += rtp[start:]
    if not out:
        raise DataError(f"no RTP with payload type {payload_type} in capture (offer_pcma?)",
                        path=str(path))
    return bytes(out)


def frames(ms: int) -> int:
    """How many 20 ms packets `ms` takes, rounded up to the packet clock."""
    return math.ceil(ms / FRAME_MS)
