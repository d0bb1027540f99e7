"""The automatic service of after hours: the service menu (the `service` menu,
a sub-machine of the call flow), and where a caller goes who chooses nothing.

A part of the call flow (`ivr/call/flow.py`). The menu is data (`ivr/publish/menus.py`):
each department's effective tree of nodes, asked for with `Context.menus`.
A caller reaches it from a department's front page (`1`, `ivr/call/front.py`)
or, after hours, by choosing nothing there. Every level keeps the same keys, announced
after its choices: `0` leave a message (`ivr/call/message.py`), `*` back one
level (from the top, back to the department's choices), `#` repeat.
"""

from __future__ import annotations

from ivr.call import guide as menus
from ivr.call import message, survey, tracking
from ivr.call.events import Command, RegisterCallback, Step
from ivr.call.guidance import Guidance
from ivr.call.message import MessageBox
from ivr.call.queueing import Queueing
from ivr.call.state import (
    PROMPT_INVALID,
    PROMPT_NO_INPUT,
    CallState,
    Context,
    ServiceMenu,
    ServiceNode,
)
from ivr.call.tracking import Tracking
from ivr.publish.menus import (
    KEY_MESSAGE,
    PROMPT_AFTER_INFO,
    PROMPT_CALLBACK_REGISTERED,
    PROMPT_CALLBACK_UNAVAILABLE,
    PROMPT_ENTER,
    PROMPT_KEYS,
    PROMPT_NO_INPUT_END,
    PROMPT_QUEUE_CLOSED,
    PROMPT_TOO_MANY,
    PROMPT_TRANSFER,
)

# Every prompt of the automatic service the flow names itself, for the prompt
# build to require (the menu's own prompts are the menu's).
PROMPTS_USED = (*message.PROMPTS_USED, *survey.PROMPTS_USED, *tracking.PROMPTS_USED)


class AfterHours:
    def __init__(
        self,
        call: CallState,
        context: Context,
        guidance: Guidance,
        queue: Queueing,
        messages: MessageBox,
        tracking: Tracking,
    ) -> None:
        self.call = call
        self.context = context
        self.guidance = guidance
        self.queue = queue
        self.messages = messages
        self.tracking = tracking

    def chose_nothing(self) -> list[Command]:
        """The caller heard the department's choices and chose none: a person in
        hours, the service menu after hours, else the choices again."""
        service = self.context.desk(self.call.department)
        if service != "after_hours":
            return self.queue.to_desk(service)
        if self.context.menus is not None:
            return self.enter()
        return self.guidance.silence()

    def enter(self) -> list[Command]:
        """The service menu, from its top."""
        call = self.call
        call.menu, call.node, call.node_trail = "service", self._menu().root, []
        call.silences = call.invalid = call.misses = 0
        return [Step("note", "service_menu"), *self._show(PROMPT_ENTER)]

    def _menu(self) -> ServiceMenu:
        assert self.context.menus is not None
        return self.context.menus(self.call.department)

    def _node(self) -> ServiceNode:
        return self._menu().node(self.call.node)

    def _show(self, *before: str) -> list[Command]:
        return self.call.play(*before, *self.intro(), *self.prompts())

    # -- the service menu: a sub-machine ---------------------------------------------

    def intro(self) -> tuple[str, ...]:
        node = self._node()
        if node.kind == "info" and node.prompt_id:
            return (node.prompt_id,)
        return ()

    def prompts(self) -> tuple[str, ...]:
        node = self._node()
        if node.kind == "info":
            return (PROMPT_AFTER_INFO,)
        return (*((node.prompt_id,) if node.prompt_id else ()), PROMPT_KEYS)

    def key(self, digit: str) -> list[Command] | None:
        call = self.call
        if digit == menus.KEY_REPEAT:
            return self._show()
        if digit == menus.KEY_BACK:
            if call.node_trail:
                call.node = call.node_trail.pop()
                return [*self._category_step(call.node), *self._show()]
            return [Step("note", "service_menu_left"), *self.guidance.front()]
        if digit == KEY_MESSAGE:
            return self.messages.start()
        node = self._node()
        target = node.choices.get(digit) if node.kind == "menu" else None
        return None if target is None else self._choose(target)

    def wrong_key(self) -> list[Command]:
        """A key that leads nowhere; the third missed turn goes to the message box."""
        self.call.invalid += 1
        if self._missed():
            return [Step("note", "too_many_invalid"), *self.messages.start(PROMPT_TOO_MANY)]
        return self.call.play(PROMPT_INVALID, *self.prompts())

    def silence(self) -> list[Command]:
        """No key: say the choices again; the third missed turn ends the call."""
        self.call.silences += 1
        if self._missed():
            return self.call.close("silence", PROMPT_NO_INPUT_END)
        return self.call.play(PROMPT_NO_INPUT, *self.prompts())

    def lookup_key(self, digit: str) -> list[Command] | None:
        """A key in the lookup of a case (`ivr.call.tracking`): `*` comes back
        here, to the menu it was chosen in."""
        if digit != menus.KEY_BACK:
            return self.tracking.key(digit)
        self.tracking.leave()
        self.call.menu = "service"
        return [Step("note", "case_lookup_left"), *self._show()]

    def _missed(self) -> bool:
        """One more missed turn; True when it is one too many."""
        self.call.misses += 1
        return self.call.misses >= self.context.config.max_invalid

    def _choose(self, target: str) -> list[Command]:
        call = self.call
        node = self._menu().node(target)
        entered = [Step("note", "menu", target), *self._category_step(target)]
        if node.kind in ("menu", "info"):
            call.node_trail.append(call.node)
            call.node = target
            return [*entered, *self._show()]
        # The other kinds act at once; the caller stays where they chose.
        said = (node.prompt_id,) if node.prompt_id else ()
        if node.kind == "message":
            return [*entered, *self.messages.start(*said)]
        if node.kind == "callback":
            if not call.callback_ok:
                return [*entered, *self.messages.start(PROMPT_CALLBACK_UNAVAILABLE)]
            confirmed = said or (PROMPT_CALLBACK_REGISTERED,)
            closing = call.close_with_number("callback_registered", *confirmed)
            return [*entered, RegisterCallback(call.category), *closing]
        if node.kind == "lookup":
            return [*entered, *self.tracking.start(*said)]
        if node.kind == "department":
            code = self._transfer_target(node.department or "")
            return [*entered, *self.guidance.arrive(code, "menu", *(said or (PROMPT_TRANSFER,)))]
        if node.kind == "queue":
            service = self.context.desk(call.department)
            if service != "after_hours":
                # In line, the service menu's keys and timers no longer apply.
                call.menu = "guidance"
                return [*entered, *self.queue.to_desk(service)]
            closed = said or (PROMPT_QUEUE_CLOSED,)
            return [*entered, *call.play(*closed, *self.prompts())]
        return [*entered, *call.close("menu_hangup", *said)]  # hangup

    def _transfer_target(self, code: str) -> str:
        guide = self.context.guide
        if code == "parent":
            return guide.parent(self.call.department) or self.call.department
        return code if guide.knows(code) else self.call.department

    def _category_step(self, node_id: str) -> list[Command]:
        """The branch's category, recorded when the caller enters a new one."""
        category = self._menu().category(node_id)
        if category == self.call.category:
            return []
        self.call.category = category
        return [Step("category", category)] if category else []
