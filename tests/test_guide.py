"""Voice guidance menus, generated from the full national directory (routing/)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ivr.call.guide import (
    PAGE_SIZE,
    Guide,
    choices_prompts,
    chosen,
    greeting_prompts,
    page_count,
)
from ivr.directory.routing import Directory
from ivr.settings import REPO_ROOT

DIRECTORY = Directory.load(REPO_ROOT / "routing" / "departments.csv")
GUIDE = Guide(DIRECTORY)


def names(codes: tuple[str, ...]) -> list[str]:
    return [DIRECTORY.by_code(code).short_name for code in codes]


def test_the_central_department_offers_beijing_and_its_districts() -> None:
    menu = GUIDE.guidance("000000")
    assert menu[0] == "110000"
    assert set(menu[1:]) == {d.code for d in DIRECTORY.children("110000")}
    assert "朝阳区委组织部" in names(menu)
    assert len(menu) == 17  # the municipal department and Beijing's 16 districts


def test_a_provincial_department_offers_its_capital() -> None:
    assert GUIDE.guidance("340000") == ("340100",)
    assert GUIDE.guidance("440000") == ("440100",)
    assert GUIDE.guidance("650000") == ("650100",)


def test_a_municipality_offers_its_districts_and_counties() -> None:
    menu = GUIDE.guidance("310000")
    assert len(menu) == 16
    assert all(code.startswith("31") and DIRECTORY.by_code(code).level == "county" for code in menu)


def test_a_city_department_offers_its_counties() -> None:
    menu = GUIDE.guidance("340100")
    assert "340121" in menu  # 长丰县
    assert all(DIRECTORY.by_code(code).parent == "340100" for code in menu)
    assert list(menu) == sorted(menu)


def test_a_city_answering_a_shared_area_code_also_offers_the_cities_sharing_it() -> None:
    shenyang = DIRECTORY.by_code("210100")
    assert shenyang.area_code == "024" and shenyang.answers
    sharing = [
        d.code for d in DIRECTORY
        if d.level == "city" and d.area_code == "024" and d.code != "210100"
    ]
    assert sharing, "024 is shared by several cities in the directory"
    assert set(sharing) <= set(GUIDE.guidance("210100"))


def test_counties_offer_nothing_below_them() -> None:
    assert GUIDE.guidance("340121") == ()


def test_the_region_menu_lists_every_province_level_department_once() -> None:
    provinces = GUIDE.regions()
    assert len(provinces) == 31
    assert provinces[0] == "110000"
    assert list(provinces) == sorted(provinces)
    assert {"710000", "810000", "820000"}.isdisjoint(provinces)


def test_the_region_menu_of_a_province_starts_with_the_province_itself() -> None:
    anhui = GUIDE.regions("340000")
    assert anhui[0] == "340000"
    assert anhui[1] == "340100"
    assert len(anhui) == 1 + len(DIRECTORY.children("340000"))


def test_every_menu_offers_only_departments_of_the_directory() -> None:
    for department in DIRECTORY:
        for code in GUIDE.guidance(department.code):
            assert GUIDE.knows(code)


@given(st.integers(min_value=0, max_value=60), st.sampled_from("0123456789*#"))
def test_pages_split_the_choices_in_order_and_each_key_means_one_choice(
    count: int, key: str
) -> None:
    choices = tuple(f"{n:06d}" for n in range(count))
    pages = page_count(choices)
    offered: list[str] = []
    for page in range(pages):
        prompts = choices_prompts(choices, page, other_region=True, back=page > 0)
        on_page = [p.removeprefix("place.") for p in prompts if p.startswith("place.")]
        assert len(on_page) <= PAGE_SIZE
        assert ("menu.more" in prompts) == (page + 1 < pages)
        offered += on_page
        picked = chosen(choices, page, key)
        if picked is not None:
            assert picked == on_page[int(key) - 1]
    assert offered == list(choices)


def test_the_greeting_is_hello_name_hotline() -> None:
    assert greeting_prompts("340100") == ("greeting.hello", "dept.340100", "greeting.hotline")


def test_a_directly_administered_city_answering_a_shared_code_offers_the_others() -> None:
    xiantao = DIRECTORY.by_code("429004")
    assert (xiantao.area_code, xiantao.answers) == ("0728", True)
    assert {"429005", "429006"} <= set(GUIDE.guidance("429004"))  # 潜江, 天门


def test_the_guide_knows_only_departments_of_the_directory() -> None:
    # A call restored after the directory changed asks this: it must answer, not raise.
    assert GUIDE.knows("340100")
    assert not GUIDE.knows("659999") and not GUIDE.knows("")
