"""The latency benchmark's callers: SIPp running benchmarks/caller.xml.

Each caller sends RTP for its whole call, as a phone does: sip-tester's
g711a.pcap (7 s of speech) said again and again for the hold, and, in every
`press_every`-th call, `#` (sip-tester's dtmf_2833_pound.pcap) at
`PRESS_AT_S`. The captures are built by devtools.callermedia as one stream
per caller, so sequence numbers and timestamps keep counting through the
repeats and the key, as a phone's do (sip-tester's captures, replayed as
shipped, start over each time, and Asterisk drops a repeated key press).

SIPp runs at batch priority (`chrt --batch`): it shares the machine with
what it measures, and must not win the CPU from it on every RTP wake-up.

`run` starts SIPp and calls `sample()` every `SAMPLE_S` until it exits, so
the caller of `run` can watch CPU, memory and the controller while the load
runs.
"""

from __future__ import annotations

import csv
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devtools.callermedia import (
    FRAME_MS,
    PT_PCMA,
    SIPP_PCAP_DIR,
    Action,
    Audio,
    Key,
    media_capture,
    read_rtp_payload,
)
from devtools.processes import free_port

SCENARIO = Path(__file__).with_name("caller.xml")
CALLER_ID = "sipp"  # caller.xml's From
SPEECH = SIPP_PCAP_DIR / "g711a.pcap"
PRESS_KEY = "#"  # says the menu again, on every page of the IVR and in the plain dialplan
PRESS_AT_S = 2.0  # after the answer: during the first prompt
SAMPLE_S = 1.0  # also how often the controller's health is asked: light on purpose
# SIPp's own deadline past the last call's planned end; a call still up then failed.
SIPP_GRACE_S = 60.0


@dataclass(frozen=True)
class Load:
    exten: str
    rate: float  # new calls a second
    calls: int
    hold_s: float
    press_every: int  # 0: nobody presses

    @property
    def seconds(self) -> float:
        return self.calls / self.rate


@dataclass(frozen=True)
class SippResult:
    failed: int
    answer_ms: list[float]
    exit_code: int
    started: float  # time.monotonic() when SIPp started
    ended: float


def _speech_clip_ms() -> int:
    return len(read_rtp_payload(SPEECH, PT_PCMA)) // 8


def _speech(ms: int) -> list[Audio]:
    """`ms` of speech: the clip from its start, again and again."""
    clip = _speech_clip_ms() // FRAME_MS * FRAME_MS
    parts = []
    while ms > 0:
        parts.append(Audio(str(SPEECH), min(clip, ms)))
        ms -= clip
    return parts


def write_captures(folder: Path, hold_s: float) -> None:
    """caller.pcap and presser.pcap, each as long as the hold (caller.xml plays them)."""
    hold_ms = round(hold_s * 1000)
    press_ms = min(round(PRESS_AT_S * 1000), hold_ms // 2) // FRAME_MS * FRAME_MS
    key = Key(PRESS_KEY)
    plain: tuple[Action, ...] = tuple(_speech(hold_ms))
    pressing: tuple[Action, ...] = (*_speech(press_ms), key, *_speech(hold_ms - press_ms - key.ms))
    for name, actions in (("caller.pcap", plain), ("presser.pcap", pressing)):
        capture = media_capture(f"bench-{name}", PT_PCMA, actions, hold_ms)
        (folder / name).write_bytes(capture)


def write_injection(folder: Path, press_every: int) -> Path:
    """Which callers press: every `press_every`-th, SIPp taking the lines in turn."""
    kinds = ["plain"] * (press_every - 1) + ["press"] if press_every > 0 else ["plain"]
    path = folder / "callers.csv"
    path.write_text("SEQUENTIAL\n" + "".join(f"{kind};\n" for kind in kinds))
    return path


def run(target: str, load: Load, folder: Path,
        sample: Callable[[subprocess.Popen[bytes]], None]) -> SippResult:
    """Place `load.calls` calls to `target` (host:port, loopback) and wait for
    the last; `sample(sipp)` every SAMPLE_S."""
    folder.mkdir(parents=True, exist_ok=True)
    write_captures(folder, load.hold_s)
    injection = write_injection(folder, load.press_every)
    at_once = int(load.rate * (load.hold_s + 5)) + 10
    cmd = [
        "sipp", target,
        "-sf", str(SCENARIO), "-inf", str(injection), "-s", load.exten,
        "-d", str(round(load.hold_s * 1000)),
        "-m", str(load.calls), "-r", str(load.rate), "-l", str(at_once),
        "-i", "127.0.0.1", "-p", str(free_port(2)), "-mi", "127.0.0.1",
        "-mp", str(free_port(2)),
        "-trace_rtt", "-rtt_freq", "1", "-trace_stat", "-fd", "1",
        "-timeout", f"{int(load.seconds + load.hold_s + SIPP_GRACE_S)}s", "-timeout_error",
        "-nostdin", "-nd", "-max_socket", "4096",
    ]
    # The callers are not on the server in real life: at batch priority
    # SIPp's hundreds of RTP threads never preempt what they are measuring
    # on wake-up (on 2 cores they otherwise took the CPU from under Asterisk
    # and the controller alike).
    cmd = ["chrt", "--batch", "0", *cmd]
    with (folder / "stderr.txt").open("wb") as err:
        started = time.monotonic()
        sipp = subprocess.Popen(cmd, cwd=folder, stdout=subprocess.DEVNULL, stderr=err)
        while sipp.poll() is None:
            sample(sipp)
            time.sleep(SAMPLE_S)
        ended = time.monotonic()
    answer_ms, failed = _read_results(folder)
    if sipp.returncode not in (0, 1) and not answer_ms:
        stderr = (folder / "stderr.txt").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"sipp failed ({sipp.returncode}):\n{stderr}")
    return SippResult(failed, answer_ms, sipp.returncode, started, ended)


def _read_results(folder: Path) -> tuple[list[float], int]:
    answer_ms: list[float] = []
    for rtt in folder.glob("*_rtt.csv"):
        with rtt.open() as handle:
            for row in csv.reader(handle, delimiter=";"):
                if len(row) >= 2 and row[1].replace(".", "").isdigit():
                    answer_ms.append(float(row[1]))
    failed = 0
    for stat in folder.glob("*_[0-9]*.csv"):
        if stat.name.endswith("_rtt.csv"):
            continue
        with stat.open() as handle:
            rows = list(csv.reader(handle, delimiter=";"))
        header, last = rows[0], rows[-1]
        failed = int(last[header.index("FailedCall(C)")])
    return answer_ms, failed
