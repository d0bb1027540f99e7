"""How fast the full directory places calls, and how much memory it takes.

The national directory (routing/departments.csv) and its mobile ranges are
imported into a scratch SQLite database, then a fresh child process loads the
directory from there as a controller does, without phonenumbers in memory:

- memory: what tracemalloc still holds after a load (the Directory and its
  arrays; what the load freed is not counted, its peak is shown apart), and
  the growth of the process's RSS over another load;
- speed: `resolve` over a mix of calls (landlines, mobiles, an area code
  dialed before 12371, withheld numbers, a carrier origin), per kind and all
  together, the best of three passes.

Nothing here asserts a number: it prints them.

    python -m benchmarks.directory [--calls 200000] [--seed 12371]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.directory import store as stored
from ivr.directory.routing import Directory

DEFAULT_CALLS = 200_000
DEFAULT_SEED = 12371
REPEATS = 3
# (kind, share of the calls)
MIX = (("landline", 0.40), ("mobile", 0.40), ("dialed", 0.10), ("withheld", 0.05), ("origin", 0.05))
_LANDLINE_SHAPES = (
    "{code}{number}",
    "+86{bare}{number}",
    "0086 {bare} {number}",
    "{code}-{number}",
)
_MOBILE_SHAPES = ("{number}", "+86{number}", "86 {number}", "0{number}")
_WITHHELD = ("anonymous", "", "unknown", "sip:anonymous@anonymous.invalid")

Call = tuple[str, str, str]  # caller, dialed, origin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--measure", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.calls, args.seed))))
        return 0
    with tempfile.TemporaryDirectory(prefix="ivr-bench-directory-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'ivr.sqlite3'}"
        asyncio.run(seed(url))
        child = [sys.executable, "-m", "benchmarks.directory", "--measure", url]
        child += ["--calls", str(args.calls), "--seed", str(args.seed)]
        output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
    print(table(json.loads(output)))
    return 0


async def seed(url: str) -> None:
    """The routing/ directory and its mobile ranges, in a new database."""
    from ivr.cli.serve import database_directory
    from ivr.settings import Settings

    await database_directory(Settings(database_url=url))


async def measure(url: str, calls: int, seed_value: int) -> dict[str, object]:
    """Load the directory twice: once for RSS, once under tracemalloc (whose own
    bookkeeping would swell RSS); the engine is warmed up first."""
    await upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        await load(sessions)  # connection, dialect, statement cache
        gc.collect()
        rss_before = rss_kib()
        directory = await load(sessions)
        gc.collect()
        rss_delta = rss_kib() - rss_before
        tracemalloc.start()
        traced = await load(sessions)
        gc.collect()
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del traced
    finally:
        await engine.dispose()
    mixed = mix(directory, calls, random.Random(seed_value))
    return {
        "departments": len(directory),
        "mobile_ranges": directory.mobile_range_count(),
        "tracemalloc_held_kib": held // 1024,
        "tracemalloc_peak_kib": peak // 1024,
        "rss_delta_kib": rss_delta,
        "speed": {kind: speed(directory, batch) for kind, batch in mixed.items()},
    }


async def load(sessions: async_sessionmaker[AsyncSession]) -> Directory:
    async with sessions() as session:
        directory = await stored.load_directory(session)
    if directory is None:
        raise SystemExit("no directory in the scratch database")
    return directory


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def mix(directory: Directory, calls: int, rng: random.Random) -> dict[str, list[Call]]:
    """The calls of each kind, and all of them shuffled together as "all"."""
    makers: dict[str, Callable[[], Call]] = {
        "landline": lambda: (landline(directory, rng), "12371", ""),
        "mobile": lambda: (mobile(rng), "12371", ""),
        "dialed": lambda: (mobile(rng), rng.choice(directory.area_codes()) + " 12371", ""),
        "withheld": lambda: (rng.choice(_WITHHELD), "12371", ""),
        "origin": lambda: ("", "12371", rng.choice(directory.area_codes()).removeprefix("0")),
    }
    batches = {kind: [makers[kind]() for _ in range(int(calls * share))] for kind, share in MIX}
    everything = [call for batch in batches.values() for call in batch]
    rng.shuffle(everything)
    return {**batches, "all": everything}


def landline(directory: Directory, rng: random.Random) -> str:
    code = rng.choice(directory.area_codes())
    number = "".join(rng.choices("0123456789", k=rng.choice((7, 8))))
    return rng.choice(_LANDLINE_SHAPES).format(code=code, bare=code[1:], number=number)


def mobile(rng: random.Random) -> str:
    number = f"1{rng.choice('3456789')}" + "".join(rng.choices("0123456789", k=9))
    return rng.choice(_MOBILE_SHAPES).format(number=number)


def speed(directory: Directory, calls: list[Call]) -> dict[str, float]:
    """The best of `REPEATS` passes over `calls`, as timeit does: the others met noise."""
    elapsed = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        placed = sum(directory.resolve(*call).rule != "default" for call in calls)
        elapsed = min(elapsed, time.perf_counter() - started)
    return {
        "calls": len(calls),
        "per_second": len(calls) / elapsed,
        "us_per_call": elapsed / len(calls) * 1e6,
        "placed": placed / len(calls),
    }


def table(found: dict[str, object]) -> str:
    speeds = found["speed"]
    assert isinstance(speeds, dict)
    lines = [
        f"directory: {found['departments']} departments, {found['mobile_ranges']} mobile ranges",
        f"memory: tracemalloc {found['tracemalloc_held_kib']} KiB held after the load "
        f"(peak {found['tracemalloc_peak_kib']} KiB), RSS +{found['rss_delta_kib']} KiB",
        "",
        "| calls | number | lookups/s | µs per lookup | placed by a rule |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind, row in speeds.items():
        lines.append(
            f"| {kind} | {row['calls']} | {row['per_second']:,.0f} | "
            f"{row['us_per_call']:.1f} | {row['placed']:.0%} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
