"""What may happen to a registered case (登记), and when it is due. No I/O.

Theory of operation: a case moves registered → assigned → in progress →
resolved → closed, one action at a time; `TRANSITIONS` is the whole of it,
as a table, and `next_status` refuses any move the table lacks with an error
naming the case, the action and the status. Forwarding (转交) sends a case
back to `registered` at another department, which then has its own full time
to handle it.

A case is due at the end (24:00, the department's time) of the Nth working
day after the day it reached its department, counted on the official calendar
(`ivr.publish.hours.day_kind`: weekends and statutory holidays do not count, the
make-up working days of 调休 do); an urgent case is due a fixed number of
hours after it arrived. A case still open past its due date is late, and the
parent of its department supervises it (督办).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal, TypeAlias, get_args
from zoneinfo import ZoneInfo

from ivr import case_numbers
from ivr.errors import DataError, IvrError, NotFound
from ivr.publish.hours import day_kind

Status: TypeAlias = Literal["registered", "assigned", "in_progress", "resolved", "closed"]
# A case is a message, a callback request, or registered by an operator from
# a call they answered (the screen pop's 登记工单).
Kind: TypeAlias = Literal["message", "callback", "call"]
# What a person does to a case (CLI, API). Its history also records what
# the platform did by itself: "registered", "recording_replaced".
Action: TypeAlias = Literal[
    "assign", "start", "resolve", "close", "forward", "note", "urgent", "reopen"
]
SurveyKind: TypeAlias = Literal["operator", "case"]

STATUSES: tuple[Status, ...] = get_args(Status)
KINDS: tuple[Kind, ...] = get_args(Kind)
ACTIONS: tuple[Action, ...] = get_args(Action)
SURVEY_KINDS: tuple[SurveyKind, ...] = get_args(SurveyKind)
# 1 满意, 2 基本满意, 3 不满意.
SCORES = (1, 2, 3)
OPEN: tuple[Status, ...] = ("registered", "assigned", "in_progress")
DONE: tuple[Status, ...] = ("resolved", "closed")

DEFAULT_DUE_WORKING_DAYS = 3
DEFAULT_URGENT_HOURS = 24

# (action, status before) -> status after. A pair not here is refused.
TRANSITIONS: dict[tuple[Action, Status], Status] = {
    **{("assign", status): "assigned" for status in OPEN},  # assigning again hands it over
    ("start", "assigned"): "in_progress",
    ("resolve", "in_progress"): "resolved",
    ("close", "resolved"): "closed",
    ("reopen", "resolved"): "in_progress",  # the caller was not satisfied
    **{("forward", status): "registered" for status in OPEN},
    **{("urgent", status): status for status in OPEN},
    **{("note", status): status for status in STATUSES},
}
# Actions that say nothing without a note: what was done, why it moved.
NEEDS_NOTE: frozenset[Action] = frozenset({"resolve", "forward", "note", "reopen"})

_STATUS_WORDS: dict[str, str] = {
    "registered": "registered",
    "assigned": "assigned",
    "in_progress": "in progress",
    "resolved": "resolved",
    "closed": "closed",
}
# What to do first, when an action comes too early.
_HINTS: dict[tuple[Action, Status], str] = {
    ("start", "registered"): "assign it first",
    ("resolve", "registered"): "assign and start it first",
    ("resolve", "assigned"): "start it first",
    ("close", "registered"): "it must be resolved first",
    ("close", "assigned"): "it must be resolved first",
    ("close", "in_progress"): "resolve it first",
}


class CaseStateError(IvrError):
    """An action the case's status does not allow."""

    error_id = "case_state"
    status = 409


class CaseNotFound(NotFound):
    error_id = "case_not_found"


def missing_case(key: str) -> CaseNotFound:
    """What asking for `key` says when there is no such case, and also when the
    case is outside the asker's reach: the two must not differ."""
    return CaseNotFound(f"no case {key!r}", number=key)


def status_word(status: str) -> str:
    return _STATUS_WORDS.get(status, status)


def next_status(number: str, status: Status, action: Action) -> Status:
    """The status after `action`, or a `CaseStateError` saying why not."""
    after = TRANSITIONS.get((action, status))
    if after is None:
        hint = _HINTS.get((action, status))
        word = "mark" if action == "urgent" else action
        target = f"case {number} urgent" if action == "urgent" else f"case {number}"
        raise CaseStateError(
            f"cannot {word} {target}: it is {status_word(status)}" + (f" ({hint})" if hint else ""),
            number=number,
            action=action,
            status=status,
        )
    return after


def check_action(action: str) -> Action:
    if action not in ACTIONS:
        raise NotFound(f"cases have no action {action!r}; use {', '.join(ACTIONS)}", action=action)
    return action


def note_text(note: str, limit: int) -> str:
    """A note as kept: stripped, and at most `limit` characters."""
    note = note.strip()
    if len(note) > limit:
        raise DataError(f"a note has at most {limit} characters, not {len(note)}", field="note")
    return note


def check_note(action: Action, note: str, limit: int) -> str:
    note = note_text(note, limit)
    if action in NEEDS_NOTE and not note:
        raise DataError(f"{action} needs a note: what was done, and why", field="note")
    return note


@dataclass(frozen=True, slots=True)
class Due:
    at: datetime
    # False when the official calendar did not know a day counted: the date
    # then treats weekends as rest days and fixed-date holidays only.
    calendar_complete: bool


def working_days_due(arrived: datetime, zone: ZoneInfo, working_days: int) -> Due:
    """The end (24:00 in `zone`) of the `working_days`-th working day after `arrived`'s day."""
    if working_days < 1:
        raise ValueError("a case has at least one working day")
    day = arrived.astimezone(zone).date()
    counted, complete = 0, True
    while counted < working_days:
        day += timedelta(days=1)
        kind, _, known = day_kind(day)
        complete = complete and known
        if kind in ("working", "make-up"):
            counted += 1
    return Due(datetime.combine(day + timedelta(days=1), time(0), zone), complete)


def urgent_due(arrived: datetime, hours: float) -> datetime:
    return arrived + timedelta(hours=hours)


# Beyond this many days late a case's steps are not counted further: its
# supervisors were told every working day for a year already.
MAX_LATE_DAYS = 400


def late_steps(due_at: datetime, now: datetime, zone: ZoneInfo) -> int | None:
    """How far past its deadline a case is, in escalation steps: None before
    the deadline, 0 once it passed, n once n further working days (of the
    department's calendar) have ended since. A deadline at midnight (the
    usual one, the end of a day) starts counting with that day; an urgent
    case's (24 hours after it arrived) with the day after it."""
    if now < due_at:
        return None
    local = due_at.astimezone(zone)
    day = local.date() if local.time() == time(0) else local.date() + timedelta(days=1)
    steps = 0
    for _ in range(MAX_LATE_DAYS):
        if datetime.combine(day + timedelta(days=1), time(0), zone) > now:
            break
        if day_kind(day)[0] in ("working", "make-up"):
            steps += 1
        day += timedelta(days=1)
    return steps


def late_by(seconds: float) -> str:
    """How late, for a person: "2天3小时", "5小时20分钟", "40分钟"."""
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{minutes}分钟" if minutes else f"{hours}小时"
    return f"{minutes}分钟" if minutes else "不到1分钟"


def case_number(case_id: int) -> str:
    """The number people quote, and hear digit by digit (`ivr.case_numbers`)."""
    return case_numbers.number_of(case_id)


def is_case_number(text: str) -> bool:
    """Whether `text` could be a case number: digits only, long enough, and
    its check digit right."""
    return case_numbers.is_case_number(text)
