"""A department's front page, the service half: self-service and a person.

A part of the call flow (`ivr/call/flow.py`). The front page (the `guidance`
menu, said by `ivr/call/guidance.py`) offers first what most callers of 12371
want: `1` the self-service menu, `2` a person in working hours (the queue) or
a message after hours. Its other keys (the departments below, another
region, back, repeat) are the guidance's. A caller who presses nothing gets
the same as `2` in hours and `1` after hours (`AfterHours.chose_nothing`).
"""

from __future__ import annotations

from ivr.call import guide as menus
from ivr.call.events import Command, Step
from ivr.call.guidance import Guidance
from ivr.call.message import MessageBox
from ivr.call.queueing import Queueing
from ivr.call.service import AfterHours
from ivr.call.state import CallState, Context


class Front:
    def __init__(
        self,
        call: CallState,
        context: Context,
        guidance: Guidance,
        service: AfterHours,
        queue: Queueing,
        messages: MessageBox,
    ) -> None:
        self.call = call
        self.context = context
        self.guidance = guidance
        self.service = service
        self.queue = queue
        self.messages = messages

    def key(self, digit: str) -> list[Command] | None:
        """What a key of the front page does; None if it offers nothing."""
        call = self.call
        if digit == menus.KEY_SELF_SERVICE and self.context.menus is not None:
            return self.service.enter()
        if digit == menus.KEY_PERSON:
            # Asked again: the desk may have closed while the caller listened.
            call.service = self.context.desk(call.department)
            if call.service == "after_hours":
                return [Step("note", "front_message"), *self.messages.start()]
            return self.queue.to_desk(call.service)
        return self.guidance.key(digit)
