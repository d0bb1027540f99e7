"""The operator queue, as the caller lives it: waiting, the choice, a message.

A part of the call flow (`ivr/call/flow.py`). In working hours a caller who
chooses nothing joins the department's queue (`JoinQueue`); the controller
answers with the place (`Queued`) and the queue's news (`QueueUpdate`,
`OperatorConnected`, `OperatorLeft`). Past the department's limit, or with
nobody on duty, the caller may keep waiting, leave a message or ask for a
callback.
"""

from __future__ import annotations

from ivr.call import guide as menus
from ivr.call.core import FlowCore, Service, State
from ivr.call.events import (
    Answer,
    Command,
    Event,
    JoinQueue,
    LeaveQueue,
    OperatorConnected,
    Queued,
    QueueUpdate,
    RecordingEnded,
    RequestCallback,
    Step,
)

PROMPT_HOURS_CLOSED = "hours.closed"
PROMPT_DESK_STAY = "desk.stay"
PROMPT_QUEUE_JOINED = "queue.joined"
PROMPT_QUEUE_KEEP_WAITING = "queue.keep_waiting"
PROMPT_DESK_NOBODY = "desk.nobody"
PROMPT_DESK_LONG_WAIT = "desk.long_wait"
PROMPT_DESK_CHOICES = "desk.choices"
PROMPT_DESK_CHOICES_NO_CALLBACK = "desk.choices_no_callback"
PROMPT_CALLBACK_CONFIRMED = "callback.confirmed"
PROMPT_CALLBACK_GREETING = "callback.greeting"
# Heard by the operator before a call connects, after the department's name.
PROMPT_WHISPER = "whisper.call"
# Positions said one by one; beyond, "more than twenty".
POSITIONS_SAID = 20

# The choice offered when nobody is on duty or the wait is long.
KEY_WAIT, KEY_MESSAGE, KEY_CALLBACK = "1", "2", "3"


def position_prompts(position: int) -> tuple[str, ...]:
    """How a caller hears their place in the queue (1 is next)."""
    ahead = position - 1
    if ahead <= 0:
        return ("queue.next",)
    if ahead <= POSITIONS_SAID:
        return ("queue.ahead", f"count.{ahead}", "queue.people")
    return ("queue.ahead_many",)



# Every prompt of the queue, for the prompt build to require.
PROMPTS_USED = (
    PROMPT_HOURS_CLOSED,
    PROMPT_DESK_STAY,
    PROMPT_QUEUE_JOINED,
    PROMPT_QUEUE_KEEP_WAITING,
    PROMPT_DESK_NOBODY,
    PROMPT_DESK_LONG_WAIT,
    PROMPT_DESK_CHOICES,
    PROMPT_DESK_CHOICES_NO_CALLBACK,
    PROMPT_CALLBACK_CONFIRMED,
    PROMPT_CALLBACK_GREETING,
    PROMPT_WHISPER,
    # What `position_prompts` says.
    "queue.next",
    "queue.ahead",
    "queue.people",
    "queue.ahead_many",
    *(f"count.{n}" for n in range(1, POSITIONS_SAID + 1)),
)

class DeskSteps(FlowCore):
    def _to_desk(self, service: Service) -> list[Command]:
        """The caller heard the choices and chose none: to a person, in hours."""
        self.service, self.silences, self.queued = service, 0, True
        commands: list[Command] = [Step("note", "desk", service), JoinQueue(self.department)]
        if service == "operators":
            self.state = State.QUEUED  # Queued, with the position, follows
            return commands
        # Nobody on duty: the caller keeps a place and may choose something else.
        return [*commands, *self._offer_choice(PROMPT_DESK_NOBODY)]

    def _offer_choice(self, why: str) -> list[Command]:
        self.choice_offered = True
        self.menu, self.page = "desk", 0
        return self._play(why, *self._menu_prompts())

    def _desk_key(self, digit: str) -> list[Command] | None:
        if digit == menus.KEY_REPEAT:
            return self._show_menu()
        if digit in (KEY_WAIT, menus.KEY_BACK):
            return self._keep_waiting(PROMPT_QUEUE_KEEP_WAITING)
        if digit == KEY_MESSAGE:
            self.queued = False
            return [LeaveQueue("message"), *self._start_message()]
        if digit == KEY_CALLBACK and self.callback_ok:
            self.queued = False  # the place now belongs to the callback
            closing = self._close("callback_requested", PROMPT_CALLBACK_CONFIRMED)
            return [RequestCallback(self.category), *closing]
        return None

    def _keep_waiting(self, *prompts: str) -> list[Command]:
        self.menu = "guidance"
        return self._play(*prompts, state=State.QUEUED)

    def _on_queued(self, event: Event) -> list[Command]:
        assert isinstance(event, Queued)
        if self.state is not State.QUEUED or self.playback_id is not None:
            return []
        prompts = (PROMPT_QUEUE_JOINED, *position_prompts(event.position))
        return self._play(*prompts, state=State.QUEUED)

    def _on_queue_update(self, event: Event) -> list[Command]:
        assert isinstance(event, QueueUpdate)
        if self.state is not State.QUEUED:
            return []  # choosing, or leaving a message: not now
        if self.playback_id is not None:
            # Still hearing something: the choice comes when it ends.
            self.choice_due = self.choice_due or (event.over_limit and not self.choice_offered)
            return []
        commands = self._interrupt()
        if event.over_limit and not self.choice_offered:
            return [*commands, *self._offer_choice(PROMPT_DESK_LONG_WAIT)]
        return [*commands, *self._play(*position_prompts(event.position), state=State.QUEUED)]

    def _on_connected(self, event: Event) -> list[Command]:
        assert isinstance(event, OperatorConnected)
        if not self.queued:
            return []
        commands = self._interrupt()
        self.queued, self.state, self.operator = False, State.CONNECTED, event.operator
        self.menu = "guidance"
        return [*commands, Step("note", "connected", event.operator)]

    def _on_operator_left(self, _: Event) -> list[Command]:
        if self.state is not State.CONNECTED:
            return []
        return self._after_service("completed")

    def _on_recording_ended(self, event: Event) -> list[Command]:
        assert isinstance(event, RecordingEnded)
        if self.state is not State.RECORDING or event.name != self.recording:
            return []
        saved = Step("note", "message_saved", f"{event.seconds:.1f}")
        return [saved, *self._review(event.seconds)]

    def _on_called_back(self, _: Event) -> list[Command]:
        # The caller answered us; `Answer` marks the channel as ours (for a
        # controller that takes it back) before anything plays.
        self.queued, self.service = True, "operators"
        return [
            Answer(),
            Step("department", self.department, "callback"),
            *self._play(PROMPT_CALLBACK_GREETING, state=State.QUEUED),
        ]
