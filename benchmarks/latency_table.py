"""The latency benchmark's one table: per load, the plain dialplan and the
controller side by side, from the same run. Markdown, to paste into the README."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass
class PathRun:
    """One path (plain dialplan or controller) under one load."""

    path: str  # "plain" or "controller"
    rate: float
    hold_s: float
    calls: int
    failed: int
    answer_ms: list[float]
    first_prompt_ms: list[float]
    asterisk_cpu_s: float
    controller_cpu_s: float
    sipp_cpu_s: float
    controller_peak_rss_kib: int
    worst_loop_lag_ms: float | None
    peak_active_calls: int | None
    # While all callers are in (the crowd run): cores and the controller's RSS.
    steady_asterisk_cores: float | None = None
    steady_controller_cores: float | None = None
    steady_controller_rss_kib: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **{k: v for k, v in vars(self).items() if k not in ("answer_ms", "first_prompt_ms")},
            "answer": spread(self.answer_ms),
            "first_prompt": spread(self.first_prompt_ms),
            "asterisk_cpu_ms_per_call": per_call(self.asterisk_cpu_s, self.calls),
            "controller_cpu_ms_per_call": per_call(self.controller_cpu_s, self.calls),
            "sipp_cpu_ms_per_call": per_call(self.sipp_cpu_s, self.calls),
        }


def per_call(cpu_s: float, calls: int) -> float:
    return cpu_s * 1000 / calls if calls else 0.0


def spread(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "median": None, "p95": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return {"n": len(ordered), "median": statistics.median(ordered), "p95": p95}


def _ms(value: float | int | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _pair(plain: list[float], controller: list[float]) -> tuple[str, str]:
    a, b = spread(plain), spread(controller)
    return (f"{_ms(a['median'])} / {_ms(a['p95'])} · {_ms(b['median'])} / {_ms(b['p95'])}",
            _compare(a["median"], b["median"]))


def _compare(plain: float | int | None, controller: float | int | None) -> str:
    """Controller over plain, and the difference in ms."""
    if plain is None or controller is None:
        return "-"
    ratio = f"×{controller / plain:.1f}" if plain > 0 else "×-"
    return f"{ratio}, {controller - plain:+.0f} ms"


HEADER = (
    "| load | failed plain · ctl | answer med / p95 ms, plain · ctl | ctl vs plain | "
    "first prompt med / p95 ms, plain · ctl | ctl vs plain | "
    "CPU/call ms: Asterisk plain · ctl, controller | controller peak RSS | worst loop lag | "
    "all in: controller cores, RSS |"
)


def row(plain: PathRun, ctl: PathRun) -> str:
    at_once = ctl.rate * ctl.hold_s
    load = f"{ctl.rate:g}/s × {ctl.hold_s:g} s (~{at_once:.0f} at once), {ctl.calls} calls"
    answer, answer_cmp = _pair(plain.answer_ms, ctl.answer_ms)
    prompt, prompt_cmp = _pair(plain.first_prompt_ms, ctl.first_prompt_ms)
    cpu = (f"{per_call(plain.asterisk_cpu_s, plain.calls):.1f} · "
           f"{per_call(ctl.asterisk_cpu_s, ctl.calls):.1f}, "
           f"{per_call(ctl.controller_cpu_s, ctl.calls):.1f}")
    crowd = "-"
    if ctl.steady_controller_cores is not None and ctl.steady_controller_rss_kib is not None:
        crowd = f"{ctl.steady_controller_cores:.2f}, {ctl.steady_controller_rss_kib / 1024:.0f} MiB"
    cells = [
        load, f"{plain.failed} · {ctl.failed}", answer, answer_cmp, prompt, prompt_cmp, cpu,
        f"{ctl.controller_peak_rss_kib / 1024:.0f} MiB", f"{_ms(ctl.worst_loop_lag_ms)} ms",
        crowd,
    ]
    return "| " + " | ".join(cells) + " |"


def table(pairs: list[tuple[PathRun, PathRun]]) -> str:
    separator = "|" + " --- |" * (HEADER.count("|") - 1)
    return "\n".join([HEADER, separator, *(row(plain, ctl) for plain, ctl in pairs)])
