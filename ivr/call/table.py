"""The call machine's table: every event each state takes, who handles it,
and what each menu (sub-machine) does with the caller's turns.

Two levels, as h11 keeps its machines in one file:

- `State` -> event type -> handler (`state_table`). A pair missing here is a
  bug: `CallFlow.handle` raises `FlowError` naming both.
- `MenuKind` -> `MenuRow` (`menu_table`): while the caller chooses, the state
  table hands keys, the digit timer and a hang-up to the open menu (through
  `Turns`); the row says what that menu makes of them.

Handlers act on what the table decided and never check the state or the
menu again; what they still check is data (a stale playback or timer id,
whether the call holds a place in the queue, whether a recording runs).
`compose()` builds the parts of one call around its `CallState` and returns
its table, so the handlers in it are the parts' bound methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from ivr.call.events import (
    CalledBack,
    Command,
    Event,
    HungUp,
    KeyPressed,
    OperatorConnected,
    OperatorLeft,
    Orphaned,
    PlaybackEnded,
    Queued,
    QueueUpdate,
    RecordingEnded,
    Resumed,
    Started,
    Step,
    TimerFired,
)
from ivr.call.guidance import Guidance
from ivr.call.message import MessageBox
from ivr.call.queueing import Queueing
from ivr.call.service import AfterHours
from ivr.call.state import CallState, Context, MenuKind, State
from ivr.call.survey import SurveyMenu
from ivr.call.turns import MenuRow, Turns

Handler: TypeAlias = Callable[[Event], list[Command]]
StateTable: TypeAlias = Mapping[State, Mapping[type, Handler]]

# What the queue and the recorder report may reach a call in any state (an
# operator answering just as the caller chose to leave a message): every
# state takes them, and ignores those it has no use for (a row spreads
# `news`, then names those it acts on).
LATE_NEWS: tuple[type, ...] = (Queued, QueueUpdate, OperatorConnected, OperatorLeft, RecordingEnded)


def ignore(_: Event) -> list[Command]:
    return []


def ignored_key(why: str) -> Handler:
    """A key nobody listens to now, noted in the call's record."""

    def handler(event: Event) -> list[Command]:
        assert isinstance(event, KeyPressed)
        return [Step("key", event.digit, f"ignored: {why}")]

    return handler


def after_prompt(call: CallState, then: Callable[[], list[Command]]) -> Handler:
    """A prompt ended: one the caller already interrupted is ignored, a failed
    one noted; then what comes after it."""

    def handler(event: Event) -> list[Command]:
        assert isinstance(event, PlaybackEnded)
        if event.playback_id != call.playback_id:
            return []
        call.playback_id = None
        failed = event.outcome == "failed"
        noted = [Step("error", "playback_failed", event.playback_id)] if failed else []
        return [*noted, *then()]

    return handler


def nothing() -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Parts:
    """The parts of one call's flow, each an object on the shared `CallState`."""

    call: CallState
    guidance: Guidance
    queue: Queueing
    service: AfterHours
    messages: MessageBox
    survey: SurveyMenu
    turns: Turns


def compose(call: CallState, context: Context) -> StateTable:
    survey = SurveyMenu(call, context)
    messages = MessageBox(call, context, survey)
    queue = Queueing(call, context, messages, survey)
    guidance = Guidance(call, context)
    service = AfterHours(call, context, guidance, queue, messages)
    turns = Turns(call, context, menu_table(call, guidance, queue, service, messages, survey))
    return state_table(Parts(call, guidance, queue, service, messages, survey, turns))


def menu_table(
    call: CallState,
    guidance: Guidance,
    queue: Queueing,
    service: AfterHours,
    messages: MessageBox,
    survey: SurveyMenu,
) -> dict[MenuKind, MenuRow]:
    g = guidance
    # Each row: intro, prompts, key, wrong_key, silence, hung_up (see MenuRow).
    return {
        # The department's choices; choosing nothing goes on (AfterHours.chose_nothing).
        "guidance": MenuRow(
            g.intro, g.prompts, g.key, g.wrong_key, service.chose_nothing, call.left
        ),
        "regions": MenuRow(
            g.region_intro, g.region_prompts, g.region_key, g.region_wrong_key,
            g.region_silence, call.left,
        ),
        # Queued past the limit, or nobody on duty: wait, a message, a callback.
        "desk": MenuRow(
            nothing, queue.prompts, queue.key, queue.wrong_key, queue.keep_waiting, call.left
        ),
        "service": MenuRow(
            service.intro, service.prompts, service.key, service.wrong_key, service.silence,
            call.left,
        ),
        "review": MenuRow(
            nothing, messages.prompts, messages.key, messages.wrong_key, messages.silence,
            messages.hung_up,
        ),
        # Every key answers the survey (a non-score skips it), as silence does.
        "survey": MenuRow(
            nothing, survey.prompts, survey.key, survey.skipped, survey.skipped, survey.hung_up
        ),
    }


def state_table(p: Parts) -> StateTable:
    return {**choosing(p), **served(p), **closing(p)}


def choosing(p: Parts) -> dict[State, dict[type, Handler]]:
    """Before and while the caller chooses: the menus' states."""
    news = dict.fromkeys(LATE_NEWS, ignore)
    return {
        State.NEW: {
            Started: p.guidance.start,
            Resumed: p.turns.resume_choosing,
            Orphaned: p.turns.orphaned,
            CalledBack: p.queue.called_back,
            HungUp: p.turns.hung_up,
            **news,
        },
        State.PROMPTING: {
            KeyPressed: p.turns.key,
            PlaybackEnded: after_prompt(p.call, p.turns.wait_for_key),
            TimerFired: ignore,
            HungUp: p.turns.hung_up,
            Resumed: p.turns.resume_choosing,
            **news,
            OperatorConnected: p.queue.connect,  # during the desk's choice
        },
        State.WAITING: {
            KeyPressed: p.turns.key,
            PlaybackEnded: ignore,
            TimerFired: p.turns.silence,
            HungUp: p.turns.hung_up,
            Resumed: p.turns.resume_choosing,
            **news,
            OperatorConnected: p.queue.connect,  # during the desk's choice
        },
    }


def served(p: Parts) -> dict[State, dict[type, Handler]]:
    """In the queue, talking with an operator, leaving a message."""
    news = dict.fromkeys(LATE_NEWS, ignore)
    return {
        State.QUEUED: {
            KeyPressed: ignored_key("queued"),
            PlaybackEnded: after_prompt(p.call, p.queue.hold),
            TimerFired: ignore,
            HungUp: p.turns.hung_up,
            Resumed: p.queue.resume,
            Queued: p.queue.announce,
            QueueUpdate: p.queue.update,
            OperatorConnected: p.queue.connect,
            OperatorLeft: ignore,
            RecordingEnded: ignore,
        },
        State.CONNECTED: {
            KeyPressed: ignore,  # the conversation's, not ours
            PlaybackEnded: ignore,
            TimerFired: ignore,
            HungUp: p.turns.hung_up_talking,
            Resumed: p.turns.resume_talking,
            **news,
            OperatorLeft: p.queue.operator_left,
        },
        State.RECORDING: {
            KeyPressed: ignore,  # `#` ends the recording in Asterisk
            PlaybackEnded: after_prompt(p.call, p.messages.record),
            TimerFired: ignore,
            HungUp: p.turns.hung_up_recording,
            Resumed: p.messages.resume,
            **news,
            RecordingEnded: p.messages.recording_ended,
        },
    }


def closing(p: Parts) -> dict[State, dict[type, Handler]]:
    """Saying goodbye, and after."""
    return {
        State.CLOSING: {
            KeyPressed: ignored_key("closing"),
            PlaybackEnded: after_prompt(p.call, p.turns.goodbye_said),
            TimerFired: ignore,
            HungUp: p.turns.hung_up_closing,
            Resumed: p.turns.resume_closing,
            **dict.fromkeys(LATE_NEWS, ignore),
        },
        State.ENDED: dict.fromkeys(
            (KeyPressed, PlaybackEnded, TimerFired, HungUp, Resumed, *LATE_NEWS), ignore
        ),
    }
