"""`ivr directory build|import|export|stats`: the department directory from the command line.

- `build` rewrites routing/ from the pinned packages (departments.csv,
  sources.yaml, build-report.md);
- `import [FILE]` checks a CSV, computes its mobile ranges and replaces the
  directory in the database (running controllers keep theirs until restarted);
- `export [FILE|-]` writes the database's directory as CSV, byte for byte
  what `import` read when it came from `build`;
- `stats [--json]` counts what the database holds and lists the gaps.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.db.migrate import migrated_session
from ivr.directory.departments import MobileRange, csv_text, prefecture_level
from ivr.directory.routing import Directory
from ivr.errors import NotFound
from ivr.settings import REPO_ROOT, Settings

if TYPE_CHECKING:

    from ivr.directory.store import ImportRecord

ROUTING_DIR = REPO_ROOT / "routing"
DEPARTMENTS_CSV = ROUTING_DIR / "departments.csv"
STDOUT = "-"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `directory` command and its actions, on the `ivr` subparsers `sub`."""
    directory = sub.add_parser("directory", help="the department directory: build, import, ...")
    actions = directory.add_subparsers(required=True, metavar="ACTION")
    build = actions.add_parser("build", help="rebuild routing/ from the pinned packages")
    build.add_argument("--out", type=Path, default=ROUTING_DIR, help="folder (default routing/)")
    build.set_defaults(handler=_build)
    load = actions.add_parser("import", help="check a CSV and make it the database's directory")
    load.add_argument("file", nargs="?", type=Path, default=DEPARTMENTS_CSV)
    load.set_defaults(handler=_import)
    export = actions.add_parser("export", help="write the database's directory as CSV")
    export.add_argument("file", nargs="?", default=STDOUT, help="file, or - for standard output")
    export.set_defaults(handler=_export)
    stats = actions.add_parser("stats", help="counts and gaps of the database's directory")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=_stats)


def _build(_settings: Settings, args: argparse.Namespace) -> int:
    from ivr.directory.build.builder import DEPARTMENTS_FILE, REPORT_FILE, SOURCES_FILE, build

    built = build(args.out, date.today())
    levels = Counter[str](d.level for d in built.departments)
    print(
        f"{len(built.departments)} departments ({_levels_text(levels)}), "
        f"{len(built.directory.area_codes())} area codes, {len(built.ranges)} mobile ranges"
    )
    for name in (DEPARTMENTS_FILE, SOURCES_FILE, REPORT_FILE):
        print(f"wrote {args.out / name}")
    return 0


def _import(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.directory.build.builder import for_import

    directory, ranges, packages = for_import(args.file)
    record = asyncio.run(_store(settings, directory, ranges, packages))
    print(
        f"imported {record.source}: {record.departments} departments, "
        f"{record.area_codes} area codes, {record.mobile_ranges} mobile ranges "
        f"({', '.join(f'{name} {number}' for name, number in record.packages.items())})"
    )
    print("running controllers keep the directory they loaded until they restart")
    return 0


async def _store(
    settings: Settings,
    directory: Directory,
    ranges: list[MobileRange],
    packages: dict[str, str],
) -> ImportRecord:
    from ivr.directory.store import import_directory

    async with migrated_session(settings.database_url) as session, session.begin():
        return await import_directory(session, directory, ranges, packages)


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.directory.store import export_rows

    async def rows() -> list[tuple[str, ...]]:
        async with migrated_session(settings.database_url) as session:
            return await export_rows(session)

    found = asyncio.run(rows())
    if not found:
        raise NotFound("the database has no directory: run `ivr directory import` first")
    data = csv_text(found).encode()
    if args.file == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(args.file).write_bytes(data)
        print(f"wrote {len(found)} departments to {args.file}", file=sys.stderr)
    return 0


def _stats(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.cli.serve import load_directory

    found = stats(load_directory(settings))
    print(json.dumps(found, ensure_ascii=False, indent=2) if args.json else stats_text(found))
    return 0


LEVELS = ("central", "province", "city", "county")


def stats(directory: Directory) -> dict[str, Any]:
    """Counts by level, area codes, mobile ranges, and every gap."""
    levels = Counter[str](d.level for d in directory)
    gaps = [
        {"code": d.code, "name": d.name, "gap": "no area code"}
        for d in directory
        if d.area_code is None and d.level in ("city", "county")
    ]
    reached = {r.department for r in directory.mobile_ranges()}
    gaps += [
        {"code": d.code, "name": d.name, "gap": "no mobile prefix"}
        for d in directory
        if prefecture_level(d) and d.code not in reached
    ]
    # The levels' counts sit at the top, where a script looks for them first.
    return {
        **{level: levels[level] for level in LEVELS},
        "departments": len(directory),
        "area_codes": len(directory.area_codes()),
        "mobile_ranges": directory.mobile_range_count(),
        "gaps": sorted(gaps, key=lambda gap: (gap["gap"], gap["code"])),
    }


def stats_text(found: dict[str, Any]) -> str:
    gaps: list[dict[str, str]] = found["gaps"]
    kinds = Counter(gap["gap"] for gap in gaps)
    lines = [
        f"departments:   {found['departments']} ({_levels_text(found)})",
        f"area codes:    {found['area_codes']}",
        f"mobile ranges: {found['mobile_ranges']}",
        f"gaps:          {len(gaps)} ("
        + (", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none")
        + ")",
    ]
    lines += [f"  {gap['code']} {gap['name']}: {gap['gap']}" for gap in gaps]
    return "\n".join(lines)


def _levels_text(levels: Mapping[str, int]) -> str:
    return ", ".join(f"{levels[level]} {level}" for level in LEVELS)
