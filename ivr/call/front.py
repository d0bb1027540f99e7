"""A department's front page, the service half: a person and self-service.

A part of the call flow (`ivr/call/flow.py`). The front page (the `guidance`
menu, said by `ivr/call/guidance.py`) offers first what most callers of 12371
want at that hour: in working hours `1` a person (the queue) and `2` the
self-service menu; after hours `1` the self-service menu and `2` a message.
Its other keys (the departments below, another region, back, repeat) are the
guidance's. A caller who presses nothing gets what `1` gives
(`AfterHours.chose_nothing`).
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
        if digit not in (menus.KEY_FIRST, menus.KEY_SECOND):
            return self.guidance.key(digit)
        # The keys mean what the caller heard on arrival (`call.service`).
        heard_in_hours = call.service != "after_hours"
        if (digit == menus.KEY_FIRST) != heard_in_hours:
            return None if self.context.menus is None else self.service.enter()
        # A person, asked again: the desk may have closed while the caller listened.
        call.service = self.context.desk(call.department)
        if call.service == "after_hours":
            return [Step("note", "front_message"), *self.messages.start()]
        return self.queue.to_desk(call.service)
