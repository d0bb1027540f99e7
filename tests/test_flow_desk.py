"""The call flow in working hours: the queue, the choice, messages, callbacks.

Fed events with no network, as in tests/test_flow.py (whose small guide
these tests share); what is checked is what the caller hears and what the
controller is asked to do.
"""

from __future__ import annotations

from ivr.call.flow import (
    Answer,
    CalledBack,
    CallFlow,
    CaseRegistered,
    Command,
    Ended,
    HungUp,
    JoinQueue,
    KeyPressed,
    LeaveQueue,
    OperatorConnected,
    OperatorLeft,
    Queued,
    QueueUpdate,
    RecordingEnded,
    RecordMessage,
    RequestCallback,
    Resumed,
    Service,
    Started,
    StartMoh,
    State,
    Step,
    StopMoh,
    StopPlayback,
    position_prompts,
)
from ivr.call.tracking import number_prompts
from tests.test_flow import (
    CONFIG,
    GREETING_HEFEI,
    GUIDE,
    HEFEI,
    WUHU,
    finish_playback,
    only,
    play_of,
    silence,
)


def in_hours(
    service: Service = "operators", *, department: str = HEFEI, callback: bool = True
) -> CallFlow:
    return CallFlow(
        "c1", GUIDE, department, CONFIG, desk=lambda _: service, callback_ok=callback
    )


def queued(position: int = 1) -> CallFlow:
    """A call that heard the choices, chose none, and joined the queue."""
    flow = in_hours()
    flow.handle(Started())
    assert JoinQueue(HEFEI) in silence(flow)
    flow.handle(Queued(position))
    assert finish_playback(flow) == [StartMoh()]
    return flow


def prompts_of(commands: list[Command]) -> tuple[str, ...]:
    return play_of(commands).prompts


def test_in_hours_the_front_page_offers_a_person_first_on_one() -> None:
    flow = in_hours(department=WUHU)
    commands = flow.handle(Started())
    assert Step("note", "service", "operators") in commands
    assert prompts_of(commands) == (
        "greeting.hello", "dept.340200", "greeting.hotline",
        "front.operator", "menu.other_region", "menu.repeat",
    )
    # No service menu in these tests: 2 offers nothing.
    assert prompts_of(flow.handle(KeyPressed("2")))[0] == "menu.invalid"
    # The caller who wants a person need not wait for the menu to end.
    commands = flow.handle(KeyPressed("1"))
    assert commands[-2:] == [Step("note", "desk", "operators"), JoinQueue(WUHU)]
    assert flow.state is State.QUEUED


def test_a_desk_that_closed_while_the_caller_listened_takes_a_message_on_one() -> None:
    hours: list[Service] = ["operators"]
    flow = CallFlow("c1", GUIDE, WUHU, CONFIG, desk=lambda _: hours[0])
    flow.handle(Started())
    hours[0] = "after_hours"
    commands = flow.handle(KeyPressed("1"))
    assert not only(commands, JoinQueue)
    assert prompts_of(commands) == ("message.intro",)
    assert flow.state is State.RECORDING


def test_after_hours_the_greeting_says_so_and_silence_never_queues() -> None:
    flow = in_hours("after_hours")
    commands = flow.handle(Started())
    assert Step("note", "service", "after_hours") in commands
    assert prompts_of(commands)[:4] == (*GREETING_HEFEI, "hours.closed")
    assert "front.operator" not in prompts_of(commands)
    assert "front.message" in prompts_of(commands)
    assert not only(silence(flow), JoinQueue)


def test_choosing_nothing_in_hours_joins_the_queue_and_hears_the_position() -> None:
    flow = in_hours()
    flow.handle(Started())
    commands = silence(flow)
    assert commands == [Step("note", "desk", "operators"), JoinQueue(HEFEI)]
    assert flow.state is State.QUEUED
    assert prompts_of(flow.handle(Queued(3))) == (
        "queue.joined", "queue.ahead", "count.2", "queue.people",
    )
    assert finish_playback(flow) == [StartMoh()]  # music until something happens


def test_positions_are_said_as_the_queue_moves() -> None:
    assert position_prompts(1) == ("queue.next",)
    assert position_prompts(21) == ("queue.ahead", "count.20", "queue.people")
    assert position_prompts(22) == ("queue.ahead_many",)
    flow = queued(4)
    commands = flow.handle(QueueUpdate(1, over_limit=False))
    assert commands[0] == StopMoh()
    assert prompts_of(commands) == ("queue.next",)


def test_a_department_moving_to_another_county_asks_again_whether_it_is_open() -> None:
    opened = {HEFEI: "after_hours", "340121": "operators"}
    flow = CallFlow("c1", GUIDE, HEFEI, CONFIG, desk=lambda code: opened[code])  # type: ignore[arg-type,return-value]
    flow.handle(Started())
    flow.handle(KeyPressed("3"))
    commands = flow.handle(KeyPressed("1"))
    assert Step("note", "service", "operators") in commands
    assert "front.operator" in prompts_of(commands)


def test_a_limit_passing_during_an_announcement_offers_the_choice_after_it() -> None:
    flow = queued(3)
    flow.handle(QueueUpdate(3, over_limit=False))  # the position is being said
    assert flow.handle(QueueUpdate(3, over_limit=True)) == []
    assert prompts_of(finish_playback(flow)) == ("desk.long_wait", "desk.choices")


def test_a_long_wait_offers_message_or_callback_once() -> None:
    flow = queued(2)
    commands = flow.handle(QueueUpdate(2, over_limit=True))
    assert commands[0] == StopMoh()
    assert prompts_of(commands) == ("desk.long_wait", "desk.choices")
    # Choosing nothing keeps the place.
    assert prompts_of(silence(flow)) == ("queue.keep_waiting",)
    assert finish_playback(flow) == [StartMoh()]
    # Offered once: later updates only say the position.
    assert prompts_of(flow.handle(QueueUpdate(1, over_limit=True))) == ("queue.next",)


def test_a_caller_who_leaves_a_message_leaves_the_queue_and_is_recorded() -> None:
    flow = queued()
    flow.handle(QueueUpdate(1, over_limit=True))
    choices = flow.playback_id or ""
    commands = flow.handle(KeyPressed("2"))
    assert StopPlayback(choices) in commands  # the key cuts the choices short
    assert LeaveQueue("message") in commands
    assert prompts_of(commands) == ("message.intro",)
    record, noted = finish_playback(flow)
    assert isinstance(record, RecordMessage)
    assert noted == Step("message", record.name)  # on record from the first second
    # An operator freeing up now does not take the caller away from the beep.
    assert flow.handle(OperatorConnected("op1")) == []
    commands = flow.handle(RecordingEnded(record.name, 12.4))
    assert Step("note", "message_saved", "12.4") in commands
    assert prompts_of(commands) == ("message.review",)
    commands = flow.handle(KeyPressed("3"))
    assert prompts_of(commands) == ("message.thanks", "goodbye")
    assert flow.state is State.CLOSING


def test_hanging_up_mid_message_keeps_it() -> None:
    flow = queued()
    flow.handle(QueueUpdate(1, over_limit=True))
    flow.handle(KeyPressed("2"))
    finish_playback(flow)
    assert flow.handle(HungUp())[-1] == Ended("message_left")


def test_a_callback_keeps_the_place_and_ends_the_call() -> None:
    flow = queued()
    flow.handle(QueueUpdate(1, over_limit=True))
    commands = flow.handle(KeyPressed("3"))
    assert RequestCallback("") in commands
    assert not only(commands, LeaveQueue)
    assert prompts_of(commands) == ("callback.confirmed",)
    assert flow.end_reason == "callback_requested"
    # The case's number comes from the controller while the confirmation plays.
    assert flow.handle(CaseRegistered("001234")) == []
    said = prompts_of(finish_playback(flow))
    assert said == (*number_prompts("001234"), "goodbye")


def test_no_callback_is_offered_to_a_number_that_cannot_be_called() -> None:
    flow = in_hours(callback=False)
    flow.handle(Started())
    silence(flow)
    flow.handle(Queued(1))
    finish_playback(flow)
    commands = flow.handle(QueueUpdate(1, over_limit=True))
    assert prompts_of(commands) == ("desk.long_wait", "desk.choices_no_callback")
    commands = flow.handle(KeyPressed("3"))
    assert not only(commands, RequestCallback)
    assert prompts_of(commands)[0] == "menu.invalid"


def test_nobody_on_duty_offers_the_choice_at_once_but_keeps_a_place() -> None:
    flow = in_hours("unstaffed")
    flow.handle(Started())
    commands = silence(flow)
    assert JoinQueue(HEFEI) in commands
    assert prompts_of(commands) == ("desk.nobody", "desk.choices")
    commands = flow.handle(KeyPressed("1"))
    assert prompts_of(commands) == ("queue.keep_waiting",)
    assert flow.state is State.QUEUED


def test_an_operator_answering_stops_the_music_and_connects() -> None:
    flow = queued()
    commands = flow.handle(OperatorConnected("op1"))
    assert commands == [StopMoh(), Step("note", "connected", "op1")]
    assert flow.state is State.CONNECTED
    assert flow.handle(KeyPressed("5")) == []  # the conversation's key, not ours
    assert prompts_of(flow.handle(OperatorLeft())) == ("goodbye",)
    assert flow.end_reason == "completed"


def test_an_operator_answering_during_the_choice_connects_too() -> None:
    flow = queued()
    flow.handle(QueueUpdate(1, over_limit=True))
    commands = flow.handle(OperatorConnected("op1"))
    assert isinstance(commands[0], StopPlayback)
    assert flow.state is State.CONNECTED


def test_the_caller_hanging_up_ends_the_call_as_abandoned_or_completed() -> None:
    waiting = queued()
    assert waiting.handle(HungUp())[-1] == Ended("abandoned")
    talking = queued()
    talking.handle(OperatorConnected("op1"))
    assert talking.handle(HungUp())[-1] == Ended("completed")


def test_a_queued_call_taken_back_keeps_its_place_with_music() -> None:
    flow = queued(2)
    flow.handle(QueueUpdate(2, over_limit=False))  # the position is being said
    restored = CallFlow.restore("c1", flow.snapshot(), GUIDE, CONFIG, desk=lambda _: "operators")
    commands = restored.handle(Resumed())
    assert StopPlayback(flow.playback_id or "") in commands
    assert commands[-1] == StartMoh()
    assert restored.queued and restored.state is State.QUEUED


def test_a_connected_call_taken_back_is_left_talking() -> None:
    flow = queued()
    flow.handle(OperatorConnected("op1"))
    restored = CallFlow.restore("c1", flow.snapshot(), GUIDE, CONFIG)
    assert restored.handle(Resumed()) == [Step("note", "resumed", "connected")]
    assert restored.operator == "op1"
    assert prompts_of(restored.handle(OperatorLeft())) == ("goodbye",)


def test_a_caller_called_back_hears_why_and_waits_with_music() -> None:
    flow = in_hours()
    commands = flow.handle(CalledBack())
    assert commands[0] == Answer()  # marks the channel ours before anything plays
    assert Step("department", HEFEI, "callback") in commands
    assert prompts_of(commands) == ("callback.greeting",)
    assert flow.queued and flow.state is State.QUEUED
    assert finish_playback(flow) == [StartMoh()]
    assert flow.handle(OperatorConnected("op1"))[-1] == Step("note", "connected", "op1")
