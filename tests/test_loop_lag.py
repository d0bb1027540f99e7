"""The event-loop watchdog: a loop blocked on purpose must be reported."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import pytest

from ivr.loop_lag import LoopLag

BLOCK_S = 0.3  # how long the test holds the loop; well over the 100 ms warning


async def test_a_blocked_loop_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ivr.loop_lag")
    watchdog = LoopLag(warn_ms=100)
    task = asyncio.create_task(watchdog.run())
    await asyncio.sleep(0)  # the watchdog is now asleep, waiting for its tick
    try:
        time.sleep(BLOCK_S)  # noqa: ASYNC251 - blocking the loop is the point
        # The watchdog's wake-up is overdue, ours is a tick later: it runs first.
        await asyncio.sleep(watchdog.tick_s)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "event loop lagged" in warnings[0].getMessage()
    assert watchdog.worst_ms >= 100
    assert watchdog.recent_worst_ms() >= 100


def test_lag_under_the_threshold_is_kept_but_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watchdog = LoopLag(warn_ms=100)
    watchdog.observe(40.0, now=1.0)
    watchdog.observe(100.0, now=2.0)
    assert watchdog.worst_ms == 100.0 and watchdog.warnings == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_recent_worst_forgets_old_lags_and_the_worst_does_not() -> None:
    watchdog = LoopLag(warn_ms=1000, recent_s=10.0)
    watchdog.observe(500.0, now=0.0)
    watchdog.observe(20.0, now=5.0)
    assert watchdog.recent_worst_ms() == 500.0
    watchdog.observe(30.0, now=10.5)
    assert watchdog.recent_worst_ms() == 30.0
    assert watchdog.worst_ms == 500.0
