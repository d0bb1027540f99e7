"""Operators' statuses and which one the queue rings: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.desk.operators import (
    ACTIONS,
    STATUSES,
    TRANSITIONS,
    Operator,
    OperatorError,
    apply,
    choose,
    effective,
    staffed,
)

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
WRAP_UP = timedelta(seconds=10)
HEFEI, CHANGFENG = "340100", "340121"


def operator(
    operator_id: str = "op1",
    status: str = "available",
    since: datetime = T0,
    departments: tuple[str, ...] = (HEFEI,),
) -> Operator:
    return Operator(operator_id, "张敏", operator_id, frozenset(departments), status, since)  # type: ignore[arg-type]


def test_a_working_day_of_an_operator() -> None:
    op = operator(status="signed_out")
    steps = [
        ("sign_in", None),
        ("offer", None),
        ("answer", None),
        ("hang_up", None),
        ("pause", "培训"),
        ("resume", None),
        ("sign_out", None),
    ]
    seen = []
    for minute, (action, reason) in enumerate(steps, 1):
        op = apply(op, action, T0 + timedelta(minutes=minute), reason)  # type: ignore[arg-type]
        seen.append(op.status)
    assert seen == ["available", "ringing", "busy", "wrap_up", "paused", "available", "signed_out"]


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("busy", "pause", "operator op1 is busy: cannot pause"),
        ("busy", "sign_out", "operator op1 is busy: cannot sign out"),
        ("signed_out", "offer", "operator op1 is signed out: cannot offer"),
        ("ringing", "sign_out", "operator op1 is ringing: cannot sign out"),
    ],
)
def test_a_move_the_status_does_not_allow_is_refused_saying_why(
    status: str, action: str, message: str
) -> None:
    with pytest.raises(OperatorError, match=message) as refused:
        apply(operator(status=status), action, T0)  # type: ignore[arg-type]
    assert refused.value.status == 409


def test_every_status_and_action_in_the_table_exists() -> None:
    for status, action in TRANSITIONS:
        assert status in STATUSES and action in ACTIONS
        assert TRANSITIONS[(status, action)] in STATUSES


def test_a_pause_needs_a_reason_and_keeps_it() -> None:
    with pytest.raises(OperatorError, match="needs a reason"):
        apply(operator(), "pause", T0, "  ")
    paused = apply(operator(), "pause", T0, " 培训 ")
    assert (paused.status, paused.pause_reason) == ("paused", "培训")
    assert apply(paused, "resume", T0).pause_reason is None


def test_signing_in_twice_keeps_the_idle_time() -> None:
    op = operator(since=T0)
    assert apply(op, "sign_in", T0 + timedelta(hours=1)).since == T0


def test_a_wrap_up_becomes_availability_once_over() -> None:
    ended = operator(status="wrap_up", since=T0)
    assert effective(ended, T0 + WRAP_UP / 2, WRAP_UP).status == "wrap_up"
    after = effective(ended, T0 + WRAP_UP, WRAP_UP)
    assert (after.status, after.since) == ("available", T0 + WRAP_UP)


def test_a_wrap_up_never_outlasts_a_clock_that_went_back() -> None:
    ended = operator(status="wrap_up", since=T0)
    earlier = T0 - timedelta(minutes=2)
    assert effective(ended, earlier, WRAP_UP).status == "available"


def test_signing_in_during_a_wrap_up_ends_it() -> None:
    ended = operator(status="wrap_up", since=T0)
    assert apply(ended, "sign_in", T0 + WRAP_UP / 2).status == "available"


def test_the_longest_idle_operator_of_the_department_rings_first() -> None:
    operators = [
        operator("op1", since=T0 + timedelta(minutes=5)),
        operator("op2", since=T0 + timedelta(minutes=1)),
        operator("op3", since=T0, departments=(CHANGFENG,)),  # another department
        operator("op4", status="paused", since=T0 - timedelta(hours=1)),
        operator("op5", status="wrap_up", since=T0 + timedelta(minutes=9)),  # not over yet
    ]
    at = T0 + timedelta(minutes=9, seconds=5)
    assert choose(operators, HEFEI, at, WRAP_UP).id == "op2"  # type: ignore[union-attr]
    assert choose(operators, HEFEI, at, WRAP_UP, skip=frozenset({"op2"})).id == "op1"  # type: ignore[union-attr]
    assert choose(operators, HEFEI, at, WRAP_UP, skip=frozenset({"op1", "op2"})) is None
    # Once op5's wrap-up is over it is idle since then: the shortest idle.
    later = T0 + timedelta(minutes=10)
    assert choose(operators, HEFEI, later, WRAP_UP, skip=frozenset({"op1", "op2"})).id == "op5"  # type: ignore[union-attr]


def test_a_department_is_staffed_while_anyone_is_signed_in() -> None:
    assert staffed([operator(status="paused")], HEFEI)
    assert not staffed([operator(status="signed_out")], HEFEI)
    assert not staffed([operator(departments=(CHANGFENG,))], HEFEI)
