"""Calls and their steps: one row per call, one row per thing that happened in it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ivr.db.models.base import (
    CALLER_MAX,
    DEPARTMENT_CODE_MAX,
    DEPARTMENT_NAME_MAX,
    DIALED_MAX,
    END_REASON_MAX,
    ID_MAX,
    NODE_MAX,
    ROUTE_READ_MAX,
    ROUTE_RULE_MAX,
    SIP_CALL_ID_MAX,
    STEP_KIND_MAX,
    STEP_VALUE_MAX,
    Base,
    UtcDateTime,
)

if TYPE_CHECKING:
    from ivr.db.models.desk import QueueEntryRow


class Call(Base):
    __tablename__ = "calls"

    # The controller's own id for the call: the Asterisk channel id or a uuid.
    id: Mapped[str] = mapped_column(String(ID_MAX), primary_key=True)
    sip_call_id: Mapped[str | None] = mapped_column(String(SIP_CALL_ID_MAX), index=True)
    node: Mapped[str] = mapped_column(String(NODE_MAX))
    # The caller id exactly as received: may be empty, "anonymous" or letters.
    caller: Mapped[str] = mapped_column(String(CALLER_MAX))
    dialed: Mapped[str] = mapped_column(String(DIALED_MAX))
    department_code: Mapped[str] = mapped_column(String(DEPARTMENT_CODE_MAX))
    department_name: Mapped[str] = mapped_column(String(DEPARTMENT_NAME_MAX))
    route_rule: Mapped[str] = mapped_column(String(ROUTE_RULE_MAX))
    route_read: Mapped[str] = mapped_column(String(ROUTE_READ_MAX))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    end_reason: Mapped[str | None] = mapped_column(String(END_REASON_MAX))
    # Enough of the call flow's state for another controller to take the call
    # back after a crash.
    flow_state: Mapped[dict[str, Any] | None] = mapped_column(JSON())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    steps: Mapped[list[CallStep]] = relationship(
        back_populates="call",
        order_by="CallStep.seq",
        lazy="raise",
        passive_deletes=True,
    )
    # The call's place in an operator queue, if it joined one.
    queue_entry: Mapped[QueueEntryRow | None] = relationship(
        primaryjoin="foreign(QueueEntryRow.call_id) == Call.id",
        viewonly=True,
        uselist=False,
        lazy="raise",
    )


# A playback's prompts are stored as one row of this kind, numbered with the
# last of their steps, the prompts in `detail` (space-separated), and read back
# as a "prompt" step each (`ivr.db.queries`): a menu page is 20 prompts, and
# a row each was most of what the records cost per call.
PAGE_STEP = "prompts"


class CallStep(Base):
    __tablename__ = "call_steps"
    __table_args__ = (UniqueConstraint("call_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    # Order within the call, from 1.
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    # "prompt", "key", "route", "note", ... or PAGE_STEP.
    kind: Mapped[str] = mapped_column(String(STEP_KIND_MAX))
    value: Mapped[str] = mapped_column(String(STEP_VALUE_MAX))
    # A prompt's playback outcome ("done", "failed", "stopped") or free text.
    detail: Mapped[str | None] = mapped_column(Text())

    call: Mapped[Call] = relationship(back_populates="steps", lazy="raise")
