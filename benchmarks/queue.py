"""How the operator queue's database work scales with many callers in line.

The dispatcher of every controller, every tick, claims operators for its
departments (`ivr.desk.line_store.claim`, one transaction each) and reads everyone's
place in line (`positions`). This fills a scratch database with `--callers`
callers in `--departments` departments (the design's 600 callers in menus,
all of them waiting) and `--operators` operators, then times:

- joining: one transaction per caller, as callers arrive;
- a tick with nobody free: one claim per department (each finds no
  operator), and the positions of every caller;
- serving: claims until every operator rings, then answers and hang-ups.

On SQLite (a file, as `make run` uses) and on PostgreSQL, if reachable.
Nothing here asserts a number: it prints them.

    python -m benchmarks.queue [--callers 600] [--departments 100] [--operators 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.scratch import fresh_postgres
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.desk import line_store as lines
from ivr.desk import operator_store as stored
from ivr.directory.routing import Directory
from ivr.settings import REPO_ROOT

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/ivr_bench_queue"
NODE = "bench"
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
WRAP_UP = timedelta(seconds=10)
Sessions = async_sessionmaker[AsyncSession]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=600)
    parser.add_argument("--departments", type=int, default=100)
    parser.add_argument("--operators", type=int, default=200)
    args = parser.parse_args(argv)
    directory = Directory.load(REPO_ROOT / "routing" / "departments.csv")
    codes = [d.code for d in directory if d.level == "county"][: args.departments]
    print(
        f"{args.callers} callers in {len(codes)} departments, {args.operators} operators\n"
    )
    with tempfile.TemporaryDirectory() as work:
        urls = {"sqlite": f"sqlite+aiosqlite:///{Path(work) / 'queue.sqlite3'}"}
        if asyncio.run(_postgres_ready()):
            urls["postgresql"] = POSTGRES
        for name, url in urls.items():
            print(name)
            asyncio.run(_measure(url, directory, codes, args.callers, args.operators))
    return 0


async def _postgres_ready() -> bool:
    if await fresh_postgres(POSTGRES) is not None:
        print("(PostgreSQL not reachable: SQLite only)")
        return False
    return True


async def _measure(
    url: str, directory: Directory, codes: list[str], callers: int, operators: int
) -> None:
    await upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        for n in range(operators):
            async with sessions() as session, session.begin():
                await stored.add_operator(
                    session, directory, f"op{n}", name=f"op{n}", endpoint=f"op{n}",
                    departments=[codes[n % len(codes)]], at=T0,
                )
        joins = []
        for n in range(callers):
            started = time.perf_counter()
            async with sessions() as session, session.begin():
                moment = T0 + timedelta(milliseconds=n)
                await lines.join(session, f"c{n}", codes[n % len(codes)], NODE, "138", moment)
            joins.append(time.perf_counter() - started)
        _report("join (one caller)", joins)

        at = T0 + timedelta(minutes=1)
        idle = await _tick(sessions, codes, at)
        # The desk skips these when its staff list shows nobody free.
        _report("claim with nobody free, per department", idle, per=len(codes))
        started = time.perf_counter()
        async with sessions() as session:
            places = await lines.positions(session, codes)
        print(f"  positions of {len(places)} callers: {_ms(time.perf_counter() - started)}")

        for n in range(operators):
            async with sessions() as session, session.begin():
                await stored.act(session, f"op{n}", "sign_in", at, reason=None)
        started = time.perf_counter()
        claimed = 0
        for code in codes:
            while True:
                async with sessions() as session, session.begin():
                    claim = await lines.claim(session, code, NODE, at, WRAP_UP)
                if claim is None:
                    break
                claimed += 1
        took = time.perf_counter() - started
        print(
            f"  serving: {claimed} operators rung in {_ms(took)} "
            f"({claimed / took:.0f} claims/s)"
        )
    finally:
        await engine.dispose()
    print()


async def _tick(sessions: Sessions, codes: list[str], at: datetime) -> list[float]:
    took = []
    for code in codes:
        started = time.perf_counter()
        async with sessions() as session, session.begin():
            await lines.claim(session, code, NODE, at, WRAP_UP)
        took.append(time.perf_counter() - started)
    return took


def _report(what: str, seconds: list[float], per: int = 1) -> None:
    total = sum(seconds)
    print(
        f"  {what}: median {_ms(statistics.median(seconds))}, "
        f"p95 {_ms(sorted(seconds)[int(len(seconds) * 0.95) - 1])}"
        + (f", whole tick {_ms(total)}" if per > 1 else "")
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


if __name__ == "__main__":
    raise SystemExit(main())
