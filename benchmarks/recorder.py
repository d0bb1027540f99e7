"""CPU the recorder spends per call, apart from Asterisk and the network.

Feeds a `Recorder` the records of the latency benchmark's call (start,
route, answer, the region menu said twice, a key, flow states, the end) for
`--calls` calls, `--per-batch` calls to a transaction (at 50 new calls a
second and a 50 ms flush, about 2.5), and prints the process CPU per call,
for SQLite and, when it answers, PostgreSQL. Nothing here asserts a time.

    python -m benchmarks.recorder [--calls 2000] [--per-batch 2.5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.scratch import fresh_postgres
from ivr.db import Recorder, make_engine, upgrade

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/ivr_bench"
# What a caller the directory cannot place records in the latency benchmark:
# the route, the region menu (greeting and 24 pieces) said twice (`#`), the end.
STEPS = [("route", "caller: not a number"), ("route", "default"), ("note", "service")]
REGION_PAGE = ("greeting.unplaced", "region.choose_province",
               *(f"province.{n}" for n in range(11, 34)))


def one_call(recorder: Recorder, call_id: str) -> None:
    now = datetime.now(UTC)
    recorder.call_started(
        call_id, sip_call_id=f"sip-{call_id}", node="bench", caller="sipp",
        dialed="12371", department_code="000000", department_name="(unplaced)",
        route_rule="default", route_read="", started_at=now,
    )
    for kind, value in STEPS:
        recorder.step(call_id, now, kind, value)  # type: ignore[arg-type]
    recorder.call_answered(call_id, now)
    recorder.prompts_played(call_id, now, REGION_PAGE)
    recorder.flow_state(call_id, {"state": "prompting", "menu": "regions", "counter": 1})
    recorder.step(call_id, now, "key", "#")
    recorder.prompts_played(call_id, now, REGION_PAGE)
    recorder.flow_state(call_id, {"state": "prompting", "menu": "regions", "counter": 2})
    recorder.step(call_id, now, "note", "closing", "caller_hangup")
    recorder.call_ended(call_id, now, "caller_hangup")


async def measure(url: str, calls: int, per_batch: float) -> float:
    await upgrade(url)
    engine = make_engine(url)
    recorder = Recorder(engine, flush_interval=60.0)
    await recorder.start()
    started = time.process_time()
    owed = 0.0
    for n in range(calls):
        one_call(recorder, f"bench-{time.time_ns()}-{n}")
        owed += 1
        if owed >= per_batch:
            owed -= per_batch
            await recorder.flush()
    await recorder.flush()
    spent = time.process_time() - started
    await recorder.stop()
    await engine.dispose()
    return spent / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--per-batch", type=float, default=2.5)
    parser.add_argument("--postgres", default=POSTGRES_URL,
                        help="a database this benchmark drops and makes again")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        ms = asyncio.run(measure(url, args.calls, args.per_batch))
        print(f"SQLite:     {ms:.3f} ms CPU per call")
    problem = asyncio.run(fresh_postgres(args.postgres))
    if problem is not None:
        print(f"PostgreSQL: not measured ({problem})")
        return
    ms = asyncio.run(measure(args.postgres, args.calls, args.per_batch))
    print(f"PostgreSQL: {ms:.3f} ms CPU per call")


if __name__ == "__main__":
    main()
