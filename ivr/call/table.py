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
Both tables are built once, at import: a rule names the part that handles
an event and its method (`via("guidance.start")`), and `compose()` builds
only the parts of one call around its `CallState`. A call costs eight small
objects, not a copy of the table.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import TypeAlias

from ivr.call.events import (
    CalledBack,
    CaseLookedUp,
    CaseRegistered,
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
from ivr.call.front import Front
from ivr.call.guidance import Guidance
from ivr.call.message import MessageBox
from ivr.call.queueing import Queueing
from ivr.call.service import AfterHours
from ivr.call.state import CallState, Context, MenuKind, State
from ivr.call.survey import SurveyMenu
from ivr.call.tracking import Tracking
from ivr.call.turns import MenuRows, Turns

Handler: TypeAlias = Callable[[Event], list[Command]]
# A rule: what a state does with an event, given the call's parts.
Rule: TypeAlias = Callable[["Parts", Event], list[Command]]
StateTable: TypeAlias = Mapping[State, Mapping[type, Rule]]

# What the queue and the recorder report may reach a call in any state (an
# operator answering just as the caller chose to leave a message): every
# state takes them, and ignores those it has no use for (a row spreads
# `news`, then names those it acts on).
LATE_NEWS: tuple[type, ...] = (
    Queued, QueueUpdate, OperatorConnected, OperatorLeft, RecordingEnded, CaseLookedUp,
)


@dataclass(frozen=True)
class Parts:
    """The parts of one call's flow, each an object on the shared `CallState`."""

    call: CallState
    guidance: Guidance
    front: Front
    queue: Queueing
    service: AfterHours
    messages: MessageBox
    survey: SurveyMenu
    tracking: Tracking
    turns: Turns


def via(path: str) -> Rule:
    """The handler at `path` among a call's parts, e.g. `"guidance.start"`."""
    get = attrgetter(path)

    def rule(parts: Parts, event: Event) -> list[Command]:
        handler: Handler = get(parts)
        return handler(event)

    return rule


def ignore(_: Parts, __: Event) -> list[Command]:
    return []


def ignored_key(why: str) -> Rule:
    """A key nobody listens to now, noted in the call's record."""

    def rule(_: Parts, event: Event) -> list[Command]:
        assert isinstance(event, KeyPressed)
        return [Step("key", event.digit, f"ignored: {why}")]

    return rule


def after_prompt(then: str) -> Rule:
    """A prompt ended: one the caller already interrupted is ignored, a failed
    one noted; then what comes after it (the method at `then`)."""
    get = attrgetter(then)

    def rule(parts: Parts, event: Event) -> list[Command]:
        assert isinstance(event, PlaybackEnded)
        call = parts.call
        if event.playback_id != call.playback_id:
            return []
        call.playback_id = None
        failed = event.outcome == "failed"
        noted = [Step("error", "playback_failed", event.playback_id)] if failed else []
        next_step: Callable[[], list[Command]] = get(parts)
        return [*noted, *next_step()]

    return rule


def compose(call: CallState, context: Context) -> Parts:
    survey = SurveyMenu(call, context)
    messages = MessageBox(call, context, survey)
    queue = Queueing(call, context, messages, survey)
    guidance = Guidance(call, context)
    tracking = Tracking(call, context)
    service = AfterHours(call, context, guidance, queue, messages, tracking)
    front = Front(call, context, guidance, service, queue, messages)
    turns = Turns(call, context, MenuRows(MENU_TABLE))
    parts = Parts(call, guidance, front, queue, service, messages, survey, tracking, turns)
    turns.menus.parts = weakref.ref(parts)
    return parts


def row(*paths: str) -> tuple[attrgetter[object], ...]:
    """A menu's row as paths among a call's parts (see `MenuRow` for the order);
    `turns.nothing` stands for a menu with no intro of its own."""
    return tuple(attrgetter(path) for path in paths)


# Each row: intro, prompts, key, wrong_key, silence, hung_up, wait (see MenuRow).
MENU_TABLE: Mapping[MenuKind, tuple[attrgetter[object], ...]] = {
    # The department's front page; choosing nothing goes on (AfterHours.chose_nothing).
    "guidance": row(
        "guidance.intro", "guidance.prompts", "front.key", "guidance.wrong_key",
        "service.chose_nothing", "call.left", "turns.front_wait",
    ),
    # The departments below it, in pages; choosing nothing goes on, as above.
    "below": row(
        "turns.nothing", "guidance.below_prompts", "guidance.below_key",
        "guidance.below_wrong_key", "service.chose_nothing", "call.left", "turns.digit_wait",
    ),
    "regions": row(
        "guidance.region_intro", "guidance.region_prompts", "guidance.region_key",
        "guidance.region_wrong_key", "guidance.region_silence", "call.left", "turns.digit_wait",
    ),
    # Queued past the limit, or nobody on duty: wait, a message, a callback.
    "desk": row(
        "turns.nothing", "queue.prompts", "queue.key", "queue.wrong_key",
        "queue.keep_waiting", "call.left", "turns.digit_wait",
    ),
    "service": row(
        "service.intro", "service.prompts", "service.key", "service.wrong_key",
        "service.silence", "call.left", "turns.digit_wait",
    ),
    "review": row(
        "turns.nothing", "messages.prompts", "messages.key", "messages.wrong_key",
        "messages.silence", "messages.hung_up", "turns.digit_wait",
    ),
    # Every key answers the survey (a non-score skips it), as silence does.
    "survey": row(
        "turns.nothing", "survey.prompts", "survey.key", "survey.skipped",
        "survey.skipped", "survey.hung_up", "turns.digit_wait",
    ),
    # Keying a case's number and `#`; then its status, said (ivr/call/tracking.py).
    "lookup": row(
        "turns.nothing", "tracking.prompts", "service.lookup_key", "tracking.wrong_key",
        "tracking.silence", "tracking.hung_up", "turns.digit_wait",
    ),
}


def late_news() -> dict[type, Rule]:
    """What may reach a call in any state: ignored, but for a case's number,
    kept for when the caller is told it."""
    return {**dict.fromkeys(LATE_NEWS, ignore), CaseRegistered: via("tracking.registered")}


def choosing() -> dict[State, dict[type, Rule]]:
    """Before and while the caller chooses: the menus' states."""
    news = late_news()
    return {
        State.NEW: {
            Started: via("guidance.start"),
            Resumed: via("turns.resume_choosing"),
            Orphaned: via("turns.orphaned"),
            CalledBack: via("queue.called_back"),
            HungUp: via("turns.hung_up"),
            **news,
        },
        State.PROMPTING: {
            KeyPressed: via("turns.key"),
            PlaybackEnded: after_prompt("turns.wait_for_key"),
            TimerFired: ignore,
            HungUp: via("turns.hung_up"),
            Resumed: via("turns.resume_choosing"),
            **news,
            OperatorConnected: via("queue.connect"),  # during the desk's choice
            CaseLookedUp: via("tracking.answer"),
        },
        State.WAITING: {
            KeyPressed: via("turns.key"),
            PlaybackEnded: ignore,
            TimerFired: via("turns.silence"),
            HungUp: via("turns.hung_up"),
            Resumed: via("turns.resume_choosing"),
            **news,
            OperatorConnected: via("queue.connect"),  # during the desk's choice
            CaseLookedUp: via("tracking.answer"),
        },
    }


def served() -> dict[State, dict[type, Rule]]:
    """In the queue, talking with an operator, leaving a message."""
    news = late_news()
    return {
        State.QUEUED: {
            KeyPressed: ignored_key("queued"),
            PlaybackEnded: after_prompt("queue.hold"),
            TimerFired: ignore,
            HungUp: via("turns.hung_up"),
            Resumed: via("queue.resume"),
            Queued: via("queue.announce"),
            QueueUpdate: via("queue.update"),
            OperatorConnected: via("queue.connect"),
            OperatorLeft: ignore,
            RecordingEnded: ignore,
            CaseLookedUp: ignore,
            CaseRegistered: via("tracking.registered"),
        },
        State.CONNECTED: {
            KeyPressed: ignore,  # the conversation's, not ours
            PlaybackEnded: ignore,
            TimerFired: ignore,
            HungUp: via("turns.hung_up_talking"),
            Resumed: via("turns.resume_talking"),
            **news,
            OperatorLeft: via("queue.operator_left"),
        },
        State.RECORDING: {
            KeyPressed: ignore,  # `#` ends the recording in Asterisk
            PlaybackEnded: after_prompt("messages.record"),
            TimerFired: ignore,
            HungUp: via("turns.hung_up_recording"),
            Resumed: via("messages.resume"),
            **news,
            RecordingEnded: via("messages.recording_ended"),
        },
    }


def closing() -> dict[State, dict[type, Rule]]:
    """Saying goodbye, and after."""
    return {
        State.CLOSING: {
            KeyPressed: ignored_key("closing"),
            PlaybackEnded: after_prompt("turns.goodbye_said"),
            TimerFired: ignore,
            HungUp: via("turns.hung_up_closing"),
            Resumed: via("turns.resume_closing"),
            **late_news(),
        },
        State.ENDED: dict.fromkeys(
            (KeyPressed, PlaybackEnded, TimerFired, HungUp, Resumed, *LATE_NEWS, CaseRegistered),
            ignore,
        ),
    }


STATE_TABLE: StateTable = {**choosing(), **served(), **closing()}
