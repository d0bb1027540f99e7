"""Registered cases in the database, on SQLite and PostgreSQL: registering,
moving, forwarding, supervision (督办) and surveys."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ivr.cases.registry import Cases
from ivr.cases.rules import CaseNotFound, CaseStateError
from ivr.errors import DataError

from .test_db_operators import DIRECTORY, Sessions, add

# Tuesday 2026-11-24 10:00 in Beijing.
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
HEFEI, CHANGFENG, FEIDONG, ANHUI, JIANGSU, CENTRAL = (
    "340100", "340121", "340122", "340000", "320000", "000000"
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cases(db_sessionmaker: Sessions, clock: Clock) -> Cases:
    return Cases(db_sessionmaker, DIRECTORY, clock)


async def message(cases: Cases, name: str = "msg-1", department: str = HEFEI, **more: object):  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {
        "source": name,
        "kind": "message",
        "department": department,
        "category": "dues",
        "caller": "055162345678",
        "call_id": f"call-{name}",
        "recording": name,
        "seconds": 12.5,
    }
    fields.update(more)
    return await cases.register(**fields)  # type: ignore[arg-type]


async def test_a_message_becomes_a_case_due_in_three_working_days(cases: Cases) -> None:
    case = await message(cases)
    assert case.number == "000013"  # the first case: id 1 and its check digit
    assert (case.status, case.kind, case.department, case.category) == (
        "registered", "message", HEFEI, "dues"
    )
    assert case.department_name == "中共合肥市委组织部"
    assert (case.recording, case.recording_seconds, case.urgent) == ("msg-1", 12.5, False)
    # Tuesday's case: Wed, Thu, Fri; due at the end of Friday, Beijing time.
    assert case.due_at == datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
    assert case.created_at == case.received_at == T0
    (event,) = case.events
    assert (event.action, event.from_status, event.to_status, event.actor) == (
        "registered", None, "registered", "caller"
    )
    assert await cases.get(case.number) == case


async def test_registering_again_finds_the_case_and_keeps_a_replaced_recording(
    cases: Cases, clock: Clock
) -> None:
    first = await message(cases, "msg-1", seconds=None)
    clock.now += timedelta(seconds=30)
    # The partial recording ended: only its length is new.
    again = await message(cases, "msg-1", seconds=4.2)
    assert again.number == first.number
    assert again.recording_seconds == 4.2 and len(again.events) == 1
    # The caller recorded again: the new one counts, the old name stays in the history.
    replaced = await message(cases, "msg-1", recording="msg-1-take2", seconds=9.0)
    assert (replaced.recording, replaced.recording_seconds) == ("msg-1-take2", 9.0)
    assert [e.action for e in replaced.events] == ["registered", "recording_replaced"]
    assert replaced.events[-1].note == "previous recording msg-1 (4.2 s)"
    # The same once more changes nothing.
    assert (await message(cases, "msg-1", recording="msg-1-take2", seconds=9.0)) == replaced
    assert len(await cases.list()) == 1


async def test_two_controllers_registering_one_source_make_one_case(cases: Cases) -> None:
    found = await asyncio.gather(*(message(cases, "msg-race") for _ in range(4)))
    assert len({case.number for case in found}) == 1
    assert len(await cases.list()) == 1


async def test_a_callback_request_is_a_case_too(cases: Cases) -> None:
    case = await cases.register(
        source="callback:call-9", kind="callback", department=CHANGFENG, category="",
        caller="13800138000", call_id="call-9",
    )
    assert (case.kind, case.category, case.recording) == ("callback", "", None)


async def test_bad_registrations_are_refused(cases: Cases) -> None:
    with pytest.raises(DataError, match="no department with code '999999'"):
        await message(cases, department="999999")
    with pytest.raises(DataError, match="not 'fax'"):
        await message(cases, kind="fax")
    with pytest.raises(DataError, match="no category 'Dues!'; use theory, relations"):
        await message(cases, category="Dues!")


async def test_urgent_cases_are_due_in_24_hours(cases: Cases, clock: Clock) -> None:
    urgent = await message(cases, "msg-u", urgent=True)
    assert urgent.urgent and urgent.due_at == T0 + timedelta(hours=24)
    plain = await message(cases, "msg-p")
    clock.now += timedelta(hours=2)
    # By number or by the source the controller knows.
    marked = await cases.mark_urgent("msg-p", actor="op1001", note="来电人称情况紧急")
    assert marked.urgent and marked.due_at == T0 + timedelta(hours=24)
    assert (marked.events[-1].action, marked.events[-1].note) == ("urgent", "来电人称情况紧急")
    assert (await cases.mark_urgent(plain.number, actor="op1001")) == marked  # once is enough
    # The caller asking for it on a second registration does it too.
    later = await message(cases, "msg-l")
    assert (await message(cases, "msg-l", urgent=True)).due_at == T0 + timedelta(hours=26)
    assert later.due_at > T0 + timedelta(hours=26)


async def test_a_case_goes_all_the_way_with_a_note_at_each_step(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    await add(db_sessionmaker, "op1001")
    number = (await message(cases)).number
    steps = [
        ("assign", {"operator": "op1001", "note": "请张敏办理"}, "assigned"),
        ("start", {"note": ""}, "in_progress"),
        ("note", {"note": "已联系党支部"}, "in_progress"),
        ("resolve", {"note": "已电话答复来电人"}, "resolved"),
        ("reopen", {"note": "来电人不满意"}, "in_progress"),
        ("resolve", {"note": "再次答复"}, "resolved"),
        ("close", {"note": ""}, "closed"),
        ("note", {"note": "归档"}, "closed"),
    ]
    for action, given, status in steps:
        clock.now += timedelta(minutes=10)
        case = await cases.transition(number, action, actor="admin", **given)  # type: ignore[arg-type]
        assert case.status == status, action
    assert case.assigned_to == "op1001" and case.updated_at == clock.now
    assert [(e.action, e.from_status, e.to_status) for e in case.events] == [
        ("registered", None, "registered"),
        ("assign", "registered", "assigned"),
        ("start", "assigned", "in_progress"),
        ("note", "in_progress", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("reopen", "resolved", "in_progress"),
        ("resolve", "in_progress", "resolved"),
        ("close", "resolved", "closed"),
        ("note", "closed", "closed"),
    ]
    assert case.events[4].note == "已电话答复来电人" and case.events[1].actor == "admin"


async def test_illegal_moves_and_unknown_cases_are_refused_readably(
    db_sessionmaker: Sessions, cases: Cases
) -> None:
    number = (await message(cases)).number
    with pytest.raises(CaseStateError, match=rf"^cannot start case {number}: it is registered"):
        await cases.transition(number, "start", actor="admin", note="")
    with pytest.raises(DataError, match="assign needs an operator"):
        await cases.transition(number, "assign", actor="admin", note="")
    with pytest.raises(DataError, match="no operator 'op9'"):
        await cases.transition(number, "assign", actor="admin", note="", operator="op9")
    with pytest.raises(DataError, match="resolve needs a note"):
        await cases.transition(number, "resolve", actor="admin", note=" ")
    with pytest.raises(CaseNotFound, match="no case '20990101-000001'"):
        await cases.transition("20990101-000001", "start", actor="admin", note="")
    with pytest.raises(CaseNotFound):
        await cases.get("nope")
    await add(db_sessionmaker, "op1001")
    for action, given in [("assign", {"operator": "op1001"}), ("start", {}),
                          ("resolve", {"note": "答复"}), ("close", {})]:
        await cases.transition(number, action, actor="admin", note=given.pop("note", ""), **given)
    with pytest.raises(CaseStateError, match=rf"^cannot resolve case {number}: it is closed$"):
        await cases.transition(number, "resolve", actor="admin", note="again")
    with pytest.raises(CaseStateError, match="cannot forward"):
        await cases.transition(number, "forward", actor="admin", note="x", department=FEIDONG)
    # Nothing refused left a trace.
    assert [e.action for e in (await cases.get(number)).events] == [
        "registered", "assign", "start", "resolve", "close"
    ]


async def test_forwarding_moves_the_case_and_keeps_its_history(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    await add(db_sessionmaker, "op1001")
    number = (await message(cases, department=CHANGFENG)).number
    await cases.transition(number, "assign", actor="admin", note="", operator="op1001")
    clock.now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # Friday
    with pytest.raises(DataError, match="forward needs a note"):
        await cases.transition(number, "forward", actor="admin", note="", department=FEIDONG)
    with pytest.raises(DataError, match="already at 340121"):
        await cases.transition(number, "forward", actor="admin", note="x", department=CHANGFENG)
    case = await cases.transition(
        number, "forward", actor="admin", note="属肥东县管辖", department=FEIDONG
    )
    assert (case.department, case.status, case.assigned_to) == (FEIDONG, "registered", None)
    assert case.received_at == clock.now and case.created_at == T0
    # Due again from Friday: Mon, Tue, Wed.
    assert case.due_at == datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    forwarded = case.events[-1]
    assert (forwarded.action, forwarded.from_department, forwarded.department) == (
        "forward", CHANGFENG, FEIDONG
    )
    assert [e.department for e in case.events] == [CHANGFENG, CHANGFENG, FEIDONG]
    assert [c.number for c in await cases.list(FEIDONG)] == [number]
    assert await cases.list(CHANGFENG) == []


async def test_late_cases_are_on_the_parents_list_with_how_late(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    county = await message(cases, "m-county", department=CHANGFENG)
    city = await message(cases, "m-city", department=HEFEI)
    other = await message(cases, "m-other", department="320100")
    on_time = await message(cases, "m-done", department=CHANGFENG)
    await add(db_sessionmaker, "op1001")
    for action, note in [("assign", ""), ("start", ""), ("resolve", "答复")]:
        await cases.transition(
            on_time.number, action, actor="admin", note=note, operator="op1001"
        )
    now = county.due_at + timedelta(days=2, hours=3, minutes=5)
    assert await cases.overdue(HEFEI, county.due_at) == []  # due is not late yet

    (late,) = await cases.overdue(HEFEI, now)
    assert late.case.number == county.number
    assert (late.late_department, late.supervisor, late.supervisor_name) == (
        CHANGFENG, HEFEI, "中共合肥市委组织部"
    )
    assert (late.late_by, late.late_seconds) == ("2天3小时", 2 * 86400 + 3 * 3600 + 300)
    # The county's own list is of the departments below it: none.
    assert await cases.overdue(CHANGFENG, now) == []
    # The province sees the city's case (it supervises the city) and the county's below.
    province = await cases.overdue(ANHUI, now)
    assert {(o.case.number, o.supervisor) for o in province} == {
        (county.number, HEFEI), (city.number, ANHUI)
    }
    # An unrelated province sees nothing of Anhui's.
    assert [o.case.number for o in await cases.overdue(JIANGSU, now)] == [other.number]
    assert len(await cases.overdue(CENTRAL, now)) == 3
    # The clock is the default moment.
    clock.now = now
    assert [o.case.number for o in await cases.overdue(HEFEI)] == [county.number]


async def test_lists_filter_by_department_status_and_below(cases: Cases) -> None:
    a = await message(cases, "a", department=HEFEI)
    b = await message(cases, "b", department=CHANGFENG)
    c = await message(cases, "c", department=JIANGSU)
    assert [x.number for x in await cases.list()] == [c.number, b.number, a.number]
    assert [x.number for x in await cases.list(HEFEI)] == [a.number]
    assert [x.number for x in await cases.list(HEFEI, include_sub=True)] == [b.number, a.number]
    assert [x.number for x in await cases.list(ANHUI, include_sub=True)] == [b.number, a.number]
    assert len(await cases.list(CENTRAL, include_sub=True)) == 3
    assert await cases.list(status="closed") == []
    assert len(await cases.list(status="registered", limit=2)) == 2
    with pytest.raises(DataError, match="no case status 'lost'"):
        await cases.list(status="lost")


async def test_a_survey_is_kept_and_its_call_s_case_takes_the_score(cases: Cases) -> None:
    case = await message(cases, "m-s")
    await cases.record_survey("call-m-s", HEFEI, "case", 3)
    assert (await cases.get(case.number)).satisfaction == 3
    await cases.record_survey("call-m-s", HEFEI, "case", 1)  # the caller changed their mind
    assert (await cases.get(case.number)).satisfaction == 1
    await cases.record_survey("call-op", HEFEI, "operator", 2, operator_id="op1001")
    with pytest.raises(DataError, match="1, 2 or 3"):
        await cases.record_survey("call-x", HEFEI, "case", 5)
    with pytest.raises(DataError, match="not 'food'"):
        await cases.record_survey("call-x", HEFEI, "food", 1)  # type: ignore[arg-type]


# -- a caller asking by phone (the service menu's lookup) ----------------------------


async def test_a_caller_finds_only_a_case_registered_from_their_own_number(cases: Cases) -> None:
    mine = await message(cases, "msg-mine", caller="055162345678")
    theirs = await message(cases, "msg-theirs", caller="13916012345")
    found = await cases.find_for_caller(mine.number, "055162345678")
    assert found is not None and found.number == mine.number and found.status == "registered"
    # Someone else's case is not found, the same as one that does not exist.
    assert await cases.find_for_caller(theirs.number, "055162345678") is None
    assert await cases.find_for_caller("999990", "055162345678") is None


@pytest.mark.parametrize("caller", ["anonymous", "", "+", "1234", "Anonymous <sip:x>"])
async def test_a_caller_without_a_number_of_their_own_finds_nothing(
    cases: Cases, caller: str
) -> None:
    case = await message(cases, "msg-anon", caller=caller)
    assert await cases.find_for_caller(case.number, caller) is None


async def test_a_number_with_a_wrong_check_digit_is_not_looked_up(cases: Cases) -> None:
    case = await message(cases)
    wrong = case.number[:-1] + str((int(case.number[-1]) + 1) % 10)
    assert await cases.find_for_caller(wrong, "055162345678") is None
