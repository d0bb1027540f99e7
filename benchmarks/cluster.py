"""One node against the cluster at the same rate, and how long takeovers take.

One run, on this machine: a one-node platform (one Asterisk, one
controller) and then the cluster (Kamailio, two Asterisks, two controllers
on a PostgreSQL server of the benchmark's own) each take `--seconds` of
SIPp callers at `--rate` (benchmarks/caller.xml: RTP all call, every 4th
presses #), and print failed calls and the answer and first-prompt medians
and p95 (SIPp's INVITE to 200; Asterisk's log, from the call's first
dialplan line to its first prompt). Then `--kills` times: 10 callers in
menus, the controller serving most of them SIGKILLed, and the time from the
kill to the last of its calls taken back (its record's `resumed` step),
before it is started again. Nothing here asserts a time.

    python -m benchmarks.cluster [--rate 20] [--seconds 15] [--hold 4] [--kills 5]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks import callers
from benchmarks.latency import CONTROLLER_EXTEN, first_prompt_times
from devtools import asterisk, cluster, kamailio
from devtools.callermedia import Hangup, Pause
from devtools.calls import wait_for_record
from devtools.postgres import private_server
from devtools.sipcall import CallPlan, place_call
from ivr.settings import Settings
from tests.e2e.harness import start_platform

KILL_CALLERS = 10
RECORD_WAIT_S = 60.0


@dataclasses.dataclass(frozen=True)
class Row:
    shape: str
    calls: int
    failed: int
    answer_ms: list[float]
    first_prompt_ms: list[float]
    door_cpu_ms: float | None = None  # Kamailio's, per call


def door_cpu_s(spec: cluster.Cluster) -> float:
    """CPU seconds of Kamailio's processes so far (its children share its session)."""
    main = kamailio.running_pid(spec.door)
    if main is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == main:  # its session id: started with start_new_session
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _median_p95(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.0f} / {p95:.0f}"


def _log_of(settings: Settings) -> Path:
    lay = asterisk.layout(settings)
    return lay.host(lay.log / "messages.log")


def load_run(shape: str, target: str, logs: list[Path], load: callers.Load, folder: Path) -> Row:
    offsets = [log.stat().st_size if log.exists() else 0 for log in logs]
    sipp = callers.run(target, load, folder, lambda _: None)
    first: list[float] = []
    for log, offset in zip(logs, offsets, strict=True):
        first += first_prompt_times(log, offset, CONTROLLER_EXTEN)
    return Row(shape, load.calls, sipp.failed, sipp.answer_ms, first)


def one_node(work: Path, load: callers.Load) -> Row:
    platform = start_platform(work / "one", IVR_DIGIT_TIMEOUT=str(load.hold_s + 30))
    try:
        target = f"127.0.0.1:{platform.settings.sip_port}"
        return load_run("one node", target, [_log_of(platform.settings)], load, work / "sipp-one")
    finally:
        platform.stop()


async def _takeover(spec: cluster.Cluster, n: int) -> tuple[int, float]:
    """Callers in menus, the busier controller killed: (its calls, seconds
    from the kill to the last of them taken back)."""
    settings = spec.base.model_copy(update={
        "sip_host": spec.door.host, "sip_port": spec.door.port, "database_url": spec.database_url,
    })
    plans = [
        CallPlan(caller=f"05517{n:02d}000{k:02d}", actions=(Pause(15_000), Hangup()),
                 max_call_s=30)
        for k in range(KILL_CALLERS)
    ]
    calls = [asyncio.create_task(place_call(plan, settings)) for plan in plans]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        up = sum(
            len(asterisk.ari_get(spec.asterisk_settings(a), "/channels")) for a in spec.asterisks
        )
        if up == KILL_CALLERS:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    nodes = {name: 0 for name in (c.name for c in spec.controllers)}
    for controller in spec.controllers:
        health = cluster.controller_health(controller) or {}
        nodes[controller.name] = int(health.get("active_calls", 0))
    victim = max(spec.controllers, key=lambda c: nodes[c.name])
    killed_at = time.time()
    cluster.stop_controller(spec, victim, signal.SIGKILL)
    await asyncio.gather(*calls)
    delays = []
    for plan in plans:
        record = await asyncio.to_thread(wait_for_record, settings, plan.call_id, RECORD_WAIT_S)
        if record is None or not record["node"].startswith(f"{victim.name}@"):
            continue
        resumed = [
            step["at"] for step in record["steps"]
            if (step["kind"], step["value"]) == ("note", "resumed")
        ]
        if resumed:
            delays.append(datetime.fromisoformat(resumed[0]).timestamp() - killed_at)
    await asyncio.to_thread(cluster.start_controller, spec, victim)
    return len(delays), max(delays, default=float("nan"))


def the_cluster(work: Path, load: callers.Load, kills: int) -> tuple[Row, list[tuple[int, float]]]:
    with private_server("ivr-bench-postgres-") as server:
        spec = cluster.Cluster.on_free_ports(
            work / "cluster", Settings(state_dir=work / "cluster-base"),
            database_url=server.url("ivr_bench"), rtp_base=40000,
        )
        spec = dataclasses.replace(
            spec, extra_env=(("IVR_DIGIT_TIMEOUT", str(load.hold_s + 30)),)
        )
        try:
            cluster.up(spec)
            before = door_cpu_s(spec)
            row = load_run(
                "cluster (2 Asterisks, 2 controllers)", f"{spec.door.host}:{spec.door.port}",
                [_log_of(spec.asterisk_settings(a)) for a in spec.asterisks], load,
                work / "sipp-cluster",
            )
            door_ms = (door_cpu_s(spec) - before) * 1000 / load.calls
            row = dataclasses.replace(row, door_cpu_ms=door_ms)
            takeovers = [asyncio.run(_takeover(spec, n)) for n in range(kills)]
        finally:
            cluster.down(spec)
            cluster.discard(spec)
    return row, takeovers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="new calls a second")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of new calls")
    parser.add_argument("--hold", type=float, default=4.0, help="seconds each caller stays")
    parser.add_argument("--kills", type=int, default=5, help="controllers killed, one at a time")
    args = parser.parse_args()
    load = callers.Load(CONTROLLER_EXTEN, args.rate, round(args.rate * args.seconds), args.hold,
                        press_every=4)
    with tempfile.TemporaryDirectory(prefix="ivr-bench-cluster-") as tmp:
        work = Path(tmp)
        rows = [one_node(work, load)]
        row, takeovers = the_cluster(work, load, args.kills)
        rows.append(row)
    print(f"\n{args.rate:g} calls/s for {args.seconds:g} s, {args.hold:g} s each:\n")
    print("| shape | failed | answer med / p95 ms | first prompt med / p95 ms "
          "| Kamailio CPU per call |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        door = f"{r.door_cpu_ms:.2f} ms" if r.door_cpu_ms is not None else "-"
        print(f"| {r.shape} | {r.failed}/{r.calls} | {_median_p95(r.answer_ms)} "
              f"| {_median_p95(r.first_prompt_ms)} | {door} |")
    delays = [delay for _, delay in takeovers]
    taken = [count for count, _ in takeovers]
    print(f"\nTakeover, {len(takeovers)} kills of the busier controller with {KILL_CALLERS} "
          f"callers in menus ({sum(taken)} calls taken back: {taken}): last call back "
          f"min {min(delays):.2f} s, median {statistics.median(delays):.2f} s, "
          f"max {max(delays):.2f} s after the kill")


if __name__ == "__main__":
    main()
