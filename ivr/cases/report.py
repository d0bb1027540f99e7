"""The hotline's periodic report (定期汇总上报): calls and cases by department
and category, and what callers said of the service.

A period is a day, a week (Monday to Sunday) or a month of the hotline's own
calendar (Beijing time), the one holding a given date. Calls and cases count
in the period they started or were registered in; open and overdue cases are
counted as they stand when the report is made. `ivr report` prints it as
tables, `--json` and `GET /api/report` give the same data.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Literal, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.cases import report_counts as counted
from ivr.cases.rules import OPEN, SCORES, STATUSES, SURVEY_KINDS
from ivr.cases.views import department_name
from ivr.directory.routing import Directory
from ivr.errors import DataError
from ivr.publish.menus import CATEGORIES
from ivr.settings import HOTLINE_TZ

Period: TypeAlias = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = get_args(Period)
SCORE_WORDS = {1: "satisfied", 2: "fair", 3: "dissatisfied"}
SATISFIED_SCORES = ("1", "2")  # what the satisfaction rate counts as satisfied
NO_CATEGORY = "未分类"


class CallLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    department: str
    department_name: str
    category: str  # "" for none
    category_name: str
    calls: int
    answered: int  # by an operator
    after_hours: int  # by the platform alone


class CaseLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    department: str
    department_name: str
    category: str
    category_name: str
    kind: str
    cases: int


class DepartmentCases(BaseModel):
    model_config = ConfigDict(frozen=True)

    department: str
    department_name: str
    registered: int  # in the period
    done: int  # of those, resolved or closed by now
    open: int  # now, whenever registered
    overdue: int  # now


class Report(BaseModel):
    model_config = ConfigDict(frozen=True)

    period: Period
    first_day: date
    last_day: date
    timezone: str
    made_at: datetime
    calls: int
    answered: int
    after_hours: int
    call_lines: list[CallLine]
    cases: int
    case_lines: list[CaseLine]
    departments: list[DepartmentCases]
    # kind -> score ("1", "2", "3") -> how many
    surveys: dict[str, dict[str, int]]
    # Calls by the hour (0 to 23, Beijing) they started, over all the period's days.
    per_hour: list[int]
    answered_per_hour: list[int]
    after_hours_per_hour: list[int]
    # Cases registered in the period by the status they stand in now; every status.
    case_statuses: dict[str, int]
    # (satisfied + fair) / all survey answers, 0 to 1; None without answers.
    satisfaction_rate: float | None


def days_of(period: str, day: date) -> tuple[date, date]:
    """The first and the last day of the `period` holding `day`."""
    if period == "day":
        return day, day
    if period == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    if period == "month":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following - timedelta(days=1)
    raise DataError(f"a report's period is {', '.join(PERIODS)}; not {period!r}", field="period")


def parse_day(text: str | None, now: datetime) -> date:
    """`YYYY-MM-DD`, or today in Beijing."""
    if not text:
        return now.astimezone(HOTLINE_TZ).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DataError(f"{text!r} is not a date like 2026-11-24", field="date") from None


async def build(
    session: AsyncSession,
    directory: Directory,
    period: str,
    day: date,
    now: datetime,
    departments: list[str] | None = None,
) -> Report:
    """The report of `period` around `day`; of `departments` only, if given."""
    first, last = days_of(period, day)
    start = datetime.combine(first, time(0), HOTLINE_TZ)
    end = datetime.combine(last + timedelta(days=1), time(0), HOTLINE_TZ)
    classified = await counted.classified_calls(session, start, end, departments)
    calls = counted.count_calls(classified)
    hours = counted.by_hour(classified, HOTLINE_TZ)
    cases = await counted.case_counts(session, start, end)
    states = await counted.case_states(session, start, end, now, OPEN)
    statuses = await counted.status_counts(session, start, end, departments)
    surveys = await counted.survey_counts(session, start, end, departments)
    if departments is not None:
        seen = set(departments)
        cases = [c for c in cases if c[0] in seen]
        states = {code: state for code, state in states.items() if code in seen}

    def name(code: str) -> str:
        return department_name(directory, code)

    call_lines = [
        CallLine(
            department=c.department,
            department_name=name(c.department),
            category=c.category,
            category_name=category_name(c.category),
            calls=c.calls,
            answered=c.answered,
            after_hours=c.after_hours,
        )
        for c in sorted(calls, key=lambda c: (c.department, _rank(c.category)))
    ]
    case_lines = [
        CaseLine(
            department=code,
            department_name=name(code),
            category=category,
            category_name=category_name(category),
            kind=kind,
            cases=n,
        )
        for code, category, kind, n in sorted(cases, key=lambda c: (c[0], _rank(c[1]), c[2]))
    ]
    per_department = [
        DepartmentCases(
            department=code,
            department_name=name(code),
            registered=s.registered,
            done=s.done,
            open=s.open,
            overdue=s.overdue,
        )
        for code, s in sorted(states.items())
    ]
    answers: dict[str, dict[str, int]] = {
        kind: {str(score): surveys[(kind, score)] for score in SCORES} for kind in SURVEY_KINDS
    }
    return Report(
        period=period,
        first_day=first,
        last_day=last,
        timezone=str(HOTLINE_TZ),
        made_at=now,
        calls=sum(line.calls for line in call_lines),
        answered=sum(line.answered for line in call_lines),
        after_hours=sum(line.after_hours for line in call_lines),
        call_lines=call_lines,
        cases=sum(line.cases for line in case_lines),
        case_lines=case_lines,
        departments=per_department,
        surveys=answers,
        per_hour=hours.calls,
        answered_per_hour=hours.answered,
        after_hours_per_hour=hours.after_hours,
        case_statuses={status: statuses[status] for status in STATUSES},
        satisfaction_rate=satisfaction_rate(answers),
    )


def satisfaction_rate(surveys: dict[str, dict[str, int]]) -> float | None:
    """(satisfied + fair) / all answers, of every kind, to four places; None for none."""
    total = sum(n for scores in surveys.values() for n in scores.values())
    if not total:
        return None
    content = sum(scores.get(score, 0) for scores in surveys.values() for score in SATISFIED_SCORES)
    return round(content / total, 4)


def render(report: Report) -> str:
    """The report as a person reads it: a few tables."""
    lines = [
        f"12371 {report.period} report, {report.first_day} to {report.last_day} "
        f"({report.timezone}), made {report.made_at.astimezone(HOTLINE_TZ):%Y-%m-%d %H:%M}",
        "",
        f"Calls: {report.calls} ({report.answered} answered by an operator, "
        f"{report.after_hours} after hours)",
    ]
    if report.call_lines:
        lines += _table(
            ("department", "category", "calls", "answered", "after hours"),
            [
                (
                    _where(c.department, c.department_name),
                    c.category_name,
                    c.calls,
                    c.answered,
                    c.after_hours,
                )
                for c in report.call_lines
            ],
        )
    lines += ["", f"Cases registered: {report.cases}"]
    if report.case_lines:
        lines += _table(
            ("department", "category", "kind", "cases"),
            [
                (_where(c.department, c.department_name), c.category_name, c.kind, c.cases)
                for c in report.case_lines
            ],
        )
    if report.cases:
        statuses = ", ".join(f"{status} {n}" for status, n in report.case_statuses.items() if n)
        lines += [f"  as they stand now: {statuses}"]
    if report.departments:
        lines += ["", "Cases by department (open and overdue: as the report is made)"]
        lines += _table(
            ("department", "registered", "done", "open", "overdue"),
            [
                (_where(d.department, d.department_name), d.registered, d.done, d.open, d.overdue)
                for d in report.departments
            ],
        )
    lines += ["", "Surveys"]
    lines += _table(
        ("about", *(SCORE_WORDS[score] for score in SCORES)),
        [(kind, *report.surveys[kind].values()) for kind in report.surveys],
    )
    rate = report.satisfaction_rate
    shown = "no answers" if rate is None else f"{rate:.1%}"
    lines += [f"  satisfaction rate (satisfied and fair of all answers): {shown}"]
    return "\n".join(lines)


def _where(code: str, name: str) -> str:
    return f"{name} ({code})" if name else code


def category_name(category: str) -> str:
    """The category's Chinese name; 未分类 for none."""
    return CATEGORIES.get(category, category) if category else NO_CATEGORY


def _rank(category: str) -> int:
    """Categories in the order the menu offers them; none last."""
    order = list(CATEGORIES)
    return order.index(category) if category in CATEGORIES else len(order)


def _width(text: str) -> int:
    """Columns on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Text columns left, numbers right."""
    columns = range(len(headers))
    numeric = [bool(rows) and all(isinstance(row[i], int) for row in rows) for i in columns]
    cells = [list(headers), *([str(cell) for cell in row] for row in rows)]
    widths = [max(_width(row[i]) for row in cells) for i in columns]
    out = []
    for row in cells:
        padded = [
            " " * (w - _width(cell)) + cell if right else cell + " " * (w - _width(cell))
            for cell, w, right in zip(row, widths, numeric, strict=True)
        ]
        out.append("  " + "  ".join(padded).rstrip())
    return out
