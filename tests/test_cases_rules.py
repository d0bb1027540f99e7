"""Registered cases without a database: due dates on the official calendar,
the table of moves, how late reads."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.cases.rules import (
    ACTIONS,
    STATUSES,
    TRANSITIONS,
    CaseStateError,
    case_number,
    check_action,
    check_note,
    is_case_number,
    late_by,
    next_status,
    urgent_due,
    working_days_due,
)
from ivr.errors import DataError, NotFound

SHANGHAI = ZoneInfo("Asia/Shanghai")
URUMQI = ZoneInfo("Asia/Urumqi")


def local(text: str, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.mark.parametrize(
    ("created", "due", "why"),
    [
        # A plain week: Friday's case skips the weekend.
        ("2026-11-20T10:00", "2026-11-26T00:00", "Mon 23, Tue 24, Wed 25"),
        ("2026-11-23T09:00", "2026-11-27T00:00", "Tue 24, Wed 25, Thu 26"),
        # National Day 2026: 10-01..10-07 off; Saturday 10-10 is a make-up working day.
        ("2026-09-30T16:00", "2026-10-11T00:00", "Thu 10-08, Fri 10-09, Sat 10-10 (调休)"),
        ("2026-10-03T11:00", "2026-10-11T00:00", "made on a holiday: the same three days"),
        # Mid-Autumn 09-25..09-27 off, right before National Day.
        ("2026-09-24T10:00", "2026-10-01T00:00", "Mon 09-28, Tue 09-29, Wed 09-30"),
        # Sunday 09-20 is a make-up working day.
        ("2026-09-18T10:00", "2026-09-23T00:00", "Sun 09-20 (调休), Mon 09-21, Tue 09-22"),
    ],
)
def test_due_at_the_end_of_the_third_working_day(created: str, due: str, why: str) -> None:
    found = working_days_due(local(created), SHANGHAI, 3)
    assert found.at == local(due), why
    assert found.calendar_complete


def test_the_day_is_the_departments_own() -> None:
    # 23:00 on Thursday in Beijing: Friday counts. 01:00 on Friday: it does not.
    thursday_night = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)
    friday_early = datetime(2026, 11, 19, 17, 0, tzinfo=UTC)
    assert working_days_due(thursday_night, SHANGHAI, 3).at == local("2026-11-25T00:00")
    assert working_days_due(friday_early, SHANGHAI, 3).at == local("2026-11-26T00:00")
    # The same moment is still Thursday in Urumqi, and due at Urumqi's midnight.
    due = working_days_due(friday_early, URUMQI, 3).at
    assert due == local("2026-11-25T00:00", URUMQI)
    assert due.astimezone(UTC) == datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def test_other_working_day_counts() -> None:
    assert working_days_due(local("2026-09-30T16:00"), SHANGHAI, 1).at == local("2026-10-09T00:00")
    assert working_days_due(local("2026-11-20T10:00"), SHANGHAI, 5).at == local("2026-11-28T00:00")


def test_a_year_the_calendar_does_not_know_is_said_so() -> None:
    found = working_days_due(local("2027-03-05T10:00"), SHANGHAI, 3)
    assert found.at == local("2027-03-11T00:00")  # weekends only
    assert not found.calendar_complete


def test_urgent_is_24_hours_whatever_the_day() -> None:
    arrived = local("2026-09-30T16:00")
    assert urgent_due(arrived, 24) == local("2026-10-01T16:00")


@pytest.mark.parametrize(("action", "status"), [(a, s) for a in ACTIONS for s in STATUSES])
def test_every_move_is_in_the_table_or_refused_by_name(action: str, status: str) -> None:
    allowed = TRANSITIONS.get((action, status))  # type: ignore[arg-type]
    if allowed is not None:
        assert next_status("20261124-000001", status, action) == allowed  # type: ignore[arg-type]
        return
    with pytest.raises(CaseStateError) as error:
        next_status("20261124-000001", status, action)  # type: ignore[arg-type]
    assert error.value.message.startswith("cannot ")
    assert "case 20261124-000001" in error.value.message
    assert error.value.status == 409 and error.value.error_id == "case_state"


def test_the_main_road_and_its_refusals() -> None:
    assert next_status("N", "registered", "assign") == "assigned"
    assert next_status("N", "assigned", "start") == "in_progress"
    assert next_status("N", "in_progress", "resolve") == "resolved"
    assert next_status("N", "resolved", "close") == "closed"
    assert next_status("N", "in_progress", "forward") == "registered"
    assert next_status("N", "resolved", "reopen") == "in_progress"
    with pytest.raises(CaseStateError, match=r"^cannot resolve case N: it is closed$"):
        next_status("N", "closed", "resolve")
    with pytest.raises(CaseStateError, match=r"^cannot start case N: it is registered \(assign"):
        next_status("N", "registered", "start")
    with pytest.raises(CaseStateError, match=r"^cannot mark case N urgent: it is resolved$"):
        next_status("N", "resolved", "urgent")
    with pytest.raises(CaseStateError, match=r"^cannot forward case N: it is closed$"):
        next_status("N", "closed", "forward")


def test_notes_and_actions_are_checked() -> None:
    assert check_note("start", "  ", 10) == ""
    assert check_note("resolve", " 已电话回复 ", 10) == "已电话回复"
    with pytest.raises(DataError, match="resolve needs a note"):
        check_note("resolve", "", 10)
    with pytest.raises(DataError, match="at most 10 characters"):
        check_note("note", "x" * 11, 10)
    with pytest.raises(NotFound, match="no action 'explode'"):
        check_action("explode")


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (2 * 86400 + 3 * 3600 + 59, "2天3小时"),
        (86400, "1天"),
        (5 * 3600 + 20 * 60, "5小时20分钟"),
        (3600, "1小时"),
        (40 * 60 + 30, "40分钟"),
        (12, "不到1分钟"),
    ],
)
def test_late_by_reads_for_a_person(seconds: int, said: str) -> None:
    assert late_by(seconds) == said


def test_the_number_is_the_id_and_a_check_digit() -> None:
    assert case_number(123) == "001234"  # Damm's check digit of 00123 is 4
    assert case_number(7) == "000076"
    assert case_number(1_234_567) == "12345671"  # longer once ids outgrow five digits
    assert is_case_number("001234")
    assert is_case_number("12345671")


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("001235", "one digit wrong"),
        ("010234", "two neighbours swapped"),
        ("00123", "too short"),
        ("0012３4", "not ASCII digits"),
        ("", "nothing"),
        ("00-1234", "not digits"),
    ],
)
def test_a_mistyped_number_is_caught_by_its_check_digit(typed: str, why: str) -> None:
    assert not is_case_number(typed), why


def test_every_single_wrong_digit_and_neighbour_swap_is_caught() -> None:
    for case_id in range(1, 3000, 37):
        number = case_number(case_id)
        for at in range(len(number)):
            for digit in "0123456789":
                if digit != number[at]:
                    assert not is_case_number(number[:at] + digit + number[at + 1 :])
            if at + 1 < len(number) and number[at] != number[at + 1]:
                swapped = number[:at] + number[at + 1] + number[at] + number[at + 2 :]
                assert not is_case_number(swapped)
