"""The controller's own CPU per call, with nothing else on the clock.

`benchmarks.latency` reads the controller's CPU beside Asterisk and SIPp on
the same two cores, and its figure moves by a third from run to run: a cut
worth 5% cannot be seen there. Here the controller (as `ivr serve` builds
and runs it: SQLite records, uvloop, a frozen heap) runs alone in this process, and the test
suite's fake ARI runs in a child process that places `--calls` calls at
`--rate` a second: each enters Stasis answered, as the dialplan answers
callers, hears its first page for `--hold` seconds, and hangs up. The figure
is this process's CPU from the first call to the last call's record, per
call. The fake's events are smaller than Asterisk's, so the figure is below
what the controller spends on a real Asterisk: compare runs, not platforms.
Nothing here asserts a time.

    python -m benchmarks.controller [--calls 3000] [--rate 50] [--hold 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop

from ivr.ari.client import AriClient
from ivr.audio.catalog import Catalog
from ivr.cases.registry import Cases
from ivr.cli.serve import DIRECTORY_FILE, HOURS_FILE, QUEUES_FILE, freeze_heap
from ivr.db import Recorder, make_engine, make_sessionmaker, upgrade
from ivr.desk import queues
from ivr.directory.routing import Directory
from ivr.publish import hours as working_hours
from ivr.settings import REPO_ROOT, Settings
from ivr.stasis.controller import Controller
from ivr.stasis.parts import Collaborators

CALLER = "055162345678"  # a Hefei landline: routed, greeted, a menu page
WAIT_S = 60.0


async def fake_side(calls: int, rate: float, hold: float) -> None:
    """The child: a fake Asterisk placing the calls once the controller is in."""
    from tests.fake_ari import FakeAri  # test tools stay out of the parent's imports

    fake = FakeAri()
    await fake.start()
    print(json.dumps(fake.settings()), flush=True)
    await fake.wait_connected(1, within=WAIT_S)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
    hangups: list[asyncio.Task[None]] = []

    async def one(channel: str) -> None:
        await fake.stasis_start(channel, CALLER, state="Up")
        await asyncio.sleep(hold)
        await fake.hangup(channel)

    start = time.monotonic()
    for n in range(calls):
        await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
        hangups.append(asyncio.create_task(one(f"bench.{n}")))
    await asyncio.gather(*hangups)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "done"
    await fake.stop()


async def measure(calls: int, rate: float, hold: float, workdir: Path) -> float:
    """The controller's CPU per call (ms) for one round."""
    catalog = Catalog.load(Settings().prompt_build_dir)  # built by `make run`/`make test`
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.controller", "--fake",
        "--calls", str(calls), "--rate", str(rate), "--hold", str(hold),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO_ROOT,
    )
    assert child.stdout is not None and child.stdin is not None
    fake: dict[str, Any] = json.loads(await child.stdout.readline())
    database_url = f"sqlite+aiosqlite:///{workdir / 'ivr.sqlite3'}"
    await upgrade(database_url)
    engine = make_engine(database_url)
    settings = Settings(state_dir=workdir, database_url=database_url, digit_timeout=hold + 30,
                        **fake)
    sessions = make_sessionmaker(engine)
    recorder = Recorder(engine, flush_interval=settings.record_flush_interval)
    await recorder.start()
    directory = Directory.load(DIRECTORY_FILE)
    ari = AriClient(settings)
    await ari.__aenter__()
    controller = Controller(Collaborators(
        settings=settings, ari=ari, recorder=recorder, sessionmaker=sessions,
        clock=lambda: datetime.now(UTC), directory=directory,
        queues=queues.load(QUEUES_FILE, directory),
        cases=Cases(sessions, directory, lambda: datetime.now(UTC)),
        catalog=catalog,
        hours=working_hours.load(HOURS_FILE, directory),
    ))
    events = asyncio.create_task(ari.run_events(controller.recover, controller.on_event))
    freeze_heap()  # as `ivr serve` does once started
    try:
        await asyncio.sleep(1.0)  # connected and recovered
        started = time.process_time()
        child.stdin.write(b"go\n")
        await child.stdin.drain()
        deadline = time.monotonic() + calls / rate + hold + WAIT_S
        while recorder.stats.submitted == 0 or controller.calls:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(controller.calls)} calls never ended")
            await asyncio.sleep(0.05)
        await recorder.flush()
        spent = time.process_time() - started
    finally:
        child.stdin.write(b"done\n")
        await child.stdin.drain()
        await child.wait()
        events.cancel()
        await asyncio.gather(events, return_exceptions=True)
        await controller.close()
        await ari.__aexit__(None, None, None)
        await recorder.stop()
        await engine.dispose()
        gc.unfreeze()
    return spent * 1000 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=50.0, help="new calls a second")
    parser.add_argument("--hold", type=float, default=4.0, help="seconds each caller stays")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fake:
        asyncio.run(fake_side(args.calls, args.rate, args.hold))
        return
    per_call = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="ivr-bench-ctl-") as work:
            # On uvloop, as `ivr serve` runs.
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                per_call.append(runner.run(measure(args.calls, args.rate, args.hold, Path(work))))
    runs = ", ".join(f"{ms:.2f}" for ms in per_call)
    print(f"controller CPU per call, {args.calls} calls at {args.rate:g}/s: "
          f"median {statistics.median(per_call):.2f} ms (rounds: {runs})")


if __name__ == "__main__":
    main()
