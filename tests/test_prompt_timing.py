"""The caller's time benchmark (benchmarks/prompts.py) on a small directory and a
fake manifest whose durations are known: each time must be what they add up to.

The sums below follow the call flow: the greeting, then the front page
(in hours a person on 1 and self-service on 2; after hours self-service on 1
and a message on 2; the departments below on 3; another region; repeat);
in a list each choice is place + "请按" + digit, five to a page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import prompts as bench
from benchmarks.prompt_pages import Explorer
from benchmarks.prompt_timing import Clips, Timing, World, said_keys
from ivr.call.flow import FlowConfig
from ivr.call.guide import Guide
from ivr.cli.prompt_ids import REQUIRED_PROMPTS
from ivr.directory.routing import Directory
from ivr.publish.menus import MenuBook
from tests.directory_data import SMALL_CSV

ANHUI, HEFEI, CHANGFENG = "340000", "340100", "340121"
SMALL = Directory.load(SMALL_CSV)
TIMEOUT = FlowConfig().front_timeout  # the front page's wait for a key

# Seconds of each clip, and what it says (only 按K tells a key).
HELLO, NAME, PLACE, HOTLINE, CLOSED = 1.0, 1.5, 0.6, 2.0, 2.0
PRESS, DIGIT, MORE, OTHER, BACK, REPEAT = 0.5, 0.25, 1.5, 2.5, 1.5, 1.0
OPERATOR, SELF_SERVICE_SECOND, SELF_SERVICE, MESSAGE, BELOW = 1.2, 1.1, 1.0, 0.8, 1.3
ENTER, KEYS, AFTER_INFO = 0.7, 3.0, 2.5
MAIN, MAIN_HEFEI, DUES, RATES = 9.0, 14.0, 2.0, 6.0
CHOOSE_PROVINCE, CHOOSE_DEPARTMENT, NO_INPUT = 1.3, 1.4, 1.6
CLIPS: dict[str, tuple[str, float]] = {
    "greeting.hello": ("您好，这里是", HELLO),
    "greeting.hotline": ("12371党员咨询服务热线。", HOTLINE),
    "hours.closed": ("现在是非工作时间。", CLOSED),
    "menu.press": ("请按", PRESS),
    **{f"digit.{key}": (str(key), DIGIT) for key in range(1, 6)},
    "menu.more": ("更多选择，请按9。", MORE),
    "menu.other_region": ("选择其他省份或城市，请按0。", OTHER),
    "menu.back": ("返回上一级，请按星号键。", BACK),
    "menu.repeat": ("重听，请按井号键。", REPEAT),
    "menu.no_input": ("对不起，没有收到您的按键。", NO_INPUT),
    "front.operator": ("人工服务，请按1；", OPERATOR),
    "front.self_service_second": ("自助服务，请按2；", SELF_SERVICE_SECOND),
    "front.self_service": ("自助服务，请按1；", SELF_SERVICE),
    "front.message": ("留言，请按2；", MESSAGE),
    "front.below": ("下级组织，请按3；", BELOW),
    "region.choose_province": ("请选择省份。", CHOOSE_PROVINCE),
    "region.choose_department": ("请选择组织部门。", CHOOSE_DEPARTMENT),
    "svc.enter": ("自助服务。", ENTER),
    "svc.keys": ("留言请按0，返回上一级请按星号键。", KEYS),
    "svc.after_info": ("重听请按井号键。", AFTER_INFO),
    "svc.main": ("党费，请按1；预约回电，请按2。", MAIN),
    "svc.340100.main": ("合肥：党费，请按1；预约回电，请按2；按月交纳。", MAIN_HEFEI),
    "svc.dues": ("在职党员交纳标准，请按1。", DUES),
    "svc.dues.rates": ("按月交纳党费。", RATES),
}
MENUS = {
    "national": {
        "root": "main",
        "nodes": {
            "main": {
                "kind": "menu", "text": "党费，请按1；预约回电，请按2。",
                "choices": [{"key": 1, "to": "dues"}, {"key": 2, "to": "callback"}],
            },
            "dues": {
                "kind": "menu", "category": "dues", "text": "在职党员交纳标准，请按1。",
                "choices": [{"key": 1, "to": "dues.rates"}],
            },
            "dues.rates": {"kind": "info", "text": "按月交纳党费。"},
            "callback": {"kind": "callback"},
        },
    },
    # Hefei's own top level, which its counties inherit.
    "departments": {
        HEFEI: {
            "nodes": {
                "main": {
                    "kind": "menu", "text": "合肥：党费，请按1；预约回电，请按2；按月交纳。",
                    "choices": [{"key": 1, "to": "dues"}, {"key": 2, "to": "callback"}],
                },
            },
        },
    },
}


def manifest() -> dict[str, tuple[str, int]]:
    """Every prompt the flow may play: those above, names of NAME seconds, places of
    PLACE seconds, the rest 1 s."""
    entries = {prompt: ("", 1000) for prompt in REQUIRED_PROMPTS}
    entries.update({f"dept.{d.code}": (d.short_name, round(NAME * 1000)) for d in SMALL})
    entries.update({f"place.{d.code}": (d.place, round(PLACE * 1000)) for d in SMALL})
    entries.update({prompt: (text, round(s * 1000)) for prompt, (text, s) in CLIPS.items()})
    return entries


@pytest.fixture(scope="module")
def world() -> World:
    book = MenuBook.from_spec(MENUS, SMALL)
    assert not book.problems()
    return World(Guide(SMALL), Clips.of(manifest()), book.effective)


def test_keys_are_told_by_the_text_or_a_digit_clip() -> None:
    assert said_keys("menu.x", "留言请按0，返回请按星号键，按 3 也行") == {"0", "3"}
    assert said_keys("digit.7", "7") == {"7"}
    assert said_keys("svc.x", "党员应当按月交纳党费。") == set()


GREETING = HELLO + NAME + HOTLINE


def test_after_hours_self_service_is_the_first_key_and_what_silence_gives(world: World) -> None:
    times = Timing(world, "after_hours").times(CHANGFENG)
    # A county with nothing below: self-service (1) is the first key said.
    assert times.first_choice == pytest.approx(GREETING + CLOSED + SELF_SERVICE)
    page = GREETING + CLOSED + SELF_SERVICE + MESSAGE + OTHER + REPEAT
    # Pressing nothing: the page, the digit timeout, then the service menu's
    # welcome before its top level's own prompt starts.
    assert times.by_silence == pytest.approx(page + TIMEOUT + ENTER)
    # 1 as soon as it is said: the welcome, and the top level starts.
    assert times.best_key == "1"
    assert times.by_key == pytest.approx(GREETING + CLOSED + SELF_SERVICE + ENTER)

    explorer = Explorer(world, "after_hours")
    county = explorer.department(CHANGFENG)
    longest = explorer.longest_page(county)
    assert longest is not None and longest.where == "service main"
    assert longest.seconds == pytest.approx(ENTER + MAIN_HEFEI + KEYS)  # Hefei's, inherited
    info = explorer.longest_info(county)
    assert info is not None and info.seconds == pytest.approx(RATES + AFTER_INFO)


def test_the_departments_below_are_a_page_of_their_own(world: World) -> None:
    explorer = Explorer(world, "after_hours")
    province = explorer.department(ANHUI)  # the national menu
    front = GREETING + CLOSED + SELF_SERVICE + MESSAGE + BELOW + OTHER + REPEAT
    below = PLACE + PRESS + DIGIT + BACK + REPEAT  # Hefei, its capital
    pages: dict[str, list[float]] = {}
    for page in province.pages:
        pages.setdefault(page.where, []).append(page.seconds)
    # The front page with its greeting on arrival, without it back from the list.
    assert sorted(pages["guidance"]) == pytest.approx([front - GREETING - CLOSED, front])
    assert pages["below"] == pytest.approx([below])
    # Here the front page is longer than the national menu's top.
    assert front > ENTER + MAIN + KEYS
    longest = explorer.longest_page(province)
    assert longest is not None and longest.where == "guidance"
    assert longest.seconds == pytest.approx(front)


def test_the_region_menu_is_measured_once(world: World) -> None:
    explorer = Explorer(world, "after_hours")
    explorer.department(CHANGFENG)
    explorer.department(ANHUI)
    pages = explorer.region_pages()
    provinces = len(SMALL.provinces())
    assert provinces > 10  # three pages of five at most
    assert len({p.where for p in pages}) == len(pages)  # none twice
    choice = PLACE + PRESS + DIGIT
    first = CHOOSE_PROVINCE + 5 * choice + MORE + BACK + REPEAT
    second = 5 * choice + MORE + BACK + REPEAT
    third = (provinces - 10) * choice + BACK + REPEAT
    seconds = {p.where: p.seconds for p in pages}
    assert seconds["regions provinces"] == pytest.approx(first)
    assert seconds["regions provinces page 2"] == pytest.approx(second)
    assert seconds["regions provinces page 3"] == pytest.approx(third)
    anhui = CHOOSE_DEPARTMENT + 2 * choice + BACK + REPEAT  # Anhui, Hefei
    assert seconds[f"regions {ANHUI}"] == pytest.approx(anhui)


def test_in_hours_a_person_is_the_first_key_and_what_silence_gives(world: World) -> None:
    times = Timing(world, "operators").times(CHANGFENG)
    said = GREETING + OPERATOR  # 1: a person, the first key said
    page = said + SELF_SERVICE_SECOND + OTHER + REPEAT
    assert times.first_choice == pytest.approx(said)
    assert times.by_silence == pytest.approx(page + TIMEOUT)
    # 1 as soon as it is said: the caller joins the queue at once.
    assert times.best_key == "1"
    assert times.by_key == pytest.approx(said)


def test_without_a_manifest_it_says_how_to_build_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--prompts", str(tmp_path)]) == 2
    assert "ivr prompts build" in capsys.readouterr().err
