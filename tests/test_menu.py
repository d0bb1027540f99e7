"""The after-hours service menus: checks, inheritance, and the real routing/menus.yaml."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.audio import build as prompts
from ivr.audio.catalog import Catalog, PromptEntry
from ivr.cli.prompt_ids import REQUIRED_PROMPTS
from ivr.directory.routing import Directory
from ivr.errors import ConfigError, NotFound
from ivr.publish import menus as menu
from ivr.publish.checks import unused
from ivr.publish.menus import CATEGORIES, MenuBook
from ivr.settings import REPO_ROOT

SMALL = Directory.load(REPO_ROOT / "tests" / "data" / "departments.csv")
MENUS = REPO_ROOT / "routing" / "menus.yaml"
PROMPT_SPEC = REPO_ROOT / "prompts" / "prompts.yaml"

Spec = dict[str, Any]

BASE: Spec = {
    "national": {
        "root": "main",
        "nodes": {
            "main": {
                "kind": "menu",
                "text": "党费，请按1；意见建议，请按2；回电，请按3。",
                "choices": [
                    {"key": 1, "to": "dues"},
                    {"key": 2, "to": "opinions"},
                    {"key": 3, "to": "callback"},
                ],
            },
            "dues": {
                "kind": "menu",
                "category": "dues",
                "text": "交纳标准，请按1。",
                "choices": [{"key": "1", "to": "dues.rate"}],
            },
            "dues.rate": {"kind": "info", "text": "按月交纳。"},
            "opinions": {"kind": "message", "category": "opinions"},
            "callback": {"kind": "callback"},
        },
    },
    "departments": {},
}


def spec(change: Callable[[Spec], object] | None = None) -> Spec:
    data = copy.deepcopy(BASE)
    if change is not None:
        change(data)
    return data


def nodes(data: Spec) -> dict[str, Any]:
    found: dict[str, Any] = data["national"]["nodes"]
    return found


def said(data: Spec, catalog: Catalog | None = None) -> list[str]:
    return [str(problem) for problem in MenuBook.from_spec(data, SMALL).problems(catalog)]


def catalog_of(book: MenuBook, **texts: str) -> Catalog:
    """A catalog with every text the build would render, and `texts` besides."""
    entries = {
        prompt_id: PromptEntry(file=f"{prompt_id}.wav", text=text, sha256="0", duration_ms=1,
                               input="0")
        for prompt_id, text in {**book.prompt_texts(), **texts}.items()
    }
    return Catalog(Path("/nonexistent"), entries)


# Each rule, with a menu that breaks exactly it ---------------------------------


def test_the_base_menu_has_no_problems() -> None:
    assert said(spec()) == []


def add_choice(key: object, to: str) -> Callable[[Spec], None]:
    return lambda data: nodes(data)["main"]["choices"].append({"key": key, "to": to})


def add_node(node_id: str, node: dict[str, Any], key: object = 4) -> Callable[[Spec], None]:
    def change(data: Spec) -> None:
        nodes(data)[node_id] = node
        add_choice(key, node_id)(data)

    return change


def chain(depth: int) -> Callable[[Spec], None]:
    """main → n2 → ... → n<depth>, each a menu but the last."""

    def change(data: Spec) -> None:
        previous = "main"
        for level in range(2, depth + 1):
            node_id = f"n{level}"
            nodes(data)[node_id] = {"kind": "info", "text": "信息。"}
            node = nodes(data)[previous]
            if previous != "main":
                node.update(kind="menu", choices=[])
            node["choices"].append({"key": 4 if previous == "main" else 1, "to": node_id})
            previous = node_id

    return change


def many(data: Spec) -> None:
    for number in range(menu.MAX_NODES + 1 - len(nodes(data))):
        nodes(data)[f"extra{number}"] = {"kind": "info", "text": "信息。"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (add_choice(4, "nowhere"), "national main: key 4 leads to nowhere, which does not exist"),
        (
            add_choice(1, "opinions"),
            "national main: key 1 is used twice: for dues and for opinions",
        ),
        (
            add_node("extra", {"kind": "hangup"}, key=0),
            "national main: key 0 is reserved: on every level 0 leaves a message, "
            "* goes back and # repeats; use 1 to 9",
        ),
        (add_node("extra", {"kind": "hangup"}, key="*"), "national main: key * is reserved"),
        (add_node("extra", {"kind": "hangup"}, key="#"), "national main: key # is reserved"),
        (
            add_node("extra", {"kind": "hangup"}, key=12),
            "national main: '12' is not a key: use one digit from 1 to 9",
        ),
        (
            lambda data: nodes(data)["dues"].update(choices=[]),
            "national dues: is a menu without choices: give it at least one (keys 1 to 9)",
        ),
        (
            lambda data: nodes(data)["dues.rate"].pop("text"),
            "national dues.rate: says nothing: give this info node a text to speak "
            "or a recorded prompt",
        ),
        (
            lambda data: nodes(data)["dues.rate"].update(choices=[{"key": 1, "to": "main"}]),
            "national dues.rate: has choices, but its kind is info: only a menu offers choices",
        ),
        (
            lambda data: nodes(data)["dues.rate"].update(
                kind="menu", choices=[{"key": 1, "to": "main"}]
            ),
            "national dues.rate: key 1 leads back to main, a loop "
            "(main → dues → dues.rate → main): * goes back",
        ),
        (
            lambda data: nodes(data)["dues"]["choices"].append({"key": 2, "to": "dues"}),
            "national dues: key 2 leads back to dues, a loop (main → dues → dues): * goes back",
        ),
        (
            add_choice(4, "dues.rate"),
            "national main: key 4 leads to dues.rate, which is also reached by "
            "main → dues → dues.rate: a menu is a tree, so give each place a node of its own",
        ),
        (
            add_node("transfer", {"kind": "department", "department": "999999"}),
            "national transfer: transfers to department 999999, which is not in the directory",
        ),
        (
            add_node("transfer", {"kind": "department"}),
            "national transfer: a department node needs `department`: a division code, "
            "or parent",
        ),
        (
            lambda data: nodes(data)["callback"].update(department="340100"),
            "national callback: has `department`, but its kind is callback: "
            "only a department node transfers",
        ),
        (
            lambda data: nodes(data)["dues"].update(category="fees"),
            "national dues: unknown category 'fees': use one of theory, relations, dues, "
            "rights, building, difficulties, opinions",
        ),
        (chain(menu.MAX_DEPTH + 1), "national n7: is 7 levels deep (main → n2 → n3 → n4 → n5 "
         "→ n6 → n7), more than 6: move it up"),
        (many, "national: has 201 nodes, more than 200: make it smaller"),
        (
            lambda data: data["national"].update(root="start"),
            "national start: is the root, but there is no such node",
        ),
        (
            add_node("keys", {"kind": "info", "text": "信息。"}),
            "national keys: its text would be the prompt svc.keys, a standard prompt: "
            "rename the node",
        ),
        (
            lambda data: data["departments"].update({"999999": {"nodes": {}}}),
            "999999: overrides nodes but is not a department in the directory",
        ),
    ],
)
def test_a_menu_that_breaks_one_rule_says_so_once(
    change: Callable[[Spec], None], problem: str
) -> None:
    found = said(spec(change))
    assert len(found) == 1, found
    assert found[0].startswith(problem)


def test_a_menu_as_deep_as_allowed_is_fine() -> None:
    assert said(spec(chain(menu.MAX_DEPTH))) == []


def test_every_problem_is_said_not_only_the_first() -> None:
    def change(data: Spec) -> None:
        add_choice(4, "nowhere")(data)
        nodes(data)["dues"]["category"] = "fees"

    assert len(said(spec(change))) == 2


def test_with_the_built_prompts_a_node_without_audio_is_a_problem() -> None:
    book = MenuBook.from_spec(spec(), SMALL)
    assert book.problems(catalog_of(book)) == []
    recorded = spec(lambda data: nodes(data)["dues.rate"].update(prompt="rec.dues_rate"))
    book = MenuBook.from_spec(recorded, SMALL)
    assert [str(p) for p in book.problems(catalog_of(book))] == [
        "national dues.rate: has no prompt audio: rec.dues_rate is not among the built "
        "prompts (run `ivr prompts build`, or record it)"
    ]
    assert book.problems(catalog_of(book, **{"rec.dues_rate": "录音"})) == []


def test_audio_of_an_older_text_is_a_problem() -> None:
    book = MenuBook.from_spec(spec(), SMALL)
    old = catalog_of(book, **{"svc.dues.rate": "旧的说法。"})
    assert [str(p) for p in book.problems(old)] == [
        "national dues.rate: its prompt audio svc.dues.rate says an older text: "
        "run `ivr prompts build`"
    ]


def test_load_refuses_a_menu_that_cannot_be_activated(tmp_path: Path) -> None:
    path = tmp_path / "menus.yaml"
    path.write_text(yaml.safe_dump(spec(add_choice(4, "nowhere")), allow_unicode=True))
    with pytest.raises(ConfigError) as caught:
        menu.load(path, SMALL)
    assert str(path) in caught.value.message
    assert "cannot be activated" in caught.value.message
    assert "national main: key 4 leads to nowhere, which does not exist" in caught.value.message
    assert caught.value.details["problems"] == [
        {"department": "national", "node": "main", "message": "key 4 leads to nowhere, "
         "which does not exist", "code": "key_leads_nowhere",
         "params": {"key": "4", "to": "nowhere"}}
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("national: [", "cannot read"),
        ("departments: {}\n", "national: Field required"),
        (yaml.safe_dump(spec(lambda d: nodes(d).update({"Bad-Id": {"kind": "hangup"}}))),
         "national.nodes.Bad-Id"),
        (yaml.safe_dump(spec(lambda d: nodes(d)["callback"].update(kind="transfer"))),
         "national.nodes.callback.kind"),
        (yaml.safe_dump(spec(lambda d: nodes(d)["callback"].update(colour="red"))),
         "national.nodes.callback.colour: Extra inputs are not permitted"),
    ],
)
def test_a_file_not_shaped_like_a_menu_names_the_file_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "menus.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        menu.read(path, SMALL)
    assert str(path) in caught.value.message


# Inheritance ----------------------------------------------------------------


def overridden() -> MenuBook:
    """Anhui says the rate its own way; Hefei adds a node on its main menu."""

    def change(data: Spec) -> None:
        data["departments"] = {
            "340000": {"nodes": {"dues.rate": {"kind": "info", "text": "安徽的说法。"}}},
            "340100": {
                "nodes": {
                    "main": {
                        "kind": "menu",
                        "text": "党费，请按1；意见建议，请按2；回电，请按3；服务中心，请按4。",
                        "choices": [
                            {"key": 1, "to": "dues"},
                            {"key": 2, "to": "opinions"},
                            {"key": 3, "to": "callback"},
                            {"key": 4, "to": "centre"},
                        ],
                    },
                    "centre": {"kind": "info", "text": "合肥市党员服务中心。"},
                }
            },
        }

    return MenuBook.from_spec(spec(change), SMALL)


def test_a_province_override_is_heard_by_its_county_and_not_by_another_province() -> None:
    book = overridden()
    county = book.effective("340121")
    assert county.node("dues.rate").text == "安徽的说法。"
    assert county.origin("dues.rate") == "340000"
    assert county.node("dues.rate").prompt_id == "svc.340000.dues.rate"
    assert county.choice("main", "4") == county.node("centre")
    assert county.origin("centre") == county.origin("main") == "340100"
    assert county.origin("dues") == "national"
    for other in ("320100", "320000", "000000"):
        elsewhere = book.effective(other)
        assert elsewhere.node("dues.rate").text == "按月交纳。"
        assert elsewhere.node("dues.rate").prompt_id == "svc.dues.rate"
        assert elsewhere.origin("dues.rate") == "national"
        assert not elsewhere.has("centre")
    assert book.effective("340000").node("dues.rate").text == "安徽的说法。"
    assert not book.effective("340000").has("centre")


def test_the_nearest_override_wins() -> None:
    def change(data: Spec) -> None:
        data["departments"] = {
            code: {"nodes": {"dues.rate": {"kind": "info", "text": f"{code}的说法。"}}}
            for code in ("340100", "340000")
        }

    book = MenuBook.from_spec(spec(change), SMALL)
    assert book.effective("340121").node("dues.rate").text == "340100的说法。"
    assert book.effective("340000").node("dues.rate").text == "340000的说法。"


def test_effective_menus_are_computed_once_and_shared_below() -> None:
    book = overridden()
    assert book.effective("340121") is book.effective("340100")
    assert book.effective("340122") is book.effective("340100")
    assert book.effective("320100") is book.national
    with pytest.raises(NotFound):
        book.effective("999999")


def test_a_problem_is_said_where_it_was_brought_in() -> None:
    def change(data: Spec) -> None:
        data["departments"] = {
            "340000": {"nodes": {"dues.rate": {"kind": "info"}}},  # says nothing
            "340100": {"nodes": {"centre": {"kind": "info", "text": "中心。"}}},
        }

    book = MenuBook.from_spec(spec(change), SMALL)
    # Hefei inherits Anhui's mistake: it is Anhui's to fix, and said once.
    assert [str(problem) for problem in book.problems()] == [
        "340000 dues.rate: says nothing: give this info node a text to speak or a recorded prompt"
    ]
    assert [str(warning) for warning in unused(book)] == [
        "340100 centre: no choice leads here from the root: callers never hear it"
    ]


def test_unused_nodes_are_warnings_not_problems() -> None:
    def change(data: Spec) -> None:
        main = copy.deepcopy(nodes(data)["main"])
        main["choices"] = main["choices"][:1]
        data["departments"] = {"340000": {"nodes": {"main": main}}}

    book = MenuBook.from_spec(spec(change), SMALL)
    assert book.problems() == []
    assert [str(warning) for warning in unused(book)] == [
        "340000 callback: no choice leads here from the root (inherited but unused)",
        "340000 opinions: no choice leads here from the root (inherited but unused)",
    ]
    assert book.effective("340100").unreachable() == ("callback", "opinions")


# What the flow reads ----------------------------------------------------------


def test_category_along_the_path_parent_and_path() -> None:
    book = overridden()
    county = book.effective("340121")
    assert county.category("dues.rate") == "dues"
    assert county.category("dues") == "dues"
    assert county.category("opinions") == "opinions"
    assert county.category("main") == ""
    assert county.category("callback") == ""
    assert county.category("centre") == ""
    assert county.path("dues.rate") == ("main", "dues", "dues.rate")
    parent = county.parent("dues.rate")
    assert parent is not None and parent.id == "dues"
    assert county.parent("main") is None


def test_prompt_ids_come_from_where_the_text_is_written() -> None:
    book = overridden()
    national = book.national
    assert national.node("main").prompt_id == "svc.main"
    assert national.node("callback").prompt_id is None  # the flow plays its default
    assert book.effective("340100").node("main").prompt_id == "svc.340100.main"
    recorded = spec(lambda data: nodes(data)["dues.rate"].update(prompt="rec.rate"))
    assert MenuBook.from_spec(recorded, SMALL).national.node("dues.rate").prompt_id == "rec.rate"
    assert book.prompt_texts() == {
        "svc.main": nodes(BASE)["main"]["text"],
        "svc.dues": "交纳标准，请按1。",
        "svc.dues.rate": "按月交纳。",
        "svc.340000.dues.rate": "安徽的说法。",
        "svc.340100.main": "党费，请按1；意见建议，请按2；回电，请按3；服务中心，请按4。",
        "svc.340100.centre": "合肥市党员服务中心。",
    }


def test_choices_keep_the_order_of_the_data() -> None:
    main = MenuBook.from_spec(spec(), SMALL).national.node("main")
    assert list(main.choices.items()) == [("1", "dues"), ("2", "opinions"), ("3", "callback")]


# The real menus -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real() -> MenuBook:
    return menu.load(MENUS, Directory.load(REPO_ROOT / "routing" / "departments.csv"))


def test_the_real_menus_validate_and_use_every_node(real: MenuBook) -> None:
    assert real.problems() == []
    assert unused(real) == []


def test_the_seven_categories_in_order_on_keys_1_to_7_and_a_callback_on_8(
    real: MenuBook,
) -> None:
    national = real.national
    root = national.node(national.root)
    assert list(root.choices) == [*"123456789"]
    lookup = national.choice(national.root, "9")
    assert lookup is not None and lookup.kind == "lookup"  # a case's status, by its number
    for key, category in zip("1234567", CATEGORIES, strict=True):
        node = national.choice(national.root, key)
        assert node is not None and node.kind == "menu"
        assert national.category(node.id) == category
        assert CATEGORIES[category][:2] in (node.text or "")
    callback = national.choice(national.root, "8")
    assert callback is not None and callback.kind == "callback"
    assert national.category(callback.id) == ""


def test_each_category_informs_and_the_last_two_take_messages(real: MenuBook) -> None:
    national = real.national
    for category_node in (national.choice(national.root, key) for key in "1234567"):
        assert category_node is not None
        kinds = [child.kind for _, child in national.children(category_node.id)]
        assert 2 <= kinds.count("info") <= 4, category_node.id
    kinds_of = {
        node.id: {child.kind for _, child in national.children(node.id)} for node in national
    }
    assert {"message", "callback"} <= kinds_of["difficulties"]
    assert "message" in kinds_of["opinions"]


def test_every_real_text_is_short_and_says_its_own_keys(real: MenuBook) -> None:
    for node in real.national:
        if node.kind == "info":
            assert node.text is not None and len(node.text) <= 90, node.id
        if node.kind == "menu":
            # "请按1", or "按1" where a long list must stay short.
            for key in node.choices:
                assert f"按{key}" in (node.text or ""), (node.id, key)
            # Keys the flow reserves are announced by svc.keys, not by the data.
            assert "按0" not in (node.text or "")


def test_the_build_renders_the_menu_texts_and_refuses_a_clash(real: MenuBook) -> None:
    spec_ = prompts.load_spec(PROMPT_SPEC)
    texts = prompts.prompt_texts(spec_, SMALL, real.prompt_texts())
    dues = real.national.node("dues.working")
    assert dues.prompt_id is not None
    assert texts[dues.prompt_id] == dues.text
    assert set(menu.PROMPTS_USED) <= set(REQUIRED_PROMPTS) <= set(texts)
    with pytest.raises(ConfigError, match=r"svc\.keys is both in prompts\.yaml and a menu node"):
        prompts.prompt_texts(spec_, SMALL, {"svc.keys": "别的说法。"})
def test_a_real_build_gives_every_node_its_audio(tmp_path: Path) -> None:
    csv = tmp_path / "departments.csv"
    lines = (REPO_ROOT / "tests" / "data" / "departments.csv").read_text().splitlines()
    csv.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")  # the central department
    directory = Directory.load(csv)
    book = menu.read(MENUS, directory)
    catalog = prompts.build(PROMPT_SPEC, directory, tmp_path / "out", None, book.prompt_texts())
    assert catalog.text("svc.dues.working") == book.national.node("dues.working").text
    assert menu.load(MENUS, directory, catalog) is not None
