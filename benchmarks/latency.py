"""What the controller adds to answer and first-prompt time, and how it holds load.

Runs on one real platform (Asterisk 22 and the controller, as the e2e tests
start them) and sends the same callers through two paths of that Asterisk:

- plain: a plain dialplan IVR (`Answer(,i)`, which like ARI does not wait
  for the caller's first audio frame, then `Background()` of the
  controller's first page as one file from Asterisk's disk, `#` saying it
  again), dialed as 92371;
- controller: 12371 through Stasis, ARI and the controller, the page
  fetched over HTTP (cached by Asterisk after the first call).

The callers are phones (benchmarks/callers.py): RTP the whole call, every
fourth one pressing `#` (RFC 4733), holding `--hold` seconds, at each of
`--rates` new calls a second for `--seconds`; then a crowd run (`--crowd-hold`
20 s at `--crowd-rate` 30/s: 600 callers at once once the first hang up).
Every run starts after `--settle` seconds of quiet, and SIPp runs at batch
priority (benchmarks/callers.py), so neither the last run nor the callers
take the CPU from the run being measured.

Answer time is SIPp's INVITE-to-200 response time for every call.
First-prompt time is measured in Asterisk's own log, from the first dialplan
line of the call to Asterisk starting the first prompt, so the clock is the
same for both paths. CPU is read from /proc before and after each path; the
controller's RSS and its event loop's lag (`GET /api/health`) once a second.
Nothing here asserts a time: it prints one table (markdown). It exits 1 when
calls failed, 2 when channels were left up, else 0.

    python -m benchmarks.latency [--rates 50,100,150] [--seconds 60] [--hold 4]
        [--crowd-rate 30] [--crowd-hold 20] [--press-every 4] [--settle 35] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks import callers
from benchmarks.latency_table import PathRun, table
from benchmarks.watch import Watch, cpu_seconds, memory_kib
from devtools import asterisk
from ivr.audio.catalog import Catalog
from ivr.audio.join import join_files
from ivr.call import flow
from ivr.call.guide import Guide
from ivr.cli.serve import DIRECTORY_FILE
from ivr.directory.routing import Directory
from tests.e2e.harness import Platform, start_platform

BASELINE_EXTEN = "92371"
BASELINE = """\
; Written by benchmarks/latency.py: a plain dialplan IVR to compare against.
exten => {exten},1,Answer(,i)
 same => n(menu),Background(${{IVR_SOUNDS}}/bench-page)
 same => n,WaitExten(60)
; `#` says the menu again, as the controller's pages do.
exten => #,1,Goto({exten},menu)
"""
CONTROLLER_EXTEN = "12371"
BASELINE_SOUND = "bench-page"
CALLER_ID = callers.CALLER_ID
LOG_LINE = re.compile(
    r"^\[(?P<ts>[\d-]+ [\d:.]+)\] \w+\[\d+\]\[(?P<tag>C-[0-9a-f]+)\] (?P<rest>.*)"
)
LEFTOVER_WAIT_S = 30.0
SETTLE_S = 1.0  # after SIPp's last call, before the CPU is read again
SETTLE_BETWEEN_S = 35.0  # before each run: PJSIP's Timer J/H (32 s) and a margin
# The controller must not end a silent caller's call before the hold does.
DIGIT_TIMEOUT_MARGIN_S = 30.0


def install_baseline(platform: Platform) -> None:
    lay = asterisk.layout(platform.settings)
    catalog = Catalog.load(platform.settings.prompt_build_dir)
    page = [catalog.file(prompt) for prompt in first_page(Directory.load(DIRECTORY_FILE))]
    # The baseline says what the controller says, as one file: Asterisk plays
    # the same audio on both paths for as long as a caller stays.
    wav = join_files(catalog.directory, page)
    (lay.host(lay.sounds) / f"{BASELINE_SOUND}.wav").write_bytes(wav)
    local = lay.host(lay.etc / "extensions_local.conf")
    local.write_text(BASELINE.format(exten=BASELINE_EXTEN))
    asterisk.cli_command(platform.settings, lay, "dialplan reload")


def first_page(directory: Directory) -> tuple[str, ...]:
    """The controller's first page for SIPp's callers: their caller id `sipp`
    places no call, so the greeting and the first page of the region menu."""
    route = directory.resolve(CALLER_ID, CONTROLLER_EXTEN, "")
    unplaced = route.rule == "default"
    call = flow.CallFlow("bench", Guide(directory), route.department.code, choose_region=unplaced)
    return next(c.prompts for c in call.handle(flow.Started()) if isinstance(c, flow.Play))


def first_prompt_times(log: Path, offset: int, exten: str) -> list[float]:
    """From the call's first dialplan line to its first prompt, per call in
    Asterisk's log from byte `offset` on."""
    started: dict[str, datetime] = {}
    played: dict[str, datetime] = {}
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    for line in text.splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        tag, rest = match["tag"], match["rest"]
        if f"[{exten}@from-callers:1]" in rest and tag not in started:
            started[tag] = datetime.strptime(match["ts"], "%Y-%m-%d %H:%M:%S.%f")
        elif "Playing '" in rest and tag in started and tag not in played:
            played[tag] = datetime.strptime(match["ts"], "%Y-%m-%d %H:%M:%S.%f")
    return [(played[t] - started[t]).total_seconds() * 1000 for t in played]


def target(platform: Platform) -> str:
    """Where SIPp's callers call: the platform's Asterisk."""
    return f"127.0.0.1:{platform.settings.sip_port}"


def leftover_channels(platform: Platform, timeout: float = LEFTOVER_WAIT_S) -> list[str]:
    """Channels Asterisk still has, by name, once `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        channels = platform.ari_channels()
        if not channels or time.monotonic() > deadline:
            return sorted(c["name"] for c in channels)
        time.sleep(0.5)


def measure(platform: Platform, path: str, load: callers.Load, workdir: Path,
            crowd: bool) -> PathRun:
    lay = asterisk.layout(platform.settings)
    asterisk_pid = asterisk.running_pid(lay)
    assert asterisk_pid is not None and platform.controller is not None
    controller_pid = platform.controller.pid
    log = lay.host(lay.log / "messages.log")
    offset = log.stat().st_size
    watch = Watch(platform, asterisk_pid, controller_pid)
    before = cpu_seconds(asterisk_pid), cpu_seconds(controller_pid)
    folder = workdir / f"{path}-{load.rate:g}-{load.hold_s:g}"
    sipp = callers.run(target(platform), load, folder, watch)
    time.sleep(SETTLE_S)
    after = cpu_seconds(asterisk_pid), cpu_seconds(controller_pid)
    run = PathRun(
        path=path, rate=load.rate, hold_s=load.hold_s, calls=load.calls, failed=sipp.failed,
        answer_ms=sipp.answer_ms, first_prompt_ms=first_prompt_times(log, offset, load.exten),
        asterisk_cpu_s=after[0] - before[0], controller_cpu_s=after[1] - before[1],
        sipp_cpu_s=watch.sipp_cpu_s(), controller_peak_rss_kib=watch.peak_rss_kib(),
        worst_loop_lag_ms=watch.worst_lag_ms(), peak_active_calls=watch.peak_active(),
    )
    if crowd:
        # Everyone is in from the first hang-up (one hold after the start) to
        # the last new call (`seconds` after the start).
        steady = watch.steady(sipp.started + load.hold_s + SETTLE_S, sipp.started + load.seconds)
        if steady is not None:
            (run.steady_asterisk_cores, run.steady_controller_cores,
             run.steady_controller_rss_kib) = steady
    return run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rates", default="50,100,150",
                        help="new calls per second, one run per rate (200,250 on request)")
    parser.add_argument("--rate", type=float, help="one rate (the old option: --rates R)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="seconds of new calls per rate and path")
    parser.add_argument("--calls", type=int,
                        help="calls per rate and path (the old option; wins over --seconds)")
    parser.add_argument("--hold", type=float, default=4.0, help="seconds each caller stays")
    parser.add_argument("--crowd-rate", type=float, default=30.0,
                        help="the crowd run's calls per second (0: no crowd run)")
    parser.add_argument("--crowd-hold", type=float, default=20.0,
                        help="the crowd run's hold: rate × hold callers at once")
    parser.add_argument("--press-every", type=int, default=4,
                        help="every Nth caller presses # (0: nobody)")
    parser.add_argument("--settle", type=float, default=SETTLE_BETWEEN_S,
                        help="seconds between runs, for Asterisk to forget the last one")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    args.rate_list = [args.rate] if args.rate else [float(r) for r in args.rates.split(",")]
    return args


def loads(args: argparse.Namespace) -> list[tuple[float, float, bool]]:
    """(rate, hold, crowd) of each run, in order."""
    runs = [(rate, args.hold, False) for rate in args.rate_list]
    if args.crowd_rate > 0:
        runs.append((args.crowd_rate, args.crowd_hold, True))
    return runs


def run_all(platform: Platform, args: argparse.Namespace, workdir: Path
            ) -> tuple[list[tuple[PathRun, PathRun]], list[str]]:
    install_baseline(platform)
    # Warm Asterisk's media cache so both paths play from local disk.
    callers.run(target(platform), callers.Load(CONTROLLER_EXTEN, 2, 2, 1.0, 0), workdir / "warmup",
                lambda _: None)
    pairs: list[tuple[PathRun, PathRun]] = []
    for rate, hold, crowd in loads(args):
        calls = args.calls or round(rate * args.seconds)
        done = []
        for path, exten in (("plain", BASELINE_EXTEN), ("controller", CONTROLLER_EXTEN)):
            load = callers.Load(exten, rate, calls, hold, args.press_every)
            # Each path starts from a settled Asterisk: PJSIP keeps every
            # finished call's transactions for 32 s (64 × T1), and the path
            # measured in that wake was slower by up to a second at 100/s.
            time.sleep(args.settle)
            done.append(measure(platform, path, load, workdir, crowd))
            left = leftover_channels(platform)
            if left:
                print(f"{path} at {rate:g}/s: {len(left)} channels still up "
                      f"{LEFTOVER_WAIT_S:.0f} s after the last call: {', '.join(left[:5])} ...",
                      file=sys.stderr)
                if len(done) == 2:  # the table still says how both paths did
                    pairs.append((done[0], done[1]))
                return pairs, left
        pairs.append((done[0], done[1]))
    return pairs, []


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    digit_timeout = max(args.hold, args.crowd_hold) + DIGIT_TIMEOUT_MARGIN_S
    platform = start_platform(workdir / "platform", IVR_RTP_START="32000", IVR_RTP_END="39999",
                              IVR_DIGIT_TIMEOUT=str(digit_timeout))
    try:
        pairs, left = run_all(platform, args, workdir)
        assert platform.controller is not None
        hwm_kib = memory_kib(platform.controller.pid, "VmHWM")
    finally:
        platform.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nEvery {args.press_every}th caller presses # at {callers.PRESS_AT_S:g} s; "
          f"all send RTP (sip-tester's g711a.pcap) the whole call.\n")
    print(table(pairs))
    print(f"\ncontroller's peak RSS since start (VmHWM): {hwm_kib / 1024:.0f} MiB")
    if args.json:
        runs = [run.to_json() for pair in pairs for run in pair]
        args.json.write_text(json.dumps(
            {"runs": runs, "controller_vmhwm_kib": hwm_kib, "channels_left": left}, indent=1))
    if left:
        return 2
    return 0 if all(run.failed == 0 for pair in pairs for run in pair) else 1


if __name__ == "__main__":
    raise SystemExit(main())
