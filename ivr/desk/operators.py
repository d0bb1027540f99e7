"""Operators: the people who answer in working hours, and which one rings next.

Theory of operation: an operator belongs to one or more departments and is,
at any moment, in one status. Every change is an action checked against one
table (`TRANSITIONS`), so the admin API, the phone's feature codes and the
queue all move an operator the same way, and an illegal move (pausing an
operator on a call) is refused with a reason instead of corrupting the state.

The queue offers a call to the operator of the department who has been
available longest (`choose`). Wrap-up needs no timer: an operator whose call
ended more than `wrap_up` ago counts as available, idle since the wrap-up
ended, so the state is the same whichever controller looks, and after a
restart. Everything here is pure; `ivr/desk/operator_store.py` stores it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, get_args

from ivr.errors import IvrError

Status = Literal["signed_out", "available", "paused", "ringing", "busy", "wrap_up"]
Action = Literal[
    "sign_in", "sign_out", "pause", "resume", "offer", "answer", "no_answer", "hang_up"
]
STATUSES: tuple[Status, ...] = get_args(Status)
# The moves a person makes (admin API, CLI), by the words they use for them;
# the others are the queue's.
MOVES: dict[str, Action] = {
    "sign-in": "sign_in",
    "pause": "pause",
    "resume": "resume",
    "sign-out": "sign_out",
}
ACTIONS: tuple[Action, ...] = get_args(Action)

# (status, action) -> the status after it. A pair missing here is refused.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    ("signed_out", "sign_in"): "available",
    ("available", "sign_in"): "available",
    ("paused", "sign_in"): "available",
    ("wrap_up", "sign_in"): "available",  # back at the desk: the wrap-up is over
    ("available", "pause"): "paused",
    ("paused", "pause"): "paused",  # a new reason
    ("wrap_up", "pause"): "paused",
    ("paused", "resume"): "available",
    ("wrap_up", "resume"): "available",
    ("available", "sign_out"): "signed_out",
    ("paused", "sign_out"): "signed_out",
    ("wrap_up", "sign_out"): "signed_out",
    ("signed_out", "sign_out"): "signed_out",
    ("available", "offer"): "ringing",
    ("ringing", "answer"): "busy",
    ("ringing", "no_answer"): "available",
    ("ringing", "hang_up"): "available",  # the caller left while it rang
    ("busy", "hang_up"): "wrap_up",
}


class OperatorError(IvrError):
    """An action the operator's status does not allow (409)."""

    error_id = "operator_state"
    status = 409


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    name: str
    endpoint: str  # the PJSIP endpoint the operator's phone registers as
    departments: frozenset[str]
    status: Status
    since: datetime  # when the status began
    pause_reason: str | None = None


def apply(operator: Operator, action: Action, at: datetime, reason: str | None = None) -> Operator:
    """The operator after `action` at `at`; raises OperatorError if it is not allowed."""
    new_status = TRANSITIONS.get((operator.status, action))
    if new_status is None:
        raise OperatorError(
            f"operator {operator.id} is {operator.status.replace('_', ' ')}: "
            f"cannot {action.replace('_', ' ')}",
            operator=operator.id,
            status=operator.status,
            action=action,
        )
    if action == "pause" and not (reason and reason.strip()):
        raise OperatorError("a pause needs a reason", operator=operator.id, action=action)
    if new_status == operator.status and action != "pause":
        return operator  # signing in twice keeps the idle time
    return replace(
        operator,
        status=new_status,
        since=at,
        pause_reason=reason.strip() if new_status == "paused" and reason else None,
    )


def effective(operator: Operator, at: datetime, wrap_up: timedelta) -> Operator:
    """The operator as the queue sees it at `at`: a wrap-up that is over is availability."""
    if operator.status != "wrap_up":
        return operator
    if at >= operator.since + wrap_up:
        return replace(operator, status="available", since=operator.since + wrap_up)
    if at < operator.since:
        # The clock went back (a correction, or a demo's IVR_NOW run again):
        # a wrap-up must not last until the clock catches up.
        return replace(operator, status="available", since=at)
    return operator


def choose(
    operators: Iterable[Operator],
    department: str,
    at: datetime,
    wrap_up: timedelta,
    skip: frozenset[str] = frozenset(),
) -> Operator | None:
    """The department's available operator idle longest (not in `skip`), if any."""
    ready = [
        seen
        for seen in (effective(operator, at, wrap_up) for operator in operators)
        if seen.status == "available" and department in seen.departments and seen.id not in skip
    ]
    return min(ready, key=lambda operator: (operator.since, operator.id), default=None)


def staffed(operators: Iterable[Operator], department: str) -> bool:
    """Whether anyone of the department is signed in (a pause counts: they come back)."""
    return any(
        department in operator.departments and operator.status != "signed_out"
        for operator in operators
    )
