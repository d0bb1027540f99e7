"""The automatic service of after hours: the service menu, the message box and
the satisfaction survey.

A part of the call flow (`ivr/call/flow.py`). The menu is data (`ivr/publish/menus.py`):
each department's effective tree of nodes, asked for with `self.menus`.
After hours, a caller who chooses no department hears the service menu of
the department the call is at. Every level keeps the same keys, announced
after its choices: `0` leave a message, `*` back one level (from the top,
back to the department's choices), `#` repeat.

A message is recorded, then reviewed: listen back, record again, confirm,
or confirm as urgent. The controller makes it a case when the recording
ends, before the caller chooses, so a call that drops keeps its message.
"""

from __future__ import annotations

from typing import Literal

from ivr.call import guide as menus
from ivr.call.core import (
    PROMPT_INVALID,
    PROMPT_NO_INPUT,
    FlowCore,
    ServiceMenu,
    ServiceNode,
    State,
)
from ivr.call.events import (
    Command,
    MarkUrgent,
    RegisterCallback,
    Step,
    Survey,
)
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

PROMPT_MESSAGE_INTRO = "message.intro"
PROMPT_MESSAGE_REVIEW = "message.review"
PROMPT_MESSAGE_EMPTY = "message.empty"
PROMPT_MESSAGE_THANKS = "message.thanks"
PROMPT_MESSAGE_URGENT = "message.urgent"
PROMPT_SURVEY_ASK = "survey.ask"
PROMPT_SURVEY_THANKS = "survey.thanks"

# After a message is recorded.
KEY_LISTEN, KEY_RERECORD, KEY_CONFIRM, KEY_URGENT = "1", "2", "3", "4"
SURVEY_SCORES = ("1", "2", "3")
# A recording shorter than this holds no message: the beep and a breath.
MESSAGE_MIN_SECONDS = 1.0

PROMPTS_USED = (
    PROMPT_MESSAGE_INTRO,
    PROMPT_MESSAGE_REVIEW,
    PROMPT_MESSAGE_EMPTY,
    PROMPT_MESSAGE_THANKS,
    PROMPT_MESSAGE_URGENT,
    PROMPT_SURVEY_ASK,
    PROMPT_SURVEY_THANKS,
)


class ServiceSteps(FlowCore):
    # -- the service menu -----------------------------------------------------

    def _service_menu(self) -> ServiceMenu:
        assert self.menus is not None
        return self.menus(self.department)

    def _node(self) -> ServiceNode:
        return self._service_menu().node(self.node)

    def _enter_service(self) -> list[Command]:
        self.menu, self.node, self.node_trail = "service", self._service_menu().root, []
        self.silences = self.invalid = self.misses = 0
        return [Step("note", "service_menu"), *self._show_menu(PROMPT_ENTER)]

    def _service_intro(self) -> tuple[str, ...]:
        if self.menu == "service":
            node = self._node()
            if node.kind == "info" and node.prompt_id:
                return (node.prompt_id,)
        return ()

    def _service_prompts(self) -> tuple[str, ...]:
        if self.menu == "review":
            return (PROMPT_MESSAGE_REVIEW,)
        if self.menu == "survey":
            return (PROMPT_SURVEY_ASK,)
        node = self._node()
        if node.kind == "info":
            return (PROMPT_AFTER_INFO,)
        return (*((node.prompt_id,) if node.prompt_id else ()), PROMPT_KEYS)

    def _service_key(self, digit: str) -> list[Command] | None:
        if self.menu == "review":
            return self._review_key(digit)
        if self.menu == "survey":
            return self._survey_key(digit)
        if digit == menus.KEY_REPEAT:
            return self._show_menu()
        if digit == menus.KEY_BACK:
            if self.node_trail:
                self.node = self.node_trail.pop()
                return [*self._category_step(self.node), *self._show_menu()]
            self.menu, self.page = "guidance", 0
            return [Step("note", "service_menu_left"), *self._show_menu()]
        if digit == KEY_MESSAGE:
            return self._start_message()
        target = self._node().choices.get(digit) if self._node().kind == "menu" else None
        if target is None:
            return None
        return self._choose(target)

    def _choose(self, target: str) -> list[Command]:
        node = self._service_menu().node(target)
        entered = [Step("note", "menu", target), *self._category_step(target)]
        if node.kind in ("menu", "info"):
            self.node_trail.append(self.node)
            self.node = target
            return [*entered, *self._show_menu()]
        # The other kinds act at once; the caller stays where they chose.
        said = (node.prompt_id,) if node.prompt_id else ()
        if node.kind == "message":
            return [*entered, *self._start_message(*said)]
        if node.kind == "callback":
            if not self.callback_ok:
                return [*entered, *self._start_message(PROMPT_CALLBACK_UNAVAILABLE)]
            confirmed = said or (PROMPT_CALLBACK_REGISTERED,)
            closing = self._close("callback_registered", *confirmed)
            return [*entered, RegisterCallback(self.category), *closing]
        if node.kind == "department":
            code = self._transfer_target(node.department or "")
            return [*entered, *self._arrive(code, "menu", *(said or (PROMPT_TRANSFER,)))]
        if node.kind == "queue":
            service = self.desk(self.department)
            if service != "after_hours":
                # In line, the service menu's keys and timers no longer apply.
                self.menu = "guidance"
                return [*entered, *self._to_desk(service)]
            closed = said or (PROMPT_QUEUE_CLOSED,)
            return [*entered, *self._play(*closed, *self._service_prompts())]
        return [*entered, *self._close("menu_hangup", *said)]  # hangup

    def _transfer_target(self, code: str) -> str:
        if code == "parent":
            return self.guide.parent(self.department) or self.department
        return code if self.guide.knows(code) else self.department

    def _category_step(self, node_id: str) -> list[Command]:
        """The branch's category, recorded when the caller enters a new one."""
        category = self._service_menu().category(node_id)
        if category == self.category:
            return []
        self.category = category
        return [Step("category", category)] if category else []

    def _service_silence(self) -> list[Command]:
        """No key: say the choices again; the third missed turn ends the call."""
        if self.menu == "survey":
            return self._close(self.end_reason or "completed")
        self.silences += 1
        if self.menu == "review":
            if self.silences >= self.config.max_silences:
                return self._message_done(urgent=False)
        else:
            self.misses += 1
            if self.misses >= self.config.max_invalid:
                return self._close("silence", PROMPT_NO_INPUT_END)
        return self._play(PROMPT_NO_INPUT, *self._service_prompts())

    def _service_invalid(self) -> list[Command]:
        """A key that leads nowhere; the third missed turn goes to the message box."""
        self.invalid += 1
        if self.menu == "review":
            if self.invalid >= self.config.max_invalid:
                return self._message_done(urgent=False)
        else:
            self.misses += 1
            if self.misses >= self.config.max_invalid:
                return [Step("note", "too_many_invalid"), *self._start_message(PROMPT_TOO_MANY)]
        return self._play(PROMPT_INVALID, *self._service_prompts())

    # -- the message box --------------------------------------------------------

    def _start_message(self, *before: str) -> list[Command]:
        self.recording = None
        note = Step("note", "message", self.category or None)
        return [note, *self._play(*before, PROMPT_MESSAGE_INTRO, state=State.RECORDING)]

    def _review(self, seconds: float) -> list[Command]:
        if seconds < MESSAGE_MIN_SECONDS and self.empty_recordings == 0:
            # Nothing was said (or Asterisk failed to record): say so and
            # record again, once; the second time the caller decides.
            self.empty_recordings += 1
            empty = Step("note", "message_empty", f"{seconds:.1f}")
            return [empty, *self._start_message(PROMPT_MESSAGE_EMPTY)]
        self.menu, self.recorded_seconds = "review", seconds
        self.silences = self.invalid = 0
        return self._show_menu()

    def _review_key(self, digit: str) -> list[Command] | None:
        if digit == menus.KEY_REPEAT:
            return self._show_menu()
        if digit == KEY_LISTEN and self.recording:
            listen = f"recording:{self.recording}"
            return self._play(listen, PROMPT_MESSAGE_REVIEW, seconds=self.recorded_seconds)
        if digit == KEY_RERECORD:
            return [Step("note", "rerecord"), *self._start_message()]
        if digit in (KEY_CONFIRM, KEY_URGENT):
            return self._message_done(urgent=digit == KEY_URGENT)
        return None

    def _message_done(self, *, urgent: bool) -> list[Command]:
        commands: list[Command] = [Step("note", "message_confirmed", "urgent" if urgent else None)]
        if urgent and self.message_source:
            commands.append(MarkUrgent(self.message_source))
        thanks = PROMPT_MESSAGE_URGENT if urgent else PROMPT_MESSAGE_THANKS
        return [*commands, *self._after_service("message_left", thanks)]

    # -- the survey ------------------------------------------------------------

    def _after_service(self, reason: str, *before: str) -> list[Command]:
        """Ask how the service was, if asked for; then goodbye. What is asked
        about follows from how the call ends: an operator's call, or a case."""
        if not self.config.survey:
            return self._close(reason, *before)
        self.end_reason = reason
        self.menu, self.silences, self.invalid = "survey", 0, 0
        return self._play(*before, PROMPT_SURVEY_ASK)

    def _survey_key(self, digit: str) -> list[Command] | None:
        if digit == menus.KEY_REPEAT:
            return self._show_menu()
        reason = self.end_reason or "completed"
        if digit not in SURVEY_SCORES:
            return self._close(reason)
        kind: Literal["operator", "case"] = "operator" if reason == "completed" else "case"
        return [
            Step("survey", digit, kind),
            Survey(kind, int(digit)),
            *self._close(reason, PROMPT_SURVEY_THANKS),
        ]
