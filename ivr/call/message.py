"""The message box: recording a message, and its review (the `review` menu).

A message is recorded, then reviewed: listen back, record again, confirm,
or confirm as urgent. The controller makes it a case when the recording
ends, before the caller chooses, so a call that drops keeps its message.
Callers reach it from the queue's choice (`ivr/call/queueing.py`) and from
the service menu (`ivr/call/service.py`).
"""

from __future__ import annotations

from ivr.call import guide as menus
from ivr.call.events import Command, Event, MarkUrgent, RecordingEnded, RecordMessage, Step
from ivr.call.state import PROMPT_INVALID, PROMPT_NO_INPUT, CallState, Context, State
from ivr.call.survey import SurveyMenu

PROMPT_MESSAGE_INTRO = "message.intro"
PROMPT_MESSAGE_REVIEW = "message.review"
PROMPT_MESSAGE_EMPTY = "message.empty"
PROMPT_MESSAGE_THANKS = "message.thanks"
PROMPT_MESSAGE_URGENT = "message.urgent"

# After a message is recorded.
KEY_LISTEN, KEY_RERECORD, KEY_CONFIRM, KEY_URGENT = "1", "2", "3", "4"
# A recording shorter than this holds no message: the beep and a breath.
MESSAGE_MIN_SECONDS = 1.0

PROMPTS_USED = (
    PROMPT_MESSAGE_INTRO,
    PROMPT_MESSAGE_REVIEW,
    PROMPT_MESSAGE_EMPTY,
    PROMPT_MESSAGE_THANKS,
    PROMPT_MESSAGE_URGENT,
)


class MessageBox:
    def __init__(self, call: CallState, context: Context, survey: SurveyMenu) -> None:
        self.call = call
        self.context = context
        self.survey = survey

    def start(self, *before: str) -> list[Command]:
        self.call.recording = None
        note = Step("note", "message", self.call.category or None)
        return [note, *self.call.play(*before, PROMPT_MESSAGE_INTRO, state=State.RECORDING)]

    def record(self) -> list[Command]:
        """The intro ended: record, as a new recording of the same message."""
        call = self.call
        call.recording = call.next_id("m")
        call.message_source = call.message_source or call.recording
        # On record before the first word: a call that drops keeps it.
        record = RecordMessage(call.recording, call.message_source, call.category)
        return [record, Step("message", call.recording)]

    def recording_ended(self, event: Event) -> list[Command]:
        assert isinstance(event, RecordingEnded)
        if event.case:
            self.call.case_number = event.case  # said when the caller confirms
        if event.name != self.call.recording:
            return []  # a recording the caller already replaced
        saved = Step("note", "message_saved", f"{event.seconds:.1f}")
        return [saved, *self._review(event.seconds)]

    def resume(self, _: Event) -> list[Command]:
        note = self.call.resumed()
        if self.call.recording:
            return [note]  # the recording goes on in Asterisk
        stale = self.call.stale_playback()
        return [note, *stale, *self.call.play(PROMPT_MESSAGE_INTRO, state=State.RECORDING)]

    def hung_up(self) -> str:
        return "message_left"  # what was recorded is kept

    def _review(self, seconds: float) -> list[Command]:
        if seconds < MESSAGE_MIN_SECONDS and self.call.empty_recordings == 0:
            # Nothing was said (or Asterisk failed to record): say so and
            # record again, once; the second time the caller decides.
            self.call.empty_recordings += 1
            empty = Step("note", "message_empty", f"{seconds:.1f}")
            return [empty, *self.start(PROMPT_MESSAGE_EMPTY)]
        self.call.menu, self.call.recorded_seconds = "review", seconds
        self.call.silences = self.call.invalid = 0
        return self.call.play(*self.prompts())

    # -- the review: a sub-machine -------------------------------------------------

    def prompts(self) -> tuple[str, ...]:
        return (PROMPT_MESSAGE_REVIEW,)

    def key(self, digit: str) -> list[Command] | None:
        call = self.call
        if digit == menus.KEY_REPEAT:
            return call.play(*self.prompts())
        if digit == KEY_LISTEN and call.recording:
            listen = f"recording:{call.recording}"
            return call.play(listen, PROMPT_MESSAGE_REVIEW, seconds=call.recorded_seconds)
        if digit == KEY_RERECORD:
            return [Step("note", "rerecord"), *self.start()]
        if digit in (KEY_CONFIRM, KEY_URGENT):
            return self._done(urgent=digit == KEY_URGENT)
        return None

    def wrong_key(self) -> list[Command]:
        self.call.invalid += 1
        if self.call.invalid >= self.context.config.max_invalid:
            return self._done(urgent=False)
        return self.call.play(PROMPT_INVALID, *self.prompts())

    def silence(self) -> list[Command]:
        """No key: say the choices again; past the limit the message is kept as is."""
        self.call.silences += 1
        if self.call.silences >= self.context.config.max_silences:
            return self._done(urgent=False)
        return self.call.play(PROMPT_NO_INPUT, *self.prompts())

    def _done(self, *, urgent: bool) -> list[Command]:
        commands: list[Command] = [Step("note", "message_confirmed", "urgent" if urgent else None)]
        if urgent and self.call.message_source:
            commands.append(MarkUrgent(self.call.message_source))
        thanks = PROMPT_MESSAGE_URGENT if urgent else PROMPT_MESSAGE_THANKS
        return [*commands, *self.survey.after_service("message_left", thanks)]
