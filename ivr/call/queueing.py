"""The operator queue, as the caller lives it: waiting, the choice, a message.

A part of the call flow (`ivr/call/flow.py`), holding the `desk` menu, one of
its sub-machines. In working hours a caller who
chooses nothing joins the department's queue (`JoinQueue`); the controller
answers with the place (`Queued`) and the queue's news (`QueueUpdate`,
`OperatorConnected`, `OperatorLeft`). Past the department's limit, or with
nobody on duty, the caller may keep waiting, leave a message or ask for a
callback.
"""

from __future__ import annotations

from ivr.call import guide as menus
from ivr.call.events import (
    Answer,
    Command,
    Event,
    JoinQueue,
    LeaveQueue,
    OperatorConnected,
    Queued,
    QueueUpdate,
    RequestCallback,
    StartMoh,
    Step,
)
from ivr.call.message import MessageBox
from ivr.call.state import CallState, Context, Service, State
from ivr.call.survey import SurveyMenu

PROMPT_HOURS_CLOSED = "hours.closed"
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


class Queueing:
    """The queue as the caller lives it, and the choice offered in it (the `desk` menu)."""

    def __init__(
        self, call: CallState, context: Context, messages: MessageBox, survey: SurveyMenu
    ) -> None:
        self.call = call
        self.context = context
        self.messages = messages
        self.survey = survey

    def to_desk(self, service: Service) -> list[Command]:
        """The caller heard the choices and chose none: to a person, in hours."""
        call = self.call
        call.service, call.silences, call.queued = service, 0, True
        commands: list[Command] = [Step("note", "desk", service), JoinQueue(call.department)]
        if service == "operators":
            call.state = State.QUEUED  # Queued, with the position, follows
            return commands
        # Nobody on duty: the caller keeps a place and may choose something else.
        return [*commands, *self._offer_choice(PROMPT_DESK_NOBODY)]

    def called_back(self, _: Event) -> list[Command]:
        # The caller answered us; `Answer` records it before anything plays.
        self.call.queued, self.call.service = True, "operators"
        return [
            Answer(),
            Step("department", self.call.department, "callback"),
            *self.call.play(PROMPT_CALLBACK_GREETING, state=State.QUEUED),
        ]

    # -- waiting in the queue ----------------------------------------------------

    def announce(self, event: Event) -> list[Command]:
        assert isinstance(event, Queued)
        if self.call.playback_id is not None:
            return []
        prompts = (PROMPT_QUEUE_JOINED, *position_prompts(event.position))
        return self.call.play(*prompts, state=State.QUEUED)

    def update(self, event: Event) -> list[Command]:
        assert isinstance(event, QueueUpdate)
        call = self.call
        if call.playback_id is not None:
            # Still hearing something: the choice comes when it ends.
            call.choice_due = call.choice_due or (event.over_limit and not call.choice_offered)
            return []
        commands = call.interrupt()
        if event.over_limit and not call.choice_offered:
            return [*commands, *self._offer_choice(PROMPT_DESK_LONG_WAIT)]
        return [*commands, *call.play(*position_prompts(event.position), state=State.QUEUED)]

    def hold(self) -> list[Command]:
        """What was said to the waiting caller ended: the choice now if it is due, else music."""
        call = self.call
        if call.choice_due and not call.choice_offered:
            call.choice_due = False
            return self._offer_choice(PROMPT_DESK_LONG_WAIT)
        call.on_hold = True
        return [StartMoh()]

    def resume(self, _: Event) -> list[Command]:
        # The place in the queue is kept in the database; the music plays on.
        note, stale = self.call.resumed(), self.call.stale_playback()
        self.call.playback_id, self.call.on_hold = None, True
        return [note, *stale, StartMoh()]

    def connect(self, event: Event) -> list[Command]:
        assert isinstance(event, OperatorConnected)
        call = self.call
        if not call.queued:
            return []  # the caller left the queue as the operator answered
        commands = call.interrupt()
        call.queued, call.state, call.operator = False, State.CONNECTED, event.operator
        call.menu = "guidance"
        return [*commands, Step("note", "connected", event.operator)]

    def operator_left(self, _: Event) -> list[Command]:
        return self.survey.after_service("completed")

    # -- the choice: a sub-machine -----------------------------------------------

    def prompts(self) -> tuple[str, ...]:
        ok = self.call.callback_ok
        return (PROMPT_DESK_CHOICES if ok else PROMPT_DESK_CHOICES_NO_CALLBACK,)

    def key(self, digit: str) -> list[Command] | None:
        call = self.call
        if digit == menus.KEY_REPEAT:
            return call.play(*self.prompts())
        if digit in (KEY_WAIT, menus.KEY_BACK):
            return self.keep_waiting()
        if digit == KEY_MESSAGE:
            call.queued = False
            return [LeaveQueue("message"), *self.messages.start()]
        if digit == KEY_CALLBACK and call.callback_ok:
            call.queued = False  # the place now belongs to the callback
            closing = call.close_with_number("callback_requested", PROMPT_CALLBACK_CONFIRMED)
            return [RequestCallback(call.category), *closing]
        return None

    def wrong_key(self) -> list[Command]:
        return self.call.wrong_key(self.context.config.max_invalid, *self.prompts())

    def keep_waiting(self) -> list[Command]:
        """No choice (or the choice to wait): the caller waits on in the queue."""
        self.call.menu = "guidance"
        return self.call.play(PROMPT_QUEUE_KEEP_WAITING, state=State.QUEUED)

    def _offer_choice(self, why: str) -> list[Command]:
        self.call.choice_offered = True
        self.call.menu, self.call.page = "desk", 0
        return self.call.play(why, *self.prompts())
