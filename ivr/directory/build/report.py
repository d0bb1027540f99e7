"""routing/build-report.md: every gap the packages leave and every rule the build applied.

The build adds lines to sections as it decides; the report is written in the
order of `SECTIONS`, an empty section saying so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ivr.directory.build import divisions as div
from ivr.directory.departments import prefecture_level
from ivr.directory.routing import Directory

# The report's sections, in this order.
LEFT_OUT = "Left out"
NAMES = "Department names"
SHARED = "Area codes: shared"
ANSWERS = "Area codes: who answers"
RULES = "Area codes: descriptions matched by a rule"
UNMATCHED = "Area codes: places matching no division"
KEYS = "Area codes: keys of phonenumbers not used as they are"
GAPS = "Departments without an area code"
MOBILE = "Mobile prefixes"
TIMEZONES = "Timezones"
SECTIONS = (LEFT_OUT, NAMES, SHARED, ANSWERS, RULES, UNMATCHED, KEYS, GAPS, MOBILE, TIMEZONES)


@dataclass
class Report:
    """The build report: lines by section."""

    sections: dict[str, list[str]] = field(
        default_factory=lambda: {title: [] for title in SECTIONS}
    )

    def add(self, section: str, *lines: str) -> None:
        self.sections[section].extend(lines)

    def markdown(self, packages: Mapping[str, str]) -> str:
        used = ", ".join(f"{name} {number}" for name, number in packages.items())
        out = [
            "# Directory build report",
            "",
            f"Written by `ivr directory build` from {used}. Every gap the packages leave and "
            "every explicit rule applied is listed here; nothing is guessed.",
        ]
        for title, lines in self.sections.items():
            out += ["", f"## {title}", "", *(lines or ["None."])]
        return "\n".join(out) + "\n"


def bullets(lines: Iterable[str]) -> list[str]:
    return [f"- {line}" for line in lines]


def excluded(data: Mapping[str, str], report: Report) -> None:
    for code, name in div.EXCLUDED_PROVINCES.items():
        below = sum(1 for other in data if other[:2] == code[:2] and other != code)
        subdivisions = f", with its {below} subdivisions" if below else ""
        report.add(
            LEFT_OUT,
            f"- {code} {name}: has a division code but no organization "
            f"department of the party; left out{subdivisions}",
        )


def shared(
    listings: Sequence[tuple[str, tuple[str, ...]]],
    answering: Mapping[str, str],
    directory: Directory,
    report: Report,
) -> None:
    report.add(
        SHARED,
        "- Counties carry their city's code without answering it; only cities "
        "and provinces are listed here.",
    )
    for area_code, codes in listings:
        if area_code not in answering:
            continue
        answered_by = directory.by_code(answering[area_code])
        others = [
            department.label
            for department in map(directory.by_code, codes)
            if department != answered_by and department.area_code == area_code
        ]
        if others:
            report.add(
                SHARED,
                f"- {area_code}: answered by {answered_by.label}; also carried "
                "by " + ", ".join(others),
            )


def gaps(directory: Directory, report: Report) -> None:
    missing = [d for d in directory if d.area_code is None and d.level in ("city", "county")]
    report.add(
        GAPS,
        f"- {len(missing)} city and county departments have no area code: "
        "phonenumbers names none for them or for their city. Callers reach them "
        "through the menus (and mobile numbers) only.",
    )
    for department in missing:
        if department.parent is not None and department.parent[2:4] != "00":
            continue  # a county of a city without a code: counted with its city
        below = [d for d in directory.children(department.code) if d.area_code is None]
        counties = f" and its {len(below)} counties" if below else ""
        report.add(GAPS, f"- {department.label}{counties}")


def names(divisions: Sequence[div.Division], report: Report) -> None:
    report.add(
        NAMES,
        "- Short names follow the committee: 省委, 市委, 县委, "
        "区委, 旗委, 自治县委; 自治区 -> 自治区党委, 地区 -> 地委, 盟 -> 盟委, "
        "自治州 -> 州委 after the place name without its ethnic names. "
        "The name is 中共 + the short name.",
    )
    for division in divisions:
        if division.level == "city" and not division.name.endswith("市"):
            report.add(NAMES, f"- {division.code} {division.name}: {div.short_name(division)}")


def without_mobile(directory: Directory, reached: set[str]) -> list[str]:
    missing = [d.label for d in directory if prefecture_level(d) and d.code not in reached]
    if not missing:
        return []
    return [
        f"- No mobile prefix reaches {len(missing)} prefecture-level departments: "
        + ", ".join(missing)
    ]


def timezones(report: Report, timezone: str) -> None:
    report.add(
        TIMEZONES,
        f"- Every department is {timezone}, the hotline's official clock. Xinjiang's local "
        "Asia/Urumqi exists in the tz database but is not used: nothing in the sources says "
        "a department keeps it.",
    )
