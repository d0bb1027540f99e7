"""The caller's time (issue 14): how long a caller listens, measured on the built audio.

For every department of routing/departments.csv, in working hours (the desk
answers) and after hours (with the service menus of routing/menus.yaml,
each department's effective menu), the real call flow is driven on a clock
whose seconds are the built prompts' durations (their manifest.json):

- first choice: from the answer to the end of the first clip saying a digit key;
- to self-service (after hours) or to the queue (in hours): pressing one key
  as soon as it is said (the best of the keys said in the first 10 s), and
  pressing nothing;
- the longest page a caller can hear while choosing at the department (its
  own pages and its service menu's levels), and the longest information item;
  the region menu's pages once.

`benchmarks/prompt_timing.py` and `benchmarks/prompt_pages.py` say how. It is
a measure, not a test: it exits 0 whenever it ran, and says whether the
targets are met. Build the prompts first (`ivr prompts build`).

    python -m benchmarks.prompts [--prompts DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.prompt_pages import Explorer, Page
from benchmarks.prompt_report import Measured, ServiceResult, Targets, report
from benchmarks.prompt_timing import Clips, MissingPrompt, Timing, World
from ivr.audio.catalog import MANIFEST, read_manifest
from ivr.call.flow import FlowConfig, Service
from ivr.call.guide import Guide
from ivr.directory.departments import Department
from ivr.directory.routing import Directory
from ivr.errors import ConfigError
from ivr.publish import menus
from ivr.settings import REPO_ROOT, Settings

DEPARTMENTS_CSV = REPO_ROOT / "routing" / "departments.csv"
# In working hours the desk answers; after hours, the service menu.
SERVICES: tuple[Service, ...] = ("operators", "after_hours")
NOT_RUN = 2


def measure(
    world: World, departments: Iterable[Department], service: Service
) -> ServiceResult:
    """Every department's numbers for `service`; the shared menus are walked once."""
    timing, explorer = Timing(world, service), Explorer(world, service)
    reached = [(d, timing.times(d.code), explorer.department(d.code)) for d in departments]
    measured = [
        Measured(d.code, d.name, times, explorer.longest_page(reach), explorer.longest_info(reach))
        for d, times, reach in reached
    ]
    return ServiceResult(service, measured, explorer.region_pages())


def load_world(prompts: Path, settings: Settings) -> tuple[World, Directory]:
    """The directory, its guide and service menus, and the built prompts' clips."""
    clips = Clips.from_manifest(read_manifest(prompts / MANIFEST))
    directory = Directory.load(DEPARTMENTS_CSV)
    book = menus.load(settings.menus_file, directory)
    return World(Guide(directory), clips, book.effective, FlowConfig()), directory


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--prompts", type=Path, metavar="DIR", help="the built prompts "
                        "(default: the prompt build directory of the settings)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every number here")
    args = parser.parse_args(argv)
    settings = Settings()
    prompts: Path = args.prompts or settings.prompt_build_dir
    if not (prompts / MANIFEST).is_file():
        print(f"no {MANIFEST} in {prompts}: build the prompts first with `ivr prompts build` "
              f"(it writes to {settings.prompt_build_dir}, under IVR_STATE_DIR), "
              "or give the built prompts with --prompts DIR", file=sys.stderr)
        return NOT_RUN
    started = time.perf_counter()
    try:
        world, directory = load_world(prompts, settings)
        results = [measure(world, directory, service) for service in SERVICES]
    except ConfigError as exc:
        print(f"cannot measure: {exc.message}", file=sys.stderr)
        return NOT_RUN
    except MissingPrompt as exc:
        print(f"the call flow plays prompt {exc.prompt_id!r}, which {prompts / MANIFEST} "
              "does not have: build the prompts again (`ivr prompts build`)", file=sys.stderr)
        return NOT_RUN
    elapsed = time.perf_counter() - started
    targets = Targets()
    print(report(results, targets, elapsed, prompts))
    if args.json:
        args.json.write_text(json.dumps(as_json(results, targets, prompts), ensure_ascii=False,
                                        indent=1) + "\n", encoding="utf-8")
        print(f"every number: {args.json}")
    return 0


def as_json(results: Sequence[ServiceResult], targets: Targets, prompts: Path) -> dict[str, Any]:
    """Every number; a time never reached is null."""
    return {
        "prompts": str(prompts),
        "targets": targets.as_json(),
        "targets_met": targets.met(results),
        "services": {
            result.service: {
                "region_pages": [page_json(page) for page in result.region_pages],
                "departments": [department_json(m, targets) for m in result.departments],
            }
            for result in results
        },
    }


def department_json(measured: Measured, targets: Targets) -> dict[str, Any]:
    times = measured.times
    return {
        "code": measured.code,
        "name": measured.name,
        "first_choice": seconds(times.first_choice),
        "to_goal_by_key": seconds(times.by_key),
        "best_key": times.best_key,
        "to_goal_by_each_key": {key: seconds(value) for key, value in times.keys.items()},
        "to_goal_by_silence": seconds(times.by_silence),
        "longest_page": page_json(measured.page) if measured.page else None,
        "longest_info": page_json(measured.info) if measured.info else None,
        "meets": measured.meets(targets),
    }


def page_json(page: Page) -> dict[str, Any]:
    return {"where": page.where, "seconds": seconds(page.seconds), "prompts": list(page.prompts)}


def seconds(value: float) -> float | None:
    return None if math.isinf(value) else round(value, 3)


if __name__ == "__main__":
    raise SystemExit(main())
