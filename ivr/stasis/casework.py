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
from datetime import datetime, timedelta
from typing import Any

from ivr.call import flow
from ivr.cases.messages import MessageBox
from ivr.cases.registry import Cases, callback_source
from ivr.db.recorder import Recorder
from ivr.logs import CallTag, about_call
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
        # The call of each recording under way, for the lines about its end:
        # that comes after the call ended when the caller hung up mid-message.
        # (An end never reported, lost in a disconnect, leaves a small entry.)
        self._recording_calls: dict[str, CallTag] = {}

    async def execute(self, call: Call, command: flow.Command) -> flow.Event | None:
        """Carry out `command`; what the flow is told back, if anything (a
        callback request's case number, a lookup's answer)."""
        match command:
            case flow.RecordMessage(name, source, category):
                log.info("recording message %s", name)
                self._recording_calls[name] = call.tag
                await self.messages.started(
                    name,
                    call_id=call.call_id,
                    department=call.flow.department,
                    caller=call.caller,
                    source=source,
                    category=category,
                )
            case flow.RequestCallback(category) | flow.RegisterCallback(category):
                number = await self._register_callback(call, category)
                return flow.CaseRegistered(number) if number else None
            case flow.LookupCase(number):
                return await self._look_up(call, number)
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
        return None

    async def message_ended(
        self, channel_id: str, name: str, seconds: float, status: str
    ) -> str | None:
        """The recording ended: its case now, before the caller reviews it
        (an urgent mark then has a case to mark). Its number, if registered.

        Runs beside the call's task (the router's), and its lines are the call's."""
        tag = self._recording_calls.pop(name, None) or CallTag(channel_id)
        with about_call(tag):
            try:
                number = await self.messages.finished(name, seconds, status)
            except Exception:
                log.exception("message %s: could not register its case", name)
                return None
            if number is not None:
                self._recorder.step(channel_id, self._now(), "note", "case", number)
                log.info("message %s (%s, %.1f s): case %s", name, status, seconds, number)
        return number

    async def _look_up(self, call: Call, number: str) -> flow.CaseLookedUp | None:
        """Case `number`, if the caller's own number registered it; else
        "not found", the same as a number nobody has."""
        try:
            found = await self.cases.find_for_caller(number, call.caller)
        except Exception:
            # No answer: the flow's timer runs out and the caller hears that
            # the lookup is not possible now.
            log.exception("call %s: could not look case %s up", call.call_id, number)
            return None
        if found is None:
            return flow.CaseLookedUp(number, found=False)
        # Due at 24:00 of its last day: that day is the one to say.
        last_moment = found.due_at - timedelta(microseconds=1)
        due = last_moment.astimezone(self.cases.zone(found.department)).date()
        return flow.CaseLookedUp(number, True, found.status, found.department, due)

    async def _register_callback(self, call: Call, category: str) -> str | None:
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
            log.info("callback requested: case %s", number)
        return number

    async def _write(self, call: Call, work: Awaitable[Any]) -> str | None:
        try:
            result = await work
        except Exception:
            log.exception("call %s: could not write its case", call.call_id)
            return None
        return getattr(result, "number", None)
