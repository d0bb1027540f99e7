"""Messages callers left, registered cases and their history, and survey answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ivr.db.models.base import (
    ACTOR_MAX,
    CALLER_MAX,
    CASE_ACTION_MAX,
    CASE_NUMBER_MAX,
    CASE_SOURCE_MAX,
    CATEGORY_MAX,
    DIVISION_CODE_LENGTH,
    ID_MAX,
    OPERATOR_ID_MAX,
    STATUS_MAX,
    URL_MAX,
    USERNAME_MAX,
    Base,
    UtcDateTime,
)


class MessageRow(Base):
    """A message a caller left: the recording's name in Asterisk, and whose it is."""

    __tablename__ = "messages"

    name: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(ID_MAX), index=True)
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH))
    caller: Mapped[str] = mapped_column(String(CALLER_MAX))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # Set when the recording ends; a message whose call dropped mid-way is kept.
    seconds: Mapped[float | None] = mapped_column(Float())
    status: Mapped[str] = mapped_column(String(STATUS_MAX))  # recording, saved, failed
    # The first recording of the caller's message: its case's source. A
    # recording made again replaces the recording of the same case.
    source: Mapped[str] = mapped_column(String(ID_MAX), server_default="")
    category: Mapped[str] = mapped_column(String(CATEGORY_MAX), server_default="")


class CaseRow(Base):
    """A registered case (登记): a message or a callback request someone must handle."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_department_code_status", "department_code", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # What people quote: the local creation date and the id, 20261124-000123.
    number: Mapped[str] = mapped_column(String(CASE_NUMBER_MAX), unique=True)
    # What created it (a recording's name, `callback:<call id>`): registering
    # the same source twice finds the first case.
    source: Mapped[str] = mapped_column(String(CASE_SOURCE_MAX), unique=True)
    kind: Mapped[str] = mapped_column(String(STATUS_MAX))  # message, callback
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH))
    category: Mapped[str] = mapped_column(String(CATEGORY_MAX))  # "" if none
    # The calling number: a caller asking by phone hears only their own cases.
    caller: Mapped[str] = mapped_column(String(CALLER_MAX), index=True)
    call_id: Mapped[str | None] = mapped_column(String(ID_MAX), index=True)
    recording: Mapped[str | None] = mapped_column(String(ID_MAX))
    recording_seconds: Mapped[float | None] = mapped_column(Float())
    # When retention removed (or archived) the recording: the case keeps its name.
    recording_removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    urgent: Mapped[bool] = mapped_column(Boolean())
    status: Mapped[str] = mapped_column(String(STATUS_MAX))
    assigned_to: Mapped[str | None] = mapped_column(String(OPERATOR_ID_MAX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # When the department it is at now got it: creation, or the last forwarding.
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1, 2, 3 as in surveys

    events: Mapped[list[CaseEventRow]] = relationship(
        back_populates="case", order_by="CaseEventRow.id", lazy="raise", passive_deletes=True
    )


class CaseEventRow(Base):
    """Everything that happened to a case, in order: its history is never rewritten."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    action: Mapped[str] = mapped_column(String(CASE_ACTION_MAX))
    from_status: Mapped[str | None] = mapped_column(String(STATUS_MAX))
    to_status: Mapped[str] = mapped_column(String(STATUS_MAX))
    # The department the case was at after the event; a forwarding keeps the
    # one it left in `from_department`.
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH))
    from_department: Mapped[str | None] = mapped_column(String(DIVISION_CODE_LENGTH))
    actor: Mapped[str] = mapped_column(String(ACTOR_MAX))
    note: Mapped[str | None] = mapped_column(Text())

    case: Mapped[CaseRow] = relationship(back_populates="events", lazy="raise")


class SurveyRow(Base):
    """A caller's answer to the satisfaction survey: 1 satisfied, 2 fair, 3 dissatisfied."""

    __tablename__ = "surveys"

    call_id: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH))
    kind: Mapped[str] = mapped_column(String(STATUS_MAX))  # operator, case
    score: Mapped[int] = mapped_column(Integer)
    operator_id: Mapped[str | None] = mapped_column(String(OPERATOR_ID_MAX))
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class EscalationRow(Base):
    """A case past its deadline, told to the department above it (督办): one
    row per case, deadline and step, so however many controllers run the
    job, each step is written once. Step 0 is the deadline passing, step n
    the nth further working day late. The row is also the supervising
    department's inbox item."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("case_id", "due_at", "step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the deadline it is about
    step: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH))  # the late one
    # Who is told: the department above (the central department for its own).
    supervisor_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH), index=True)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    read_by: Mapped[str | None] = mapped_column(String(USERNAME_MAX))


class WebhookDeliveryRow(Base):
    """One escalation sent to `IVR_WEBHOOK_URL`: its body as signed, and how
    sending it went. Retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    escalation_id: Mapped[int] = mapped_column(
        ForeignKey("escalations.id", ondelete="CASCADE"), unique=True
    )
    url: Mapped[str] = mapped_column(String(URL_MAX))
    body: Mapped[str] = mapped_column(Text())
    status: Mapped[str] = mapped_column(String(STATUS_MAX))  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # A sender holds it until then: two controllers never send it at once.
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)  # the receiver's HTTP status
    last_error: Mapped[str | None] = mapped_column(Text())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
