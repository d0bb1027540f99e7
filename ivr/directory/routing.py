"""The department directory, and which department a call reaches.

Theory of operation (组厅字〔2009〕5号, section 三): dialing 12371 is a local
call that reaches the organization department of the caller's own area, found
from the calling number; a caller who wants another area's department dials
that area's code first (`0551 12371` for Hefei). The central department answers
Beijing's 010 (its voice guidance transfers on to the Beijing municipal
department) and takes every call that cannot be placed.

An area code may be carried by several departments (a county carries its
city's; Tieling, Fushun and Benxi share Shenyang's 024), and exactly one of
them *answers* it. `Directory.resolve` tries five rules in order and records
each decision as a step, so an operator or an admin can see why a call went
where it went:

1. the origin the carrier handed over (a division code or an area code);
2. an area code dialed before 12371, wherever the caller is;
3. the area code of the caller's landline;
4. the place the caller's mobile number was issued for (its first 7 digits);
5. the default department (the central department), where the call flow asks
   the caller to choose a province.

`resolve` runs on the call path: it slices strings, looks up dicts and
bisects compact arrays (about 79,000 mobile ranges take under 1 MB), and
never raises.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from ivr.directory.departments import (
    CENTRAL_CODE,
    Department,
    Level,
    MobileRange,
    line_error,
    read_csv,
)
from ivr.directory.mobile import MobileTable
from ivr.directory.numbers import (
    MOBILE_PREFIX_DIGITS,
    area_code_of,
    dialed_area_code,
    landline_area_codes,
    read_caller,
    read_origin,
    show,
    subscriber_fits,
)
from ivr.errors import ConfigError, NotFound

__all__ = ["CENTRAL_CODE", "Department", "Directory", "MobileRange", "Route", "Rule", "explain"]

Rule = Literal["origin", "dialed_area_code", "caller_area_code", "mobile_prefix", "default"]

_RANK = {level: rank for rank, level in enumerate(get_args(Level))}
# A division code nests inside its parent's: a city shares the first two
# digits of its province's code, a county the first four of its city's.
_SHARED_DIGITS = {"central": 0, "province": 2, "city": 4}


@dataclass(frozen=True, slots=True)
class Route:
    department: Department
    rule: Rule
    read: str
    steps: tuple[str, ...]


# A rule's finding: the department, the rule, and what was read to find it.
_Found = tuple[Department, Rule, str]


class Directory:
    """Every department and mobile range, checked as a whole; build it with `Directory.load`."""

    def __init__(
        self,
        entries: Iterable[tuple[int, Department]],
        *,
        source: str,
        mobile: Iterable[MobileRange] = (),
    ) -> None:
        """`entries` pairs each department with the line it came from, for errors."""
        self._source = source
        self._by_code: dict[str, Department] = {}
        self._by_area: dict[str, Department] = {}
        lines: dict[str, int] = {}
        carried: dict[str, int] = {}  # area code -> first line carrying it
        for line, department in entries:
            self._add(department, line, lines, carried, source)
        for area_code, line in carried.items():
            if area_code not in self._by_area:
                raise line_error(source, line, f"no department answers area code {area_code}")
        if CENTRAL_CODE not in self._by_code:
            raise ConfigError(f"{source}: no central department ({CENTRAL_CODE})", path=source)
        self._default = self._by_code[CENTRAL_CODE]
        self._area_codes = tuple(sorted(self._by_area))
        self._children = self._link(lines, source)
        self._mobile = MobileTable(mobile, self._by_code)

    def _add(
        self,
        department: Department,
        line: int,
        lines: dict[str, int],
        carried: dict[str, int],
        source: str,
    ) -> None:
        code, area_code = department.code, department.area_code
        if code in lines:
            raise line_error(source, line, f"duplicate code {code} (first on line {lines[code]})")
        if department.answers and area_code is None:
            raise line_error(source, line, "answers calls but has no area code")
        if department.answers and area_code in self._by_area:
            first = lines[self._by_area[area_code].code]
            raise line_error(
                source, line, f"area code {area_code} is answered twice (first on line {first})"
            )
        lines[code] = line
        self._by_code[code] = department
        if area_code is not None:
            carried.setdefault(area_code, line)
            if department.answers:
                self._by_area[area_code] = department

    def _link(self, lines: Mapping[str, int], source: str) -> dict[str, tuple[Department, ...]]:
        children: dict[str, list[Department]] = {}
        for department in self._by_code.values():
            _check_parent(department, self._by_code, source, lines[department.code])
            if department.parent is not None:
                children.setdefault(department.parent, []).append(department)
        return {
            code: tuple(sorted(below, key=lambda d: d.code)) for code, below in children.items()
        }

    @classmethod
    def load(cls, path: Path, mobile: Iterable[MobileRange] = ()) -> Directory:
        return cls(read_csv(path), source=str(path), mobile=mobile)

    @property
    def source(self) -> str:
        """Where the departments came from: a file, or the database."""
        return self._source

    @property
    def default(self) -> Department:
        """The central department, which serves callers no rule can place."""
        return self._default

    def by_code(self, code: str) -> Department:
        try:
            return self._by_code[code]
        except KeyError:
            raise NotFound(f"no department with code {code!r}", code=code) from None

    def has(self, code: str) -> bool:
        return code in self._by_code

    def lineage(self, code: str) -> tuple[Department, ...]:
        """The department `code`, its parent, and so on up to the central department."""
        chain = [self.by_code(code)]
        while chain[-1].parent is not None:
            chain.append(self._by_code[chain[-1].parent])
        return tuple(chain)

    def within(self, code: str, ancestor: str) -> bool:
        """Whether department `code` is `ancestor` or below it; False for an unknown code."""
        if code not in self._by_code:
            return False
        return any(d.code == ancestor for d in self.lineage(code))

    def below(self, code: str) -> list[str]:
        """The codes of every department under `code`, its own excluded, top down."""
        found, todo = [], [code]
        while todo:
            children = [child.code for child in self.children(todo.pop())]
            found.extend(children)
            todo.extend(children)
        return found

    def by_area_code(self, area_code: str) -> Department | None:
        """The department that answers `area_code`, if any."""
        return self._by_area.get(area_code)

    def by_mobile_prefix(self, prefix: int) -> Department | None:
        """The department a mobile number with these first 7 digits reaches, if any."""
        return self._mobile.find(prefix)

    def area_codes(self) -> tuple[str, ...]:
        """Every answered area code, sorted."""
        return self._area_codes

    def children(self, code: str) -> tuple[Department, ...]:
        """The departments directly below `code`, in code order (the voice guidance menu)."""
        return self._children.get(code, ())

    def provinces(self) -> tuple[Department, ...]:
        """The province-level departments, in code order (the region menu)."""
        return tuple(d for d in self.children(CENTRAL_CODE) if d.level == "province")

    def mobile_ranges(self) -> Iterator[MobileRange]:
        return iter(self._mobile)

    def mobile_range_count(self) -> int:
        return len(self._mobile)

    def __iter__(self) -> Iterator[Department]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def resolve(self, caller: str, dialed: str, origin: str = "") -> Route:
        steps: list[str] = []
        found = (
            self._from_origin(origin, steps)
            or self._from_dialed(dialed, steps)
            or self._from_caller(caller, steps)
        )
        if found is None:
            steps.append(f"no rule placed the call: default department {self._default.label}")
            return Route(self._default, "default", "", tuple(steps))
        department, rule, read = found
        return Route(department, rule, read, tuple(steps))

    def _from_origin(self, origin: str, steps: list[str]) -> _Found | None:
        given = read_origin(origin)
        steps.append(given.step)
        if given.kind == "division":
            department = self._by_code.get(given.value)
            if department is not None:
                steps.append(f"division {given.value} is {department.label}")
                return department, "origin", given.value
        elif given.kind == "area_code":
            department = self._by_area.get(given.value)
            if department is not None:
                steps.append(_belongs(given.value, department))
                return department, "origin", given.value
        if given.kind != "none":
            steps.append(f"{given.value} is not in the directory; trying the dialed number")
        return None

    def _from_dialed(self, dialed: str, steps: list[str]) -> _Found | None:
        code, step = dialed_area_code(dialed)
        steps.append(step)
        if not code:
            return None
        department = self._by_area.get(code)
        if department is None:
            steps.append(f"area code {code} is not in the directory; trying the caller's number")
            return None
        steps.append(_belongs(code, department))
        return department, "dialed_area_code", code

    def _from_caller(self, caller: str, steps: list[str]) -> _Found | None:
        """Rules 3 and 4: the landline's area code, or the mobile number's prefix."""
        shown = f"caller {show(caller)}"
        number = read_caller(caller)
        if number.kind == "landline":
            return self._from_landline(number.number, shown, steps)
        if number.kind == "mobile":
            return self._from_mobile(number.number, shown, steps)
        steps.append(f"{shown} {number.why}")
        return None

    def _from_landline(self, national: str, shown: str, steps: list[str]) -> _Found | None:
        for code in landline_area_codes(national):  # longest match first
            department = self._by_area.get(code)
            if department is None:
                continue
            if not subscriber_fits(national, code):
                digits = len(national) - len(code)
                steps.append(f"{shown}: {digits} digits after area code {code}, not 7 or 8")
                return None
            steps.append(f"{shown}: landline with area code {code}")
            steps.append(_belongs(code, department))
            return department, "caller_area_code", code
        steps.append(f"{shown}: area code {area_code_of(national)} is not in the directory")
        return None

    def _from_mobile(self, mobile: str, shown: str, steps: list[str]) -> _Found | None:
        prefix = mobile[:MOBILE_PREFIX_DIGITS]
        steps.append(f"{shown}: mobile number with prefix {prefix}")
        department = self._mobile.find(int(prefix))
        if department is None:
            steps.append(f"mobile prefix {prefix} is not attributed to any department")
            return None
        steps.append(f"mobile prefix {prefix} belongs to {department.label}")
        return department, "mobile_prefix", prefix


def _belongs(area_code: str, department: Department) -> str:
    return f"area code {area_code} belongs to {department.label}"


def explain(route: Route, *, as_json: bool) -> str:
    """A route for the command line: readable text, or JSON for scripts."""
    department = route.department
    if as_json:
        data = {
            "department": {
                "code": department.code,
                "name": department.name,
                "short_name": department.short_name,
                "level": department.level,
                "area_code": department.area_code,
            },
            "rule": route.rule,
            "read": route.read,
            "steps": list(route.steps),
        }
        return json.dumps(data, ensure_ascii=False, indent=2)
    lines = [
        f"department: {department.name} ({department.code}, {department.level})",
        f"rule:       {route.rule}",
        f"read:       {route.read or '-'}",
        "steps:",
    ]
    lines += [f"  {number}. {step}" for number, step in enumerate(route.steps, 1)]
    return "\n".join(lines)


def _check_parent(
    department: Department, by_code: Mapping[str, Department], source: str, line: int
) -> None:
    if department.level == "central":
        if department.parent is not None:
            raise line_error(source, line, "the central department has no parent")
        return
    if department.parent is None:
        raise line_error(source, line, f"a {department.level} department needs a parent")
    parent = by_code.get(department.parent)
    if parent is None:
        raise line_error(source, line, f"unknown parent {department.parent}")
    if _RANK[parent.level] >= _RANK[department.level]:
        raise line_error(
            source,
            line,
            f"a {parent.level} department cannot be the parent of a {department.level} department",
        )
    shared = _SHARED_DIGITS[parent.level]
    if department.code[:shared] != parent.code[:shared]:
        raise line_error(source, line, f"code {department.code} is not inside parent {parent.code}")
