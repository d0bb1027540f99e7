"""Working hours: is a department open at a given moment, and when does that change.

Theory of operation: in working hours a caller reaches a person, outside them
the automatic voice menu (组厅字〔2009〕5号). A department is open when

1. an extra opening of its own covers the moment (a campaign's long hours), or
2. no closure of its own covers it (a meeting), the official calendar makes
   the day a working day, and the moment falls in one of that day's intervals.

The weekly schedule is the department's own, else its nearest ancestor's,
else the national default (`routing/hours.yaml`); times are the department's
own time zone. The official calendar (statutory holidays and the make-up
working days of 调休) comes from the `chinese-calendar` package; a make-up
working day on a weekend keeps Monday's hours. For a year that package does
not know yet, weekends are rest days, the fixed-date statutory holidays
(New Year's Day, Labour Day, National Day) are closed, and the answer says
the calendar is incomplete: lunar holidays and 调休 need a closure or an
opening of their own until the package is updated.
"""

from __future__ import annotations

import importlib.metadata
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ivr.directory.routing import Directory
from ivr.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead `next_change` looks: past a month of closure, the answer is "not soon".
LOOKAHEAD_DAYS = 31
# 全国年节及纪念日放假办法: the statutory holidays on fixed solar dates.
FIXED_HOLIDAYS = {
    (1, 1): "New Year's Day",
    (5, 1): "Labour Day",
    (5, 2): "Labour Day",
    (10, 1): "National Day",
    (10, 2): "National Day",
    (10, 3): "National Day",
}
CALENDAR = f"chinese-calendar {importlib.metadata.version('chinese-calendar')}"


@dataclass(frozen=True, slots=True)
class Interval:
    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _interval(text: str) -> Interval:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{text!r} is not an interval like 08:30-12:00") from None
    if start >= end:
        raise ValueError(f"{text!r} ends before it starts")
    return Interval(start, end)


class Week(BaseModel):
    """Opening intervals by weekday, e.g. `mon: [08:30-12:00, 14:30-17:30]`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mon: list[str] = Field(default_factory=list)
    tue: list[str] = Field(default_factory=list)
    wed: list[str] = Field(default_factory=list)
    thu: list[str] = Field(default_factory=list)
    fri: list[str] = Field(default_factory=list)
    sat: list[str] = Field(default_factory=list)
    sun: list[str] = Field(default_factory=list)

    @field_validator(*WEEKDAYS)
    @classmethod
    def _check(cls, intervals: list[str]) -> list[str]:
        parsed = sorted((_interval(text) for text in intervals), key=lambda i: i.start)
        for before, after in itertools.pairwise(parsed):
            if after.start < before.end:
                raise ValueError(f"{before} and {after} overlap")
        return intervals

    @cached_property
    def days(self) -> tuple[tuple[Interval, ...], ...]:
        """Each weekday's intervals, parsed once, Monday first."""
        return tuple(
            tuple(sorted(map(_interval, getattr(self, day)), key=lambda i: i.start))
            for day in WEEKDAYS
        )

    def on(self, weekday: int) -> tuple[Interval, ...]:
        return self.days[weekday]


class Period(BaseModel):
    """A closure or an extra opening; times without a zone are the department's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime
    end: datetime
    reason: str = Field(min_length=1, max_length=200)

    def covers(self, local: datetime) -> bool:
        return _naive(self.start, local.tzinfo) <= local < _naive(self.end, local.tzinfo)


class DepartmentHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    week: Week | None = None
    closures: list[Period] = Field(default_factory=list)
    openings: list[Period] = Field(default_factory=list)


# What a department without hours of its own has: made once, since
# `is_open` is asked on every call.
NO_OWN_HOURS = DepartmentHours()


class HoursSpec(BaseModel):
    """routing/hours.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Week
    departments: dict[str, DepartmentHours] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Status:
    open: bool
    reason: str
    next_change: datetime | None  # when `open` flips, within LOOKAHEAD_DAYS
    schedule_from: str  # the department whose week applies, or "default"
    calendar_complete: bool


def load(path: Path, directory: Directory) -> Hours:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec = HoursSpec.model_validate(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", path=str(path)) from exc
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}", path=str(path)) from None
    unknown = sorted(code for code in spec.departments if not directory.has(code))
    if unknown:
        raise ConfigError(f"{path}: no such departments: {', '.join(unknown)}", path=str(path))
    return Hours(spec, directory)


class Hours:
    def __init__(self, spec: HoursSpec, directory: Directory) -> None:
        self._spec = spec
        self._directory = directory
        # `is_open` per department: (open, from, until the next change).
        self._known: dict[str, tuple[bool, datetime, datetime]] = {}

    @property
    def spec(self) -> HoursSpec:
        return self._spec

    def status(self, code: str, at: datetime) -> Status:
        """Whether department `code` is open at `at` (an aware time), and until when."""
        department = self._directory.by_code(code)
        local = at.astimezone(ZoneInfo(department.timezone))
        own = self._spec.departments.get(code, NO_OWN_HOURS)
        week, source = self._week(code)
        is_open, reason, complete = _evaluate(local, own, week)
        return Status(
            is_open, reason, self._next_change(local, own, week, is_open), source, complete
        )

    def is_open(self, code: str, at: datetime) -> bool:
        """`status(code, at).open`: asked on every call, so worked out once
        per department until its next change (the spec never changes: a
        publish makes new `Hours`)."""
        known = self._known.get(code)
        if known is not None and known[1] <= at < known[2]:
            return known[0]
        status = self.status(code, at)
        until = status.next_change or at + timedelta(days=LOOKAHEAD_DAYS)
        self._known[code] = (status.open, at, until)
        return status.open

    def _week(self, code: str) -> tuple[Week, str]:
        for ancestor in self._directory.lineage(code):
            hours = self._spec.departments.get(ancestor.code)
            if hours is not None and hours.week is not None:
                return hours.week, ancestor.code
        return self._spec.default, "default"

    def _next_change(
        self, local: datetime, own: DepartmentHours, week: Week, is_open: bool
    ) -> datetime | None:
        for moment in _boundaries(local, own, week):
            if _evaluate(moment, own, week)[0] != is_open:
                return moment
        return None


def _evaluate(local: datetime, own: DepartmentHours, week: Week) -> tuple[bool, str, bool]:
    """(open, why, whether the calendar knew the day)."""
    for opening in own.openings:
        if opening.covers(local):
            return True, f"extra opening: {opening.reason}", True
    for closure in own.closures:
        if closure.covers(local):
            return False, f"closed: {closure.reason}", True
    kind, why, complete = day_kind(local.date())
    if kind == "holiday":
        return False, f"closed: {why}", complete
    intervals = _intervals(local.date(), week, kind)
    for interval in intervals:
        if interval.start <= local.time() < interval.end:
            return True, f"open: {why}, hours {interval}", complete
    if not intervals:
        return False, f"closed: {why}", complete
    hours = ", ".join(map(str, intervals))
    return False, f"closed: {why}, outside hours ({hours})", complete


DayKind = Literal["working", "make-up", "weekend", "holiday"]


@lru_cache(maxsize=4096)
def day_kind(day: date) -> tuple[DayKind, str, bool]:
    """(kind of day, said for a person, whether the official calendar knew it).

    Cached: asked on every call, and chinese-calendar scans its whole table
    for every date it is asked about (about 30 µs)."""
    try:
        working = chinese_calendar.is_workday(day)
        holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        fixed = FIXED_HOLIDAYS.get((day.month, day.day))
        unknown = f"{day.year} not in {CALENDAR}"
        if fixed:
            return "holiday", f"statutory holiday ({fixed}; {unknown})", False
        if day.weekday() >= 5:
            return "weekend", f"weekend ({unknown})", False
        return "working", f"working day ({unknown})", False
    if working:
        if day.weekday() >= 5:
            return "make-up", "make-up working day (调休)", True
        return "working", "working day", True
    if holiday and name:
        return "holiday", f"statutory holiday ({name})", True
    return "weekend", "weekend", True


def _intervals(day: date, week: Week, kind: DayKind) -> tuple[Interval, ...]:
    # A make-up working day falls on a weekend and keeps a working day's hours.
    if kind == "make-up" and not week.on(day.weekday()):
        return week.on(0)
    return week.on(day.weekday())


def _boundaries(local: datetime, own: DepartmentHours, week: Week) -> Iterator[datetime]:
    """Every moment after `local` at which being open could change, in order."""
    zone = local.tzinfo
    moments: set[datetime] = set()
    for offset in range(LOOKAHEAD_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        moments.add(datetime.combine(day, time(0), zone))
        for interval in week.on(day.weekday()) + week.on(0):
            moments.add(datetime.combine(day, interval.start, zone))
            moments.add(datetime.combine(day, interval.end, zone))
    for period in [*own.closures, *own.openings]:
        moments.add(_naive(period.start, zone))
        moments.add(_naive(period.end, zone))
    yield from sorted(moment for moment in moments if moment > local)


def _naive(moment: datetime, zone: tzinfo | None) -> datetime:
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def explain(name: str, code: str, status: Status, *, at: datetime) -> Mapping[str, object]:
    """A status as plain data, for `ivr hours --json` and the HTTP API."""
    return {
        "department": code,
        "name": name,
        "at": at.isoformat(),
        "open": status.open,
        "reason": status.reason,
        "next_change": status.next_change.isoformat() if status.next_change else None,
        "schedule_from": status.schedule_from,
        "calendar": CALENDAR,
        "calendar_complete": status.calendar_complete,
    }
