"""The full national directory with its mobile ranges, computed once per test run."""

from __future__ import annotations

from functools import cache

from ivr.directory.build.builder import mobile_ranges
from ivr.directory.departments import MobileRange
from ivr.directory.routing import Directory
from ivr.settings import REPO_ROOT

CSV = REPO_ROOT / "routing" / "departments.csv"
SMALL_CSV = REPO_ROOT / "tests" / "data" / "departments.csv"


@cache
def ranges() -> tuple[MobileRange, ...]:
    found, _ = mobile_ranges(Directory.load(CSV))
    return tuple(found)


@cache
def full_directory() -> Directory:
    """routing/departments.csv with the mobile ranges of the pinned phonenumbers."""
    return Directory.load(CSV, ranges())
