"""What the latency benchmark watches while a load runs: the processes' CPU
and memory (from /proc) and the controller's own health (`GET /api/health`:
its calls and its event loop's lag), once a second."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.harness import Platform


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, field_name: str) -> int:
    """A /proc/PID/status memory line: VmRSS now, VmHWM the peak since start."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    asterisk_cpu_s: float
    controller_cpu_s: float
    sipp_cpu_s: float
    controller_rss_kib: int
    active_calls: int | None  # the controller's, None when health did not answer
    loop_lag_recent_ms: float | None


@dataclass
class Watch:
    platform: Platform
    asterisk_pid: int
    controller_pid: int
    samples: list[Sample] = field(default_factory=list)

    def __call__(self, sipp: subprocess.Popen[bytes]) -> None:
        status, health = self.platform.http_get("/api/health")
        ok = status == 200 and isinstance(health, dict)
        self.samples.append(Sample(
            at=time.monotonic(),
            asterisk_cpu_s=cpu_seconds(self.asterisk_pid),
            controller_cpu_s=cpu_seconds(self.controller_pid),
            sipp_cpu_s=cpu_seconds(sipp.pid),
            controller_rss_kib=memory_kib(self.controller_pid, "VmRSS"),
            active_calls=health.get("active_calls") if ok else None,
            loop_lag_recent_ms=health.get("loop_lag_recent_ms") if ok else None,
        ))

    def worst_lag_ms(self) -> float | None:
        """The worst lag the controller reported during the load (each answer
        covers its last 10 s, so once a second misses nothing)."""
        lags = [s.loop_lag_recent_ms for s in self.samples if s.loop_lag_recent_ms is not None]
        return max(lags, default=None)

    def peak_rss_kib(self) -> int:
        return max((s.controller_rss_kib for s in self.samples), default=0)

    def peak_active(self) -> int | None:
        active = [s.active_calls for s in self.samples if s.active_calls is not None]
        return max(active, default=None)

    def sipp_cpu_s(self) -> float:
        return max((s.sipp_cpu_s for s in self.samples), default=0.0)

    def steady(self, start: float, end: float) -> tuple[float, float, int] | None:
        """Asterisk's and the controller's CPU in cores, and the controller's peak
        RSS, between two moments (while all callers are in); None if too short."""
        inside = [s for s in self.samples if start <= s.at <= end]
        if len(inside) < 2:
            return None
        first, last = inside[0], inside[-1]
        wall = last.at - first.at
        return ((last.asterisk_cpu_s - first.asterisk_cpu_s) / wall,
                (last.controller_cpu_s - first.controller_cpu_s) / wall,
                max(s.controller_rss_kib for s in inside))
