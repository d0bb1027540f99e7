"""Working hours against the official calendar, at fixed moments (the IVR_NOW of a call)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.cli import main as cli
from ivr.directory.routing import Directory
from ivr.errors import ConfigError
from ivr.publish.hours import Hours, HoursSpec, load
from ivr.settings import REPO_ROOT

BEIJING = ZoneInfo("Asia/Shanghai")
DIRECTORY = Directory.load(Path(__file__).parent / "data" / "departments.csv")
NATIONAL = load(REPO_ROOT / "routing" / "hours.yaml", DIRECTORY)
HEFEI, ANHUI, CHANGFENG = "340100", "340000", "340121"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


def hours_with(**departments: object) -> Hours:
    default = yaml.safe_load((REPO_ROOT / "routing" / "hours.yaml").read_text())["default"]
    return Hours(HoursSpec.model_validate({"default": default, "departments": departments}),
                 DIRECTORY)


# The official calendar ---------------------------------------------------------


def test_a_weekday_in_hours_is_open_until_lunch() -> None:
    status = NATIONAL.status(HEFEI, at("2026-11-24T10:00"))  # a Tuesday
    assert status.open
    assert status.next_change == at("2026-11-24T12:00")
    assert status.schedule_from == "default"
    assert status.calendar_complete


def test_is_open_asked_on_every_call_turns_at_each_change_and_back_in_time() -> None:
    hours = hours_with()  # its own memory of answers
    moments = ["2026-11-24T10:00", "2026-11-24T11:59:59", "2026-11-24T12:00",
               "2026-11-24T14:29", "2026-11-24T14:30", "2026-11-24T09:00",
               "2026-10-01T10:00", "2026-11-24T12:30"]
    assert [hours.is_open(HEFEI, at(moment)) for moment in moments] == [
        True, True, False, False, True, True, False, False
    ]
    assert all(hours.is_open(HEFEI, at(m)) == NATIONAL.status(HEFEI, at(m)).open
               for m in moments)


def test_lunch_is_closed_until_the_afternoon() -> None:
    status = NATIONAL.status(HEFEI, at("2026-11-24T12:30"))
    assert not status.open
    assert "outside hours" in status.reason
    assert status.next_change == at("2026-11-24T14:30")


def test_a_statutory_holiday_is_closed_until_the_next_working_day() -> None:
    status = NATIONAL.status(HEFEI, at("2026-10-01T10:00"))  # National Day, a Thursday
    assert not status.open
    assert "National Day" in status.reason
    assert status.next_change == at("2026-10-08T08:30")


def test_a_make_up_saturday_is_open_with_a_working_days_hours() -> None:
    status = NATIONAL.status(HEFEI, at("2026-10-10T10:00"))  # 调休
    assert status.open
    assert "调休" in status.reason
    assert status.next_change == at("2026-10-10T12:00")


def test_an_ordinary_saturday_is_closed() -> None:
    status = NATIONAL.status(HEFEI, at("2026-11-28T10:00"))
    assert not status.open
    assert status.reason == "closed: weekend"
    assert status.next_change == at("2026-11-30T08:30")


def test_a_year_the_calendar_does_not_know_closes_fixed_holidays_and_says_so() -> None:
    new_year = NATIONAL.status(HEFEI, at("2027-01-01T10:00"))
    assert not new_year.open and not new_year.calendar_complete
    assert "New Year's Day" in new_year.reason and "2027 not in chinese-calendar" in new_year.reason
    monday = NATIONAL.status(HEFEI, at("2027-01-04T10:00"))
    assert monday.open and not monday.calendar_complete


# A department's own hours ----------------------------------------------------------


def test_a_province_schedule_is_inherited_below_it() -> None:
    hours = hours_with(**{ANHUI: {"week": {"sat": ["09:00-11:00"]}}})
    for code in (ANHUI, HEFEI, CHANGFENG):
        status = hours.status(code, at("2026-11-28T10:00"))  # a Saturday
        assert status.open and status.schedule_from == ANHUI
    assert not hours.status("310000", at("2026-11-28T10:00")).open
    # Its week replaces the default: no weekday hours were given.
    assert not hours.status(HEFEI, at("2026-11-24T10:00")).open


def test_a_closure_closes_in_hours_and_says_why() -> None:
    closure = {"start": "2026-11-24T09:00", "end": "2026-11-24T11:00", "reason": "全体会议"}
    hours = hours_with(**{HEFEI: {"closures": [closure]}})
    status = hours.status(HEFEI, at("2026-11-24T10:00"))
    assert (status.open, status.reason) == (False, "closed: 全体会议")
    assert status.next_change == at("2026-11-24T11:00")
    # Only that department: the one above it stays open.
    assert hours.status(ANHUI, at("2026-11-24T10:00")).open


def test_an_extra_opening_opens_a_sunday() -> None:
    opening = {"start": "2026-11-29T09:00", "end": "2026-11-29T12:00", "reason": "集中服务日"}
    hours = hours_with(**{HEFEI: {"openings": [opening]}})
    status = hours.status(HEFEI, at("2026-11-29T10:00"))
    assert (status.open, status.reason) == (True, "extra opening: 集中服务日")
    assert status.next_change == at("2026-11-29T12:00")


def test_hours_are_the_departments_own_time_zone(tmp_path: Path) -> None:
    rows = (Path(__file__).parent / "data" / "departments.csv").read_text().splitlines()
    # Kunming moved to a zone two hours behind Beijing, as Urumqi's is.
    rows = [row.replace(",Asia/Shanghai", ",Asia/Urumqi") if row.startswith("530100") else row
            for row in rows]
    csv = tmp_path / "departments.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    directory = Directory.load(csv)
    urumqi = next(d.code for d in directory if d.timezone == "Asia/Urumqi")
    hours = load(REPO_ROOT / "routing" / "hours.yaml", directory)
    # 09:00 in Beijing is 07:00 in Urumqi: not open yet there.
    assert not hours.status(urumqi, at("2026-11-24T09:00")).open
    assert hours.status(urumqi, at("2026-11-24T11:00")).open


# Bad data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("departments", "message"),
    [
        ({HEFEI: {"week": {"mon": ["12:00-08:00"]}}}, "ends before it starts"),
        ({HEFEI: {"week": {"mon": ["08:00-12:00", "11:00-13:00"]}}}, "overlap"),
        ({HEFEI: {"week": {"monday": ["08:00-12:00"]}}}, "monday"),
        ({HEFEI: {"week": {"mon": ["8 to 12"]}}}, "not an interval"),
        ({"999999": {}}, "no such departments: 999999"),
    ],
)
def test_bad_hours_are_refused_naming_the_problem(
    tmp_path: Path, departments: dict[str, object], message: str
) -> None:
    path = tmp_path / "hours.yaml"
    default = {"mon": ["08:30-12:00"]}
    path.write_text(yaml.safe_dump({"default": default, "departments": departments}))
    with pytest.raises(ConfigError, match=message):
        load(path, DIRECTORY)


# Properties -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(minutes=st.integers(min_value=0, max_value=365 * 24 * 60))
def test_the_next_change_is_where_the_answer_flips(minutes: int) -> None:
    moment = at("2026-01-01T00:00") + timedelta(minutes=minutes)
    status = NATIONAL.status(HEFEI, moment)
    change = status.next_change
    assert change is not None and change > moment
    assert NATIONAL.status(HEFEI, change).open != status.open
    assert NATIONAL.status(HEFEI, change - timedelta(seconds=1)).open == status.open


# The command ------------------------------------------------------------------------


def test_ivr_hours_answers_in_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}")
    assert cli.main(["hours", HEFEI, "--at", "2026-10-10T10:00", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["open"] is True
    assert data["department"] == HEFEI and data["name"] == "中共合肥市委组织部"
    assert data["next_change"] == "2026-10-10T12:00:00+08:00"


def test_ivr_hours_names_a_department_it_does_not_know(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}")
    assert cli.main(["hours", "999999"]) == 1
    assert "no department with code '999999'" in capsys.readouterr().err


def test_ivr_hours_says_what_admins_published_once_there_is_something(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}"
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_DATABASE_URL", url)
    friday_evening = ["hours", HEFEI, "--at", "2026-11-27T20:00", "--json"]
    assert cli.main(friday_evening) == 0
    assert json.loads(capsys.readouterr().out)["open"] is False  # the file's week

    async def publish_evening_service() -> None:
        from ivr.db.migrate import migrated_session
        from ivr.publish import menus as menu
        from ivr.publish import store as stored
        from tests.admin_support import directory

        book = menu.read(REPO_ROOT / "routing" / "menus.yaml", directory())
        async with migrated_session(url) as session, session.begin():
            evening = {"week": {"fri": ["19:00-21:00"]}}
            for kind, scope, body in (
                (stored.MENU, "national", book.spec.national.model_dump(mode="json")),
                (stored.HOURS, "national", NATIONAL.spec.default.model_dump(mode="json")),
                (stored.HOURS, HEFEI, evening),
            ):
                await stored.publish(
                    session, kind=kind, scope=scope, body=body, prompts={}, by="test",
                    at=datetime(2026, 11, 1, tzinfo=UTC),
                )

    asyncio.run(publish_evening_service())
    assert cli.main(friday_evening) == 0
    assert json.loads(capsys.readouterr().out)["open"] is True
