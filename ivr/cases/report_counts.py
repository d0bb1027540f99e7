"""The counts behind the periodic report (`ivr.cases.report`), read in one session.

A call belongs to the department it ended at (`calls.department_code`) and
to the category of its last `category` step; whether it reached a person
comes from its notes: `service` (its detail: operators, unstaffed or
after_hours, the last one counting) and `connected` (an operator answered).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.models import Call, CallStep, CaseRow, SurveyRow

# What a call's notes say about it, for the report.
SERVICE_NOTE = "service"
CONNECTED_NOTE = "connected"
AFTER_HOURS = "after_hours"


@dataclass(frozen=True, slots=True)
class CallCount:
    department: str
    category: str
    calls: int = 0
    answered: int = 0  # an operator talked with the caller
    after_hours: int = 0  # the platform answered alone


@dataclass(slots=True)
class ClassifiedCall:
    """A call as the report counts it."""

    department: str
    started_at: datetime
    category: str = ""
    service: str = ""
    answered: bool = False

    @property
    def after_hours(self) -> bool:
        return self.service == AFTER_HOURS


def count_calls(calls: Iterable[ClassifiedCall]) -> list[CallCount]:
    """`calls` by department and category."""
    totals: dict[tuple[str, str], list[int]] = {}
    for call in calls:
        counts = totals.setdefault((call.department, call.category), [0, 0, 0])
        counts[0] += 1
        counts[1] += call.answered
        counts[2] += call.after_hours
    return [
        CallCount(department, category, *counts)
        for (department, category), counts in sorted(totals.items())
    ]


async def classified_calls(
    session: AsyncSession, start: datetime, end: datetime, departments: list[str] | None = None
) -> list[ClassifiedCall]:
    """Every call started in [start, end) (at `departments`, if given), with its
    category and whether an operator answered or it came after hours."""
    in_period = and_(Call.started_at >= start, Call.started_at < end)
    if departments is not None:
        in_period = and_(in_period, Call.department_code.in_(departments))
    calls = {
        call_id: ClassifiedCall(department, started_at)
        for call_id, department, started_at in await session.execute(
            select(Call.id, Call.department_code, Call.started_at).where(in_period)
        )
    }
    steps = await session.execute(
        select(CallStep.call_id, CallStep.kind, CallStep.value, CallStep.detail)
        .join(Call, Call.id == CallStep.call_id)
        .where(
            in_period,
            or_(
                CallStep.kind == "category",
                and_(CallStep.kind == "note", CallStep.value.in_((SERVICE_NOTE, CONNECTED_NOTE))),
            ),
        )
        .order_by(CallStep.call_id, CallStep.seq)
    )
    for call_id, kind, value, detail in steps:
        call = calls.get(call_id)
        if call is None:
            continue
        if kind == "category":
            call.category = value
        elif value == SERVICE_NOTE:
            call.service = detail or ""
        else:
            call.answered = True
    return list(calls.values())


HOURS = 24


@dataclass(frozen=True, slots=True)
class HourCounts:
    """Calls by the hour of the day they started (0 to 23), over every day counted."""

    calls: list[int] = field(default_factory=lambda: [0] * HOURS)
    answered: list[int] = field(default_factory=lambda: [0] * HOURS)
    after_hours: list[int] = field(default_factory=lambda: [0] * HOURS)


def by_hour(calls: Iterable[ClassifiedCall], tz: ZoneInfo) -> HourCounts:
    """`calls` by their starting hour on the clock of `tz`."""
    counts = HourCounts()
    for call in calls:
        hour = call.started_at.astimezone(tz).hour
        counts.calls[hour] += 1
        counts.answered[hour] += call.answered
        counts.after_hours[hour] += call.after_hours
    return counts


async def case_counts(
    session: AsyncSession, start: datetime, end: datetime
) -> Sequence[tuple[str, str, str, int]]:
    """Cases registered in [start, end): (department, category, kind, count)."""
    rows = await session.execute(
        select(CaseRow.department_code, CaseRow.category, CaseRow.kind, func.count())
        .where(CaseRow.created_at >= start, CaseRow.created_at < end)
        .group_by(CaseRow.department_code, CaseRow.category, CaseRow.kind)
        .order_by(CaseRow.department_code, CaseRow.category, CaseRow.kind)
    )
    return [(department, category, kind, int(n)) for department, category, kind, n in rows]


@dataclass(slots=True)
class CaseState:
    """A department's cases: registered in the period and how many of those
    are done; open and past due now, whenever registered."""

    registered: int = 0
    done: int = 0
    open: int = 0
    overdue: int = 0


async def case_states(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    open_statuses: Sequence[str],
) -> dict[str, CaseState]:
    states: dict[str, CaseState] = {}
    in_period = and_(CaseRow.created_at >= start, CaseRow.created_at < end)
    is_open = CaseRow.status.in_(open_statuses)
    registered = await session.execute(
        select(CaseRow.department_code, is_open, func.count())
        .where(in_period)
        .group_by(CaseRow.department_code, is_open)
    )
    for department, still_open, n in registered:
        state = states.setdefault(department, CaseState())
        state.registered += n
        state.done += 0 if still_open else n
    late = (CaseRow.due_at < now).label("late")
    backlog = await session.execute(
        select(CaseRow.department_code, late, func.count())
        .where(is_open)
        .group_by(CaseRow.department_code, late)
    )
    for department, is_late, n in backlog:
        state = states.setdefault(department, CaseState())
        state.open += n
        state.overdue += n if is_late else 0
    return states


async def status_counts(
    session: AsyncSession, start: datetime, end: datetime, departments: list[str] | None = None
) -> Counter[str]:
    """Cases registered in [start, end) (at `departments`, if given), by the
    status they stand in now."""
    query = (
        select(CaseRow.status, func.count())
        .where(CaseRow.created_at >= start, CaseRow.created_at < end)
        .group_by(CaseRow.status)
    )
    if departments is not None:
        query = query.where(CaseRow.department_code.in_(departments))
    return Counter({status: int(n) for status, n in await session.execute(query)})


async def survey_counts(
    session: AsyncSession, start: datetime, end: datetime, departments: list[str] | None = None
) -> Counter[tuple[str, int]]:
    """Surveys answered in [start, end) (at `departments`, if given), by (kind, score)."""
    query = (
        select(SurveyRow.kind, SurveyRow.score, func.count())
        .where(SurveyRow.at >= start, SurveyRow.at < end)
        .group_by(SurveyRow.kind, SurveyRow.score)
    )
    if departments is not None:
        query = query.where(SurveyRow.department_code.in_(departments))
    rows = await session.execute(query)
    return Counter({(kind, int(score)): int(n) for kind, score, n in rows})
