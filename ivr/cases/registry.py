"""Registered cases (登记): what the controller, the CLI and the API call.

Every message or callback request a caller leaves becomes a case that a
department is accountable for, due on a date counted in working days
(`ivr.cases.rules`). `Cases` runs each change in one transaction of its own,
holding the case's row, and writes a line of history with it; views are
plain pydantic data, the same for the CLI and `/api/cases`.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.cases import rules
from ivr.cases import store as stored
from ivr.cases.rules import (
    Action,
    CaseNotFound,
    CaseStateError,
    Kind,
    SurveyKind,
    missing_case,
)
from ivr.cases.views import (
    CallerCase,
    CaseView,
    EventView,
    OverdueView,
    caller_case,
    case_view,
    department_zone,
    overdue_view,
    recording_audio,
)
from ivr.db.models import (
    ACTOR_MAX,
    CALLER_MAX,
    CASE_NOTE_MAX,
    CASE_SOURCE_MAX,
    ID_MAX,
    CaseRow,
)
from ivr.directory.routing import Directory
from ivr.errors import DataError
from ivr.metrics import Metrics
from ivr.publish.menus import CATEGORIES

__all__ = [
    "CallerCase",
    "CaseNotFound",
    "CaseStateError",
    "CaseView",
    "Cases",
    "EventView",
    "OverdueView",
    "recording_audio",
]

log = logging.getLogger(__name__)

DEFAULT_LIST_LIMIT = 100


def callback_source(call_id: str) -> str:
    """What a callback request's case is registered under: the call that asked."""
    return f"callback:{call_id}"


def call_source(call_id: str) -> str:
    """What an operator registers from a call they answered: one case per call."""
    return f"call:{call_id}"


class Cases:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        directory: Directory,
        clock: Callable[[], datetime],
        due_working_days: int = rules.DEFAULT_DUE_WORKING_DAYS,
        urgent_hours: float = rules.DEFAULT_URGENT_HOURS,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._clock = clock
        self._working_days = due_working_days
        self._urgent_hours = urgent_hours
        self._metrics = metrics if metrics is not None else Metrics()
        for kind in rules.KINDS:
            self._metrics.cases_opened.labels(kind)

    @property
    def directory(self) -> Directory:
        return self._directory

    async def register(
        self,
        *,
        source: str,
        kind: Kind,
        department: str,
        category: str,
        caller: str,
        call_id: str | None,
        recording: str | None = None,
        seconds: float | None = None,
        urgent: bool = False,
        at: datetime | None = None,
        actor: str = "caller",
        note: str = "",
    ) -> CaseView:
        """The case for `source`, made the first time; later calls update its
        recording (a re-recording, or the length of a partial one) and urgency.

        `at` is when the caller asked, if not now (a message left in the
        native fallback while no controller listened): the deadline counts
        from then. `actor` and `note` go in the registering line of its history
        (an operator registering from a call, and what they wrote)."""
        _check_new(source, kind, category, recording)
        self._department(department)
        actor = _check_actor(actor)
        note = rules.note_text(note, CASE_NOTE_MAX)
        fields = {
            "source": source,
            "kind": kind,
            "department_code": department,
            "category": category,
            "caller": caller[:CALLER_MAX],
            "call_id": call_id[:ID_MAX] if call_id else None,
            "recording": recording,
            "recording_seconds": seconds,
            "urgent": urgent,
        }
        try:
            return await self._register(fields, at, actor, note)
        except IntegrityError:
            # Registered by another controller between our look and our insert.
            return await self._register(fields, at, actor, note)

    async def _register(
        self, fields: dict[str, Any], at: datetime | None, actor: str, note: str
    ) -> CaseView:
        source = str(fields["source"])
        async with self._sessions() as session, session.begin():
            now = self._clock() if at is None else at
            await stored.lock(session, source=source)
            row = await stored.by_source(session, source)
            opened = row is None
            if row is None:
                code = str(fields["department_code"])
                due = self._due(code, now, bool(fields["urgent"]))
                row = await stored.insert(
                    session, rules.case_number, **fields, status="registered", assigned_to=None,
                    created_at=now, received_at=now, due_at=due, updated_at=now,
                    satisfaction=None,
                )
                stored.add_event(
                    session, row, now, "registered", actor, from_status=None, note=note
                )
            else:
                self._again(session, row, fields, now)
            view = case_view(self._directory, await stored.by_id(session, row.id))
        if opened:  # counted once committed: a lost race is retried, not counted twice
            self._metrics.cases_opened.labels(view.kind).inc()
        return view

    def _again(
        self, session: AsyncSession, row: CaseRow, fields: dict[str, Any], now: datetime
    ) -> None:
        recording, seconds = fields["recording"], fields["recording_seconds"]
        if isinstance(recording, str) and recording != row.recording:
            previous, previous_seconds = row.recording, row.recording_seconds
            row.recording = recording
            row.recording_seconds = seconds if isinstance(seconds, float | int) else None
            row.updated_at = now
            if previous is not None:
                length = f" ({previous_seconds:.1f} s)" if previous_seconds is not None else ""
                stored.add_event(
                    session, row, now, "recording_replaced", "caller",
                    from_status=row.status, note=f"previous recording {previous}{length}",
                )
        elif isinstance(seconds, float | int) and seconds != row.recording_seconds:
            row.recording_seconds = float(seconds)  # a partial recording came to its end
            row.updated_at = now
        if fields["urgent"] and not row.urgent and row.status in rules.OPEN:
            self._apply(session, row, "urgent", now, "caller", "")

    async def mark_urgent(self, number_or_source: str, *, actor: str, note: str = "") -> CaseView:
        """Urgent: due `urgent_hours` after it reached its department (24 h)."""
        return await self.transition(number_or_source, "urgent", actor=actor, note=note)

    async def transition(
        self,
        number: str,
        action: str,
        *,
        actor: str,
        note: str,
        operator: str | None = None,
        department: str | None = None,
    ) -> CaseView:
        """Do `action` to the case: assign (to `operator`), start, resolve,
        close, forward (to `department`), note, urgent, reopen. `number` may
        also be what made the case (its source: the system's own moves)."""
        act = rules.check_action(action)
        note = rules.check_note(act, note, CASE_NOTE_MAX)
        actor = _check_actor(actor)
        if act == "assign" and not operator:
            raise DataError("assign needs an operator: who handles the case", field="operator")
        if act == "forward":
            if not department:
                raise DataError("forward needs a department to send it to", field="department")
            self._department(department)
        async with self._sessions() as session, session.begin():
            row = await self._find(session, number)
            if act == "assign" and not await stored.operator_exists(session, str(operator)):
                raise DataError(f"no operator {operator!r}", field="operator")
            if act == "forward" and department == row.department_code:
                raise DataError(f"case {row.number} is already at {department}", field="department")
            if not (act == "urgent" and row.urgent):  # marking twice changes nothing
                self._apply(session, row, act, self._clock(), actor, note, operator, department)
            return case_view(self._directory, await stored.by_id(session, row.id))

    def _apply(
        self,
        session: AsyncSession,
        row: CaseRow,
        act: Action,
        now: datetime,
        actor: str,
        note: str,
        operator: str | None = None,
        department: str | None = None,
    ) -> None:
        before, left = row.status, None
        row.status = rules.next_status(row.number, row.status, act)  # type: ignore[arg-type]
        if act == "assign":
            row.assigned_to = operator
        elif act == "forward" and department is not None:
            left, row.department_code, row.assigned_to = row.department_code, department, None
            row.received_at = now  # the new department has its own full time
            row.due_at = self._due(department, now, row.urgent)
        elif act == "urgent":
            row.urgent = True
            row.due_at = min(row.due_at, rules.urgent_due(row.received_at, self._urgent_hours))
        row.updated_at = now
        stored.add_event(
            session, row, now, act, actor, from_status=before, note=note, from_department=left
        )

    async def record_survey(
        self,
        call_id: str,
        department: str,
        kind: SurveyKind,
        score: int,
        operator_id: str | None = None,
    ) -> None:
        """The caller's answer (1 satisfied, 2 fair, 3 dissatisfied); the call's cases keep it."""
        if kind not in rules.SURVEY_KINDS:
            raise DataError(f"a survey is about {' or '.join(rules.SURVEY_KINDS)}, not {kind!r}")
        if score not in rules.SCORES:
            raise DataError(f"a survey score is 1, 2 or 3, not {score!r}")
        call_id = call_id[:ID_MAX]
        async with self._sessions() as session, session.begin():
            now = self._clock()
            await stored.save_survey(
                session, call_id, department=department, kind=kind, score=score,
                operator_id=operator_id, at=now,
            )
            for row in await stored.of_call(session, call_id):
                row.satisfaction, row.updated_at = score, now

    async def get(self, number: str) -> CaseView:
        async with self._sessions() as session:
            return case_view(self._directory, await self._find(session, number, lock=False))

    async def find_for_caller(self, number: str, caller: str) -> CaseView | None:
        """Case `number` if it was registered from `caller` (a caller asking
        by phone); None otherwise, the same whether it does not exist or is
        someone else's. A caller without a number of their own (anonymous,
        withheld) finds nothing."""
        if not rules.is_case_number(number) or not _identifies(caller):
            return None
        async with self._sessions() as session:
            row = await stored.by_number(session, number)
            if row is None or row.caller != caller[:CALLER_MAX]:
                return None
            return case_view(self._directory, row)  # read with its events

    async def list(
        self,
        department: str | None = None,
        status: str | None = None,
        include_sub: bool = False,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> builtins.list[CaseView]:
        """Newest first; `include_sub`: the departments below `department` too."""
        if not 0 < limit <= stored.MAX_LIMIT:
            raise DataError(f"limit must be between 1 and {stored.MAX_LIMIT}", field="limit")
        if status is not None and status not in rules.STATUSES:
            raise DataError(f"no case status {status!r}; use {', '.join(rules.STATUSES)}")
        codes = None
        if department is not None:
            self._department(department)
            if not (include_sub and department == self._directory.default.code):
                below = self._directory.below(department) if include_sub else []
                codes = [department, *below]
        async with self._sessions() as session:
            rows = await stored.listing(session, codes, [status] if status else None, limit)
            return [case_view(self._directory, row) for row in rows]

    async def of_caller(
        self, caller: str, departments: builtins.list[str], limit: int
    ) -> builtins.list[CallerCase]:
        """The calling number's latest cases at `departments` (an operator's
        screen: what this caller asked before), newest first."""
        if not caller or not departments:
            return []
        async with self._sessions() as session:
            rows = await stored.of_caller(session, caller[:CALLER_MAX], departments, limit)
            return [caller_case(self._directory, row) for row in rows]

    async def overdue(
        self, department: str, now: datetime | None = None
    ) -> builtins.list[OverdueView]:
        """The supervision list (督办) of `department`: open cases past due at the
        departments below it, the latest first. The central department, with
        nobody above it, sees its own too."""
        self._department(department)
        now = now or self._clock()
        root = department == self._directory.default.code
        async with self._sessions() as session:
            rows = await stored.late(
                session, None if root else self._directory.below(department), rules.OPEN, now,
                not_department="" if root else department,
            )
            return [overdue_view(self._directory, row, now) for row in rows]

    async def _find(
        self, session: AsyncSession, key: str, *, lock: bool = True
    ) -> CaseRow:
        """The case numbered `key`, or else made from `key` (numbers and
        sources never look alike); `lock`: held for the rest of the transaction."""
        if lock:
            await stored.lock(session, number=key)
        row = await stored.by_number(session, key)
        if row is None:
            if lock:
                await stored.lock(session, source=key)
            row = await stored.by_source(session, key)
        if row is None:
            raise missing_case(key)
        return row

    def _department(self, code: str) -> None:
        if not self._directory.has(code):
            raise DataError(f"no department with code {code!r}", field="department")

    def zone(self, code: str) -> ZoneInfo:
        """The department's own time zone (its deadlines are counted in it)."""
        return department_zone(self._directory, code)

    def _due(self, code: str, arrived: datetime, urgent: bool) -> datetime:
        if urgent:
            return rules.urgent_due(arrived, self._urgent_hours)
        due = rules.working_days_due(arrived, self.zone(code), self._working_days)
        if not due.calendar_complete:
            log.warning(
                "case due date for %s counted without the official calendar of %s: "
                "check the chinese-calendar package", code, due.at.year,
            )
        return due.at


def _check_new(source: str, kind: str, category: str, recording: str | None) -> None:
    if not source or len(source) > CASE_SOURCE_MAX:
        raise DataError(f"a case's source has 1 to {CASE_SOURCE_MAX} characters", field="source")
    if kind not in rules.KINDS:
        raise DataError(f"a case is a {' or a '.join(rules.KINDS)}, not {kind!r}", field="kind")
    if category and category not in CATEGORIES:
        raise DataError(
            f"no category {category!r}; use {', '.join(CATEGORIES)} or none", field="category"
        )
    if recording is not None and not 0 < len(recording) <= ID_MAX:
        raise DataError(f"a recording's name has 1 to {ID_MAX} characters", field="recording")


def _identifies(caller: str) -> bool:
    """Whether a calling number names one line: digits (a leading + allowed),
    five or more, not the anonymous or withheld marks carriers send."""
    digits = caller.removeprefix("+")
    return len(digits) >= 5 and digits.isascii() and digits.isdigit()


def _check_actor(actor: str) -> str:
    actor = actor.strip()
    if not 0 < len(actor) <= ACTOR_MAX:
        raise DataError(f"who acts is named in 1 to {ACTOR_MAX} characters", field="actor")
    return actor
