"""The caller's time benchmark (benchmarks/prompts.py) on a small directory and a
fake manifest whose durations are known: each time must be what they add up to.

The sums below follow today's call flow: the greeting, then each choice as
name + "请按" + digit, then the other keys; after hours, "hours closed" after
the greeting and the self-service hint last.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import prompts as bench
from benchmarks.prompt_pages import Explorer
from benchmarks.prompt_timing import NEVER, Clips, Timing, World, said_keys
from ivr.call.flow import FlowConfig
from ivr.call.guide import Guide
from ivr.cli.prompt_ids import REQUIRED_PROMPTS
from ivr.directory.routing import Directory
from ivr.publish.menus import MenuBook
from tests.directory_data import SMALL_CSV

ANHUI, HEFEI, CHANGFENG = "340000", "340100", "340121"
SMALL = Directory.load(SMALL_CSV)
TIMEOUT = FlowConfig().digit_timeout

# Seconds of each clip, and what it says (only 按K tells a key).
HELLO, NAME, HOTLINE, CLOSED = 1.0, 1.5, 2.0, 2.0
PRESS, DIGIT, MORE, OTHER, BACK, REPEAT = 0.5, 0.25, 1.5, 2.5, 1.5, 1.0
STAY, SELF_SERVICE, ENTER, KEYS, AFTER_INFO = 1.2, 1.0, 0.7, 3.0, 2.5
MAIN, MAIN_HEFEI, DUES, RATES = 9.0, 14.0, 2.0, 6.0
CHOOSE_PROVINCE, CHOOSE_DEPARTMENT, NO_INPUT = 1.3, 1.4, 1.6
CLIPS: dict[str, tuple[str, float]] = {
    "greeting.hello": ("您好，这里是", HELLO),
    "greeting.hotline": ("12371党员咨询服务热线。", HOTLINE),
    "hours.closed": ("现在是非工作时间。", CLOSED),
    "menu.press": ("请按", PRESS),
    **{f"digit.{key}": (str(key), DIGIT) for key in range(1, 9)},
    "menu.more": ("更多选择，请按9。", MORE),
    "menu.other_region": ("选择其他省份或城市，请按0。", OTHER),
    "menu.back": ("返回上一级，请按星号键。", BACK),
    "menu.repeat": ("重听，请按井号键。", REPEAT),
    "menu.no_input": ("对不起，没有收到您的按键。", NO_INPUT),
    "desk.stay": ("需要人工服务，请不要挂机。", STAY),
    "region.choose_province": ("请选择省份。", CHOOSE_PROVINCE),
    "region.choose_department": ("请选择组织部门。", CHOOSE_DEPARTMENT),
    "svc.self_service": ("自助服务，请不要挂机。", SELF_SERVICE),
    "svc.enter": ("欢迎使用自助语音服务。", ENTER),
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
    """Every prompt the flow may play: those above, names of NAME seconds, the rest 1 s."""
    entries = {prompt: ("", 1000) for prompt in REQUIRED_PROMPTS}
    entries.update({f"dept.{d.code}": (d.short_name, round(NAME * 1000)) for d in SMALL})
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


def test_after_hours_first_choice_silence_and_the_longest_page(world: World) -> None:
    times = Timing(world, "after_hours").times(CHANGFENG)
    # A county with nothing below: the first key said is 0 (another region).
    assert times.first_choice == pytest.approx(HELLO + NAME + HOTLINE + CLOSED + OTHER)
    page = HELLO + NAME + HOTLINE + CLOSED + OTHER + REPEAT + SELF_SERVICE
    # Pressing nothing: the page, the digit timeout, then the service menu's
    # welcome before its top level's own prompt starts.
    assert times.by_silence == pytest.approx(page + TIMEOUT + ENTER)
    # 0 is said in time, but leads to the region menu: longer than silence.
    assert times.best_key == "0" and times.by_key > times.by_silence

    explorer = Explorer(world, "after_hours")
    county = explorer.department(CHANGFENG)
    longest = explorer.longest_page(county)
    assert longest is not None and longest.where == "service main"
    assert longest.seconds == pytest.approx(ENTER + MAIN_HEFEI + KEYS)  # Hefei's, inherited
    info = explorer.longest_info(county)
    assert info is not None and info.seconds == pytest.approx(RATES + AFTER_INFO)



def test_a_key_that_leaves_the_department_never_gets_there(world: World) -> None:
    # At the province, 1 (Hefei) is said in time; 0 only after 10 s.
    times = Timing(world, "after_hours").times(ANHUI)
    choice = HELLO + NAME + HOTLINE + CLOSED + NAME + PRESS + DIGIT
    assert times.first_choice == pytest.approx(choice)
    assert times.keys == {"1": NEVER} and times.by_key == NEVER and times.best_key is None

    explorer = Explorer(world, "after_hours")
    province = explorer.department(ANHUI)  # the national menu, and its own long page
    own = choice + OTHER + REPEAT + SELF_SERVICE
    longest = explorer.longest_page(province)
    assert longest is not None and longest.where == "guidance"
    assert longest.seconds == pytest.approx(own)
    assert own > ENTER + MAIN + KEYS


def test_the_region_menu_is_measured_once(world: World) -> None:
    explorer = Explorer(world, "after_hours")
    explorer.department(CHANGFENG)
    explorer.department(ANHUI)
    pages = explorer.region_pages()
    provinces = len(SMALL.provinces())
    assert len({p.where for p in pages}) == len(pages)  # none twice
    first = CHOOSE_PROVINCE + 8 * (NAME + PRESS + DIGIT) + MORE + BACK + REPEAT
    second = (provinces - 8) * (NAME + PRESS + DIGIT) + BACK + REPEAT
    seconds = {p.where: p.seconds for p in pages}
    assert seconds["regions provinces"] == pytest.approx(first)
    assert seconds["regions provinces page 2"] == pytest.approx(second)
    anhui = CHOOSE_DEPARTMENT + 2 * (NAME + PRESS + DIGIT) + BACK + REPEAT  # Anhui, Hefei
    assert seconds[f"regions {ANHUI}"] == pytest.approx(anhui)


def test_in_hours_one_key_then_silence_reaches_the_queue(world: World) -> None:
    times = Timing(world, "operators").times(CHANGFENG)
    said = HELLO + NAME + HOTLINE + OTHER  # 0 is said within the first 10 s
    page = said + REPEAT + STAY
    assert times.first_choice == pytest.approx(said)
    assert times.by_silence == pytest.approx(page + TIMEOUT)
    # 0 opens the region menu; silent there twice, the caller is back at the
    # county's page, then silent once more: the queue.
    provinces = CHOOSE_PROVINCE + 8 * (NAME + PRESS + DIGIT) + MORE + BACK + REPEAT
    again = NO_INPUT + provinces - CHOOSE_PROVINCE
    expected = said + provinces + TIMEOUT + again + TIMEOUT + page + TIMEOUT
    assert times.best_key == "0"
    assert times.by_key == pytest.approx(expected)


def test_without_a_manifest_it_says_how_to_build_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--prompts", str(tmp_path)]) == 2
    assert "ivr prompts build" in capsys.readouterr().err
