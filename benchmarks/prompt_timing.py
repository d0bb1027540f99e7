"""The caller's time on a clock (issue 14): the real call flow, timed by the built audio.

A call is simulated, not placed: the real `CallFlow` is fed `Started`, then
`PlaybackEnded` when each `Play` has lasted the sum of its clips'
`duration_ms` (the prompt manifest), `TimerFired` when a timer is due and
`KeyPressed` when the simulated caller presses. Nothing here knows the menus'
rules or prompt ids: only what the flow plays and what the manifest's texts
say. A clip says key K when its text has 按K (or 按 K), or it is `digit.K`.

Measured from the answer (the first `Play`, at time 0):

- first choice: the end of the first clip of the answer that says a digit key;
- to the goal (after hours the service menu, in hours the queue, both at the
  department called): for a caller who presses one key as soon as it is said,
  each key said by a clip ending in the first `SOON` seconds, the best of
  them; and for a caller who presses nothing. The service menu counts from
  the start of its node's own prompt; the queue from `JoinQueue`. A call that
  moves to another department, ends, or waits for nothing more never gets
  there: infinity.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ivr.audio.catalog import PromptEntry
from ivr.call.flow import (
    CallFlow,
    CancelTimer,
    Command,
    FlowConfig,
    JoinQueue,
    KeyPressed,
    Play,
    PlaybackEnded,
    Service,
    ServiceMenu,
    Started,
    StartTimer,
    Step,
    StopPlayback,
    TimerFired,
)
from ivr.call.guide import Guide

DIGIT_PREFIX = "digit."  # `digit.K` says key K whatever its text
DIGIT_KEYS = "0123456789"  # the useful choices; * and # are not
_SAYS_KEY = re.compile(r"按 ?([0-9])")
SOON = 10.0  # seconds: a key said this early is one a caller may press
MAX_TURNS = 60  # events followed before a call is taken as going nowhere
NEVER = math.inf
CALL_ID = "bench"
# What the flow notes on entering the service menu: the goal after hours.
SERVICE_MENU_ENTERED = Step("note", "service_menu")


class MissingPrompt(Exception):
    """The flow plays a prompt the manifest does not have: the build is stale."""

    def __init__(self, prompt_id: str) -> None:
        super().__init__(prompt_id)
        self.prompt_id = prompt_id


@dataclass(frozen=True)
class Clips:
    """The built prompts as a caller hears them: how long each lasts, which keys it says."""

    seconds_of: Mapping[str, float]
    keys_of: Mapping[str, frozenset[str]]
    _sums: dict[tuple[str, ...], float] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, entries: Mapping[str, tuple[str, int]]) -> Clips:
        """Clips from each prompt id's (text, duration in ms)."""
        seconds = {prompt: ms / 1000 for prompt, (_, ms) in entries.items()}
        keys = {prompt: said_keys(prompt, text) for prompt, (text, _) in entries.items()}
        return cls(seconds, keys)

    @classmethod
    def from_manifest(cls, entries: Mapping[str, PromptEntry]) -> Clips:
        return cls.of({prompt: (e.text, e.duration_ms) for prompt, e in entries.items()})

    def seconds(self, prompts: Sequence[str]) -> float:
        key = tuple(prompts)
        total = self._sums.get(key)
        if total is None:
            total = self._sums[key] = sum(self._clip(prompt) for prompt in key)
        return total

    def said(self, prompts: Sequence[str]) -> list[tuple[float, frozenset[str]]]:
        """When each clip that says keys ends, from the start of `prompts`, and its keys."""
        found, ended = [], 0.0
        for prompt in prompts:
            ended += self._clip(prompt)
            keys = self.keys_of.get(prompt, frozenset())
            if keys:
                found.append((ended, keys))
        return found

    def _clip(self, prompt: str) -> float:
        try:
            return self.seconds_of[prompt]
        except KeyError:
            raise MissingPrompt(prompt) from None


def said_keys(prompt: str, text: str) -> frozenset[str]:
    keys = set(_SAYS_KEY.findall(text))
    digit = prompt.removeprefix(DIGIT_PREFIX)
    if prompt.startswith(DIGIT_PREFIX) and digit in DIGIT_KEYS and len(digit) == 1:
        keys.add(digit)
    return frozenset(keys)


def fixed_desk(service: Service) -> Callable[[str], Service]:
    """A desk that answers `service` for every department."""
    return lambda _: service


@dataclass(frozen=True)
class World:
    """What a measured call is given, as the controller gives it."""

    guide: Guide
    clips: Clips
    menus: Callable[[str], ServiceMenu] | None
    config: FlowConfig = field(default_factory=FlowConfig)

    def call(self, code: str, service: Service) -> CallFlow:
        return CallFlow(
            CALL_ID, self.guide, code, self.config, desk=fixed_desk(service), menus=self.menus
        )

    def restore(self, snapshot: dict[str, Any], service: Service) -> CallFlow:
        return CallFlow.restore(
            CALL_ID, snapshot, self.guide, self.config, fixed_desk(service), self.menus
        )


class Clock:
    """One simulated call: its flow, the seconds since the answer, what plays and what is due."""

    def __init__(self, flow: CallFlow, clips: Clips) -> None:
        self.flow = flow
        self.clips = clips
        self.now = 0.0
        self.playing: tuple[str, float] | None = None  # playback id, when it ends
        self.timer: tuple[str, float] | None = None  # timer id, when it fires

    def handle(self, event: Any) -> list[Command]:
        commands = self.flow.handle(event)
        for command in commands:
            if isinstance(command, Play):
                self.playing = command.playback_id, self.now + self.clips.seconds(command.prompts)
            elif isinstance(command, StopPlayback) and self._is_playing(command.playback_id):
                self.playing = None
            elif isinstance(command, StartTimer):
                self.timer = command.timer_id, self.now + command.seconds
            elif isinstance(command, CancelTimer) and self._is_due(command.timer_id):
                self.timer = None
        return commands

    def wait(self) -> list[Command] | None:
        """Let time pass to what the call waits for next: the end of what plays,
        else its timer; None when it waits for nothing."""
        if self.playing is not None:
            playback_id, ends = self.playing
            self.playing, self.now = None, max(self.now, ends)
            return self.handle(PlaybackEnded(playback_id, "done"))
        if self.timer is not None:
            timer_id, due = self.timer
            self.timer, self.now = None, max(self.now, due)
            return self.handle(TimerFired(timer_id))
        return None

    def _is_playing(self, playback_id: str) -> bool:
        return self.playing is not None and self.playing[0] == playback_id

    def _is_due(self, timer_id: str) -> bool:
        return self.timer is not None and self.timer[0] == timer_id


def first_play(commands: Sequence[Command]) -> Play | None:
    return next((c for c in commands if isinstance(c, Play)), None)


@dataclass(frozen=True)
class Times:
    """One department's times, in seconds from the answer (`NEVER`: not at all)."""

    first_choice: float
    by_key: float  # to the goal, pressing the best key said in the first SOON seconds
    best_key: str | None
    by_silence: float  # to the goal, pressing nothing
    keys: Mapping[str, float]  # to the goal by each key said in time


class Timing:
    """The times of the departments, for one service (in hours or after)."""

    def __init__(self, world: World, service: Service) -> None:
        self.world = world
        self.service = service

    def times(self, code: str) -> Times:
        clock = self._answered(code)
        started = clock.handle(Started())
        answer = first_play(started)
        said = self.world.clips.said(answer.prompts) if answer else []
        first_choice = next((ends for ends, keys in said if keys & set(DIGIT_KEYS)), NEVER)
        by_silence = self.follow(clock, started, code)
        soonest: dict[str, float] = {}
        for ends, keys in said:
            for key in sorted(keys & set(DIGIT_KEYS)):
                if ends <= SOON:
                    soonest.setdefault(key, ends)
        by_key = {key: self.pressed(code, key, at) for key, at in soonest.items()}
        best = min(by_key, key=lambda key: by_key[key], default=None)
        if best is None or math.isinf(by_key[best]):
            return Times(first_choice, NEVER, None, by_silence, by_key)
        return Times(first_choice, by_key[best], best, by_silence, by_key)

    def pressed(self, code: str, key: str, at: float) -> float:
        """To the goal for a caller who presses `key` `at` seconds into the answer, then nothing."""
        clock = self._answered(code)
        clock.handle(Started())
        clock.now = at
        return self.follow(clock, clock.handle(KeyPressed(key)), code)

    def follow(self, clock: Clock, commands: list[Command], home: str) -> float:
        """Let the call go on, the caller silent, until it reaches the goal at `home`."""
        for _ in range(MAX_TURNS):
            reached = self._reached(clock, commands, home)
            if reached is not None:
                return reached
            if clock.flow.department != home:
                return NEVER  # that department is measured on its own
            following = clock.wait()
            if following is None:
                return NEVER
            commands = following
        return NEVER

    def _reached(self, clock: Clock, commands: list[Command], home: str) -> float | None:
        for index, command in enumerate(commands):
            if self.service == "after_hours":
                if command == SERVICE_MENU_ENTERED and clock.flow.department == home:
                    return clock.now + self._until_node_prompt(clock, commands[index:])
            elif isinstance(command, JoinQueue) and command.department == home:
                return clock.now
        return None

    def _until_node_prompt(self, clock: Clock, commands: Sequence[Command]) -> float:
        """From entering the service menu to the start of the node's own prompt
        (0 if the entry plays none)."""
        play, menus = first_play(commands), self.world.menus
        if play is None or menus is None:
            return 0.0
        prompt = menus(clock.flow.department).node(clock.flow.node).prompt_id
        if prompt not in play.prompts:
            return 0.0
        return self.world.clips.seconds(play.prompts[: play.prompts.index(prompt)])

    def _answered(self, code: str) -> Clock:
        return Clock(self.world.call(code, self.service), self.world.clips)
