"""Area codes and mobile prefixes by place, from the phonenumbers package.

phonenumbers' geocoding table (`GEOCODE_DATA`) maps a number's leading digits,
with the country code 86, to a place written in Chinese: `86551` (area code
0551) is 安徽省合肥市, `861380551` (mobile numbers 1380551xxxx) too. Some
keys are shorter than an area code (`8633` stands for 0335, the only code
beginning 033): the package's own numbering metadata says which area codes
such a key covers. Longer landline keys (`862495`) describe parts of an area
code and add nothing here.

The places are matched to divisions by `Matcher`: exact names first, then
the explicit tables below, each application reported. Nothing is guessed: a
place that matches nothing is reported and left out.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from ivr.directory.build.divisions import Division, stem
from ivr.directory.numbers import MOBILE_PREFIX_DIGITS, MOBILE_SECOND_DIGITS

PACKAGE = "phonenumbers"
COUNTRY = "86"
LIST_SEPARATOR = "、"
# Sample subscriber numbers for asking the numbering metadata whether an area
# code exists: 7 and 8 digits, the two lengths of Chinese landlines.
_SAMPLE_SUBSCRIBERS = ("2345678", "23456789")

# Places phonenumbers names by a former name or misspells:
# (province code, name in the description) -> (current name, why).
RENAMED_PLACES: dict[tuple[str, str], tuple[str, str]] = {
    ("420000", "襄樊市"): ("襄阳市", "襄樊市 was renamed 襄阳市"),
    ("430000", "株州市"): ("株洲市", "株州 is a misspelling of 株洲"),
    ("520000", "铜仁地区"): ("铜仁市", "the prefecture 铜仁地区 became the city 铜仁市"),
    ("520000", "毕节地区"): ("毕节市", "the prefecture 毕节地区 became the city 毕节市"),
    ("540000", "日喀则地区"): ("日喀则市", "the prefecture 日喀则地区 became the city 日喀则市"),
    ("540000", "昌都地区"): ("昌都市", "the prefecture 昌都地区 became the city 昌都市"),
    ("540000", "林芝地区"): ("林芝市", "the prefecture 林芝地区 became the city 林芝市"),
    ("540000", "山南地区"): ("山南市", "the prefecture 山南地区 became the city 山南市"),
    ("540000", "那曲地区"): ("那曲市", "the prefecture 那曲地区 became the city 那曲市"),
    ("630000", "海东地区"): ("海东市", "the prefecture 海东地区 became the city 海东市"),
    ("650000", "吐鲁番地区"): ("吐鲁番市", "the prefecture 吐鲁番地区 became the city 吐鲁番市"),
    ("650000", "哈密地区"): ("哈密市", "the prefecture 哈密地区 became the city 哈密市"),
}

# Former prefecture-level places that now lie inside another prefecture:
# (province code, name) -> (the prefecture now, why).
ABSORBED_PLACES: dict[tuple[str, str], tuple[str, str]] = {
    ("340000", "巢湖市"): (
        "合肥市",
        "the prefecture-level 巢湖市 was abolished; 巢湖市 is now a county-level city under 合肥市",
    ),
    ("370000", "莱芜市"): ("济南市", "莱芜市 was merged into 济南市 (now its 莱芜区)"),
}

# A county-level seat named alone for its prefecture's area code:
# (province code, county) -> (prefecture, why).
COUNTY_SEATS: dict[tuple[str, str], tuple[str, str]] = {
    ("530000", "芒市"): (
        "德宏傣族景颇族自治州",
        "芒市 is the seat of 德宏州; phonenumbers' own sub-prefix entries of 0692 say 德宏",
    ),
    ("530000", "香格里拉市"): (
        "迪庆藏族自治州",
        "香格里拉市 is the seat of 迪庆州; phonenumbers' own sub-prefix entries of 0887 say 迪庆",
    ),
}


@dataclass(frozen=True, slots=True)
class AreaEntry:
    """One landline area code as phonenumbers describes it."""

    area_code: str  # with its 0: "0551"
    key: str  # the package's key: "86551"
    description: str  # "安徽省合肥市"


@dataclass(frozen=True, slots=True)
class Match:
    """What a description names: division codes in its order, and what was done to find them."""

    codes: tuple[str, ...]
    notes: tuple[str, ...] = ()
    unmatched: tuple[str, ...] = ()


def geocode_data() -> Mapping[str, Mapping[str, str]]:
    from phonenumbers.geodata import GEOCODE_DATA

    return GEOCODE_DATA


def _national(key: str) -> str:
    return key[len(COUNTRY) :]


def is_mobile_key(key: str) -> bool:
    national = _national(key)
    return national[:1] == "1" and national[1:2] in MOBILE_SECOND_DIGITS


def china_keys(data: Mapping[str, Mapping[str, str]]) -> list[str]:
    return sorted(key for key in data if key.startswith(COUNTRY))


def area_entries(data: Mapping[str, Mapping[str, str]]) -> tuple[list[AreaEntry], list[str]]:
    """Every landline area code with its description, and report lines on the keys left out."""
    entries: list[AreaEntry] = []
    report: list[str] = []
    for key in china_keys(data):
        if is_mobile_key(key):
            continue
        national = _national(key)
        description = data[key].get("zh", "")
        if len(national) > _ndc_length(national):
            report.append(
                f"`{key}` ({description or data[key].get('en', '')}): sub-prefix of "
                f"area code 0{national[: _ndc_length(national)]}, ignored"
            )
            continue
        codes = list(_area_codes_under(national))
        if not description:
            report.append(f"`{key}`: no Chinese description, ignored")
            continue
        if codes != ["0" + national]:
            report.append(
                f"`{key}` stands for area code(s) {', '.join(codes) or 'none'} "
                "(the package's numbering metadata)"
            )
        entries += [AreaEntry(code, key, description) for code in codes]
    return sorted(entries, key=lambda e: e.area_code), report


def _ndc_length(national: str) -> int:
    """Digits of an area code without its 0: 2 for 10 and 2X, 3 for the others."""
    return 2 if national[:1] in ("1", "2") else 3


def _area_codes_under(national: str) -> Iterator[str]:
    """The area codes (with 0) that exist and start with `national`, by the numbering metadata."""
    import phonenumbers

    missing = _ndc_length(national) - len(national)
    for tail in itertools.product("0123456789", repeat=missing):
        ndc = national + "".join(tail)
        for subscriber in _SAMPLE_SUBSCRIBERS:
            number = phonenumbers.parse(f"+{COUNTRY}{ndc}{subscriber}")
            if phonenumbers.is_valid_number(number) and (
                phonenumbers.length_of_geographical_area_code(number) == len(ndc)
            ):
                yield "0" + ndc
                break


def known_area_codes(data: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Area codes the numbering metadata knows and the geocoding table does not describe."""
    described = {entry.area_code for entry in area_entries(data)[0]}
    every = [code for first in "3456789" for code in _area_codes_under(first)]
    return sorted(set(every) - described)


def mobile_prefixes(
    data: Mapping[str, Mapping[str, str]],
) -> tuple[array[int], list[str]]:
    """Each 7-digit mobile prefix from 1000000 -> its description (index + 1; 0: none).

    Keys of several lengths cover a prefix; the longest wins, as in
    phonenumbers' own lookup, so shorter keys are painted first.
    """
    base = 10 ** (MOBILE_PREFIX_DIGITS - 1)
    painted = array("H", bytes(2 * base))
    descriptions: list[str] = []
    index: dict[str, int] = {}
    keys = [key for key in china_keys(data) if is_mobile_key(key)]
    for key in sorted(keys, key=lambda k: (len(k), k)):
        description = data[key].get("zh", "")
        if not description:
            continue
        if description not in index:
            descriptions.append(description)
            index[description] = len(descriptions)
        national = _national(key)[:MOBILE_PREFIX_DIGITS]
        start = int(national.ljust(MOBILE_PREFIX_DIGITS, "0")) - base
        count = 10 ** (MOBILE_PREFIX_DIGITS - len(national))
        painted[start : start + count] = array("H", [index[description]]) * count
    return painted, descriptions


class Matcher:
    """Finds the divisions a phonenumbers description names."""

    def __init__(self, divisions: Sequence[Division]) -> None:
        self._by_code = {d.code: d for d in divisions}
        provinces = [d for d in divisions if d.level == "province"]
        # Full names and short forms (安徽省, 安徽), longest first.
        self._provinces = sorted(
            [(d.name, d) for d in provinces] + [(stem(d.name), d) for d in provinces],
            key=lambda item: (-len(item[0]), item[0]),
        )
        self._names: dict[tuple[str, str], list[Division]] = {}
        self._stems: dict[tuple[str, str], list[Division]] = {}
        for division in divisions:
            if division.level != "province":
                province = division.code[:2] + "0000"
                self._names.setdefault((province, division.name), []).append(division)
                self._stems.setdefault((province, stem(division.name)), []).append(division)

    def match(self, description: str) -> Match:
        found = self._province(description)
        if found is None:
            return Match((), unmatched=(description,))
        province, rest = found
        if not rest:
            return Match((province.code,))
        codes: list[str] = []
        notes: list[str] = []
        unmatched: list[str] = []
        parts = [self._part(province, part, notes) for part in rest.split(LIST_SEPARATOR)]
        prefectures = {d.code for d in parts if d is not None and d.level == "city"}
        for part, division in zip(rest.split(LIST_SEPARATOR), parts, strict=True):
            if division is None:
                unmatched.append(part)
            elif division.level == "county" and not division.direct:
                if division.parent in prefectures:
                    notes.append(
                        f"{part}: a county of {self._by_code[division.parent].name}, "
                        "named in the same description"
                    )
                else:
                    unmatched.append(f"{part} (county-level, in {division.parent})")
            elif division.code not in codes:
                codes.append(division.code)
        return Match(tuple(codes), tuple(notes), tuple(unmatched))

    def _province(self, description: str) -> tuple[Division, str] | None:
        for name, province in self._provinces:
            if description.startswith(name):
                return province, description[len(name) :]
        return None

    def _part(self, province: Division, part: str, notes: list[str]) -> Division | None:
        key = (province.code, part)
        for table, label in (
            (RENAMED_PLACES, "RENAMED_PLACES"),
            (ABSORBED_PLACES, "ABSORBED_PLACES"),
            (COUNTY_SEATS, "COUNTY_SEATS"),
        ):
            if key in table:
                name, why = table[key]
                notes.append(f"{part} -> {name} ({label}: {why})")
                return self._one(self._names.get((province.code, name), []))
        exact = self._one(self._names.get(key, []))
        if exact is not None:
            return exact
        short = self._one(self._stems.get(key, []))
        if short is not None:
            notes.append(f"{part}: short form of {short.name}")
        return short

    @staticmethod
    def _one(candidates: list[Division]) -> Division | None:
        """The prefecture-level candidate if there is one, else the only county-level one."""
        cities = [d for d in candidates if d.level == "city"]
        if len(cities) == 1:
            return cities[0]
        return candidates[0] if len(candidates) == 1 else None
