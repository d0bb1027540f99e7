"""The call flow under random callers: keys, silences, hang-ups, controller
restarts and the order in which Asterisk, the queue and casework report
back, on the real directory's menus and the real service menus. No I/O.

A hypothesis state machine plays the controller (`ivr/stasis/runner.py`):
it carries out each command the flow gives and owes the flow what that
command brings back, in any order and at any time: `PlaybackEnded` for a
`Play` (also a stopped or stale one, also `failed`), `TimerFired` for a
timer not cancelled, `Queued` after `JoinQueue`, `RecordingEnded` after
`RecordMessage`, `CaseRegistered` after a callback request, `CaseLookedUp`
after `LookupCase`; an operator may answer while the call is in line, and
leave once connected. Whatever happens:

- the flow never raises (a `FlowError` is a transition its table lacks);
- the prompt and timer it waits for are ones it asked for and that are
  still running, so the call is never left in silence with nothing pending;
- it ends once, and after the caller stops pressing keys it ends within a
  bounded number of silences (or at once, on a hang-up).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ivr.call.flow import (
    CalledBack,
    CallFlow,
    CancelTimer,
    CaseLookedUp,
    CaseRegistered,
    Command,
    Ended,
    Event,
    FlowConfig,
    Hangup,
    HungUp,
    JoinQueue,
    KeyPressed,
    LeaveQueue,
    LookupCase,
    OperatorConnected,
    OperatorLeft,
    Orphaned,
    Play,
    PlaybackEnded,
    PlaybackOutcome,
    Queued,
    QueueUpdate,
    RecordingEnded,
    RecordMessage,
    RegisterCallback,
    RequestCallback,
    Resumed,
    Service,
    ServiceMenu,
    Started,
    StartMoh,
    StartTimer,
    State,
    StopMoh,
    StopPlayback,
    TimerFired,
)
from ivr.call.guide import Guide
from ivr.publish import menus as menu
from ivr.settings import REPO_ROOT
from tests.admin_support import directory

DIRECTORY = directory()
GUIDE = Guide(DIRECTORY)
BOOK = menu.read(REPO_ROOT / "routing" / "menus.yaml", DIRECTORY)
# Departments with menus of every shape: the central one (its region menu),
# provinces, cities, counties, and those whose service menu overrides the
# national one.
DEPARTMENTS = sorted(
    {"000000", "110000", "340000", "340100", "340121", "440100", *BOOK.overriding()}
)
KEYS = "0123456789*#"
SERVICES: tuple[Service, ...] = ("operators", "unstaffed", "after_hours")
# `#` first sends what was keyed before (nothing: the question again), so the
# number is read alone; 001250 is a case number, 000001 is not (check digit).
LOOKUPS = ("#001250#", "19001250#", "9001250#", "#000001#", "#1250#", "#0012500#", "00125*")
# What a caller keys first, so that calls start at every depth of the menus
# (random keys alone mostly close the call after three wrong ones): the
# service menu, a message, the departments below, the region menu, a lookup.
FIRST_KEYS = ("", "1", "2", "3", "0", "17", "19001250#", "19#000001#", "19001250#", "12", "31")
OUTCOMES: tuple[PlaybackOutcome, ...] = ("done", "done", "done", "failed")
# After the caller stops pressing keys: this many of the flow's own waits
# (prompts ending, timers firing) end any call not in line or talking. A
# call waits in line or talks as long as it takes; those are hung up.
SILENCE_STEPS = 200


def service_menus(code: str) -> ServiceMenu:
    return BOOK.effective(code)


@dataclass
class Controller:
    """What the controller holds for one call: what runs and what it owes the flow."""

    playbacks: list[str] = field(default_factory=list)  # started, not yet reported ended
    stopped: set[str] = field(default_factory=set)
    timers: list[str] = field(default_factory=list)  # started, not cancelled or fired
    owed: deque[Event] = field(default_factory=deque)  # casework's and the queue's answers
    recordings: list[str] = field(default_factory=list)
    in_line: bool = False
    moh: bool = False
    hangups: int = 0
    ended: list[str] = field(default_factory=list)
    hung_up_by_us: bool = False
    positions: int = 0


class CallerAndController(RuleBasedStateMachine):
    flow: CallFlow
    world: Controller
    service: Service

    def feed(self, event: Event) -> None:
        """Hand `event` to the flow, as the call's task does, and carry out the commands."""
        if self.world.ended:
            return  # the call's task stops at the end; later events are dropped
        for command in self.flow.handle(event):
            self.carry_out(command)

    def carry_out(self, command: Command) -> None:
        world = self.world
        match command:
            case Play(playback_id):
                world.playbacks.append(playback_id)
            case StopPlayback(playback_id):
                world.stopped.add(playback_id)
            case StartTimer(timer_id):
                world.timers.append(timer_id)
            case CancelTimer(timer_id):
                if timer_id in world.timers:
                    world.timers.remove(timer_id)
            case JoinQueue():
                world.in_line = True
                world.positions += 1
                world.owed.append(Queued(world.positions))
            case LeaveQueue():
                world.in_line = False
            case StartMoh():
                world.moh = True
            case StopMoh():
                world.moh = False
            case RecordMessage(name):
                world.recordings.append(name)
            case RequestCallback() | RegisterCallback():
                world.owed.append(CaseRegistered("001250"))
            case LookupCase(number):
                found = number.endswith("0")
                world.owed.append(
                    CaseLookedUp(number, found, "registered", "340100", date(2026, 12, 4))
                    if found
                    else CaseLookedUp(number, False)
                )
            case Hangup():
                world.hung_up_by_us = True
            case Ended(reason):
                world.ended.append(reason)
                world.in_line = False

    # -- how a call begins ---------------------------------------------------------

    @initialize(
        department=st.sampled_from(DEPARTMENTS),
        choose_region=st.booleans(),
        service=st.sampled_from(SERVICES),
        callback_ok=st.booleans(),
        survey=st.booleans(),
        # The real limits (3 wrong keys, 2 silences), and looser ones that let
        # random keys wander deeper into the menus before the call closes.
        max_invalid=st.sampled_from([3, 8, 30]),
        max_silences=st.sampled_from([2, 4]),
        start=st.sampled_from(["started", "started", "started", "called_back", "orphaned"]),
        first_keys=st.sampled_from(FIRST_KEYS),
    )
    def begin(
        self,
        department: str,
        choose_region: bool,
        service: Service,
        callback_ok: bool,
        survey: bool,
        max_invalid: int,
        max_silences: int,
        start: str,
        first_keys: str,
    ) -> None:
        self.service = service
        self.config = FlowConfig(
            survey=survey, max_invalid=max_invalid, max_silences=max_silences
        )
        self.world = Controller()
        self.flow = CallFlow(
            "c1",
            GUIDE,
            department,
            self.config,
            choose_region=choose_region and department == DIRECTORY.default.code,
            desk=lambda _: self.service,
            callback_ok=callback_ok,
            menus=service_menus,
        )
        first: dict[str, Event] = {
            "started": Started(),
            "called_back": CalledBack(),
            "orphaned": Orphaned(),
        }
        if start == "called_back":
            self.world.in_line = True  # a callback keeps its place in line
        self.feed(first[start])
        for digit in first_keys:
            if self.live():
                self.feed(KeyPressed(digit))

    # -- the caller ----------------------------------------------------------------

    def live(self) -> bool:
        return not self.world.ended and self.world.hangups == 0

    @precondition(lambda self: self.live())
    @rule(digit=st.sampled_from(KEYS))
    def press(self, digit: str) -> None:
        self.feed(KeyPressed(digit))

    @precondition(lambda self: self.live())
    @rule(digits=st.text(alphabet=KEYS, min_size=2, max_size=8))
    def press_several(self, digits: str) -> None:
        for digit in digits:
            self.feed(KeyPressed(digit))

    @precondition(lambda self: self.live())
    @rule(number=st.sampled_from(LOOKUPS))
    def key_case_number(self, number: str) -> None:
        """A case's number and `#`, as the lookup asks (a wrong one, a short one),
        on its own or from the front page (1 self-service, 9 the lookup)."""
        for digit in number:
            self.feed(KeyPressed(digit))

    @precondition(lambda self: not self.world.ended)
    @rule()
    def hang_up(self) -> None:
        # Asterisk reports a hang-up up to three times (request, StasisEnd, destroyed).
        self.world.hangups += 1
        self.feed(HungUp())

    # -- Asterisk --------------------------------------------------------------------

    @precondition(lambda self: bool(self.world.playbacks))
    @rule(data=st.data(), outcome=st.sampled_from(OUTCOMES))
    def playback_ends(self, data: st.DataObject, outcome: PlaybackOutcome) -> None:
        """Any running prompt ends (not only the one the flow waits for): one
        it stopped, one that failed, one from before a restart."""
        playback_id = data.draw(st.sampled_from(self.world.playbacks))
        self.world.playbacks.remove(playback_id)
        if playback_id in self.world.stopped:
            outcome = "stopped"
        self.feed(PlaybackEnded(playback_id, outcome))

    @precondition(lambda self: bool(self.world.timers))
    @rule(data=st.data())
    def timer_fires(self, data: st.DataObject) -> None:
        timer_id = data.draw(st.sampled_from(self.world.timers))
        self.world.timers.remove(timer_id)
        self.feed(TimerFired(timer_id))

    @precondition(lambda self: bool(self.world.recordings))
    @rule(seconds=st.sampled_from([0.0, 0.4, 9.0, 120.0]), case=st.sampled_from(["", "001250"]))
    def recording_ends(self, seconds: float, case: str) -> None:
        name = self.world.recordings.pop(0)
        self.feed(RecordingEnded(name, seconds, case))

    # -- the queue and casework -------------------------------------------------------

    @precondition(lambda self: bool(self.world.owed))
    @rule()
    def answer_owed(self) -> None:
        self.feed(self.world.owed.popleft())

    @precondition(lambda self: self.world.in_line)
    @rule(position=st.integers(min_value=1, max_value=30), over_limit=st.booleans())
    def queue_update(self, position: int, over_limit: bool) -> None:
        self.feed(QueueUpdate(position, over_limit))

    @precondition(lambda self: self.world.in_line)
    @rule()
    def operator_answers(self) -> None:
        self.world.in_line = False
        self.feed(OperatorConnected("op1"))

    @precondition(lambda self: self.flow.state is State.CONNECTED)
    @rule()
    def operator_leaves(self) -> None:
        self.feed(OperatorLeft())

    @rule(service=st.sampled_from(SERVICES))
    def desk_changes(self, service: Service) -> None:
        """Working hours begin or end, operators sign in or out, mid-call."""
        self.service = service

    # -- the controller dies and another takes the call back ---------------------------

    @precondition(lambda self: not self.world.ended and self.flow.state is not State.NEW)
    @rule(roll=st.integers(min_value=0, max_value=7))
    def controller_restarts(self, roll: int) -> None:
        if roll:
            return  # one step in eight: a call that restarts at every step goes nowhere
        flow = CallFlow.restore(
            "c1",
            self.flow.snapshot(),
            GUIDE,
            self.config,
            desk=lambda _: self.service,
            service_menus=service_menus,
        )
        self.flow = flow
        # Its timers and what casework was about to answer died with it; what
        # Asterisk plays and records goes on, and so does the queue.
        self.world.timers.clear()
        self.world.owed = deque(e for e in self.world.owed if isinstance(e, Queued))
        self.feed(Resumed())

    # -- what always holds ---------------------------------------------------------------

    @invariant()
    def waits_only_for_what_runs(self) -> None:
        if self.world.ended:
            return
        flow = self.flow
        if flow.playback_id is not None:
            assert flow.playback_id in self.world.playbacks
        if flow.timer_id is not None:
            assert flow.timer_id in self.world.timers

    @invariant()
    def never_left_in_silence(self) -> None:
        """Something the flow is waiting for is on its way, in every state."""
        world, flow = self.world, self.flow
        if world.ended or flow.state is State.NEW:
            return
        if flow.state in (State.PROMPTING, State.CLOSING):
            assert flow.playback_id is not None or world.owed or world.recordings
        elif flow.state is State.WAITING:
            assert flow.timer_id is not None or world.owed
        elif flow.state is State.RECORDING:
            assert flow.playback_id is not None or world.recordings or world.owed

    @invariant()
    def ends_once(self) -> None:
        assert len(self.world.ended) <= 1
        if self.world.ended:
            assert self.flow.state is State.ENDED
            assert self.flow.end_reason == self.world.ended[0]

    def teardown(self) -> None:
        """The caller presses nothing more: the call ends by itself, or on a hang-up."""
        if not hasattr(self, "world"):
            return
        for _ in range(SILENCE_STEPS):
            if self.world.ended or self.flow.state in (State.QUEUED, State.CONNECTED):
                break
            self.next_wait_ends()
        if not self.world.ended:
            if self.world.hangups == 0 or self.flow.state is not State.ENDED:
                self.feed(HungUp())
        assert self.flow.state is State.ENDED
        assert len(self.world.ended) == 1

    def next_wait_ends(self) -> None:
        """What the controller reports next when the caller is silent."""
        world, flow = self.world, self.flow
        if world.owed:
            self.feed(world.owed.popleft())
        elif flow.playback_id is not None and flow.playback_id in world.playbacks:
            world.playbacks.remove(flow.playback_id)
            self.feed(PlaybackEnded(flow.playback_id, "done"))
        elif flow.timer_id is not None and flow.timer_id in world.timers:
            world.timers.remove(flow.timer_id)
            self.feed(TimerFired(flow.timer_id))
        elif world.recordings:
            self.feed(RecordingEnded(world.recordings.pop(0), 9.0, "001250"))
        else:
            raise AssertionError(f"call stuck in {flow.state.value}, menu {flow.menu}")


TestCallFlowUnderRandomCallers = CallerAndController.TestCase
