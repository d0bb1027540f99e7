"""Messages callers left, registered cases and their history, and survey answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
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
    caller: Mapped[str] = mapped_column(String(CALLER_MAX))
    call_id: Mapped[str | None] = mapped_column(String(ID_MAX), index=True)
    recording: Mapped[str | None] = mapped_column(String(ID_MAX))
    recording_seconds: Mapped[float | None] = mapped_column(Float())
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
