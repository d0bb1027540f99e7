"""The department directory and the routing rules, with no I/O beyond reading CSV."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.directory import Department, Directory, Route, explain
from ivr.errors import ConfigError, NotFound

CSV = Path(__file__).resolve().parent.parent / "routing" / "departments.csv"
DIRECTORY = Directory.load(CSV)
AREA_CODES = sorted(d.area_code for d in DIRECTORY if d.area_code is not None)

HEADER = "code,name,short_name,level,parent,area_code,timezone"
BASE = [
    "000000,中共中央组织部,中央组织部,central,,010,Asia/Shanghai",
    "340000,中共安徽省委组织部,安徽省委组织部,province,000000,,Asia/Shanghai",
    "340100,中共合肥市委组织部,合肥市委组织部,city,340000,0551,Asia/Shanghai",
]
WUHU = "340200,中共芜湖市委组织部,芜湖市委组织部,"  # code, name, short_name of a row to add


def write_csv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "departments.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


# The table ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "level", "parent", "area_code"),
    [
        ("000000", "中共中央组织部", "central", None, "010"),
        ("110000", "中共北京市委组织部", "province", "000000", None),
        ("310000", "中共上海市委组织部", "province", "000000", "021"),
        ("120000", "中共天津市委组织部", "province", "000000", "022"),
        ("500000", "中共重庆市委组织部", "province", "000000", "023"),
        ("340000", "中共安徽省委组织部", "province", "000000", None),
        ("340100", "中共合肥市委组织部", "city", "340000", "0551"),
        ("340122", "中共肥东县委组织部", "county", "340100", None),
        ("440100", "中共广州市委组织部", "city", "440000", "020"),
        ("320100", "中共南京市委组织部", "city", "320000", "025"),
        ("420100", "中共武汉市委组织部", "city", "420000", "027"),
        ("510100", "中共成都市委组织部", "city", "510000", "028"),
        ("610100", "中共西安市委组织部", "city", "610000", "029"),
        ("210100", "中共沈阳市委组织部", "city", "210000", "024"),
        ("330100", "中共杭州市委组织部", "city", "330000", "0571"),
        ("370100", "中共济南市委组织部", "city", "370000", "0531"),
        ("530100", "中共昆明市委组织部", "city", "530000", "0871"),
    ],
)
def test_table_has_the_departments(
    code: str, name: str, level: str, parent: str | None, area_code: str | None
) -> None:
    department = DIRECTORY.by_code(code)
    assert (department.name, department.level, department.parent, department.area_code) == (
        name,
        level,
        parent,
        area_code,
    )
    assert department.timezone == "Asia/Shanghai"
    assert department.name == "中共" + department.short_name


def test_default_is_the_central_department() -> None:
    assert DIRECTORY.default.code == "000000"
    assert DIRECTORY.default.level == "central"


def test_children_are_the_departments_below() -> None:
    assert [d.code for d in DIRECTORY.children("340100")] == ["340121", "340122"]
    assert DIRECTORY.children("340122") == ()


def test_unknown_code_is_not_found() -> None:
    with pytest.raises(NotFound, match="999999"):
        DIRECTORY.by_code("999999")


def test_route_is_frozen() -> None:
    route = DIRECTORY.resolve("055162345678", "12371")
    with pytest.raises(AttributeError):
        route.rule = "default"  # type: ignore[misc]


# Rule 1: an area code dialed before 12371 ----------------------------------


@pytest.mark.parametrize(
    ("dialed", "code", "read"),
    [
        ("055112371", "340100", "0551"),
        ("0551-12371", "340100", "0551"),
        ("0551 12371", "340100", "0551"),
        ("01012371", "000000", "010"),
        ("010-12371", "000000", "010"),
        ("02112371", "310000", "021"),
        ("020 12371", "440100", "020"),
        ("025-12371", "320100", "025"),
        ("+86 551 12371", "340100", "0551"),
    ],
)
def test_dialed_area_code_wins_wherever_the_caller_is(dialed: str, code: str, read: str) -> None:
    for caller in ("02912345678", "13812345678", "anonymous", ""):
        route = DIRECTORY.resolve(caller, dialed)
        assert (route.department.code, route.rule, route.read) == (code, "dialed_area_code", read)


def test_plain_12371_skips_the_dialed_rule() -> None:
    route = DIRECTORY.resolve("02162345678", "12371")
    assert (route.department.code, route.rule) == ("310000", "caller_area_code")
    assert "without an area code" in route.steps[0]


def test_dialed_prefix_not_in_the_table_falls_through() -> None:
    route = DIRECTORY.resolve("055162345678", "0552 12371")
    assert (route.department.code, route.rule, route.read) == ("340100", "caller_area_code", "0551")
    assert any("0552 is not in the directory" in step for step in route.steps)


@pytest.mark.parametrize("dialed", ["", "s", "12345", "9912371", "abc12371", "+4412371"])
def test_dialed_without_an_area_code_is_ignored(dialed: str) -> None:
    route = DIRECTORY.resolve("055162345678", dialed)
    assert route.rule == "caller_area_code"


# Rule 2: the caller's landline area code -----------------------------------


@pytest.mark.parametrize(
    "caller",
    [
        "055162345678",
        "05516234567",
        "0551-6234-5678",
        "(0551) 6234 5678",
        "0551 62345678",
        "+8655162345678",
        "+86 551 6234 5678",
        "+86-0551-62345678",
        "008655162345678",
        "8655162345678",
        "sip:055162345678@192.0.2.1",
        "tel:+86-551-6234-5678;phone-context=example",
    ],
)
def test_caller_formats_reach_hefei(caller: str) -> None:
    route = DIRECTORY.resolve(caller, "12371")
    assert (route.department.code, route.rule, route.read) == ("340100", "caller_area_code", "0551")


@pytest.mark.parametrize(
    ("area_code", "code"),
    [
        ("0551", "340100"),
        ("010", "000000"),
        ("021", "310000"),
        ("020", "440100"),
        ("025", "320100"),
    ],
)
def test_five_area_codes_reach_their_departments(area_code: str, code: str) -> None:
    by_caller = DIRECTORY.resolve(area_code + "62345678", "12371")
    by_dialed = DIRECTORY.resolve("", area_code + "12371")
    assert (by_caller.department.code, by_caller.read) == (code, area_code)
    assert (by_dialed.department.code, by_dialed.read) == (code, area_code)


@pytest.mark.parametrize("caller", ["13812345678", "+86 138 1234 5678", "013812345678"])
def test_mobile_numbers_fall_through(caller: str) -> None:
    route = DIRECTORY.resolve(caller, "12371")
    assert route.rule == "default"
    assert any("mobile attribution is not available yet" in step for step in route.steps)


# Rule 3: the default department --------------------------------------------


@pytest.mark.parametrize(
    ("caller", "why"),
    [
        ("", "empty"),
        ("anonymous", "withheld"),
        ("Anonymous", "withheld"),
        ("abc", "not a telephone number"),
        ("4" * 40, "too long"),
        ("sip:123@host", "has no area code"),
        ("０５５１６２３４５６７８", "not a telephone number"),
        ("55162345678", "has no area code"),
        ("62345678", "has no area code"),
        ("+442071234567", "outside China"),
        ("00442071234567", "outside China"),
        ("05521234567", "0552 is not in the directory"),
        ("05511234", "4 digits after area code 0551"),
        ("0551123456789", "9 digits after area code 0551"),
        ("☎️ 0551", "not a telephone number"),
    ],
)
def test_unplaceable_callers_reach_the_default(caller: str, why: str) -> None:
    route = DIRECTORY.resolve(caller, "12371")
    assert (route.department, route.rule, route.read) == (DIRECTORY.default, "default", "")
    assert why in route.steps[-2]
    assert route.steps[-1].startswith("no rule placed the call")


# Explaining a route --------------------------------------------------------


def test_explain_text() -> None:
    text = explain(DIRECTORY.resolve("02162345678", "0551-12371"), as_json=False)
    assert "中共合肥市委组织部 (340100, city)" in text
    assert "dialed_area_code" in text
    assert "0551" in text
    assert "  1. dialed '0551-12371'" in text


def test_explain_json() -> None:
    data = json.loads(explain(DIRECTORY.resolve("anonymous", "12371"), as_json=True))
    assert data["department"] == {
        "code": "000000",
        "name": "中共中央组织部",
        "short_name": "中央组织部",
        "level": "central",
        "area_code": "010",
    }
    assert data["rule"] == "default"
    assert data["read"] == ""
    assert len(data["steps"]) == 3


def test_resolve_is_fast() -> None:
    started = time.perf_counter()
    for _ in range(10_000):
        DIRECTORY.resolve("0551-6234 5678", "12371")
    # About 5 µs a call here; the bound is loose so a busy machine does not fail it.
    assert time.perf_counter() - started < 1.0


# Properties ----------------------------------------------------------------

subscribers = st.text(alphabet="0123456789", min_size=7, max_size=8)


@given(caller=st.text(), dialed=st.text())
def test_resolve_never_raises(caller: str, dialed: str) -> None:
    route = DIRECTORY.resolve(caller, dialed)
    assert isinstance(route, Route)
    assert DIRECTORY.by_code(route.department.code) == route.department
    assert route.steps


@given(caller=st.from_regex(r"[0-9+\-() ]{0,30}", fullmatch=True), dialed=st.text(max_size=30))
def test_resolve_never_raises_on_number_like_text(caller: str, dialed: str) -> None:
    assert isinstance(DIRECTORY.resolve(caller, dialed), Route)


@given(area_code=st.sampled_from(AREA_CODES), number=subscribers)
def test_landline_callers_reach_their_area(area_code: str, number: str) -> None:
    expected = DIRECTORY.by_area_code(area_code)
    for caller in (area_code + number, "+86" + area_code[1:] + number):
        route = DIRECTORY.resolve(caller, "12371")
        assert (route.department, route.rule, route.read) == (
            expected,
            "caller_area_code",
            area_code,
        )


@given(
    home=st.sampled_from(AREA_CODES),
    away=st.sampled_from(AREA_CODES),
    number=subscribers,
    separator=st.sampled_from(["", "-", " "]),
)
def test_dialed_code_wins_over_the_callers_own(
    home: str, away: str, number: str, separator: str
) -> None:
    route = DIRECTORY.resolve(away + number, home + separator + "12371")
    assert (route.department, route.rule, route.read) == (
        DIRECTORY.by_area_code(home),
        "dialed_area_code",
        home,
    )


# Loading and validation ----------------------------------------------------


def test_minimal_csv_loads(tmp_path: Path) -> None:
    directory = Directory.load(write_csv(tmp_path, *BASE))
    assert len(directory) == 3
    assert directory.by_area_code("0551") == Department(
        "340100", "中共合肥市委组织部", "合肥市委组织部", "city", "340000", "0551"
    )


def test_timezone_column_is_optional(tmp_path: Path) -> None:
    rows = [row.rsplit(",", 1)[0] for row in BASE]
    directory = Directory.load(write_csv(tmp_path, *rows, header=HEADER.rsplit(",", 1)[0]))
    assert {d.timezone for d in directory} == {"Asia/Shanghai"}


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = write_csv(tmp_path, *BASE)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(Directory.load(path)) == 3


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (BASE[2], "line 5: duplicate code 340100 (first on line 4)"),
        (WUHU + "city,340000,0551,", "line 5: duplicate area code 0551"),
        (WUHU + "city,350000,0553,", "line 5: unknown parent 350000"),
        (WUHU + "town,340000,0553,", "line 5: level 'town'"),
        ("34020" + WUHU[6:] + "city,340000,0553,", "line 5: code '34020'"),
        ("340000" + WUHU[6:] + "city,340000,0553,", "line 5: code 340000 is not"),
        ("350100" + WUHU[6:] + "city,340000,0591,", "line 5: code 350100 is not inside"),
        (WUHU + "city,340100,0553,", "line 5: a city department"),
        (WUHU + "city,,0553,", "line 5: a city department needs"),
        (WUHU + "city,340000,553,", "line 5: area code '553'"),
        (WUHU + "city,340000,01234,", "line 5: area code '01234'"),
        (WUHU + "city,340000,0553,Mars/Base", "line 5: unknown timezone"),
        ("340200,中共芜湖市委组织部,,city,340000,0553,", "line 5: short_name is empty"),
        (WUHU + "city,340000", "line 5: expected one field per column"),
        (WUHU + "city,340000,0553,,x", "line 5: expected one field"),
    ],
)
def test_validation_errors_name_the_line(tmp_path: Path, row: str, message: str) -> None:
    path = write_csv(tmp_path, *BASE, row)
    with pytest.raises(ConfigError) as caught:
        Directory.load(path)
    assert message in caught.value.message
    assert str(path) in caught.value.message
    assert caught.value.details["line"] == 5


def test_central_department_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no central department"):
        Directory.load(write_csv(tmp_path, "340000,中共安徽省委组织部,安徽省委组织部,province,,,"))


def test_unknown_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 1: header: unknown columns \['phone'\]"):
        Directory.load(write_csv(tmp_path, *BASE, header=HEADER + ",phone"))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Directory.load(tmp_path / "nowhere.csv")


def test_empty_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "departments.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        Directory.load(path)
