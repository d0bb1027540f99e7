"""The automatic service of after hours, as a caller lives it: the service
menu's levels, its keys, silence and wrong keys, the message box with its
review, callbacks, transfers and the survey. No I/O: events in, commands out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import pytest

from ivr.call.flow import (
    CallFlow,
    CaseRegistered,
    Ended,
    FlowConfig,
    HungUp,
    JoinQueue,
    KeyPressed,
    MarkUrgent,
    OperatorConnected,
    OperatorLeft,
    RecordingEnded,
    RecordMessage,
    RegisterCallback,
    Resumed,
    Service,
    Started,
    State,
    Step,
    StopPlayback,
    Survey,
)
from ivr.call.guide import Guide
from ivr.call.tracking import number_prompts
from tests.test_flow import (
    ANHUI,
    HEFEI,
    FakeGuide,
    finish_playback,
    only,
    play_of,
    silence,
)


@dataclass(frozen=True)
class Node:
    kind: str
    prompt_id: str | None = None
    choices: Mapping[str, str] = field(default_factory=dict)
    category: str | None = None
    department: str | None = None


@dataclass(frozen=True)
class Menu:
    nodes: Mapping[str, Node]
    root: str = "main"

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def has(self, node_id: str) -> bool:
        return node_id in self.nodes

    def category(self, node_id: str) -> str:
        """As ivr.publish.menus.Menu: the node's own, else the nearest up its path."""
        own = self.nodes[node_id].category
        if own:
            return own
        parents = [p for p, node in self.nodes.items() if node_id in node.choices.values()]
        return self.category(parents[0]) if parents else ""


MENU = Menu(
    {
        "main": Node(
            "menu",
            "svc.main",
            {"3": "dues", "7": "opinions", "8": "callback", "5": "upward", "6": "desk", "9": "bye"},
        ),
        "dues": Node("menu", "svc.dues", {"1": "dues.rates", "2": "dues.when"}, category="dues"),
        "dues.rates": Node("info", "svc.dues.rates"),
        "dues.when": Node("info", "svc.dues.when"),
        "opinions": Node("message", "svc.opinions", category="opinions"),
        "callback": Node("callback"),
        "upward": Node("department", department="parent"),
        "desk": Node("queue"),
        "bye": Node("hangup", "svc.bye"),
    }
)


class ParentGuide(FakeGuide):
    def parent(self, code: str) -> str | None:
        return ANHUI if code == HEFEI else None


GUIDE = cast(Guide, ParentGuide())


def after_hours(
    *, survey: bool = False, callback: bool = True, desk: Service = "after_hours"
) -> CallFlow:
    config = FlowConfig(digit_timeout=5.0, max_silences=2, max_invalid=3, survey=survey)
    return CallFlow(
        "c1",
        GUIDE,
        HEFEI,
        config,
        menus=lambda _: MENU,
        callback_ok=callback,
        desk=lambda _: desk,
    )


def prompts_of(commands: list) -> tuple[str, ...]:  # type: ignore[type-arg]
    return play_of(commands).prompts


def in_service(**kwargs: object) -> CallFlow:
    flow = after_hours(**kwargs)  # type: ignore[arg-type]
    flow.handle(Started())
    silence(flow)
    return flow


def key(flow: CallFlow, digit: str) -> list:  # type: ignore[type-arg]
    return flow.handle(KeyPressed(digit))


def categories(commands: list) -> list[str]:  # type: ignore[type-arg]
    return [c.value for c in only(commands, Step) if c.kind == "category"]


# -- into the service menu ------------------------------------------------------


def test_after_hours_the_front_page_offers_self_service_first_and_silence_opens_it() -> None:
    flow = after_hours()
    commands = flow.handle(Started())
    assert prompts_of(commands)[3:6] == ("hours.closed", "front.self_service", "front.message")
    commands = silence(flow)
    assert Step("note", "service_menu") in commands
    assert prompts_of(commands) == ("svc.enter", "svc.main", "svc.keys")
    assert flow.menu == "service"


def test_one_on_the_front_page_opens_self_service_at_once() -> None:
    flow = after_hours()
    flow.handle(Started())
    commands = key(flow, "1")
    assert Step("note", "service_menu") in commands
    assert prompts_of(commands) == ("svc.enter", "svc.main", "svc.keys")


def test_in_hours_two_on_the_front_page_opens_self_service() -> None:
    flow = after_hours(desk="operators")
    commands = flow.handle(Started())
    assert prompts_of(commands)[3:5] == ("front.operator", "front.self_service_second")
    commands = key(flow, "2")
    assert Step("note", "service_menu") in commands
    assert flow.menu == "service"


def test_two_on_the_front_page_after_hours_takes_a_message() -> None:
    flow = after_hours()
    flow.handle(Started())
    commands = key(flow, "2")
    assert prompts_of(commands) == ("message.intro",)
    assert flow.state is State.RECORDING
    (record,) = only(finish_playback(flow), RecordMessage)
    assert isinstance(record, RecordMessage)


def test_without_a_service_menu_silence_still_ends_the_call_as_before() -> None:
    flow = CallFlow("c1", GUIDE, HEFEI, FlowConfig())
    commands = flow.handle(Started())
    assert "front.self_service" not in prompts_of(commands)
    silence(flow)
    commands = silence(flow)
    assert flow.end_reason == "silence"
    assert "svc.enter" not in prompts_of(commands)


def test_a_category_and_its_information_and_back_again() -> None:
    flow = in_service()
    commands = key(flow, "3")
    assert categories(commands) == ["dues"]
    assert prompts_of(commands) == ("svc.dues", "svc.keys")
    commands = key(flow, "1")
    assert prompts_of(commands) == ("svc.dues.rates", "svc.after_info")
    # `#` repeats the information; `*` goes up one level at a time.
    assert prompts_of(key(flow, "#")) == ("svc.dues.rates", "svc.after_info")
    assert prompts_of(key(flow, "*")) == ("svc.dues", "svc.keys")
    assert prompts_of(key(flow, "*")) == ("svc.main", "svc.keys")
    # From the top, `*` returns to the department's front page, without its greeting.
    commands = key(flow, "*")
    assert prompts_of(commands)[:2] == ("front.self_service", "front.message")
    assert flow.menu == "guidance"


def test_a_key_interrupts_the_prompt_it_is_pressed_in() -> None:
    flow = in_service()
    playing = flow.playback_id
    commands = key(flow, "3")
    assert commands.index(StopPlayback(playing or "")) < commands.index(play_of(commands))


# -- wrong keys and silence ------------------------------------------------------------


def test_two_wrong_keys_are_told_and_the_third_goes_to_the_message_box() -> None:
    flow = in_service()
    key(flow, "3")
    assert prompts_of(key(flow, "7")) == ("menu.invalid", "svc.dues", "svc.keys")
    assert prompts_of(key(flow, "9")) == ("menu.invalid", "svc.dues", "svc.keys")
    commands = key(flow, "8")
    assert prompts_of(commands) == ("svc.too_many", "message.intro")
    assert flow.state is State.RECORDING
    (record,) = only(finish_playback(flow), RecordMessage)
    assert isinstance(record, RecordMessage)
    assert record.category == "dues"


def test_silence_replays_the_choices_and_the_third_ends_the_call_politely() -> None:
    flow = in_service()
    key(flow, "3")
    assert prompts_of(silence(flow)) == ("menu.no_input", "svc.dues", "svc.keys")
    assert prompts_of(silence(flow)) == ("menu.no_input", "svc.dues", "svc.keys")
    commands = silence(flow)
    assert prompts_of(commands) == ("svc.no_input_end", "goodbye")
    assert flow.end_reason == "silence"


def test_silent_and_wrong_turns_count_together_and_a_good_key_starts_again() -> None:
    flow = in_service()
    key(flow, "4")
    silence(flow)
    key(flow, "3")  # a good key: the count starts again
    key(flow, "8")
    silence(flow)
    assert flow.state is not State.CLOSING
    commands = key(flow, "9")
    assert prompts_of(commands) == ("svc.too_many", "message.intro")


# -- the message box --------------------------------------------------------------


def recorded(flow: CallFlow, seconds: float = 6.5) -> RecordMessage:
    (record,) = only(finish_playback(flow), RecordMessage)
    assert isinstance(record, RecordMessage)
    flow.handle(RecordingEnded(record.name, seconds))
    return record


def test_an_empty_recording_is_said_and_recorded_again_once() -> None:
    flow = in_service()
    key(flow, "0")
    (first,) = only(finish_playback(flow), RecordMessage)
    commands = flow.handle(RecordingEnded(first.name, 0.3))  # the beep, nothing said
    assert Step("note", "message_empty", "0.3") in commands
    assert prompts_of(commands) == ("message.empty", "message.intro")
    (again,) = only(finish_playback(flow), RecordMessage)
    assert isinstance(again, RecordMessage)
    assert (again.source, again.name != first.name) == (first.name, True)
    # The second time the caller decides: listen, record again or confirm.
    assert prompts_of(flow.handle(RecordingEnded(again.name, 0.0))) == ("message.review",)


def test_zero_leaves_a_message_in_the_branch_the_caller_is_in() -> None:
    flow = in_service()
    key(flow, "3")
    key(flow, "2")
    assert prompts_of(key(flow, "0")) == ("message.intro",)
    record = recorded(flow)
    assert (record.category, record.source) == ("dues", record.name)
    assert flow.menu == "review"


def test_review_listen_back_record_again_and_confirm() -> None:
    flow = in_service()
    key(flow, "0")
    first = recorded(flow, 6.5)
    listen = play_of(key(flow, "1"))
    assert listen.prompts == (f"recording:{first.name}", "message.review")
    assert listen.seconds == 6.5
    # Again: a new recording that replaces the first in the same case.
    assert prompts_of(key(flow, "2")) == ("message.intro",)
    second = recorded(flow, 9.0)
    assert second.name != first.name
    assert second.source == first.name
    commands = key(flow, "3")
    assert prompts_of(commands) == ("message.thanks", "goodbye")
    assert not only(commands, MarkUrgent)
    finish_playback(flow)
    assert flow.state is State.ENDED
    assert flow.end_reason == "message_left"


def test_an_urgent_message_is_marked_for_its_case() -> None:
    flow = in_service()
    key(flow, "0")
    record = recorded(flow)
    commands = key(flow, "4")
    assert MarkUrgent(record.name) in commands
    assert prompts_of(commands) == ("message.urgent", "goodbye")


def test_a_message_whose_caller_says_nothing_more_is_kept() -> None:
    flow = in_service()
    key(flow, "0")
    recorded(flow)
    assert prompts_of(silence(flow)) == ("menu.no_input", "message.review")
    assert prompts_of(silence(flow)) == ("message.thanks", "goodbye")


@pytest.mark.parametrize("while_", ["recording", "reviewing"])
def test_hanging_up_during_a_message_keeps_it(while_: str) -> None:
    flow = in_service()
    key(flow, "0")
    if while_ == "recording":
        finish_playback(flow)
    else:
        recorded(flow)
    assert flow.handle(HungUp())[-1] == Ended("message_left")


def test_a_message_node_records_at_once_with_its_own_words_and_category() -> None:
    flow = in_service()
    commands = key(flow, "7")
    assert categories(commands) == ["opinions"]
    assert prompts_of(commands) == ("svc.opinions", "message.intro")
    assert recorded(flow).category == "opinions"


# -- callbacks, transfers, the queue, hanging up -------------------------------------


def test_a_callback_is_registered_for_a_number_that_can_be_called() -> None:
    flow = in_service()
    commands = key(flow, "8")
    assert RegisterCallback("") in commands
    assert prompts_of(commands) == ("svc.callback_registered",)
    assert flow.end_reason == "callback_registered"
    flow.handle(CaseRegistered("001234"))
    said = prompts_of(finish_playback(flow))
    assert said == (*number_prompts("001234"), "goodbye")


def test_a_number_that_cannot_be_called_back_is_offered_a_message() -> None:
    flow = in_service(callback=False)
    commands = key(flow, "8")
    assert not only(commands, RegisterCallback)
    assert prompts_of(commands) == ("svc.callback_unavailable", "message.intro")


def test_a_department_node_transfers_the_call_to_the_parent() -> None:
    flow = in_service()
    commands = key(flow, "5")
    assert Step("department", ANHUI, "menu") in commands
    assert prompts_of(commands)[:2] == ("svc.transfer", "greeting.hello")
    assert (flow.department, flow.menu) == (ANHUI, "guidance")


def test_the_queue_node_is_closed_after_hours_and_joins_in_hours() -> None:
    flow = in_service()
    assert prompts_of(key(flow, "6")) == ("svc.queue_closed", "svc.main", "svc.keys")
    assert flow.menu == "service"
    # The desk opens while the caller is in the menu.
    flow.desk = lambda _: "operators"
    commands = key(flow, "6")
    assert JoinQueue(HEFEI) in commands
    assert (flow.state, flow.menu) == (State.QUEUED, "guidance")


def test_a_hangup_node_says_its_words_and_goodbye() -> None:
    flow = in_service()
    assert prompts_of(key(flow, "9")) == ("svc.bye", "goodbye")
    assert flow.end_reason == "menu_hangup"


# -- the survey -----------------------------------------------------------------


def test_the_survey_after_a_message_counts_the_callers_answer() -> None:
    flow = in_service(survey=True)
    key(flow, "0")
    recorded(flow)
    assert prompts_of(key(flow, "3")) == ("message.thanks", "survey.ask")
    commands = key(flow, "2")
    assert Survey("case", 2) in commands
    assert Step("survey", "2", "case") in commands
    assert prompts_of(commands) == ("survey.thanks", "goodbye")
    assert flow.end_reason == "message_left"


def test_the_survey_after_an_operator_leaves_and_silence_skips_it() -> None:
    flow = after_hours(survey=True, desk="operators")
    flow.handle(Started())
    silence(flow)  # to the queue
    flow.handle(OperatorConnected("op1"))
    assert prompts_of(flow.handle(OperatorLeft())) == ("survey.ask",)
    commands = silence(flow)
    assert not only(commands, Survey)
    assert prompts_of(commands) == ("goodbye",)
    assert flow.end_reason == "completed"


def test_hanging_up_during_the_survey_keeps_how_the_call_ended() -> None:
    flow = in_service(survey=True)
    key(flow, "0")
    recorded(flow)
    key(flow, "3")
    assert flow.handle(HungUp())[-1] == Ended("message_left")


# -- taken back by another controller ------------------------------------------------


def test_a_caller_in_the_service_menu_is_taken_back_at_the_same_node() -> None:
    flow = in_service()
    key(flow, "3")
    key(flow, "1")
    data = flow.snapshot()
    again = CallFlow.restore("c1", data, GUIDE, FlowConfig(), service_menus=lambda _: MENU)
    commands = again.handle(Resumed())
    assert prompts_of(commands) == ("call.resumed", "svc.dues.rates", "svc.after_info")
    assert prompts_of(again.handle(KeyPressed("*"))) == ("svc.dues", "svc.keys")


def test_a_node_published_away_under_the_call_restarts_at_the_top() -> None:
    flow = in_service()
    key(flow, "3")
    data = {**flow.snapshot(), "node": "gone"}
    again = CallFlow.restore("c1", data, GUIDE, FlowConfig(), service_menus=lambda _: MENU)
    assert again.node == "main"
    assert prompts_of(again.handle(Resumed())) == ("call.resumed", "svc.main", "svc.keys")
