"""What a call leaves for later, carried out for its flow: the message it
records, its callback request, the urgency the caller gives a message, the
caller's survey answer. Each becomes (or changes) a case (`ivr/cases/registry.py`),
and the call's record notes the case's number.

A case write that fails is logged and never reaches the caller: the
message itself is in Asterisk and on record in `messages`, and the next
reconnect's settling (`MessageBox.settle`) registers it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from ivr.call import flow
from ivr.cases.messages import MessageBox
from ivr.cases.registry import Cases, callback_source
from ivr.db.recorder import Recorder
from ivr.stasis.calls import Call

log = logging.getLogger(__name__)


class Casework:
    def __init__(
        self,
        *,
        messages: MessageBox,
        cases: Cases,
        recorder: Recorder,
        now: Callable[[], datetime],
    ) -> None:
        self.messages = messages
        self.cases = cases
        self._recorder = recorder
        self._now = now

    async def execute(self, call: Call, command: flow.Command) -> None:
        match command:
            case flow.RecordMessage(name, source, category):
                await self.messages.started(
                    name,
                    call_id=call.call_id,
                    department=call.flow.department,
                    caller=call.caller,
                    source=source,
                    category=category,
                )
            case flow.RequestCallback(category) | flow.RegisterCallback(category):
                await self._register_callback(call, category)
            case flow.MarkUrgent(source):
                await self._write(call, self.cases.mark_urgent(source, actor="caller"))
            case flow.Survey(kind, score):
                flow_ = call.flow
                await self._write(
                    call,
                    self.cases.record_survey(
                        call.call_id, flow_.department, kind, score, operator_id=flow_.operator
                    ),
                )

    async def message_ended(self, channel_id: str, name: str, seconds: float, status: str) -> None:
        """The recording ended: its case now, before the caller reviews it
        (an urgent mark then has a case to mark)."""
        try:
            number = await self.messages.finished(name, seconds, status)
        except Exception:
            log.exception("message %s: could not register its case", name)
            return
        if number is not None:
            self._recorder.step(channel_id, self._now(), "note", "case", number)

    async def _register_callback(self, call: Call, category: str) -> None:
        case = self.cases.register(
            source=callback_source(call.call_id),
            kind="callback",
            department=call.flow.department,
            category=category,
            caller=call.caller,
            call_id=call.call_id,
        )
        number = await self._write(call, case)
        if number is not None:
            self._recorder.step(call.call_id, self._now(), "note", "case", number)

    async def _write(self, call: Call, work: Awaitable[Any]) -> str | None:
        try:
            result = await work
        except Exception:
            log.exception("call %s: could not write its case", call.call_id)
            return None
        return getattr(result, "number", None)
