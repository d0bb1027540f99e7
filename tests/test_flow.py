"""The call flow, fed events with no network: what a caller would notice."""

from __future__ import annotations

import pytest

from ivr.flow import (
    Answer,
    CallFlow,
    CancelTimer,
    Command,
    Ended,
    FlowConfig,
    FlowError,
    Hangup,
    HungUp,
    KeyPressed,
    Orphaned,
    Play,
    PlaybackEnded,
    Resumed,
    Started,
    StartTimer,
    State,
    Step,
    StopPlayback,
    TimerFired,
)

GREETING = "greeting.340100"


def new_call() -> CallFlow:
    return CallFlow("c1", GREETING, FlowConfig(digit_timeout=5.0, max_silences=2, max_invalid=3))


def only(commands: list[Command], kind: type) -> list[Command]:
    return [c for c in commands if isinstance(c, kind)]


def play_of(commands: list[Command]) -> Play:
    (play,) = only(commands, Play)
    assert isinstance(play, Play)
    return play


def finish_playback(flow: CallFlow) -> list[Command]:
    assert flow.playback_id is not None
    return flow.handle(PlaybackEnded(flow.playback_id, "done"))


def test_start_answers_then_greets_with_the_department_and_the_choices() -> None:
    flow = new_call()
    commands = flow.handle(Started())
    assert isinstance(commands[0], Answer)
    assert play_of(commands).prompts == (GREETING, "menu.choices")
    assert [c.value for c in only(commands, Step)] == [GREETING, "menu.choices"]
    assert flow.state is State.PROMPTING


def test_after_the_choices_the_caller_gets_a_digit_timeout() -> None:
    flow = new_call()
    flow.handle(Started())
    commands = finish_playback(flow)
    assert commands == [StartTimer(flow.timer_id or "", 5.0)]
    assert flow.state is State.WAITING


def test_key_1_interrupts_the_prompt_and_plays_the_greeting_again() -> None:
    flow = new_call()
    first = play_of(flow.handle(Started()))
    commands = flow.handle(KeyPressed("1"))
    assert StopPlayback(first.playback_id) in commands
    again = play_of(commands)
    assert again.prompts == (GREETING, "menu.choices")
    assert again.playback_id != first.playback_id
    # The end of the interrupted prompt arrives late and changes nothing.
    assert flow.handle(PlaybackEnded(first.playback_id, "stopped")) == []
    assert flow.state is State.PROMPTING


def test_key_9_says_goodbye_then_hangs_up() -> None:
    flow = new_call()
    flow.handle(Started())
    finish_playback(flow)
    commands = flow.handle(KeyPressed("9"))
    assert CancelTimer in {type(c) for c in commands}
    assert play_of(commands).prompts == ("goodbye",)
    assert flow.state is State.CLOSING
    commands = finish_playback(flow)
    assert commands[0] == Hangup()
    assert commands[-1] == Ended("caller_ended")
    assert flow.state is State.ENDED


def test_keys_during_goodbye_are_recorded_but_change_nothing() -> None:
    flow = new_call()
    flow.handle(Started())
    flow.handle(KeyPressed("9"))
    assert flow.handle(KeyPressed("1")) == [Step("key", "1", "ignored: closing")]
    assert flow.state is State.CLOSING


def test_two_silences_end_the_call_politely() -> None:
    flow = new_call()
    flow.handle(Started())
    first_timer = finish_playback(flow)[0]
    assert isinstance(first_timer, StartTimer)
    commands = flow.handle(TimerFired(first_timer.timer_id))
    assert play_of(commands).prompts == ("menu.no_input", "menu.choices")
    second_timer = finish_playback(flow)[0]
    assert isinstance(second_timer, StartTimer)
    commands = flow.handle(TimerFired(second_timer.timer_id))
    assert play_of(commands).prompts == ("goodbye",)
    assert finish_playback(flow)[-1] == Ended("silence")


def test_a_key_resets_the_silence_count() -> None:
    flow = new_call()
    flow.handle(Started())
    timer = finish_playback(flow)[0]
    assert isinstance(timer, StartTimer)
    flow.handle(TimerFired(timer.timer_id))
    flow.handle(KeyPressed("1"))
    timer = finish_playback(flow)[0]
    assert isinstance(timer, StartTimer)
    commands = flow.handle(TimerFired(timer.timer_id))
    assert play_of(commands).prompts == ("menu.no_input", "menu.choices")


def test_a_cancelled_timer_firing_late_is_ignored() -> None:
    flow = new_call()
    flow.handle(Started())
    timer = finish_playback(flow)[0]
    assert isinstance(timer, StartTimer)
    flow.handle(KeyPressed("1"))
    assert flow.handle(TimerFired(timer.timer_id)) == []


def test_invalid_keys_are_explained_and_the_third_ends_the_call() -> None:
    flow = new_call()
    flow.handle(Started())
    for _ in range(2):
        commands = flow.handle(KeyPressed("5"))
        assert play_of(commands).prompts == ("menu.invalid", "menu.choices")
    commands = flow.handle(KeyPressed("#"))
    assert play_of(commands).prompts == ("goodbye",)
    assert finish_playback(flow)[-1] == Ended("invalid_input")


def test_caller_hanging_up_mid_prompt_ends_the_call() -> None:
    flow = new_call()
    flow.handle(Started())
    assert flow.handle(HungUp()) == [Ended("caller_hangup")]
    # Whatever Asterisk still reports afterwards is ignored.
    assert flow.handle(PlaybackEnded("c1-p1", "done")) == []
    assert flow.handle(KeyPressed("1")) == []


def test_hangup_while_waiting_cancels_the_timer() -> None:
    flow = new_call()
    flow.handle(Started())
    timer = finish_playback(flow)[0]
    assert isinstance(timer, StartTimer)
    assert flow.handle(HungUp()) == [CancelTimer(timer.timer_id), Ended("caller_hangup")]


def test_caller_hanging_up_during_goodbye_keeps_the_decided_reason() -> None:
    flow = new_call()
    flow.handle(Started())
    flow.handle(KeyPressed("9"))
    assert flow.handle(HungUp()) == [Ended("caller_ended")]


def test_a_failed_prompt_is_recorded_as_an_error() -> None:
    flow = new_call()
    flow.handle(Started())
    assert flow.playback_id is not None
    commands = flow.handle(PlaybackEnded(flow.playback_id, "failed"))
    assert Step("error", "playback_failed", "c1-p1") in commands


def test_snapshot_restores_and_resumes_with_an_apology_and_fresh_ids() -> None:
    flow = new_call()
    flow.handle(Started())
    flow.handle(KeyPressed("5"))
    snap = flow.snapshot()
    restored = CallFlow.restore("c1", snap, flow.config)
    assert restored.invalid == 1
    commands = restored.handle(Resumed())
    play = play_of(commands)
    assert play.prompts == ("call.resumed", "menu.choices")
    assert play.playback_id not in {"c1-p1", "c1-p2"}


def test_resuming_a_call_that_was_saying_goodbye_hangs_up() -> None:
    flow = new_call()
    flow.handle(Started())
    flow.handle(KeyPressed("9"))
    restored = CallFlow.restore("c1", flow.snapshot(), flow.config)
    commands = restored.handle(Resumed())
    assert Hangup() in commands
    assert commands[-1] == Ended("caller_ended")


def test_an_impossible_event_names_event_and_state() -> None:
    flow = new_call()
    flow.handle(Started())
    with pytest.raises(FlowError, match="Started in state prompting"):
        flow.handle(Started())


def test_an_orphaned_channel_hears_an_apology_and_is_hung_up() -> None:
    flow = CallFlow("c9", "greeting.000000")
    commands = flow.handle(Orphaned())
    assert play_of(commands).prompts == ("call.ended_by_system", "goodbye")
    commands = finish_playback(flow)
    assert Hangup() in commands
    assert commands[-1] == Ended("ended_after_recovery")
