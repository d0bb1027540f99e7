"""How late the controller's event loop runs: a watchdog for its one thread.

Every call, the ARI event stream and the admin web share one asyncio loop, so
anything that holds the loop (a synchronous query, a large JSON document, a
burst of events) delays every caller at once, and nothing else shows it. A
small task sleeps `TICK_S` and measures how much later than asked it wakes:
that lateness is the loop's lag. Past `IVR_LOOP_LAG_WARN_MS` it logs a
WARNING; it keeps the worst lag since start and the worst of the last
`RECENT_S` (for `GET /api/health`, which the latency benchmark polls).

Each measurement is also observed in `ivr_event_loop_lag_seconds`
(`ivr/metrics.py`). Costs 20 wake-ups a second, nothing per call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from ivr.metrics import Metrics

log = logging.getLogger(__name__)

TICK_S = 0.05  # how long the watchdog sleeps between measurements
RECENT_S = 10.0  # how far back `recent_worst_ms` looks


class LoopLag:
    """The event loop's lag, measured by `run()` (a task for the loop's lifetime)."""

    def __init__(
        self,
        warn_ms: float,
        tick_s: float = TICK_S,
        recent_s: float = RECENT_S,
        metrics: Metrics | None = None,
    ) -> None:
        self.warn_ms = warn_ms
        self.tick_s = tick_s
        self.recent_s = recent_s
        self.worst_ms = 0.0
        self.warnings = 0
        self._recent: deque[tuple[float, float]] = deque()  # (loop time, lag ms)
        self._histogram = (metrics if metrics is not None else Metrics()).loop_lag

    def observe(self, lag_ms: float, now: float) -> None:
        """One measurement, `lag_ms` late, taken at loop time `now`."""
        self.worst_ms = max(self.worst_ms, lag_ms)
        self._histogram.observe(lag_ms / 1000)
        self._recent.append((now, lag_ms))
        while self._recent and self._recent[0][0] < now - self.recent_s:
            self._recent.popleft()
        if lag_ms > self.warn_ms:
            self.warnings += 1
            log.warning(
                "event loop lagged %.0f ms (warning above %.0f ms; worst since start %.0f ms)",
                lag_ms,
                self.warn_ms,
                self.worst_ms,
            )

    def recent_worst_ms(self) -> float:
        """The worst lag of the last `recent_s` seconds of measurements."""
        return max((lag for _, lag in self._recent), default=0.0)

    async def run(self) -> None:
        """Measure until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + self.tick_s
            await asyncio.sleep(self.tick_s)
            woke = loop.time()
            self.observe(max(0.0, (woke - asked) * 1000), woke)
