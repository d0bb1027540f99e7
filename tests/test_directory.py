"""The department directory and the routing rules, with no I/O beyond reading CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.call.guide import Guide
from ivr.directory.departments import place_name
from ivr.directory.routing import Department, Directory, MobileRange, Route, explain
from ivr.errors import ConfigError, NotFound
from tests.directory_data import full_directory

DIRECTORY = full_directory()
AREA_CODES = DIRECTORY.area_codes()
ATTRIBUTED = list(DIRECTORY.mobile_ranges())

HEADER = "code,name,short_name,level,parent,area_code,answers,timezone"
BASE = [
    "000000,中共中央组织部,中央组织部,central,,010,yes,Asia/Shanghai",
    "340000,中共安徽省委组织部,安徽省委组织部,province,000000,,,Asia/Shanghai",
    "340100,中共合肥市委组织部,合肥市委组织部,city,340000,0551,yes,Asia/Shanghai",
]
WUHU = "340200,中共芜湖市委组织部,芜湖市委组织部,"  # code, name, short_name of a row to add


def write_csv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "departments.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def first_prefix_of(code: str) -> int:
    return next(r.first for r in ATTRIBUTED if r.department == code)


# The table ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "name", "level", "parent", "area_code", "answers"),
    [
        ("000000", "中共中央组织部", "central", None, "010", True),
        ("110000", "中共北京市委组织部", "province", "000000", "010", False),
        ("110105", "中共朝阳区委组织部", "county", "110000", "010", False),
        ("310000", "中共上海市委组织部", "province", "000000", "021", True),
        ("120000", "中共天津市委组织部", "province", "000000", "022", True),
        ("500000", "中共重庆市委组织部", "province", "000000", "023", True),
        ("340000", "中共安徽省委组织部", "province", "000000", None, False),
        ("340100", "中共合肥市委组织部", "city", "340000", "0551", True),
        ("340122", "中共肥东县委组织部", "county", "340100", "0551", False),
        ("440100", "中共广州市委组织部", "city", "440000", "020", True),
        ("320100", "中共南京市委组织部", "city", "320000", "025", True),
        ("420100", "中共武汉市委组织部", "city", "420000", "027", True),
        ("510100", "中共成都市委组织部", "city", "510000", "028", True),
        ("610100", "中共西安市委组织部", "city", "610000", "029", True),
        ("210100", "中共沈阳市委组织部", "city", "210000", "024", True),
        ("211200", "中共铁岭市委组织部", "city", "210000", "024", False),
        ("330100", "中共杭州市委组织部", "city", "330000", "0571", True),
        ("370100", "中共济南市委组织部", "city", "370000", "0531", True),
        ("530100", "中共昆明市委组织部", "city", "530000", "0871", True),
        ("429004", "中共仙桃市委组织部", "county", "420000", "0728", True),
        ("429005", "中共潜江市委组织部", "county", "420000", "0728", False),
    ],
)
def test_table_has_the_departments(
    code: str, name: str, level: str, parent: str | None, area_code: str | None, answers: bool
) -> None:
    department = DIRECTORY.by_code(code)
    found = (department.name, department.level, department.parent, department.area_code)
    assert found == (name, level, parent, area_code)
    assert department.answers is answers
    assert department.timezone == "Asia/Shanghai"
    assert department.name == "中共" + department.short_name


def test_default_is_the_central_department() -> None:
    assert DIRECTORY.default.code == "000000"
    assert DIRECTORY.default.level == "central"


def test_children_are_the_departments_below_in_code_order() -> None:
    hefei = [d.code for d in DIRECTORY.children("340100")]
    assert {"340121", "340122", "340181"} <= set(hefei)  # 长丰, 肥东, 巢湖
    assert hefei == sorted(hefei)
    assert DIRECTORY.children("340122") == ()


def test_provinces_are_the_31_province_level_departments_in_code_order() -> None:
    codes = [d.code for d in DIRECTORY.provinces()]
    assert len(codes) == 31
    assert codes == sorted(codes)
    assert codes[0] == "110000" and codes[-1] == "650000"
    assert {"710000", "810000", "820000"}.isdisjoint(codes)


def test_unknown_code_is_not_found() -> None:
    with pytest.raises(NotFound, match="999999"):
        DIRECTORY.by_code("999999")


def test_route_is_frozen() -> None:
    route = DIRECTORY.resolve("055162345678", "12371")
    with pytest.raises(AttributeError):
        route.rule = "default"  # type: ignore[misc]


# Rule 1: the origin the carrier handed over ----------------------------------


@pytest.mark.parametrize(
    ("origin", "code", "read"),
    [
        ("340100", "340100", "340100"),
        ("340122", "340122", "340122"),  # a county, reached only this way or by the menus
        ("0551", "340100", "0551"),
        ("551", "340100", "0551"),
        ("010", "000000", "010"),
        ("21", "310000", "021"),
        (" 0571 ", "330100", "0571"),
    ],
)
def test_origin_wins_over_everything(origin: str, code: str, read: str) -> None:
    for caller, dialed in [("02912345678", "025 12371"), ("13900000000", "12371"), ("", "")]:
        route = DIRECTORY.resolve(caller, dialed, origin)
        assert (route.department.code, route.rule, route.read) == (code, "origin", read)
        assert len(route.steps) == 2


@pytest.mark.parametrize(
    ("origin", "step"),
    [
        ("999999", "999999 is not in the directory"),
        ("0378", "0378 is not in the directory"),
        ("abc", "is neither a 6-digit division code nor an area code"),
        ("12345", "is neither"),
    ],
)
def test_an_unusable_origin_falls_through_to_the_numbers(origin: str, step: str) -> None:
    route = DIRECTORY.resolve("055162345678", "12371", origin)
    assert (route.department.code, route.rule) == ("340100", "caller_area_code")
    assert any(step in line for line in route.steps[:2])


def test_no_origin_is_one_step() -> None:
    assert DIRECTORY.resolve("055162345678", "12371").steps[0] == "the carrier gave no origin"


# Rule 2: an area code dialed before 12371 ----------------------------------


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
        ("024 12371", "210100", "024"),
        ("0728-12371", "429004", "0728"),
    ],
)
def test_dialed_area_code_wins_wherever_the_caller_is(dialed: str, code: str, read: str) -> None:
    for caller in ("02912345678", "13812345678", "anonymous", ""):
        route = DIRECTORY.resolve(caller, dialed)
        assert (route.department.code, route.rule, route.read) == (code, "dialed_area_code", read)


def test_dialing_010_from_hefei_reaches_the_central_department() -> None:
    route = DIRECTORY.resolve("055162345678", "01012371")
    assert (route.department.code, route.rule, route.read) == ("000000", "dialed_area_code", "010")


def test_plain_12371_skips_the_dialed_rule() -> None:
    route = DIRECTORY.resolve("02162345678", "12371")
    assert (route.department.code, route.rule) == ("310000", "caller_area_code")
    assert "without an area code" in route.steps[1]


def test_dialed_prefix_not_in_the_table_falls_through() -> None:
    route = DIRECTORY.resolve("055162345678", "0378 12371")
    assert (route.department.code, route.rule, route.read) == ("340100", "caller_area_code", "0551")
    assert any("0378 is not in the directory" in step for step in route.steps)


@pytest.mark.parametrize("dialed", ["", "s", "12345", "9912371", "abc12371", "+4412371"])
def test_dialed_without_an_area_code_is_ignored(dialed: str) -> None:
    route = DIRECTORY.resolve("055162345678", dialed)
    assert route.rule == "caller_area_code"


# Rule 3: the caller's landline area code -----------------------------------


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
        ("0992", "654003"),
        ("0999", "654000"),
    ],
)
def test_area_codes_reach_their_answering_departments(area_code: str, code: str) -> None:
    by_caller = DIRECTORY.resolve(area_code + "62345678", "12371")
    by_dialed = DIRECTORY.resolve("", area_code + "12371")
    assert (by_caller.department.code, by_caller.read) == (code, area_code)
    assert (by_dialed.department.code, by_dialed.read) == (code, area_code)


# Rule 4: the mobile number's prefix ------------------------------------------


def test_a_shanghai_mobile_reaches_shanghai() -> None:
    prefix = str(first_prefix_of("310000"))
    route = DIRECTORY.resolve(prefix + "1234", "12371")
    assert (route.department.code, route.rule, route.read) == ("310000", "mobile_prefix", prefix)
    assert route.steps[-1] == f"mobile prefix {prefix} belongs to 中共上海市委组织部 (310000)"


def test_a_beijing_mobile_reaches_the_central_department() -> None:
    prefix = str(first_prefix_of("000000"))
    route = DIRECTORY.resolve(prefix + "0000", "12371")
    assert (route.department.code, route.rule) == ("000000", "mobile_prefix")


@pytest.mark.parametrize("shape", ["{}", "+86{}", "+86 {}", "0086{}", "86{}", "0{}", "{}@host"])
def test_mobile_formats_reach_the_same_department(shape: str) -> None:
    number = str(first_prefix_of("340100")) + "5678"
    route = DIRECTORY.resolve(shape.format(number), "12371")
    found = (route.department.code, route.rule, route.read)
    assert found == ("340100", "mobile_prefix", number[:7])


def test_an_unattributed_mobile_prefix_reaches_the_default() -> None:
    prefix = next(p for p in range(1300000, 2000000) if DIRECTORY.by_mobile_prefix(p) is None)
    route = DIRECTORY.resolve(f"{prefix}0000", "12371")
    assert route.rule == "default"
    assert route.steps[-2] == f"mobile prefix {prefix} is not attributed to any department"


def test_a_directory_without_mobile_ranges_places_no_mobile(tmp_path: Path) -> None:
    directory = Directory.load(write_csv(tmp_path, *BASE))
    assert directory.resolve("13905511234", "12371").rule == "default"


# Rule 5: the default department --------------------------------------------


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
        ("03781234567", "0378 is not in the directory"),
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
    assert "  1. the carrier gave no origin" in text
    assert "  2. dialed '0551-12371'" in text


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
    assert len(data["steps"]) == 4


# Properties ----------------------------------------------------------------

subscribers = st.text(alphabet="0123456789", min_size=7, max_size=8)
separators = st.sampled_from(["", " ", "-"])


@given(caller=st.text(), dialed=st.text(), origin=st.text())
def test_resolve_never_raises(caller: str, dialed: str, origin: str) -> None:
    route = DIRECTORY.resolve(caller, dialed, origin)
    assert isinstance(route, Route)
    assert DIRECTORY.by_code(route.department.code) == route.department
    assert route.steps


@given(
    caller=st.from_regex(r"[0-9+\-() ]{0,30}", fullmatch=True),
    dialed=st.text(max_size=30),
    origin=st.from_regex(r"[0-9 ]{0,8}", fullmatch=True),
)
def test_resolve_never_raises_on_number_like_text(caller: str, dialed: str, origin: str) -> None:
    assert isinstance(DIRECTORY.resolve(caller, dialed, origin), Route)


@given(
    area_code=st.sampled_from(AREA_CODES),
    number=subscribers,
    prefix=st.sampled_from(["", "+86", "0086", "86", "+86 "]),
    separator=separators,
)
def test_every_landline_reaches_the_department_answering_its_area_code(
    area_code: str, number: str, prefix: str, separator: str
) -> None:
    national = area_code if not prefix else area_code[1:]
    route = DIRECTORY.resolve(prefix + national + separator + number, "12371")
    assert (route.department, route.rule, route.read) == (
        DIRECTORY.by_area_code(area_code),
        "caller_area_code",
        area_code,
    )


@given(
    prefix=st.integers(min_value=1300000, max_value=1999999),
    rest=st.text(alphabet="0123456789", min_size=4, max_size=4),
    shape=st.sampled_from(["{}", "+86{}", "0086{}", "86{}", "0{}", "+86 {}"]),
)
def test_every_mobile_number_reaches_its_prefix_department_or_the_default(
    prefix: int, rest: str, shape: str
) -> None:
    route = DIRECTORY.resolve(shape.format(f"{prefix}{rest}"), "12371")
    expected = DIRECTORY.by_mobile_prefix(prefix)
    if expected is None:
        assert (route.department, route.rule) == (DIRECTORY.default, "default")
    else:
        found = (route.department, route.rule, route.read)
        assert found == (expected, "mobile_prefix", str(prefix))


@given(
    home=st.sampled_from(AREA_CODES),
    away=st.sampled_from(AREA_CODES),
    number=subscribers,
    separator=separators,
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
        "340100", "中共合肥市委组织部", "合肥市委组织部", "city", "340000", "0551", True
    )
    assert directory.source == str(tmp_path / "departments.csv")


def test_a_shared_area_code_loads_with_one_department_answering(tmp_path: Path) -> None:
    county = "340121,中共长丰县委组织部,长丰县委组织部,county,340100,0551,,"
    directory = Directory.load(write_csv(tmp_path, *BASE, county))
    assert directory.by_area_code("0551").code == "340100"  # type: ignore[union-attr]
    assert directory.by_code("340121").area_code == "0551"


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
        (WUHU + "city,340000,0551,yes,", "line 5: area code 0551 is answered twice (first on"),
        (WUHU + "city,340000,0553,,", "line 5: no department answers area code 0553"),
        (WUHU + "city,340000,,yes,", "line 5: answers calls but has no area code"),
        (WUHU + "city,340000,0553,no,", "line 5: answers 'no' is not 'yes' or empty"),
        (WUHU + "city,350000,0553,yes,", "line 5: unknown parent 350000"),
        (WUHU + "town,340000,0553,yes,", "line 5: level 'town'"),
        ("34020" + WUHU[6:] + "city,340000,0553,yes,", "line 5: code '34020'"),
        ("340000" + WUHU[6:] + "city,340000,0553,yes,", "line 5: code 340000 is not"),
        ("350100" + WUHU[6:] + "city,340000,0591,yes,", "line 5: code 350100 is not inside"),
        (WUHU + "city,340100,0553,yes,", "line 5: a city department"),
        (WUHU + "city,,0553,yes,", "line 5: a city department needs"),
        (WUHU + "city,340000,553,yes,", "line 5: area code '553'"),
        (WUHU + "city,340000,01234,yes,", "line 5: area code '01234'"),
        (WUHU + "city,340000,0553,yes,Mars/Base", "line 5: unknown timezone"),
        ("340200,中共芜湖市委组织部,,city,340000,0553,yes,", "line 5: short_name is empty"),
        (WUHU + "city,340000", "line 5: expected one field per column"),
        (WUHU + "city,340000,0553,yes,,x", "line 5: expected one field"),
    ],
)
def test_validation_errors_name_the_line(tmp_path: Path, row: str, message: str) -> None:
    path = write_csv(tmp_path, *BASE, row)
    with pytest.raises(ConfigError) as caught:
        Directory.load(path)
    assert message in caught.value.message
    assert str(path) in caught.value.message
    assert caught.value.details["line"] == 5


def test_a_department_answering_without_an_area_code_is_refused() -> None:
    central = Department("000000", "中共中央组织部", "中央组织部", "central", None, None, True)
    with pytest.raises(ConfigError, match="built line 1: answers calls but has no area code"):
        Directory([(1, central)], source="built")


def test_central_department_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no central department"):
        Directory.load(write_csv(tmp_path, "340000,中共安徽省委组织部,安徽省委组织部,province,,,,"))


def test_unknown_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 1: header: unknown columns \['phone'\]"):
        Directory.load(write_csv(tmp_path, *BASE, header=HEADER + ",phone"))


def test_the_answers_column_is_required(tmp_path: Path) -> None:
    header = HEADER.replace(",answers", "")
    rows = [row.replace(",yes,", ",").replace(",,Asia", ",Asia") for row in BASE]
    with pytest.raises(ConfigError, match=r"missing columns \['answers'\]"):
        Directory.load(write_csv(tmp_path, *rows, header=header))


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        Directory.load(tmp_path / "nowhere.csv")


def test_empty_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "departments.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        Directory.load(path)


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([MobileRange(1390551, 1390551, "999999")], "unknown department 999999"),
        ([MobileRange(1390551, 1390550, "340100")], "not a range of 7-digit prefixes"),
        ([MobileRange(139055, 139055, "340100")], "not a range of 7-digit prefixes"),
        (
            [MobileRange(1390551, 1390559, "340100"), MobileRange(1390559, 1390560, "000000")],
            "mobile range 1390559-1390560: overlaps the range ending at 1390559",
        ),
    ],
)
def test_bad_mobile_ranges_are_refused(
    tmp_path: Path, ranges: list[MobileRange], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Directory.load(write_csv(tmp_path, *BASE), ranges)


def test_mobile_ranges_are_found_by_bisection(tmp_path: Path) -> None:
    ranges = [MobileRange(1390560, 1390569, "000000"), MobileRange(1390551, 1390559, "340100")]
    directory = Directory.load(write_csv(tmp_path, *BASE), ranges)
    prefixes = (1390550, 1390551, 1390559, 1390560, 1390570)
    found = {p: directory.by_mobile_prefix(p) for p in prefixes}
    assert {p: d.code if d else None for p, d in found.items()} == {
        1390550: None,
        1390551: "340100",
        1390559: "340100",
        1390560: "000000",
        1390570: None,
    }
    assert list(directory.mobile_ranges()) == sorted(ranges, key=lambda r: r.first)


@pytest.mark.parametrize(
    ("short_name", "place"),
    [
        ("长丰县委组织部", "长丰县"),
        ("合肥市委组织部", "合肥市"),
        ("安徽省委组织部", "安徽省"),
        # Autonomous counties, banners and prefectures as people say them.
        ("镇沅彝族哈尼族拉祜族自治县委组织部", "镇沅县"),
        ("积石山保安族东乡族撒拉族自治县委组织部", "积石山县"),
        ("莫力达瓦达斡尔族自治旗委组织部", "莫力达瓦旗"),
        ("延边朝鲜族自治州委组织部", "延边州"),
        ("巴里坤哈萨克自治县委组织部", "巴里坤县"),
        ("隆林各族自治县委组织部", "隆林县"),
        ("广西壮族自治区党委组织部", "广西"),
        ("内蒙古自治区党委组织部", "内蒙古"),
        ("西藏自治区党委组织部", "西藏"),
        ("新疆维吾尔自治区党委组织部", "新疆"),
        ("和布克赛尔蒙古自治县委组织部", "和布克赛尔县"),
        ("阿克苏地委组织部", "阿克苏地区"),
        # Where the name is the nationality's, or names no place, it stays whole.
        ("东乡族自治县委组织部", "东乡族自治县"),
        ("管城回族区委组织部", "管城回族区"),
        ("中央组织部", "中央组织部"),
    ],
)
def test_a_list_says_the_place_a_department_serves(short_name: str, place: str) -> None:
    assert place_name(short_name) == place


def test_no_two_departments_on_one_list_sound_alike() -> None:
    guide = Guide(DIRECTORY)
    lists = [guide.guidance(d.code) for d in DIRECTORY]
    lists += [guide.regions(""), *(guide.regions(p.code) for p in DIRECTORY.provinces())]
    for codes in lists:
        places = [DIRECTORY.by_code(code).place for code in codes]
        assert len(set(places)) == len(places), places
