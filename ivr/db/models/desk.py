"""Operators, their departments and actions, and callers' places in the queues."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.models.base import (
    CALLER_MAX,
    DIVISION_CODE_LENGTH,
    ID_MAX,
    MD5_HEX,
    NODE_MAX,
    OPERATOR_ID_MAX,
    OPERATOR_NAME_MAX,
    PAUSE_REASON_MAX,
    SIP_URI_MAX,
    STATUS_MAX,
    Base,
    UtcDateTime,
)


class OperatorRow(Base):
    """An operator and the status they are in now (ivr/desk/operators.py)."""

    __tablename__ = "operators"

    id: Mapped[str] = mapped_column(String(OPERATOR_ID_MAX), primary_key=True)
    name: Mapped[str] = mapped_column(String(OPERATOR_NAME_MAX))
    endpoint: Mapped[str] = mapped_column(String(OPERATOR_ID_MAX), unique=True)
    status: Mapped[str] = mapped_column(String(STATUS_MAX))
    status_since: Mapped[datetime] = mapped_column(UtcDateTime())
    pause_reason: Mapped[str | None] = mapped_column(String(PAUSE_REASON_MAX))
    # Where the phone is when it does not register (a desk phone at a fixed
    # address); null: where it registered.
    sip_contact: Mapped[str | None] = mapped_column(String(SIP_URI_MAX))
    # md5(endpoint:realm:password) for the phone's SIP digest; never the password.
    sip_md5: Mapped[str | None] = mapped_column(String(MD5_HEX))


class OperatorDepartmentRow(Base):
    """An operator answers for a department. No foreign key to `departments`: an
    import replaces the directory wholesale, and must not need the operators gone."""

    __tablename__ = "operator_departments"

    operator_id: Mapped[str] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )
    department_code: Mapped[str] = mapped_column(
        String(DIVISION_CODE_LENGTH), primary_key=True, index=True
    )


class OperatorEventRow(Base):
    """Every action an operator went through: the day's counts come from here."""

    __tablename__ = "operator_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    operator_id: Mapped[str] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    action: Mapped[str] = mapped_column(String(STATUS_MAX))
    status: Mapped[str] = mapped_column(String(STATUS_MAX))  # the status after it
    call_id: Mapped[str | None] = mapped_column(String(ID_MAX))
    detail: Mapped[str | None] = mapped_column(Text())


class OperatorPhoneRow(Base):
    """An operator's phone as one Asterisk sees it (ivr/desk/presence.py):
    written by the controller serving that Asterisk when the state changes.
    No foreign key: the phone is known by its endpoint, which Asterisk names."""

    __tablename__ = "operator_phones"

    endpoint: Mapped[str] = mapped_column(String(OPERATOR_ID_MAX), primary_key=True)
    node: Mapped[str] = mapped_column(String(NODE_MAX), primary_key=True)
    state: Mapped[str] = mapped_column(String(STATUS_MAX))  # online, offline, unknown
    since: Mapped[datetime] = mapped_column(UtcDateTime())


class QueueEntryRow(Base):
    """A call's place in a department's queue, from joining to its outcome.

    Shared by every controller: the oldest entry of a department is served
    first whichever controller holds it, and a restarted controller finds
    its callers' places here."""

    __tablename__ = "queue_entries"

    call_id: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    department_code: Mapped[str] = mapped_column(String(DIVISION_CODE_LENGTH), index=True)
    node: Mapped[str] = mapped_column(String(NODE_MAX))
    caller: Mapped[str] = mapped_column(String(CALLER_MAX))
    entered_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    position: Mapped[int] = mapped_column(Integer)  # at entry; 1 is next
    # waiting, ringing, connected, done, abandoned, message, callback, calling_back,
    # callback_failed
    status: Mapped[str] = mapped_column(String(STATUS_MAX), index=True)
    # Each offer: {"operator", "at", "outcome"} (answered, no_answer, caller_left).
    offers: Mapped[list[dict[str, Any]]] = mapped_column(JSON())
    operator_id: Mapped[str | None] = mapped_column(String(OPERATOR_ID_MAX))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer)  # callbacks tried
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
