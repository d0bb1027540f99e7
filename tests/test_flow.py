"""The call flow, fed events with no network: what a caller would notice.

The guide here is a small hand-made one, so each test shows the menus it
relies on; `tests/test_guide.py` checks the real menus of the directory.
"""

from __future__ import annotations

import itertools
from typing import ClassVar, cast

import pytest

from ivr.call.flow import (
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
from ivr.call.guide import Guide

CENTRAL = "000000"
ANHUI = "340000"
HEFEI = "340100"
WUHU = "340200"
BEIJING = "110000"
# Hefei's seven counties: a page of five, then two.
COUNTIES = tuple(f"3401{n:02d}" for n in range(21, 28))
PROVINCES = (BEIJING, "120000", "310000", ANHUI)


class FakeGuide:
    """Menus given by hand: enough of `Guide` for the flow."""

    default = CENTRAL
    guidance_menus: ClassVar[dict[str, tuple[str, ...]]] = {
        CENTRAL: (BEIJING,),
        ANHUI: (HEFEI,),
        HEFEI: COUNTIES,
        WUHU: (),
        **{county: () for county in COUNTIES},
    }
    region_menus: ClassVar[dict[str, tuple[str, ...]]] = {
        "": PROVINCES,
        ANHUI: (ANHUI, HEFEI, WUHU),
    }

    def knows(self, code: str) -> bool:
        return code in self.guidance_menus or code in PROVINCES

    def guidance(self, code: str) -> tuple[str, ...]:
        return self.guidance_menus.get(code, ())

    def regions(self, province: str = "") -> tuple[str, ...]:
        return self.region_menus[province]


GUIDE = cast(Guide, FakeGuide())
CONFIG = FlowConfig(digit_timeout=5.0, max_silences=2, max_invalid=3)
GREETING_HEFEI = ("greeting.hello", "dept.340100", "greeting.hotline")
# A department's front page after hours, with no service menu (these tests give none).
FRONT = ("front.message", "front.below", "menu.other_region", "menu.repeat")


def new_call(department: str = HEFEI, *, choose_region: bool = False) -> CallFlow:
    return CallFlow("c1", GUIDE, department, CONFIG, choose_region=choose_region)


def only(commands: list[Command], kind: type) -> list[Command]:
    return [c for c in commands if isinstance(c, kind)]


def play_of(commands: list[Command]) -> Play:
    (play,) = only(commands, Play)
    assert isinstance(play, Play)
    return play


def departments_of(commands: list[Command]) -> list[tuple[str, str | None]]:
    return [(c.value, c.detail) for c in only(commands, Step) if c.kind == "department"]  # type: ignore[attr-defined]


def offered(play: Play) -> list[str]:
    """The departments a prompt offers, in key order."""
    pairs = itertools.pairwise(play.prompts)
    return [prompt.removeprefix("place.") for prompt, nxt in pairs if nxt == "menu.press"]


def finish_playback(flow: CallFlow) -> list[Command]:
    assert flow.playback_id is not None
    return flow.handle(PlaybackEnded(flow.playback_id, "done"))


def open_list(flow: CallFlow) -> Play:
    """The caller asks for the departments below (3 on the front page)."""
    return play_of(flow.handle(KeyPressed("3")))


def silence(flow: CallFlow) -> list[Command]:
    """The prompt ends and the caller presses nothing until the timer fires."""
    timer = finish_playback(flow)[-1]
    assert isinstance(timer, StartTimer)
    return flow.handle(TimerFired(timer.timer_id))


# -- arriving ------------------------------------------------------------------


def test_start_answers_names_the_department_and_offers_its_front_page() -> None:
    flow = new_call()
    commands = flow.handle(Started())
    assert isinstance(commands[0], Answer)
    assert departments_of(commands) == [(HEFEI, "routed")]
    play = play_of(commands)
    assert play.prompts[:3] == GREETING_HEFEI
    # The tests here run after hours (the flow's default desk): a message on 2,
    # the counties on 3, another region on 0; no county is read out on arrival.
    assert play.prompts[3:] == ("hours.closed", *FRONT)
    assert offered(play) == []
    assert "menu.back" not in play.prompts  # nowhere to go back to yet
    assert flow.state is State.PROMPTING


def test_three_lists_the_departments_below_five_to_a_page() -> None:
    flow = new_call()
    flow.handle(Started())
    play = open_list(flow)
    assert offered(play) == list(COUNTIES[:5])
    assert play.prompts[1:3] == ("menu.press", "digit.1")
    # More than five counties: 9 turns the page; * goes back to the front page.
    assert play.prompts[-3:] == ("menu.more", "menu.back", "menu.repeat")
    assert "greeting.hello" not in play.prompts
    assert flow.menu == "below"


def test_a_department_with_nothing_below_still_offers_another_region() -> None:
    flow = new_call(WUHU)
    play = play_of(flow.handle(Started()))
    assert play.prompts == (
        "greeting.hello", "dept.340200", "greeting.hotline", "hours.closed",
        "front.message", "menu.other_region", "menu.repeat",
    )
    # Nothing to list: 3 offers nothing here.
    assert play_of(flow.handle(KeyPressed("3"))).prompts[0] == "menu.invalid"


def test_after_the_choices_the_caller_gets_a_digit_timeout() -> None:
    flow = new_call()
    flow.handle(Started())
    commands = finish_playback(flow)
    assert commands == [StartTimer(flow.timer_id or "", 5.0)]
    assert flow.state is State.WAITING


# -- voice guidance ------------------------------------------------------------


def test_a_key_interrupts_the_prompt_and_transfers_to_that_county() -> None:
    flow = new_call()
    flow.handle(Started())
    first = open_list(flow)
    commands = flow.handle(KeyPressed("2"))
    assert StopPlayback(first.playback_id) in commands
    assert departments_of(commands) == [(COUNTIES[1], "chosen")]
    assert flow.department == COUNTIES[1]
    play = play_of(commands)
    assert play.prompts[:3] == ("greeting.hello", f"dept.{COUNTIES[1]}", "greeting.hotline")
    assert "menu.back" in play.prompts
    # The end of the interrupted prompt arrives late and changes nothing.
    assert flow.handle(PlaybackEnded(first.playback_id, "stopped")) == []


def test_star_goes_back_to_the_department_the_caller_came_from() -> None:
    flow = new_call()
    flow.handle(Started())
    open_list(flow)
    flow.handle(KeyPressed("1"))
    commands = flow.handle(KeyPressed("*"))
    assert departments_of(commands) == [(HEFEI, "back")]
    assert play_of(commands).prompts[:3] == GREETING_HEFEI
    assert flow.trail == []


def test_nine_turns_the_page_and_keys_then_mean_that_page() -> None:
    flow = new_call()
    flow.handle(Started())
    open_list(flow)
    play = play_of(flow.handle(KeyPressed("9")))
    assert offered(play) == list(COUNTIES[5:])
    assert "greeting.hello" not in play.prompts
    assert "menu.more" not in play.prompts  # the last page
    assert "menu.back" in play.prompts  # back to the first page
    commands = flow.handle(KeyPressed("2"))
    assert departments_of(commands) == [(COUNTIES[6], "chosen")]


def test_a_key_past_the_end_of_the_page_is_invalid() -> None:
    flow = new_call()
    flow.handle(Started())
    open_list(flow)
    flow.handle(KeyPressed("9"))
    commands = flow.handle(KeyPressed("3"))  # the last page has two counties
    assert play_of(commands).prompts[0] == "menu.invalid"
    assert flow.department == HEFEI and flow.page == 1


def test_star_on_a_later_page_goes_back_a_page() -> None:
    flow = new_call()
    flow.handle(Started())
    open_list(flow)
    flow.handle(KeyPressed("9"))
    play = play_of(flow.handle(KeyPressed("*")))
    assert flow.page == 0
    assert offered(play) == list(COUNTIES[:5])


def test_star_on_the_first_page_of_the_list_goes_back_to_the_front_page() -> None:
    flow = new_call()
    flow.handle(Started())
    open_list(flow)
    play = play_of(flow.handle(KeyPressed("*")))
    assert play.prompts == FRONT  # the same department: no greeting again
    assert (flow.menu, flow.department) == ("guidance", HEFEI)


def test_hash_repeats_the_current_menu() -> None:
    flow = new_call()
    first = play_of(flow.handle(Started()))
    again = play_of(flow.handle(KeyPressed("#")))
    assert again.prompts == first.prompts
    assert again.playback_id != first.playback_id


# -- choosing another region -----------------------------------------------------


def test_zero_lets_the_caller_choose_a_province_then_a_city() -> None:
    flow = new_call(WUHU)
    flow.handle(Started())
    play = play_of(flow.handle(KeyPressed("0")))
    assert play.prompts[0] == "region.choose_province"
    assert offered(play) == list(PROVINCES)
    play = play_of(flow.handle(KeyPressed("4")))  # Anhui
    assert play.prompts[0] == "region.choose_department"
    assert offered(play) == [ANHUI, HEFEI, WUHU]
    commands = flow.handle(KeyPressed("2"))
    assert departments_of(commands) == [(HEFEI, "chosen")]
    assert play_of(commands).prompts[:3] == GREETING_HEFEI
    assert flow.trail == [WUHU]


def test_star_in_the_region_menu_climbs_back_to_the_department() -> None:
    flow = new_call(WUHU)
    flow.handle(Started())
    flow.handle(KeyPressed("0"))
    flow.handle(KeyPressed("4"))
    assert play_of(flow.handle(KeyPressed("*"))).prompts[0] == "region.choose_province"
    play = play_of(flow.handle(KeyPressed("*")))
    assert play.prompts == ("front.message", "menu.other_region", "menu.repeat")
    assert flow.menu == "guidance" and flow.department == WUHU


def test_an_unplaced_caller_is_asked_for_a_province_first() -> None:
    flow = new_call(CENTRAL, choose_region=True)
    commands = flow.handle(Started())
    assert departments_of(commands) == [(CENTRAL, "routed")]
    play = play_of(commands)
    assert play.prompts[:2] == ("greeting.unplaced", "region.choose_province")
    assert offered(play) == list(PROVINCES)
    flow.handle(KeyPressed("4"))
    commands = flow.handle(KeyPressed("1"))
    assert departments_of(commands) == [(ANHUI, "chosen")]


def test_an_unplaced_caller_who_chooses_nothing_stays_with_the_central_department() -> None:
    flow = new_call(CENTRAL, choose_region=True)
    flow.handle(Started())
    play = play_of(silence(flow))
    assert play.prompts[0] == "menu.no_input"
    commands = silence(flow)
    assert Step("note", "no_region_chosen", CENTRAL) in commands
    assert play_of(commands).prompts[:3] == ("greeting.hello", "dept.000000", "greeting.hotline")
    assert flow.state is State.PROMPTING  # not hung up: the central department answers


# -- silence and invalid keys ------------------------------------------------------


def test_two_silences_at_a_department_end_the_call_politely() -> None:
    flow = new_call()
    flow.handle(Started())
    play = play_of(silence(flow))
    assert play.prompts == ("menu.no_input", *FRONT)
    assert play_of(silence(flow)).prompts == ("goodbye",)
    commands = finish_playback(flow)
    assert commands[0] == Hangup()
    assert commands[-1] == Ended("silence")


def test_a_key_resets_the_silence_count() -> None:
    flow = new_call()
    flow.handle(Started())
    silence(flow)
    flow.handle(KeyPressed("#"))
    assert play_of(silence(flow)).prompts[0] == "menu.no_input"


def test_a_cancelled_timer_firing_late_is_ignored() -> None:
    flow = new_call()
    flow.handle(Started())
    timer = finish_playback(flow)[0]
    assert isinstance(timer, StartTimer)
    flow.handle(KeyPressed("#"))
    assert flow.handle(TimerFired(timer.timer_id)) == []


def test_invalid_keys_are_explained_and_the_third_ends_the_call() -> None:
    flow = new_call(WUHU)
    flow.handle(Started())
    for key in ("5", "*"):  # no choice 5; nowhere to go back to
        commands = flow.handle(KeyPressed(key))
        assert play_of(commands).prompts == (
            "menu.invalid", "front.message", "menu.other_region", "menu.repeat"
        )
    commands = flow.handle(KeyPressed("9"))
    assert play_of(commands).prompts == ("goodbye",)
    assert finish_playback(flow)[-1] == Ended("invalid_input")


def test_a_valid_key_resets_the_invalid_count() -> None:
    flow = new_call(WUHU)
    flow.handle(Started())
    flow.handle(KeyPressed("5"))
    flow.handle(KeyPressed("5"))
    flow.handle(KeyPressed("#"))
    assert play_of(flow.handle(KeyPressed("5"))).prompts[0] == "menu.invalid"


def test_keys_during_goodbye_are_recorded_but_change_nothing() -> None:
    flow = new_call(WUHU)
    flow.handle(Started())
    for _ in range(3):
        flow.handle(KeyPressed("5"))
    assert flow.handle(KeyPressed("1")) == [Step("key", "1", "ignored: closing")]
    assert flow.state is State.CLOSING


# -- hang-ups and failures -----------------------------------------------------------


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
    flow = new_call(WUHU)
    flow.handle(Started())
    for _ in range(3):
        flow.handle(KeyPressed("5"))
    assert flow.handle(HungUp()) == [Ended("invalid_input")]


def test_a_failed_prompt_is_recorded_as_an_error() -> None:
    flow = new_call()
    flow.handle(Started())
    assert flow.playback_id is not None
    commands = flow.handle(PlaybackEnded(flow.playback_id, "failed"))
    assert Step("error", "playback_failed", "c1-p1") in commands


def test_an_impossible_event_names_event_and_state() -> None:
    flow = new_call()
    flow.handle(Started())
    with pytest.raises(FlowError, match="Started in state prompting"):
        flow.handle(Started())


# -- taking a call back ----------------------------------------------------------------


def test_snapshot_restores_where_the_caller_was_and_resumes_with_fresh_ids() -> None:
    flow = new_call()
    flow.handle(Started())
    open_list(flow)
    flow.handle(KeyPressed("9"))
    flow.handle(KeyPressed("5"))
    restored = CallFlow.restore("c1", flow.snapshot(), GUIDE, CONFIG)
    assert (restored.department, restored.menu, restored.page) == (HEFEI, "below", 1)
    assert restored.invalid == 1
    play = play_of(restored.handle(Resumed()))
    assert play.prompts[0] == "call.resumed"
    assert offered(play) == list(COUNTIES[5:])
    assert play.playback_id not in {"c1-p1", "c1-p2", "c1-p3", "c1-p4"}


def test_resuming_stops_the_prompt_the_previous_controller_left_playing() -> None:
    flow = new_call()
    first = play_of(flow.handle(Started()))
    restored = CallFlow.restore("c1", flow.snapshot(), GUIDE, CONFIG)
    commands = restored.handle(Resumed())
    assert commands.index(StopPlayback(first.playback_id)) < commands.index(play_of(commands))


def test_resuming_a_call_waiting_for_a_key_stops_nothing() -> None:
    flow = new_call()
    flow.handle(Started())
    finish_playback(flow)
    restored = CallFlow.restore("c1", flow.snapshot(), GUIDE, CONFIG)
    assert only(restored.handle(Resumed()), StopPlayback) == []


def test_a_restored_call_still_goes_back_where_it_came_from() -> None:
    flow = new_call()
    flow.handle(Started())
    open_list(flow)
    flow.handle(KeyPressed("1"))
    restored = CallFlow.restore("c1", flow.snapshot(), GUIDE, CONFIG)
    restored.handle(Resumed())
    assert departments_of(restored.handle(KeyPressed("*"))) == [(HEFEI, "back")]


def test_a_call_at_a_department_no_longer_in_the_directory_chooses_again() -> None:
    flow = new_call()
    flow.handle(Started())
    snapshot = {**flow.snapshot(), "department": "659999"}
    restored = CallFlow.restore("c1", snapshot, GUIDE, CONFIG)
    assert (restored.department, restored.menu) == (CENTRAL, "regions")
    assert play_of(restored.handle(Resumed())).prompts[:2] == (
        "call.resumed", "region.choose_province",
    )


def test_resuming_a_call_that_was_saying_goodbye_hangs_up() -> None:
    flow = new_call(WUHU)
    flow.handle(Started())
    for _ in range(3):
        flow.handle(KeyPressed("5"))
    restored = CallFlow.restore("c1", flow.snapshot(), GUIDE, CONFIG)
    commands = restored.handle(Resumed())
    assert Hangup() in commands
    assert commands[-1] == Ended("invalid_input")


def test_an_orphaned_channel_hears_an_apology_and_is_hung_up() -> None:
    flow = CallFlow("c9", GUIDE, CENTRAL)
    commands = flow.handle(Orphaned())
    assert play_of(commands).prompts == ("call.ended_by_system", "goodbye")
    commands = finish_playback(flow)
    assert Hangup() in commands
    assert commands[-1] == Ended("ended_after_recovery")
