"""Supervision done, not only computed (督办): escalations, the supervising
department's inbox, and the webhook deliveries they make.

Theory of operation: every controller runs `Escalations.run` on a timer.
For each open case past its deadline it works out the step
(`ivr.cases.rules.late_steps`: 0 when the deadline passed, n after n more
working days late) and inserts an `escalations` row for (case, deadline,
step). The row's unique key decides which controller writes it: the insert
of the others does nothing (`ON CONFLICT DO NOTHING`), so a step is written
once however many controllers run the job at once. The one that wrote it
adds the `escalated` line to the case's history and, when a webhook is set,
a `webhook_deliveries` row, in the same transaction. A job that was not
running for days writes the step a case is at now, not every step it
missed. A forwarded case has a new deadline, and its steps start again.

The supervising department is the late department's parent (the central
department supervises its own). Its admins see the escalation in their
inbox (`inbox`, `mark_read`); the delivery is sent by `ivr.webhook`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.cases import rules
from ivr.cases import store as stored
from ivr.cases.views import department_name, department_zone
from ivr.db.batch import insert_new
from ivr.db.models import (
    USERNAME_MAX,
    CaseRow,
    EscalationRow,
    WebhookDeliveryRow,
    escalations_table,
)
from ivr.directory.routing import Directory
from ivr.errors import NotFound
from ivr.metrics import Metrics

ACTOR = "supervision"  # who writes the `escalated` line of a case's history
WEBHOOK_EVENT = "case.escalated"
# Late cases read at a time, oldest deadline first.
BATCH = 500
INBOX_LIMIT = 200


class EscalationNotFound(NotFound):
    error_id = "escalation_not_found"


class InboxItem(BaseModel):
    """An escalation as the supervising department's admins see it."""

    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    step: int  # 0: the deadline passed; n: n more working days late
    case: str  # its number
    category: str
    kind: str
    urgent: bool
    status: str  # the case's, now
    due_at: datetime
    department: str  # the late department
    department_name: str
    supervisor: str
    supervisor_name: str
    read_at: datetime | None
    read_by: str | None


class Inbox(BaseModel):
    model_config = ConfigDict(frozen=True)

    unread: int
    items: list[InboxItem]


class Escalations:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        directory: Directory,
        clock: Callable[[], datetime],
        *,
        webhook_url: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._directory = directory
        self._clock = clock
        self._webhook_url = webhook_url
        self._escalations = (metrics if metrics is not None else Metrics()).escalations

    async def run(self) -> int:
        """One pass of the job over every late open case, a page at a time:
        the escalations this controller wrote."""
        now = self._clock()
        written = 0
        after: tuple[datetime, int] | None = None
        while True:
            page = await self._late_page(now, after)
            if not page:
                return written
            after = (page[-1][1], page[-1][0])
            due = {
                (case_id, due_at, step)
                for case_id, due_at, code in page
                if (step := self._step(due_at, now, code)) is not None
            }
            for case_id, due_at, step in sorted(due - await self._written(due)):
                if await self._escalate(case_id, due_at, step, now):
                    written += 1
                    self._escalations.inc()

    async def _late_page(
        self, now: datetime, after: tuple[datetime, int] | None
    ) -> Sequence[tuple[int, datetime, str]]:
        """Open cases past due, by deadline then id, after the last page's last."""
        query = select(CaseRow.id, CaseRow.due_at, CaseRow.department_code).where(
            CaseRow.status.in_(rules.OPEN), CaseRow.due_at < now
        )
        if after is not None:
            last_due, last_id = after
            later = (CaseRow.due_at == last_due) & (CaseRow.id > last_id)
            query = query.where((CaseRow.due_at > last_due) | later)
        query = query.order_by(CaseRow.due_at, CaseRow.id).limit(BATCH)
        async with self._sessions() as session:
            return [(i, d, c) for i, d, c in (await session.execute(query)).all()]

    async def _written(
        self, steps: set[tuple[int, datetime, int]]
    ) -> set[tuple[int, datetime, int]]:
        """Which of `steps` are written already: skipped without a transaction each."""
        if not steps:
            return set()
        ids = {case_id for case_id, _, _ in steps}
        async with self._sessions() as session:
            rows = await session.execute(
                select(EscalationRow.case_id, EscalationRow.due_at, EscalationRow.step).where(
                    EscalationRow.case_id.in_(ids)
                )
            )
            return {(i, d, n) for i, d, n in rows.all()} & steps

    async def _escalate(self, case_id: int, due_at: datetime, step: int, now: datetime) -> bool:
        async with self._sessions() as session, session.begin():
            await stored.lock(session, case_id=case_id)  # on SQLite too
            row = await session.get(CaseRow, case_id)
            if row is None or row.status not in rules.OPEN or row.due_at != due_at:
                return False  # moved on since the look: the next run sees it as it is
            supervisor = self._supervisor(row.department_code)
            values = {
                "case_id": case_id, "due_at": due_at, "step": step, "at": now,
                "department_code": row.department_code, "supervisor_code": supervisor,
            }
            escalation_id = await session.scalar(_insert_once(session, values))
            if escalation_id is None:
                return False  # another controller wrote this step
            stored.add_event(
                session, row, now, "escalated", ACTOR,
                from_status=row.status, note=self._note(row, step, supervisor),
            )
            if self._webhook_url:
                body = self._body(row, escalation_id, step, supervisor, now)
                session.add(
                    WebhookDeliveryRow(
                        escalation_id=escalation_id, url=self._webhook_url, body=body,
                        status="pending", attempts=0, next_attempt_at=now, created_at=now,
                    )
                )
            return True

    # -- the inbox ------------------------------------------------------------------------

    async def inbox(
        self, supervisors: Sequence[str] | None, *, unread_only: bool = False,
        limit: int = INBOX_LIMIT,
    ) -> Inbox:
        """Escalations to `supervisors` (None: every department), newest first."""
        async with self._sessions() as session:
            query = select(EscalationRow, CaseRow).join(
                CaseRow, CaseRow.id == EscalationRow.case_id
            )
            count = select(func.count()).select_from(EscalationRow).where(
                EscalationRow.read_at.is_(None)
            )
            if supervisors is not None:
                query = query.where(EscalationRow.supervisor_code.in_(supervisors))
                count = count.where(EscalationRow.supervisor_code.in_(supervisors))
            if unread_only:
                query = query.where(EscalationRow.read_at.is_(None))
            query = query.order_by(EscalationRow.at.desc(), EscalationRow.id.desc()).limit(limit)
            rows = (await session.execute(query)).all()
            unread = int(await session.scalar(count) or 0)
        return Inbox(unread=unread, items=[self._item(e, c) for e, c in rows])

    async def mark_read(
        self, escalation_id: int, user: str, supervisors: Sequence[str] | None
    ) -> InboxItem:
        """Read by `user`; an escalation outside `supervisors` is not found,
        the same as one that does not exist. Marking twice keeps the first."""
        async with self._sessions() as session, session.begin():
            found = (
                await session.execute(
                    select(EscalationRow, CaseRow)
                    .join(CaseRow, CaseRow.id == EscalationRow.case_id)
                    .where(EscalationRow.id == escalation_id)
                )
            ).first()
            if found is None or (
                supervisors is not None and found[0].supervisor_code not in supervisors
            ):
                raise EscalationNotFound(f"no escalation {escalation_id}", id=escalation_id)
            escalation, case = found
            if escalation.read_at is None:
                escalation.read_at, escalation.read_by = self._clock(), user[:USERNAME_MAX]
            return self._item(escalation, case)

    async def deliveries(self, limit: int = 100) -> list[Delivery]:
        """The webhook's deliveries, newest first."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id.desc()).limit(limit)
                )
            ).all()
            return [_delivery(row) for row in rows]

    # -- helpers ----------------------------------------------------------------------------

    def _supervisor(self, code: str) -> str:
        if not self._directory.has(code):
            return self._directory.default.code
        return self._directory.by_code(code).parent or code

    def _step(self, due_at: datetime, now: datetime, code: str) -> int | None:
        return rules.late_steps(due_at, now, department_zone(self._directory, code))

    def _note(self, row: CaseRow, step: int, supervisor: str) -> str:
        late = "已超过办结期限" if step == 0 else f"已超过办结期限{step}个工作日"
        return f"{late}，已报{department_name(self._directory, supervisor)}督办"

    def _item(self, escalation: EscalationRow, case: CaseRow) -> InboxItem:
        directory = self._directory
        return InboxItem(
            id=escalation.id, at=escalation.at, step=escalation.step, case=case.number,
            category=case.category, kind=case.kind, urgent=case.urgent, status=case.status,
            due_at=escalation.due_at, department=escalation.department_code,
            department_name=department_name(directory, escalation.department_code),
            supervisor=escalation.supervisor_code,
            supervisor_name=department_name(directory, escalation.supervisor_code),
            read_at=escalation.read_at, read_by=escalation.read_by,
        )

    def _body(
        self, row: CaseRow, escalation_id: int, step: int, supervisor: str, now: datetime
    ) -> str:
        """What the webhook receives. The caller's number stays out of it: a
        receiver reads the case through the API, with its own access."""
        directory = self._directory
        payload: dict[str, Any] = {
            "event": WEBHOOK_EVENT,
            "escalation": escalation_id,
            "at": now.isoformat(),
            "step": step,
            "case": {
                "number": row.number,
                "kind": row.kind,
                "category": row.category,
                "urgent": row.urgent,
                "status": row.status,
                "created_at": row.created_at.isoformat(),
                "due_at": row.due_at.isoformat(),
                "department": row.department_code,
                "department_name": department_name(directory, row.department_code),
            },
            "supervisor": supervisor,
            "supervisor_name": department_name(directory, supervisor),
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _insert_once(session: AsyncSession, values: dict[str, Any]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the id only if this insert made the row."""
    dialect = session.get_bind().dialect.name
    insert = insert_new(dialect, escalations_table, ["case_id", "due_at", "step"])
    return insert.values(**values).returning(escalations_table.c.id)


# -- webhook deliveries, as the sender (ivr.webhook) moves them ------------------------------


class Delivery(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    escalation: int
    url: str
    body: str
    status: str  # pending, delivered, failed
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _delivery(row: WebhookDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id, escalation=row.escalation_id, url=row.url, body=row.body, status=row.status,
        attempts=row.attempts, next_attempt_at=row.next_attempt_at, last_status=row.last_status,
        last_error=row.last_error, created_at=row.created_at, delivered_at=row.delivered_at,
    )


class Deliveries:
    """The `webhook_deliveries` table: claimed by one sender at a time."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def claim(self, hold: timedelta, limit: int = 20) -> list[Delivery]:
        """Deliveries due now, held for `hold` by this sender: another sender
        (another controller) skips them until then."""
        now = self._clock()
        due = (
            WebhookDeliveryRow.status == "pending",
            WebhookDeliveryRow.next_attempt_at <= now,
            (WebhookDeliveryRow.claimed_until.is_(None)) | (WebhookDeliveryRow.claimed_until < now),
        )
        async with self._sessions() as session, session.begin():
            ids = (
                await session.scalars(
                    select(WebhookDeliveryRow.id).where(*due)
                    .order_by(WebhookDeliveryRow.next_attempt_at).limit(limit)
                )
            ).all()
            if not ids:
                return []
            # The condition again, in the update: of two senders, one changes the row.
            claimed = (
                await session.scalars(
                    update(WebhookDeliveryRow)
                    .where(WebhookDeliveryRow.id.in_(ids), *due)
                    .values(claimed_until=now + hold)
                    .returning(WebhookDeliveryRow)
                )
            ).all()
            return [_delivery(row) for row in claimed]

    async def delivered(self, delivery_id: int, status: int) -> None:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            row = await session.get(WebhookDeliveryRow, delivery_id)
            if row is not None:
                row.status, row.attempts, row.last_status = "delivered", row.attempts + 1, status
                row.last_error, row.delivered_at, row.claimed_until = None, now, None

    async def failed(
        self, delivery_id: int, status: int | None, error: str, retry_at: datetime | None
    ) -> None:
        """An attempt failed: tried again at `retry_at`, or given up (None)."""
        async with self._sessions() as session, session.begin():
            row = await session.get(WebhookDeliveryRow, delivery_id)
            if row is not None:
                row.attempts += 1
                row.last_status, row.last_error, row.claimed_until = status, error[:2000], None
                if retry_at is None:
                    row.status = "failed"
                else:
                    row.next_attempt_at = retry_at
