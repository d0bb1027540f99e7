"""One department per row of routing/departments.csv: the schema, read and written.

Rows are checked one at a time here (shape of the code for its level, names,
area code, timezone); `ivr.directory.routing.Directory` checks the table as a whole
(unique codes, parents, one answering department per area code). Writing
gives the exact bytes the build commits and the database export produces, so
an import followed by an export changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.directory.numbers import DIVISION_CODE_DIGITS, is_area_code, is_digits
from ivr.errors import ConfigError

Level = Literal["central", "province", "city", "county"]

CENTRAL_CODE = "000000"
DEFAULT_TIMEZONE = "Asia/Shanghai"
COLUMNS = (
    "code",
    "name",
    "short_name",
    "level",
    "parent",
    "area_code",
    "answers",
    "timezone",
)
_OPTIONAL_COLUMNS = frozenset({"timezone"})
ANSWERS = "yes"

# The 55 minority nationalities, as a place's name says them (蒙古族, 回族 ...;
# a few also without 族: 新疆维吾尔自治区, 巴里坤哈萨克自治县; 隆林各族自治县
# names them all), for `place_name`'s autonomous regions, counties, banners
# and prefectures. The place before them has two characters at least, so
# that 内蒙古自治区 stays 内蒙古.
_NATIONALITIES = (
    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 "
    "高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 "
    "普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 "
    "珞巴 基诺 各"
).split()
_AUTONOMOUS = re.compile(
    "^(?P<place>..+?)(?:(?:" + "|".join(sorted(_NATIONALITIES, key=len, reverse=True))
    + ")族|维吾尔|哈萨克|塔吉克|锡伯|蒙古)+自治(?P<kind>县|旗|州|区)$"
)
_OFFICE = re.compile("(?:党委|委)?组织部$")


def place_name(short_name: str) -> str:
    """The place a department serves, as a list says it: 长丰县委组织部 is 长丰县,
    镇沅彝族哈尼族拉祜族自治县委组织部 镇沅县, 广西壮族自治区党委组织部 广西,
    阿克苏地委组织部 阿克苏地区.
    A department whose name is not a place's (中央组织部) keeps its name."""
    place = _OFFICE.sub("", short_name)
    if not place or place == "中央":
        return short_name
    if place.endswith("地"):  # 阿克苏地委: a prefecture, 地区
        return place + "区"
    autonomous = _AUTONOMOUS.match(place)
    if autonomous is None:
        return place.removesuffix("自治区")  # 西藏自治区, 内蒙古自治区
    kind = autonomous["kind"]
    return autonomous["place"] + ("" if kind == "区" else kind)

LEVELS: dict[str, Level] = {level: level for level in get_args(Level)}


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    short_name: str
    level: Level
    parent: str | None
    # Several departments may carry one area code (a county carries its
    # city's); `answers` marks the one that a call with that code reaches.
    area_code: str | None
    answers: bool = False
    timezone: str = DEFAULT_TIMEZONE

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def place(self) -> str:
        """What a list of departments calls it (`place_name`)."""
        return place_name(self.short_name)


@dataclass(frozen=True, slots=True)
class MobileRange:
    """Mobile prefixes `first` to `last` (7 digits each, both included) reach `department`."""

    first: int
    last: int
    department: str


# Municipalities reached by their own mobile numbers (Beijing's reach the
# central department instead).
MOBILE_MUNICIPALITIES = frozenset({"120000", "310000", "500000"})


def prefecture_level(department: Department) -> bool:
    """A department mobile numbers are attributed to: a city, a municipality, or a
    county-level unit its province administers directly (codes XX90XX)."""
    if department.level == "county":
        return department.code[2:4] == "90"
    return department.level == "city" or department.code in MOBILE_MUNICIPALITIES


def line_error(source: str, line: int, message: str) -> ConfigError:
    return ConfigError(f"{source} line {line}: {message}", path=source, line=line)


def read_csv(path: Path) -> list[tuple[int, Department]]:
    """Each department of a CSV file with the line it is on, every row checked."""
    source = str(path)
    try:
        # utf-8-sig: a spreadsheet saving CSV may put a byte-order mark first.
        with path.open(encoding="utf-8-sig", newline="") as file:
            return list(_read(csv.DictReader(file), source))
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc}", path=source) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source} is not UTF-8: {exc}", path=source) from exc
    except csv.Error as exc:
        raise ConfigError(f"{source} is not valid CSV: {exc}", path=source) from exc


def csv_row(department: Department) -> tuple[str, ...]:
    """A department as the strings of its CSV row, in `COLUMNS` order."""
    return (
        department.code,
        department.name,
        department.short_name,
        department.level,
        department.parent or "",
        department.area_code or "",
        ANSWERS if department.answers else "",
        department.timezone,
    )


def csv_text(rows: Iterable[tuple[str, ...]]) -> str:
    """The CSV file of `rows` (from `csv_row`), header first, `\\n` line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def code_fits_level(code: str, level: str) -> bool:
    if level == "central":
        return code == CENTRAL_CODE
    if code[:2] == "00":
        return False
    if level == "province":
        return code[2:] == "0000"
    if level == "city":
        return code[2:4] != "00" and code[4:] == "00"
    return code[2:4] != "00" and code[4:] != "00"


def _read(reader: csv.DictReader[str], source: str) -> Iterator[tuple[int, Department]]:
    header = reader.fieldnames
    if header is None:
        raise ConfigError(f"{source} is empty: expected a header line", path=source)
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in COLUMNS if name not in header and name not in _OPTIONAL_COLUMNS]
    if unknown or missing:
        raise line_error(source, 1, f"header: unknown columns {unknown}, missing columns {missing}")
    for row in reader:
        yield reader.line_num, department_from_row(row, source, reader.line_num)


def department_from_row(row: Mapping[str | None, str | None], source: str, line: int) -> Department:
    """One checked department from a row of strings (CSV or database)."""
    if None in row or None in row.values():
        raise line_error(source, line, f"expected one field per column: {', '.join(COLUMNS)}")
    values = {key: (value or "").strip() for key, value in row.items() if key is not None}
    code, level = values["code"], values["level"]
    if not is_digits(code) or len(code) != DIVISION_CODE_DIGITS:
        raise line_error(source, line, f"code {code!r} is not a 6-digit division code")
    if level not in LEVELS:
        raise line_error(source, line, f"level {level!r} is not one of {', '.join(LEVELS)}")
    if not code_fits_level(code, level):
        raise line_error(source, line, f"code {code} is not the code of a {level} division")
    for column in ("name", "short_name"):
        if not values[column]:
            raise line_error(source, line, f"{column} is empty")
    area_code = values["area_code"] or None
    if area_code is not None and not is_area_code(area_code):
        raise line_error(source, line, f"area code {area_code!r} is not 010, 02X or 0XXX")
    return Department(
        code,
        values["name"],
        values["short_name"],
        LEVELS[level],
        values["parent"] or None,
        area_code,
        _answers(values["answers"], area_code, source, line),
        _timezone(values.get("timezone") or DEFAULT_TIMEZONE, source, line),
    )


def _answers(value: str, area_code: str | None, source: str, line: int) -> bool:
    if value not in (ANSWERS, ""):
        raise line_error(source, line, f"answers {value!r} is not {ANSWERS!r} or empty")
    if value and area_code is None:
        raise line_error(source, line, "answers calls but has no area code")
    return bool(value)


def _timezone(name: str, source: str, line: int) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise line_error(source, line, f"unknown timezone {name!r}") from None
    return name
