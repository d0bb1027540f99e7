"""What `python -m benchmarks.prompts` found, against the targets of issue 14, as tables."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.prompt_pages import Page
from benchmarks.prompt_timing import SOON, Times
from ivr.call.flow import Service

WORST = 10  # departments listed under each measure
GOALS: dict[str, str] = {"operators": "to the queue", "after_hours": "to self-service"}
TITLES: dict[str, str] = {
    "operators": "in working hours (the desk answers)",
    "after_hours": "after hours (the service menus of routing/menus.yaml)",
}


@dataclass(frozen=True)
class Targets:
    """Seconds a caller should wait at most (issue 14)."""

    first_choice: float = 10.0  # until the first key is said
    to_goal: float = 15.0  # to self-service or the queue, with one key said in SOON s
    page: float = 15.0  # any page said while choosing

    def as_json(self) -> dict[str, float]:
        return {**asdict(self), "keys_said_within": SOON}

    def met(self, results: Sequence[ServiceResult]) -> bool:
        return all(
            all(m.meets(self).values()) for result in results for m in result.departments
        ) and all(p.seconds <= self.page for result in results for p in result.region_pages)


@dataclass(frozen=True)
class Measured:
    """One department's numbers for one service."""

    code: str
    name: str
    times: Times
    page: Page | None  # its longest page
    info: Page | None  # its longest information item

    def meets(self, targets: Targets) -> dict[str, bool]:
        page = self.page.seconds if self.page else 0.0
        return {
            "first_choice": self.times.first_choice <= targets.first_choice,
            "to_goal": self.times.by_key <= targets.to_goal,
            "longest_page": page <= targets.page,
        }


@dataclass(frozen=True)
class ServiceResult:
    service: Service
    departments: list[Measured]
    region_pages: list[Page]


@dataclass(frozen=True)
class Measure:
    """One column of numbers: its name, its target (if any), and how to read it."""

    name: str
    target: str  # the key in `Measured.meets`, or ""
    value: Callable[[Measured], float | None]
    detail: Callable[[Measured], str]


def measures(goal: str) -> list[Measure]:
    def page_where(page: Page | None) -> str:
        return page.where if page else ""

    return [
        Measure("first choice", "first_choice", lambda m: m.times.first_choice, lambda _: ""),
        Measure(
            f"{goal}, one key said in the first {SOON:g} s", "to_goal",
            lambda m: m.times.by_key, lambda m: which_key(m.times),
        ),
        Measure(f"{goal}, pressing nothing", "", lambda m: m.times.by_silence, lambda _: ""),
        Measure(
            "longest page", "longest_page", lambda m: m.page.seconds if m.page else None,
            lambda m: page_where(m.page),
        ),
        Measure(
            "longest information item", "", lambda m: m.info.seconds if m.info else None,
            lambda m: page_where(m.info),
        ),
    ]


def which_key(times: Times) -> str:
    if times.best_key is not None:
        return f"key {times.best_key}"
    if not times.keys:
        return "no key said in time"
    return f"key {', '.join(times.keys)} said in time, none gets there"


def report(
    results: Sequence[ServiceResult], targets: Targets, elapsed: float, prompts: Path
) -> str:
    count = len(results[0].departments) if results else 0
    lines = [
        f"The caller's time, on the built prompts of {prompts}: {count} departments, "
        f"{len(results)} services, measured in {elapsed:.1f} s",
    ]
    names = {m.code: m.name for result in results for m in result.departments}
    for result in results:
        lines += ["", *service_table(result, targets), "", *regions(result, targets, names)]
    for result in results:
        for measure in measures(GOALS[result.service]):
            lines += ["", *worst(result, measure)]
    met = targets.met(results)
    lines += [
        "",
        f"targets met: {'yes' if met else 'no'} (first choice <= {targets.first_choice:g} s; "
        f"{'/'.join(GOALS.values())} <= {targets.to_goal:g} s with one key said in the first "
        f"{SOON:g} s; no page > {targets.page:g} s; every department, both services)",
    ]
    return "\n".join(lines)


def service_table(result: ServiceResult, targets: Targets) -> list[str]:
    limits = {"first_choice": targets.first_choice, "to_goal": targets.to_goal,
              "longest_page": targets.page}
    departments = result.departments
    lines = [
        f"## {TITLES[result.service]}, {len(departments)} departments (seconds)",
        "",
        "| measure | n | min | median | p90 | p99 | max | target | departments meeting it |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for measure in measures(GOALS[result.service]):
        values = [v for v in map(measure.value, departments) if v is not None]
        target, meeting = "", ""
        if measure.target:
            target = f"<= {limits[measure.target]:g}"
            meeting = f"{sum(m.meets(targets)[measure.target] for m in departments)}"
        row = f"{measure.name} | {len(values)} | {spread(values)} | {target} | {meeting}"
        lines.append(f"| {row} |")
    every = sum(all(m.meets(targets).values()) for m in departments)
    lines.append(f"| all three targets | | | | | | | | {every} of {len(departments)} |")
    return lines


def regions(result: ServiceResult, targets: Targets, names: dict[str, str]) -> list[str]:
    pages = result.region_pages
    if not pages:
        return ["region menu: not reached"]
    longest = max(pages, key=lambda p: p.seconds)
    over = sum(p.seconds > targets.page for p in pages)
    code = longest.where.rsplit(" ", 1)[-1]
    named = f": {names[code]}" if code in names else ""
    return [
        f"region menu, measured once: {len(pages)} pages, longest {fmt(longest.seconds)} s "
        f"({longest.where}{named}), {over} over {targets.page:g} s; "
        f"median {fmt(percentile(sorted(p.seconds for p in pages), 0.5))} s",
    ]


def worst(result: ServiceResult, measure: Measure) -> list[str]:
    rows = [(v, m) for m in result.departments if (v := measure.value(m)) is not None]
    rows.sort(key=lambda row: (-row[0], row[1].code))
    lines = [
        f"### worst {WORST}, {TITLES[result.service].split(' (')[0]}: {measure.name}",
        "",
        "| seconds | code | department | |",
        "| ---: | --- | --- | --- |",
    ]
    if not rows:
        return [*lines[:2], "none reachable"]
    for value, m in rows[:WORST]:
        lines.append(f"| {fmt(value)} | {m.code} | {m.name} | {measure.detail(m)} |")
    return lines


def spread(values: Sequence[float]) -> str:
    """min | median | p90 | p99 | max, as table cells."""
    if not values:
        return " | ".join(["-"] * 5)
    ordered = sorted(values)
    points = [ordered[0], *(percentile(ordered, q) for q in (0.5, 0.9, 0.99)), ordered[-1]]
    return " | ".join(fmt(value) for value in points)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value at least `q` of them do not exceed."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def fmt(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.1f}"
