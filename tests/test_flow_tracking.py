"""The caller's own cases in the call flow: the number said after a message
or a callback request, and the lookup of a case by its number (key 9 of the
service menu). Events in, commands out, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ivr.call.flow import (
    CallFlow,
    CaseLookedUp,
    CaseRegistered,
    Ended,
    FlowConfig,
    Hangup,
    KeyPressed,
    LookupCase,
    RecordingEnded,
    RecordMessage,
    Resumed,
    Started,
    State,
    Step,
    TimerFired,
)
from ivr.call.tracking import answer_prompts, number_prompts
from ivr.case_numbers import number_of
from tests.test_flow import HEFEI, finish_playback, only
from tests.test_flow_service import GUIDE, MENU, Menu, Node, key, prompts_of

NUMBER = number_of(125)  # "001250": the id, and its check digit 0
SAID = (
    "case.number_is", "number.0", "number.0", "number.1", "number.2", "number.5", "number.0",
    "case.number_again", "number.0", "number.0", "number.1", "number.2", "number.5", "number.0",
)
LOOKUP_MENU = Menu({**MENU.nodes, "main": replace(MENU.nodes["main"], choices={
    **MENU.nodes["main"].choices, "4": "lookup",
}), "lookup": Node("lookup")})
COUNTY = "340121"


def in_service(*, survey: bool = False) -> CallFlow:
    config = FlowConfig(digit_timeout=5.0, max_silences=2, max_invalid=3, survey=survey)
    flow = CallFlow(
        "c1", GUIDE, HEFEI, config, menus=lambda _: LOOKUP_MENU, callback_ok=True
    )
    flow.handle(Started())
    timer = finish_playback(flow)[-1]
    flow.handle(TimerFired(timer.timer_id))  # type: ignore[union-attr]
    return flow


def keys(flow: CallFlow, digits: str) -> list:  # type: ignore[type-arg]
    commands: list = []  # type: ignore[type-arg]
    for digit in digits:
        commands = flow.handle(KeyPressed(digit))
    return commands


def recorded_message(flow: CallFlow, case: str) -> None:
    commands = key(flow, "7")  # the opinions branch: a message
    (record,) = only(finish_playback(flow), RecordMessage)
    assert isinstance(record, RecordMessage)
    flow.handle(RecordingEnded(record.name, 9.0, case))
    del commands


# -- the number said ------------------------------------------------------------------


def test_the_number_is_said_digit_by_digit_twice() -> None:
    assert NUMBER == "001250"
    assert number_prompts(NUMBER) == SAID
    assert number_prompts("") == ()


def test_a_confirmed_message_says_its_number_twice_before_goodbye() -> None:
    flow = in_service()
    recorded_message(flow, NUMBER)
    commands = key(flow, "3")  # confirm
    assert prompts_of(commands) == ("message.thanks", *SAID, "goodbye")
    assert flow.state is State.CLOSING


def test_the_survey_comes_after_the_number() -> None:
    flow = in_service(survey=True)
    recorded_message(flow, NUMBER)
    assert prompts_of(key(flow, "4")) == ("message.urgent", *SAID, "survey.ask")
    # ... and the survey's thanks does not say it a third time.
    assert prompts_of(key(flow, "1")) == ("survey.thanks", "goodbye")


def test_a_message_whose_case_could_not_be_written_ends_without_a_number() -> None:
    flow = in_service()
    recorded_message(flow, "")
    assert prompts_of(key(flow, "3")) == ("message.thanks", "goodbye")


def test_a_callback_request_hears_the_number_once_the_case_is_registered() -> None:
    flow = in_service()
    assert prompts_of(key(flow, "8")) == ("svc.callback_registered",)
    flow.handle(CaseRegistered(NUMBER))
    assert prompts_of(finish_playback(flow)) == (*SAID, "goodbye")
    assert finish_playback(flow)[-1] == Ended("callback_registered")


def test_a_callback_whose_case_never_came_says_goodbye_only() -> None:
    flow = in_service()
    key(flow, "8")
    assert prompts_of(finish_playback(flow)) == ("goodbye",)
    commands = finish_playback(flow)
    assert Hangup() in commands and commands[-1] == Ended("callback_registered")


def test_a_call_taken_back_while_closing_still_hears_its_number() -> None:
    flow = in_service()
    key(flow, "8")
    flow.handle(CaseRegistered(NUMBER))
    restored = CallFlow.restore("c1", flow.snapshot(), GUIDE, flow.context.config,
                                service_menus=lambda _: LOOKUP_MENU)
    assert prompts_of(restored.handle(Resumed())) == (*SAID, "goodbye")


# -- the lookup by phone --------------------------------------------------------------


def test_the_lookup_asks_for_the_number_and_looks_it_up_after_hash() -> None:
    flow = in_service()
    commands = key(flow, "4")
    assert Step("note", "case_lookup") in commands
    assert prompts_of(commands) == ("case.lookup_ask",)
    finish_playback(flow)
    assert not only(keys(flow, NUMBER), LookupCase)  # nothing before `#`
    commands = keys(flow, "#")
    assert LookupCase(NUMBER) in commands


def test_a_found_case_is_said_in_words_and_can_be_heard_again() -> None:
    flow = in_service()
    key(flow, "4")
    keys(flow, NUMBER + "#")
    found = CaseLookedUp(NUMBER, True, "in_progress", COUNTY, date(2026, 12, 3))
    commands = flow.handle(found)
    answer = (
        "case.status.in_progress", "case.handled_by", f"dept.{COUNTY}",
        "case.due", "date.month.12", "date.day.3",
    )
    assert answer_prompts(found) == answer
    assert prompts_of(commands) == (*answer, "case.lookup_after")
    assert prompts_of(key(flow, "#")) == (*answer, "case.lookup_after")
    assert prompts_of(key(flow, "1")) == ("case.lookup_ask",)  # another number


def test_a_finished_case_has_no_deadline_to_say() -> None:
    done = CaseLookedUp(NUMBER, True, "resolved", COUNTY, date(2026, 12, 3))
    assert answer_prompts(done) == ("case.status.resolved", "case.handled_by", f"dept.{COUNTY}")


def test_star_goes_back_to_the_service_menu() -> None:
    flow = in_service()
    key(flow, "4")
    commands = key(flow, "*")
    assert Step("note", "case_lookup_left") in commands
    assert prompts_of(commands) == ("svc.main", "svc.keys")
    assert flow.menu == "service"


def test_a_wrong_check_digit_is_refused_without_a_lookup_and_twice_ends_politely() -> None:
    flow = in_service()
    key(flow, "4")
    wrong = NUMBER[:-1] + str((int(NUMBER[-1]) + 1) % 10)
    commands = keys(flow, wrong + "#")
    assert not only(commands, LookupCase)
    assert prompts_of(commands) == ("case.lookup_wrong", "case.lookup_retry")
    commands = keys(flow, wrong + "#")
    assert prompts_of(commands) == ("case.lookup_wrong", "case.lookup_end", "goodbye")
    assert flow.end_reason == "case_lookup"


def test_not_found_is_said_the_same_way_and_twice_ends_politely() -> None:
    flow = in_service()
    key(flow, "4")
    keys(flow, NUMBER + "#")
    commands = flow.handle(CaseLookedUp(NUMBER, False))
    assert Step("note", "case_lookup_none", NUMBER) in commands
    assert prompts_of(commands) == ("case.lookup_none", "case.lookup_retry")
    keys(flow, NUMBER + "#")
    commands = flow.handle(CaseLookedUp(NUMBER, False))
    assert prompts_of(commands) == ("case.lookup_none", "case.lookup_end", "goodbye")


def test_a_caller_who_stops_keying_has_keyed_the_number() -> None:
    flow = in_service()
    key(flow, "4")
    finish_playback(flow)
    keys(flow, NUMBER)
    assert flow.timer_id is not None
    assert LookupCase(NUMBER) in flow.handle(TimerFired(flow.timer_id))


def test_no_answer_from_the_records_says_the_lookup_is_not_possible_now() -> None:
    flow = in_service()
    key(flow, "4")
    keys(flow, NUMBER + "#")
    assert flow.timer_id is not None
    commands = flow.handle(TimerFired(flow.timer_id))
    assert Step("error", "case_lookup_unanswered") in commands
    assert prompts_of(commands) == ("case.lookup_unavailable", "goodbye")


def test_an_answer_for_a_number_the_caller_left_behind_is_ignored() -> None:
    flow = in_service()
    key(flow, "4")
    keys(flow, NUMBER + "#")
    key(flow, "*")
    assert flow.handle(CaseLookedUp(NUMBER, True, "registered", COUNTY, None)) == []


def test_too_many_digits_are_no_number() -> None:
    flow = in_service()
    key(flow, "4")
    commands = keys(flow, "1" * 13)
    assert prompts_of(commands) == ("case.lookup_wrong", "case.lookup_retry")


def test_a_lookup_survives_a_controller_change() -> None:
    flow = in_service()
    key(flow, "4")
    keys(flow, NUMBER + "#")
    flow.handle(CaseLookedUp(NUMBER, True, "registered", COUNTY, date(2026, 12, 3)))
    restored = CallFlow.restore("c1", flow.snapshot(), GUIDE, flow.context.config,
                                service_menus=lambda _: LOOKUP_MENU)
    said = prompts_of(restored.handle(Resumed()))
    assert said[0] == "call.resumed" and "date.day.3" in said
    assert restored.menu == "lookup"
