"""Mobile number ranges, kept small: three parallel arrays searched by bisection.

A Chinese mobile number's first seven digits (13x-19x plus four) say where it
was issued; consecutive prefixes of one department are stored as one range.
About 79,000 ranges cover the country: as `MobileRange` objects they would
take tens of megabytes, as arrays of 4-, 4- and 2-byte integers under 1 MB.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping

from ivr.directory.departments import Department, MobileRange
from ivr.directory.numbers import MOBILE_PREFIX_DIGITS
from ivr.errors import ConfigError

_FIRST_PREFIX = 10 ** (MOBILE_PREFIX_DIGITS - 1)
_LAST_PREFIX = 2 * _FIRST_PREFIX - 1


class MobileTable:
    """Mobile ranges as three parallel arrays (first, last, department), searched by bisection."""

    def __init__(self, ranges: Iterable[MobileRange], by_code: Mapping[str, Department]) -> None:
        self._first = array("I")
        self._last = array("I")
        self._which = array("H")
        self._departments: list[Department] = []
        index: dict[str, int] = {}
        for mobile in sorted(ranges, key=lambda r: r.first):
            self._check(mobile, by_code)
            if mobile.department not in index:
                index[mobile.department] = len(self._departments)
                self._departments.append(by_code[mobile.department])
            self._first.append(mobile.first)
            self._last.append(mobile.last)
            self._which.append(index[mobile.department])

    def _check(self, mobile: MobileRange, by_code: Mapping[str, Department]) -> None:
        shown = f"mobile range {mobile.first}-{mobile.last}"
        if not _FIRST_PREFIX <= mobile.first <= mobile.last <= _LAST_PREFIX:
            raise ConfigError(f"{shown}: not a range of 7-digit prefixes starting with 1")
        if mobile.department not in by_code:
            raise ConfigError(f"{shown}: unknown department {mobile.department}")
        if self._last and mobile.first <= self._last[-1]:
            raise ConfigError(f"{shown}: overlaps the range ending at {self._last[-1]}")

    def find(self, prefix: int) -> Department | None:
        at = bisect_right(self._first, prefix) - 1
        if at < 0 or prefix > self._last[at]:
            return None
        return self._departments[self._which[at]]

    def __len__(self) -> int:
        return len(self._first)

    def __iter__(self) -> Iterator[MobileRange]:
        for first, last, which in zip(self._first, self._last, self._which, strict=True):
            yield MobileRange(first, last, self._departments[which].code)
