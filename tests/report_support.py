"""A week of the hotline for the report's tests: calls at several hours,
cases in several departments and statuses, some late, and survey answers.

The week is Monday 2026-11-23 to Sunday 2026-11-29 (Beijing); the admin
app's clock (tests/admin_support.py) stands at Friday 20:00 of it, so the
cases registered on Monday are past their due date (three working days).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ivr.admin.keys import DIRECTORY
from ivr.cases.registry import Cases
from ivr.desk import operator_store as stored_operators
from tests.admin_support import AdminApp
from tests.test_report import add_call

WEEK_DAY = "2026-11-25"  # a day of the week
MONDAY = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # 00:00 on Monday, Beijing
HEFEI, CHANGFENG, FEIXI, BEIJING = "340100", "340121", "340123", "110101"
# Departments with one late case each: with the three above, more than a
# chart shows one by one.
COUNTIES = ("340102", "340103", "340104", "340111", "340122", "340124")

SERVICE = "note", "service"


async def seed_week(admin: AdminApp) -> None:
    await _calls(admin)
    await _cases(admin)
    await _surveys(admin)


async def _calls(admin: AdminApp) -> None:
    # (department, hours after Monday 00:00, category, answered, after hours)
    calls = [
        (HEFEI, 9, "dues", True, False),
        (HEFEI, 9.2, "dues", True, False),
        (HEFEI, 24 + 9.5, "theory", True, False),
        (HEFEI, 10, "relations", True, False),
        (HEFEI, 48 + 10.5, "dues", True, False),
        (HEFEI, 14, "opinions", False, False),  # waited in line, hung up
        (HEFEI, 14.5, "dues", True, False),
        (HEFEI, 20, "dues", False, True),
        (HEFEI, 72 + 20.2, "", False, True),
        (CHANGFENG, 9.7, "building", True, False),
        (CHANGFENG, 21, "dues", False, True),
        (FEIXI, 11, "rights", True, False),
        (BEIJING, 15, "dues", True, False),
    ]
    for number, (department, hours, category, answered, after) in enumerate(calls):
        steps: list[tuple[str, str, str | None]] = [
            (*SERVICE, "after_hours" if after else "operators")
        ]
        if category:
            steps.append(("category", category, None))
        if answered:
            steps.append(("note", "connected", "op1001"))
        started = MONDAY + timedelta(hours=hours)
        await add_call(admin.sessions, f"week-{number}", started, department, steps)


# (department, hours after Monday 00:00, kind, status it is moved to)
CASES = [
    (HEFEI, 12, "message", "resolved"),
    (HEFEI, 12.5, "callback", "assigned"),  # late
    (HEFEI, 13, "message", "registered"),  # late
    (HEFEI, 96 + 10, "message", "registered"),  # Friday: not late yet
    (CHANGFENG, 12, "message", "in_progress"),  # late
    (CHANGFENG, 12.2, "callback", "closed"),
    (CHANGFENG, 96 + 11, "message", "resolved"),
    (FEIXI, 12, "message", "registered"),  # late
    (BEIJING, 12, "message", "registered"),  # late
    *((code, 12, "message", "registered") for code in COUNTIES),  # late
]
MOVES = {
    "registered": (),
    "assigned": ("assign",),
    "in_progress": ("assign", "start"),
    "resolved": ("assign", "start", "resolve"),
    "closed": ("assign", "start", "resolve", "close"),
}


async def _cases(admin: AdminApp) -> None:
    directory = admin.app[DIRECTORY]
    async with admin.sessions() as session, session.begin():
        await stored_operators.add_operator(
            session,
            directory,
            "op1001",
            name="张敏",
            endpoint="op1001",
            departments=[HEFEI, CHANGFENG],
            at=MONDAY,
        )
    now = Cases(admin.sessions, directory, admin.clock)
    for number, (department, hours, kind, status) in enumerate(CASES):
        at = MONDAY + timedelta(hours=hours)
        case = await Cases(admin.sessions, directory, lambda at=at: at).register(
            source=f"case-{number}",
            kind=kind,
            department=department,
            category="dues",
            caller="13800138000",
            call_id=f"week-case-{number}",
        )
        for action in MOVES[status]:
            await now.transition(
                case.number, action, actor="admin", note="已电话答复", operator="op1001"
            )


# (department, kind, score): satisfied 6, fair 2, dissatisfied 2
SURVEYS = [
    *((HEFEI, "operator", 1) for _ in range(4)),
    (HEFEI, "operator", 2),
    (HEFEI, "operator", 3),
    (CHANGFENG, "operator", 1),
    (CHANGFENG, "case", 2),
    (HEFEI, "case", 1),
    (HEFEI, "case", 3),
]


async def _surveys(admin: AdminApp) -> None:
    at = MONDAY + timedelta(days=2, hours=10)
    cases = Cases(admin.sessions, admin.app[DIRECTORY], lambda: at)
    for number, (department, kind, score) in enumerate(SURVEYS):
        await cases.record_survey(f"survey-{number}", department, kind, score)  # type: ignore[arg-type]
