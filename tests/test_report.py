"""The periodic report, on SQLite and PostgreSQL: counts from calls, their
steps, cases and surveys put in by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ivr.cases import report as reports
from ivr.cases.registry import Cases
from ivr.db.models import Call, CallStep
from ivr.errors import DataError

from .test_db_operators import DIRECTORY, Sessions, add

# The week of Monday 2026-11-23 in Beijing starts at 2026-11-22 16:00 UTC.
MONDAY_EARLY = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)  # 00:30 on Monday
SUNDAY_LATE = datetime(2026, 11, 22, 15, 30, tzinfo=UTC)  # 23:30 the Sunday before
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
HEFEI, CHANGFENG = "340100", "340121"


def test_periods_are_beijing_days_weeks_and_months() -> None:
    wednesday = date(2026, 11, 25)
    assert reports.days_of("day", wednesday) == (wednesday, wednesday)
    assert reports.days_of("week", wednesday) == (date(2026, 11, 23), date(2026, 11, 29))
    assert reports.days_of("week", date(2026, 11, 29)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert reports.days_of("month", wednesday) == (date(2026, 11, 1), date(2026, 11, 30))
    assert reports.days_of("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert reports.parse_day(None, MONDAY_EARLY) == date(2026, 11, 23)
    with pytest.raises(DataError, match="period is day, week, month"):
        reports.days_of("year", wednesday)
    with pytest.raises(DataError, match="not a date"):
        reports.parse_day("2026-13-01", NOW)


async def add_call(
    sessions: Sessions,
    call_id: str,
    started: datetime,
    department: str,
    steps: list[tuple[str, str, str | None]],
) -> None:
    async with sessions() as session, session.begin():
        session.add(
            Call(
                id=call_id, sip_call_id=None, node="n", caller="13800138000", dialed="12371",
                department_code=department, department_name="", route_rule="default",
                route_read="", started_at=started, answered_at=started, ended_at=None,
                end_reason=None, flow_state=None, updated_at=started,
            )
        )
        await session.flush()
        for seq, (kind, value, detail) in enumerate(steps, start=1):
            session.add(
                CallStep(
                    call_id=call_id, seq=seq, at=started + timedelta(seconds=seq),
                    kind=kind, value=value, detail=detail,
                )
            )


async def fill(sessions: Sessions) -> None:
    service = "note", "service"
    await add_call(sessions, "answered", MONDAY_EARLY, HEFEI, [
        (*service, "operators"), ("category", "dues", None), ("note", "connected", "op1001"),
    ])
    await add_call(sessions, "menu", MONDAY_EARLY + timedelta(hours=20), HEFEI, [
        (*service, "after_hours"), ("category", "dues", None), ("key", "*", None),
        ("category", "rights", None),
    ])
    await add_call(sessions, "missed", MONDAY_EARLY + timedelta(days=2), HEFEI, [
        (*service, "operators"), ("category", "dues", None), ("note", "queued", "1"),
    ])
    # Moved on to the county: counted where it ended.
    await add_call(sessions, "county", MONDAY_EARLY + timedelta(days=6), CHANGFENG, [
        (*service, "operators"), ("department", CHANGFENG, "chosen"), (*service, "after_hours"),
    ])
    await add_call(sessions, "last-week", SUNDAY_LATE, HEFEI, [(*service, "after_hours")])
    await add_call(sessions, "next-week", MONDAY_EARLY + timedelta(days=7), HEFEI, [])


async def register(sessions: Sessions, at: datetime, source: str, **fields: object) -> str:
    cases = Cases(sessions, DIRECTORY, lambda: at)
    given: dict[str, object] = {
        "source": source, "kind": "message", "department": HEFEI, "category": "dues",
        "caller": "13800138000", "call_id": source, "recording": source, "seconds": 3.0,
    }
    given.update(fields)
    return (await cases.register(**given)).number  # type: ignore[arg-type]


async def test_the_weekly_report_counts_calls_cases_and_surveys(
    db_sessionmaker: Sessions,
) -> None:
    await fill(db_sessionmaker)
    await add(db_sessionmaker, "op1001")
    done = await register(db_sessionmaker, MONDAY_EARLY, "m1")
    await register(db_sessionmaker, MONDAY_EARLY + timedelta(hours=1), "m2")  # open, late by NOW
    await register(
        db_sessionmaker, MONDAY_EARLY + timedelta(days=1), "callback:county", kind="callback",
        department=CHANGFENG, category="", recording=None,
    )
    await register(db_sessionmaker, SUNDAY_LATE, "m-old")  # last week's, still open
    cases = Cases(db_sessionmaker, DIRECTORY, lambda: NOW)
    for action, note in [("assign", ""), ("start", ""), ("resolve", "答复")]:
        await cases.transition(done, action, actor="admin", note=note, operator="op1001")
    surveyed = Cases(db_sessionmaker, DIRECTORY, lambda: MONDAY_EARLY + timedelta(days=3))
    await surveyed.record_survey("answered", HEFEI, "operator", 1, "op1001")
    await surveyed.record_survey("m1", HEFEI, "case", 3)
    surveyed_last_week = Cases(db_sessionmaker, DIRECTORY, lambda: SUNDAY_LATE)
    await surveyed_last_week.record_survey("last-week", HEFEI, "operator", 2)

    async with db_sessionmaker() as session:
        made = await reports.build(session, DIRECTORY, "week", date(2026, 11, 25), NOW)
    assert (made.first_day, made.last_day) == (date(2026, 11, 23), date(2026, 11, 29))
    assert (made.calls, made.answered, made.after_hours) == (4, 1, 2)
    assert [(c.department, c.category, c.calls, c.answered, c.after_hours)
            for c in made.call_lines] == [
        (HEFEI, "dues", 2, 1, 0),
        (HEFEI, "rights", 1, 0, 1),
        (CHANGFENG, "", 1, 0, 1),
    ]
    assert made.call_lines[0].category_name == "党费收缴、使用和管理"
    assert made.call_lines[2].category_name == "未分类"
    assert made.cases == 3
    assert [(c.department, c.category, c.kind, c.cases) for c in made.case_lines] == [
        (HEFEI, "dues", "message", 2), (CHANGFENG, "", "callback", 1)
    ]
    assert [(d.department, d.registered, d.done, d.open, d.overdue) for d in made.departments] == [
        (HEFEI, 2, 1, 2, 2), (CHANGFENG, 1, 0, 1, 1)
    ]
    assert made.surveys == {"operator": {"1": 1, "2": 0, "3": 0}, "case": {"1": 0, "2": 0, "3": 1}}

    text = reports.render(made)
    assert "12371 week report, 2026-11-23 to 2026-11-29 (Asia/Shanghai)" in text
    assert "Calls: 4 (1 answered by an operator, 2 after hours)" in text
    assert "Cases registered: 3" in text
    assert "中共长丰县委组织部 (340121)" in text and "未分类" in text
    # The JSON is the same data.
    assert made.model_dump(mode="json")["call_lines"][0]["calls"] == 2


async def test_a_day_with_nothing_is_a_report_of_zeros(db_sessionmaker: Sessions) -> None:
    async with db_sessionmaker() as session:
        made = await reports.build(session, DIRECTORY, "day", date(2026, 11, 24), NOW)
    assert (made.calls, made.cases, made.call_lines, made.departments) == (0, 0, [], [])
    assert "Calls: 0" in reports.render(made)



async def test_the_report_counts_calls_by_hour_cases_by_status_and_the_satisfaction_rate(
    db_sessionmaker: Sessions,
) -> None:
    await fill(db_sessionmaker)
    await add(db_sessionmaker, "op1001")
    done = await register(db_sessionmaker, MONDAY_EARLY, "m1")
    await register(db_sessionmaker, MONDAY_EARLY + timedelta(hours=1), "m2")
    await register(
        db_sessionmaker, MONDAY_EARLY + timedelta(days=1), "callback:county", kind="callback",
        department=CHANGFENG, category="", recording=None,
    )
    await register(db_sessionmaker, SUNDAY_LATE, "m-old")  # last week's: not in the week
    cases = Cases(db_sessionmaker, DIRECTORY, lambda: NOW)
    for action in ("assign", "start", "resolve"):
        await cases.transition(done, action, actor="admin", note="已答复", operator="op1001")
    surveyed = Cases(db_sessionmaker, DIRECTORY, lambda: MONDAY_EARLY + timedelta(days=3))
    for kind, score in (("operator", 1), ("operator", 2), ("case", 3)):
        await surveyed.record_survey(f"{kind}-{score}", HEFEI, kind, score)  # type: ignore[arg-type]

    async with db_sessionmaker() as session:
        made = await reports.build(session, DIRECTORY, "week", date(2026, 11, 25), NOW)
        county = await reports.build(
            session, DIRECTORY, "week", date(2026, 11, 25), NOW, [CHANGFENG]
        )
    # Beijing hours: three calls at 00:30 (Monday, Wednesday, Sunday), one at 20:30.
    assert {h: n for h, n in enumerate(made.per_hour) if n} == {0: 3, 20: 1}
    assert {h: n for h, n in enumerate(made.answered_per_hour) if n} == {0: 1}
    assert {h: n for h, n in enumerate(made.after_hours_per_hour) if n} == {0: 1, 20: 1}
    assert sum(made.per_hour) == made.calls
    assert made.case_statuses == {
        "registered": 2, "assigned": 0, "in_progress": 0, "resolved": 1, "closed": 0
    }
    assert made.satisfaction_rate == 0.6667  # satisfied and fair: 2 of 3
    assert "satisfaction rate (satisfied and fair of all answers): 66.7%" in reports.render(made)
    assert "as they stand now: registered 2, resolved 1" in reports.render(made)

    assert {h: n for h, n in enumerate(county.per_hour) if n} == {0: 1}
    assert county.case_statuses["registered"] == 1 and sum(county.case_statuses.values()) == 1
    assert county.satisfaction_rate is None
    assert "satisfaction rate (satisfied and fair of all answers): no answers" in reports.render(
        county
    )
