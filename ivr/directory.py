"""The department directory, and which department a call reaches.

Theory of operation (组厅字〔2009〕5号, section 三): dialing 12371 is a local
call that reaches the organization department of the caller's own area, found
from the calling number; a caller who wants another area's department dials
that area's code first (`0551 12371` for Hefei). The central department answers
Beijing's 010 (its voice guidance transfers on to the Beijing municipal
department) and takes every call that cannot be placed.

`Directory.resolve` tries three rules in order and records each decision as a
step, so an operator or an admin can see why a call went where it went:

1. an area code dialed before 12371, wherever the caller is;
2. the area code of the caller's landline;
3. the default department (the central department).

Mobile numbers carry no area code, and attributing them by number range is not
available yet, so they fall through to the default. `resolve` runs on the call
path: it only slices strings and looks up dicts, and never raises.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.errors import ConfigError, NotFound

Level = Literal["central", "province", "city", "county"]
Rule = Literal["dialed_area_code", "caller_area_code", "default"]

HOTLINE = "12371"
CENTRAL_CODE = "000000"
DEFAULT_TIMEZONE = "Asia/Shanghai"
COLUMNS = ("code", "name", "short_name", "level", "parent", "area_code", "timezone")
_OPTIONAL_COLUMNS = frozenset({"timezone"})

_LEVELS: dict[str, Level] = {level: level for level in get_args(Level)}
_RANK = {level: rank for rank, level in enumerate(get_args(Level))}
# A division code nests inside its parent's: a city shares the first two
# digits of its province's code, a county the first four of its city's.
_SHARED_DIGITS = {"central": 0, "province": 2, "city": 4}

_SEPARATORS = str.maketrans("", "", " \t-().")
_WITHHELD = frozenset({"anonymous", "unknown", "private", "restricted", "unavailable", "withheld"})
# Longer than any Chinese number written with its international prefix.
_MAX_DIGITS = 20
_MIN_SUBSCRIBER = 7
_MAX_SUBSCRIBER = 8
_SHOWN_CHARS = 40


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    short_name: str
    level: Level
    parent: str | None
    area_code: str | None
    timezone: str = DEFAULT_TIMEZONE

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


@dataclass(frozen=True, slots=True)
class Route:
    department: Department
    rule: Rule
    read: str
    steps: tuple[str, ...]


class Directory:
    """Every department, checked as a whole; build it with `Directory.load`."""

    def __init__(self, entries: Iterable[tuple[int, Department]], *, source: str) -> None:
        """`entries` pairs each department with the line it came from, for errors."""
        self._by_code: dict[str, Department] = {}
        self._by_area: dict[str, Department] = {}
        self._children: dict[str, list[Department]] = {}
        lines: dict[str, int] = {}
        for line, department in entries:
            self._add(department, line, lines, source)
        if CENTRAL_CODE not in self._by_code:
            raise ConfigError(f"{source}: no central department ({CENTRAL_CODE})", path=source)
        self._default = self._by_code[CENTRAL_CODE]
        for department in self._by_code.values():
            _check_parent(department, self._by_code, source, lines[department.code])
            if department.parent is not None:
                self._children.setdefault(department.parent, []).append(department)

    def _add(self, department: Department, line: int, lines: dict[str, int], source: str) -> None:
        code, area_code = department.code, department.area_code
        if code in lines:
            raise _error(source, line, f"duplicate code {code} (first on line {lines[code]})")
        if area_code is not None and area_code in self._by_area:
            first = lines[self._by_area[area_code].code]
            raise _error(source, line, f"duplicate area code {area_code} (first on line {first})")
        lines[code] = line
        self._by_code[code] = department
        if area_code is not None:
            self._by_area[area_code] = department

    @classmethod
    def load(cls, path: Path) -> Directory:
        source = str(path)
        try:
            # utf-8-sig: a spreadsheet saving CSV may put a byte-order mark first.
            with path.open(encoding="utf-8-sig", newline="") as file:
                entries = list(_read(csv.DictReader(file), source))
        except OSError as exc:
            raise ConfigError(f"cannot read {source}: {exc}", path=source) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source} is not UTF-8: {exc}", path=source) from exc
        except csv.Error as exc:
            raise ConfigError(f"{source} is not valid CSV: {exc}", path=source) from exc
        return cls(entries, source=source)

    @property
    def default(self) -> Department:
        """The central department, which serves callers no rule can place."""
        return self._default

    def by_code(self, code: str) -> Department:
        try:
            return self._by_code[code]
        except KeyError:
            raise NotFound(f"no department with code {code!r}", code=code) from None

    def by_area_code(self, area_code: str) -> Department | None:
        return self._by_area.get(area_code)

    def children(self, code: str) -> tuple[Department, ...]:
        """The departments directly below `code`, in file order (the voice guidance menu)."""
        return tuple(self._children.get(code, ()))

    def __iter__(self) -> Iterator[Department]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def resolve(self, caller: str, dialed: str) -> Route:
        steps: list[str] = []
        code, step = _dialed_area_code(dialed)
        steps.append(step)
        if code:
            department = self._by_area.get(code)
            if department is not None:
                steps.append(f"area code {code} belongs to {department.label}")
                return Route(department, "dialed_area_code", code, tuple(steps))
            steps.append(f"area code {code} is not in the directory; trying the caller's number")
        department, code, step = _caller_area_code(caller, self._by_area)
        steps.append(step)
        if department is not None:
            steps.append(f"area code {code} belongs to {department.label}")
            return Route(department, "caller_area_code", code, tuple(steps))
        steps.append(f"no rule placed the call: default department {self._default.label}")
        return Route(self._default, "default", "", tuple(steps))


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


# Loading ------------------------------------------------------------------


def _error(source: str, line: int, message: str) -> ConfigError:
    return ConfigError(f"{source} line {line}: {message}", path=source, line=line)


def _read(reader: csv.DictReader[str], source: str) -> Iterator[tuple[int, Department]]:
    header = reader.fieldnames
    if header is None:
        raise ConfigError(f"{source} is empty: expected a header line", path=source)
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in COLUMNS if name not in header and name not in _OPTIONAL_COLUMNS]
    if unknown or missing:
        raise _error(source, 1, f"header: unknown columns {unknown}, missing columns {missing}")
    for row in reader:
        yield reader.line_num, _department(row, source, reader.line_num)


def _department(row: Mapping[str | None, str | None], source: str, line: int) -> Department:
    if None in row or None in row.values():
        raise _error(source, line, f"expected one field per column: {', '.join(COLUMNS)}")
    values = {key: (value or "").strip() for key, value in row.items() if key is not None}
    code, level = values["code"], values["level"]
    if not _is_digits(code) or len(code) != 6:
        raise _error(source, line, f"code {code!r} is not a 6-digit division code")
    if level not in _LEVELS:
        raise _error(source, line, f"level {level!r} is not one of {', '.join(_LEVELS)}")
    if not _code_fits_level(code, level):
        raise _error(source, line, f"code {code} is not the code of a {level} division")
    for column in ("name", "short_name"):
        if not values[column]:
            raise _error(source, line, f"{column} is empty")
    parent = values["parent"] or None
    area_code = values["area_code"] or None
    if area_code is not None and not _is_area_code(area_code):
        raise _error(source, line, f"area code {area_code!r} is not 010, 02X or 0XXX")
    timezone = values.get("timezone") or DEFAULT_TIMEZONE
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _error(source, line, f"unknown timezone {timezone!r}") from None
    return Department(
        code, values["name"], values["short_name"], _LEVELS[level], parent, area_code, timezone
    )


def _code_fits_level(code: str, level: str) -> bool:
    if level == "central":
        return code == CENTRAL_CODE
    if code[:2] == "00":
        return False
    if level == "province":
        return code[2:] == "0000"
    if level == "city":
        return code[2:4] != "00" and code[4:] == "00"
    return code[2:4] != "00" and code[4:] != "00"


def _check_parent(
    department: Department, by_code: Mapping[str, Department], source: str, line: int
) -> None:
    if department.level == "central":
        if department.parent is not None:
            raise _error(source, line, "the central department has no parent")
        return
    if department.parent is None:
        raise _error(source, line, f"a {department.level} department needs a parent")
    parent = by_code.get(department.parent)
    if parent is None:
        raise _error(source, line, f"unknown parent {department.parent}")
    if _RANK[parent.level] >= _RANK[department.level]:
        raise _error(
            source,
            line,
            f"a {parent.level} department cannot be the parent of a {department.level} department",
        )
    shared = _SHARED_DIGITS[parent.level]
    if department.code[:shared] != parent.code[:shared]:
        raise _error(source, line, f"code {department.code} is not inside parent {parent.code}")


# Reading numbers ----------------------------------------------------------


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _area_code_length(national: str) -> int:
    """3 for 010 and 02X, 4 for every other code (0XXX)."""
    return 3 if national[1:2] in ("1", "2") else 4


def _is_area_code(text: str) -> bool:
    return (
        _is_digits(text)
        and len(text) >= 3
        and text[0] == "0"
        and text[1] != "0"
        and len(text) == _area_code_length(text)
        and (text[1] != "1" or text == "010")
    )


def _show(text: str) -> str:
    if len(text) <= _SHOWN_CHARS:
        return repr(text)
    return repr(text[:_SHOWN_CHARS]) + "..."


def _plain(raw: str) -> str:
    """The number part of what a trunk sent: no URI scheme, host, parameters or separators."""
    text = raw.strip()
    lower = text[:5].lower()
    for scheme in ("sips:", "sip:", "tel:"):
        if lower.startswith(scheme):
            text = text[len(scheme) :]
            break
    return text.split("@", 1)[0].split(";", 1)[0].translate(_SEPARATORS)


def _domestic(digits: str) -> str | None:
    """A number in national form (trunk prefix 0), given with or without +86/0086/86.

    Returns None for a number in another country. Where the country code is
    given, the trunk prefix 0 is dropped (`+86 551 ...`); some trunks keep it
    anyway (`+86 0551 ...`), and both mean the same number.
    """
    if digits.startswith("+"):
        if not digits.startswith("+86"):
            return None
        rest = digits[3:]
    elif digits.startswith("0086"):
        rest = digits[4:]
    elif digits.startswith("00"):
        return None
    elif digits.startswith("86"):
        rest = digits[2:]
    else:
        return digits
    return rest if rest.startswith("0") else "0" + rest


def _dialed_area_code(dialed: str) -> tuple[str, str]:
    """(area code dialed before 12371 or "", step)."""
    shown = _show(dialed)
    text = _plain(dialed)
    if not text:
        return "", "dialed number is empty: no area code dialed"
    if not text.endswith(HOTLINE):
        return "", f"dialed {shown} does not end in {HOTLINE}: no area code dialed"
    prefix = text[: -len(HOTLINE)]
    if not prefix:
        return "", f"dialed {shown}: {HOTLINE} without an area code"
    national = _domestic(prefix) if _is_digits(prefix.removeprefix("+")) else None
    if national is None or not _is_area_code(national):
        return "", f"dialed {shown}: prefix {prefix!r} is not an area code"
    return national, f"dialed {shown}: area code {national} before {HOTLINE}"


def _caller_landline(caller: str) -> tuple[str, str]:
    """(the caller's landline in national form, "") or ("", why there is none)."""
    text = _plain(caller)
    if not text:
        return "", "is empty: no number to read"
    if text.lower() in _WITHHELD:
        return "", "is withheld"
    if not _is_digits(text.removeprefix("+")):
        return "", "is not a telephone number (not only digits)"
    if len(text) > _MAX_DIGITS:
        return "", f"is too long for a telephone number ({len(text)} digits)"
    national = _domestic(text)
    if national is None:
        return "", "is an international number outside China"
    mobile = national.removeprefix("0")  # some trunks send 0 before a mobile from elsewhere
    if len(mobile) == 11 and mobile[0] == "1" and mobile[1] in "3456789":
        return "", "is a mobile number: mobile attribution is not available yet"
    if not national.startswith("0") or len(national) < 3:
        return "", "has no area code (a landline number in national form starts with 0)"
    return national, ""


def _caller_area_code(
    caller: str, by_area: Mapping[str, Department]
) -> tuple[Department | None, str, str]:
    """(department, area code, step) from the caller's landline; no department if none."""
    shown = f"caller {_show(caller)}"
    national, why = _caller_landline(caller)
    if not national:
        return None, "", f"{shown} {why}"
    for length in (4, 3):  # longest match first
        code = national[:length]
        department = by_area.get(code)
        if department is None:
            continue
        subscriber = len(national) - length
        if not _MIN_SUBSCRIBER <= subscriber <= _MAX_SUBSCRIBER:
            return None, "", f"{shown}: {subscriber} digits after area code {code}, not 7 or 8"
        return department, code, f"{shown}: landline with area code {code}"
    code = national[: _area_code_length(national)]
    return None, "", f"{shown}: area code {code} is not in the directory"
