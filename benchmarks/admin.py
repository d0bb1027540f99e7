"""What the admin web costs: publishing, the controllers' poll, signing in.

Runs the real HTTP side (routes, middleware, database) without Asterisk, on
a scratch SQLite file and on the local PostgreSQL, and prints the median and
worst of each over a few rounds:

- poll: one controller's check for a publication made elsewhere (runs every
  `IVR_CONFIG_POLL_SECONDS` on every controller, so it must be cheap);
- view: `GET /api/menus/{code}` (the tree, inherited and overridden);
- publish: `POST .../publish` of a draft whose top text changed (espeak-ng
  speaks the new text, the audio and the version are stored, and the new
  book is in force when the answer comes);
- publish_cached: the same text again (the render cache answers);
- restore: `POST .../versions/1/restore` (no speaking);
- sign_in: `POST /api/session` (argon2id by design takes tens of ms).

Nothing here asserts a number: it prints them.

    python -m benchmarks.admin [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from ivr.admin.auth import Role
from tests.admin_support import admin_app
from tests.conftest import _clean_postgres
from tests.web_support import PASSWORD

SCOPE = "340123"
TEXT = "肥西县：党费，请按1；组织关系，请按2。第{n}版。"


def _main_node(text: str) -> dict[str, Any]:
    return {
        "kind": "menu",
        "text": text,
        "choices": [{"key": "1", "to": "dues"}, {"key": "2", "to": "relations"}],
    }


async def _timed(work: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await work()
    return (time.perf_counter() - started) * 1000


async def measure(database_url: str, rounds: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        async with admin_app(Path(folder), database_url) as admin:
            county = await admin.as_user("bench", Role.DEPARTMENT_ADMIN, SCOPE)
            browser = await admin.client()

            async def publish(text: str) -> None:
                body = {"nodes": {"main": _main_node(text)}}
                await county.put(f"/api/menus/{SCOPE}/draft", json=body)
                response = await county.post(f"/api/menus/{SCOPE}/publish", json={})
                assert response.status == 200, await response.text()

            async def view() -> None:
                assert (await county.get(f"/api/menus/{SCOPE}")).status == 200

            async def restore() -> None:
                response = await county.post(f"/api/menus/{SCOPE}/versions/1/restore")
                assert response.status == 200, await response.text()

            async def sign_in() -> None:
                body = {"username": "bench", "password": PASSWORD}
                assert (await browser.post("/api/session", json=body)).status == 200

            await publish(TEXT.format(n=0))
            for n in range(1, rounds + 1):
                found.setdefault("poll", []).append(await _timed(admin.config.refresh))
                found.setdefault("view", []).append(await _timed(view))
                text = TEXT.format(n=f"{n}-{time.time_ns()}")  # never spoken before
                found.setdefault("publish", []).append(await _timed(partial(publish, text)))
                again = partial(publish, TEXT.format(n=0))
                found.setdefault("publish_cached", []).append(await _timed(again))
                found.setdefault("restore", []).append(await _timed(restore))
                found.setdefault("sign_in", []).append(await _timed(sign_in))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{'':14} {'database':>10} {'median ms':>10} {'worst ms':>10}")
    with tempfile.TemporaryDirectory() as folder:
        sqlite = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        _print("sqlite", asyncio.run(measure(sqlite, args.rounds)))
    _print("postgresql", asyncio.run(_on_postgres(args.rounds)))


async def _on_postgres(rounds: int) -> dict[str, list[float]]:
    # The tests' database, emptied and held as a test holds it.
    async for url in _clean_postgres():
        return await measure(url, rounds)
    raise AssertionError("no PostgreSQL")


def _print(database: str, found: dict[str, list[float]]) -> None:
    for what, times in found.items():
        print(f"{what:14} {database:>10} {statistics.median(times):10.1f} {max(times):10.1f}")


if __name__ == "__main__":
    main()
