"""Who answers a department now: the desk's decision, from hours and staff."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from ivr.desk import queues
from ivr.desk.desk import Desk
from ivr.desk.operators import Operator, Status
from ivr.directory.routing import Directory
from ivr.publish import hours as working_hours
from ivr.settings import HOTLINE_TZ, REPO_ROOT, Settings

DIRECTORY = Directory.load(Path(__file__).parent / "data" / "departments.csv")
HOURS = working_hours.load(REPO_ROOT / "routing" / "hours.yaml", DIRECTORY)
TUESDAY_10 = datetime(2026, 11, 24, 10, 0, tzinfo=HOTLINE_TZ)
TUESDAY_LUNCH = datetime(2026, 11, 24, 12, 30, tzinfo=HOTLINE_TZ)
NATIONAL_DAY = datetime(2026, 10, 1, 10, 0, tzinfo=HOTLINE_TZ)
MAKE_UP_SATURDAY = datetime(2026, 10, 10, 10, 0, tzinfo=HOTLINE_TZ)
WRAP_UP_S = timedelta(seconds=10)


def desk(
    at: datetime,
    staff: list[Operator],
    tmp_path: Path,
    rules: str = "",
    *,
    sessionmaker: Any = None,
    settings: Settings | None = None,
    ari: Any = None,
    post: Callable[[str, object], bool] = lambda _call, _event: False,
) -> Desk:
    """A desk at `at`; what a test does not give (Asterisk, the database) it
    does not need: the decision needs neither."""
    path = tmp_path / "queues.yaml"
    path.write_text(rules or "default: {}", encoding="utf-8")
    unused = cast(Any, None)
    return Desk(
        settings=settings or Settings(state_dir=tmp_path),
        ari=ari,
        sessionmaker=sessionmaker,
        directory=DIRECTORY,
        catalog=unused,
        hours=HOURS,
        queues=queues.load(path, DIRECTORY),
        recorder=unused,
        now=lambda: at,
        post=post,
        handle=unused,
        staff=staff,
    )


def operator(status: Status, *departments: str) -> Operator:
    return Operator("op1", "张敏", "op1", frozenset(departments), status, TUESDAY_10)


@pytest.mark.parametrize(
    ("at", "service"),
    [
        (TUESDAY_10, "operators"),
        (TUESDAY_LUNCH, "after_hours"),
        (NATIONAL_DAY, "after_hours"),
        (MAKE_UP_SATURDAY, "operators"),
    ],
)
def test_the_clock_decides_whether_people_answer(
    tmp_path: Path, at: datetime, service: str
) -> None:
    assert desk(at, [operator("available", "340121")], tmp_path).service("340121") == service


@pytest.mark.parametrize(
    ("staff", "service"),
    [
        ([], "after_hours"),  # no operators at all: as after hours
        ([operator("signed_out", "340121")], "unstaffed"),  # nobody on duty
        ([operator("paused", "340121")], "operators"),  # on duty, back soon
        ([operator("busy", "340121")], "operators"),
        ([operator("available", "340122")], "after_hours"),  # another county's
    ],
)
def test_in_hours_the_staff_decides(tmp_path: Path, staff: list[Operator], service: str) -> None:
    assert desk(TUESDAY_10, staff, tmp_path).service("340121") == service


def test_a_department_overflowing_at_once_has_its_parents_desk(tmp_path: Path) -> None:
    staff = [operator("available", "340100")]
    rules = 'departments: {"340121": {overflow_after_seconds: 0}}'
    assert desk(TUESDAY_10, staff, tmp_path, rules).service("340121") == "operators"
    assert desk(TUESDAY_10, staff, tmp_path).service("340121") == "after_hours"


async def test_a_reconnect_frees_the_places_and_operators_of_calls_that_are_gone(
    tmp_path: Path, db_sessionmaker: Any
) -> None:
    from ivr.desk import line_store as lines
    from ivr.desk import operator_store as stored

    from .test_db_operators import add

    now = TUESDAY_10
    await add(db_sessionmaker, "op1", departments=["340100"])
    async with db_sessionmaker() as session, session.begin():
        await stored.act(session, "op1", "sign_in", now)
        for n, call_id in enumerate(("gone", "called-back", "alive")):
            joined = now + timedelta(seconds=n)
            await lines.join(session, call_id, "340100", "node-a", "138", joined)
        claim = await lines.claim(session, "340100", "node-a", now, WRAP_UP_S)
    assert claim is not None and claim.call_id == "gone"
    settings = Settings(state_dir=tmp_path, node_name="node-a")
    the_desk = desk(now, [], tmp_path, sessionmaker=db_sessionmaker, settings=settings)
    # Alive: "called-back" (a callback's channel serves this entry) and "alive".
    await the_desk.sweep({"called-back", "alive"})
    async with db_sessionmaker() as session:
        gone = await lines.get_entry(session, "gone")
        kept = await lines.get_entry(session, "called-back")
        operator = await stored.get_operator(session, "op1")
    assert gone is not None and gone.status == "channel_gone"
    assert kept is not None and kept.status == "waiting"
    assert operator.status == "available"  # rung for a call that is gone: free again
