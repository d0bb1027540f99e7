"""What the controller adds to answer and first-prompt time, and how it holds load.

Runs on one real platform (Asterisk 22 and the controller, as the e2e tests
start them) and compares two paths through the same Asterisk:

- baseline: a plain dialplan IVR (`Answer(,i)`, which like ARI does not wait
  for the caller's first audio frame, then `Playback()` of the same
  greeting from Asterisk's disk), dialed as 92371;
- controller: 12371 through Stasis, ARI and the controller, the greeting
  fetched over HTTP (cached by Asterisk after the first call).

Answer time is SIPp's INVITE-to-200 response time for every call.
First-prompt time is measured in Asterisk's own log, from the first dialplan
line of the call to Asterisk starting the first prompt, so the clock is the
same for both paths. Nothing here asserts a time: it prints numbers.

    python -m benchmarks.latency [--calls 200] [--rate 20] [--hold 4]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from devtools import asterisk
from ivr.audio.catalog import Catalog
from tests.e2e.harness import Platform, _free_port, start_platform

BASELINE_EXTEN = "92371"
BASELINE = """\
; Written by benchmarks/latency.py: a plain dialplan IVR to compare against.
exten => {exten},1,Answer(,i)
 same => n,Playback(${{IVR_SOUNDS}}/bench-greeting)
 same => n,Playback(${{IVR_SOUNDS}}/bench-choices)
 same => n,Wait(60)
"""
LOG_LINE = re.compile(
    r"^\[(?P<ts>[\d-]+ [\d:.]+)\] \w+\[\d+\]\[(?P<tag>C-[0-9a-f]+)\] (?P<rest>.*)"
)


@dataclass
class PathResult:
    name: str
    calls: int
    failed: int
    answer_ms: list[float]
    first_prompt_ms: list[float]
    asterisk_cpu_s: float
    controller_cpu_s: float


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def install_baseline(platform: Platform) -> None:
    lay = asterisk.layout(platform.settings)
    catalog = Catalog.load(platform.settings.prompt_build_dir)
    sounds = lay.host(lay.sounds)
    # SIPp's caller id `sipp` places no call: the controller greets it and
    # asks for a province; the baseline plays the same two prompts.
    shutil.copyfile(catalog.path("greeting.unplaced"), sounds / "bench-greeting.wav")
    shutil.copyfile(catalog.path("region.choose_province"), sounds / "bench-choices.wav")
    local = lay.host(lay.etc / "extensions_local.conf")
    local.write_text(BASELINE.format(exten=BASELINE_EXTEN))
    asterisk.cli_command(platform.settings, lay, "dialplan reload")


def run_sipp(platform: Platform, exten: str, calls: int, rate: float, hold_s: float,
             workdir: Path) -> tuple[int, list[float]]:
    """SIPp's built-in UAC: INVITE, answer, hold, BYE. Returns failures and answer times."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "sipp", f"127.0.0.1:{platform.settings.sip_port}",
        "-sn", "uac", "-s", exten, "-d", str(int(hold_s * 1000)),
        "-m", str(calls), "-r", str(rate), "-l", str(int(rate * (hold_s + 5)) + 10),
        "-i", "127.0.0.1", "-p", str(_free_port(2)), "-mp", str(_free_port(2)),
        "-trace_rtt", "-rtt_freq", "1", "-trace_stat", "-fd", "1",
        "-timeout", f"{int(calls / rate + hold_s + 60)}s", "-timeout_error",
        "-nostdin", "-nd", "-max_socket", "4096",
    ]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    answer_ms: list[float] = []
    for rtt in workdir.glob("*_rtt.csv"):
        with rtt.open() as handle:
            for row in csv.reader(handle, delimiter=";"):
                if len(row) >= 2 and row[1].replace(".", "").isdigit():
                    answer_ms.append(float(row[1]))
    failed = 0
    for stat in workdir.glob("*_[0-9]*.csv"):
        if stat.name.endswith("_rtt.csv"):
            continue
        rows = list(csv.reader(stat.open(), delimiter=";"))
        header, last = rows[0], rows[-1]
        failed = int(last[header.index("FailedCall(C)")])
    if proc.returncode not in (0, 1) and not answer_ms:
        sys.exit(f"sipp failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return failed, answer_ms


def first_prompt_times(log: Path, since: datetime, exten: str) -> list[float]:
    started: dict[str, datetime] = {}
    played: dict[str, datetime] = {}
    wanted: set[str] = set()
    for line in log.read_text(errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        ts = datetime.strptime(match["ts"], "%Y-%m-%d %H:%M:%S.%f")
        if ts < since:
            continue
        tag, rest = match["tag"], match["rest"]
        if f"[{exten}@from-callers:1]" in rest:
            wanted.add(tag)
            started.setdefault(tag, ts)
        elif "Playing '" in rest and tag in wanted:
            played.setdefault(tag, ts)
    return [(played[t] - started[t]).total_seconds() * 1000 for t in played if t in started]


def measure(platform: Platform, name: str, exten: str, args: argparse.Namespace,
            workdir: Path) -> PathResult:
    lay = asterisk.layout(platform.settings)
    asterisk_pid = asterisk.running_pid(lay)
    assert asterisk_pid is not None and platform.controller is not None
    cpu_before = cpu_seconds(asterisk_pid), cpu_seconds(platform.controller.pid)
    since = datetime.now()
    failed, answer_ms = run_sipp(platform, exten, args.calls, args.rate, args.hold, workdir / name)
    time.sleep(1.0)
    cpu_after = cpu_seconds(asterisk_pid), cpu_seconds(platform.controller.pid)
    log = lay.host(lay.log / "messages.log")
    return PathResult(
        name, args.calls, failed, answer_ms, first_prompt_times(log, since, exten),
        asterisk_cpu_s=cpu_after[0] - cpu_before[0],
        controller_cpu_s=cpu_after[1] - cpu_before[1],
    )


def leftover_channels(platform: Platform, timeout: float = 30.0) -> dict[str, str]:
    """Channels Asterisk still has, by name, with the application they are in."""
    deadline = time.monotonic() + timeout
    while True:
        channels = platform.ari_channels()
        if not channels or time.monotonic() > deadline:
            return {c["name"]: c.get("dialplan", {}).get("app_name", "") for c in channels}
        time.sleep(0.5)


def describe(values: list[float]) -> str:
    if not values:
        return "n/a"
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    return f"median {statistics.median(values):6.2f} ms, p95 {p95:6.2f} ms (n={len(values)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="new calls per second")
    parser.add_argument("--hold", type=float, default=4.0, help="seconds each caller stays")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    platform = start_platform(workdir / "platform", IVR_RTP_START="32000", IVR_RTP_END="39999")
    try:
        install_baseline(platform)
        # Warm Asterisk's media cache so both paths play from local disk.
        run_sipp(platform, "12371", 2, 2, 1, workdir / "warmup")
        results = []
        for name, exten in (("baseline (dialplan)", BASELINE_EXTEN), ("controller (ARI)", "12371")):
            results.append(measure(platform, name, exten, args, workdir))
            left = leftover_channels(platform)
            if left:
                print(f"{name}: {len(left)} channels still up 30 s after the last call: "
                      f"{', '.join(sorted(left)[:5])} ...", file=sys.stderr)
                return 2
    finally:
        platform.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{args.calls} calls per path at {args.rate:g} calls/s, {args.hold:g} s each "
          f"(about {args.rate * args.hold:.0f} at once)\n")
    for result in results:
        print(f"{result.name:22} failed {result.failed}/{result.calls}")
        print(f"{'':22} answer       {describe(result.answer_ms)}")
        print(f"{'':22} first prompt {describe(result.first_prompt_ms)}")
        per_call = 1000 / result.calls
        print(f"{'':22} CPU per call: Asterisk {result.asterisk_cpu_s * per_call:.2f} ms, "
              f"controller {result.controller_cpu_s * per_call:.2f} ms")
    base, ctl = results
    if base.first_prompt_ms and ctl.first_prompt_ms:
        added = statistics.median(ctl.first_prompt_ms) - statistics.median(base.first_prompt_ms)
        print(f"\ncontroller adds {added:.2f} ms to the median first-prompt time")
    if base.answer_ms and ctl.answer_ms:
        added = statistics.median(ctl.answer_ms) - statistics.median(base.answer_ms)
        print(f"controller adds {added:.2f} ms to the median answer time")
    return 0 if all(r.failed == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
