"""Each problem the menu check can find carries a stable code and the values its
message is built from, and the admin web has a Chinese sentence for every code."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import pytest

from ivr.audio.catalog import Catalog
from ivr.publish import menus as menu
from ivr.publish.checks import PROBLEM_CODES, Problem, unused
from ivr.publish.drafts import ProblemOut
from ivr.publish.menus import MenuBook
from ivr.settings import REPO_ROOT
from tests.test_menu import (
    SMALL,
    Spec,
    add_choice,
    add_node,
    catalog_of,
    chain,
    many,
    nodes,
    spec,
)

LABELS_JS = REPO_ROOT / "ivr" / "admin" / "static" / "labels.js"


def check(data: Spec) -> list[Problem]:
    return MenuBook.from_spec(data, SMALL).problems()


def with_audio(**texts: str) -> Callable[[Spec], list[Problem]]:
    """Checked against the prompts the build would make, and `texts` besides."""

    def found(data: Spec) -> list[Problem]:
        book = MenuBook.from_spec(data, SMALL)
        return book.problems(catalog_of(book, **texts))

    return found


def warnings(data: Spec) -> list[Problem]:
    return unused(MenuBook.from_spec(data, SMALL))


def only_first_choice(code: str) -> Callable[[Spec], None]:
    def change(data: Spec) -> None:
        main = copy.deepcopy(nodes(data)["main"])
        main["choices"] = main["choices"][:1]
        data["departments"] = {code: {"nodes": {"main": main}}}

    return change


def own_loose_node(data: Spec) -> None:
    data["departments"] = {"340100": {"nodes": {"centre": {"kind": "info", "text": "中心。"}}}}


def hangup(key: object) -> Callable[[Spec], None]:
    return add_node("extra", {"kind": "hangup"}, key=key)


def _set(node: str, **fields: object) -> Callable[[Spec], None]:
    return lambda data: nodes(data)[node].update(fields)


DEEP = " → ".join(["main", *(f"n{level}" for level in range(2, menu.MAX_DEPTH + 2))])

# code: (how to break the base menu, how to look, the node at fault, the params)
Case = tuple[Callable[[Spec], None], Callable[[Spec], list[Problem]], str, dict[str, str]]
CASES: dict[str, Case] = {
    "too_many_nodes": (many, check, "", {"count": "201", "limit": "200"}),
    "no_root": (lambda data: data["national"].update(root="start"), check, "start",
                {"root": "start"}),
    "says_nothing": (lambda data: nodes(data)["dues.rate"].pop("text"), check, "dues.rate",
                     {"kind": "info"}),
    "menu_without_choices": (_set("dues", choices=[]), check, "dues", {}),
    "choices_not_menu": (_set("dues.rate", choices=[{"key": 1, "to": "main"}]), check,
                         "dues.rate", {"kind": "info"}),
    "key_reserved": (hangup("*"), check, "main", {"key": "*"}),
    "not_a_key": (hangup(12), check, "main", {"key": "12"}),
    "key_twice": (add_choice(1, "opinions"), check, "main",
                  {"key": "1", "first": "dues", "to": "opinions"}),
    "key_leads_nowhere": (add_choice(4, "nowhere"), check, "main", {"key": "4", "to": "nowhere"}),
    "unknown_category": (_set("dues", category="fees"), check, "dues", {"category": "fees"}),
    "department_missing": (add_node("transfer", {"kind": "department"}), check, "transfer", {}),
    "department_unknown": (add_node("transfer", {"kind": "department", "department": "999999"}),
                           check, "transfer", {"department": "999999"}),
    "department_not_transfer": (_set("callback", department="340100"), check, "callback",
                                {"kind": "callback", "department": "340100"}),
    "standard_prompt_name": (add_node("keys", {"kind": "info", "text": "信息。"}), check, "keys",
                             {"prompt": "svc.keys"}),
    "no_audio": (_set("dues.rate", prompt="rec.dues_rate"), with_audio(), "dues.rate",
                 {"prompt": "rec.dues_rate", "source": "recording"}),
    "old_audio": (lambda data: None, with_audio(**{"svc.dues.rate": "旧的说法。"}), "dues.rate",
                  {"prompt": "svc.dues.rate"}),
    "reached_twice": (add_choice(4, "dues.rate"), check, "main",
                      {"key": "4", "to": "dues.rate", "path": "main → dues → dues.rate"}),
    "too_deep": (chain(menu.MAX_DEPTH + 1), check, f"n{menu.MAX_DEPTH + 1}",
                 {"depth": str(menu.MAX_DEPTH + 1), "limit": str(menu.MAX_DEPTH), "path": DEEP}),
    "loop": (lambda data: nodes(data)["dues"]["choices"].append({"key": 2, "to": "dues"}), check,
             "dues", {"key": "2", "to": "dues", "path": "main → dues → dues"}),
    "overrides_unknown_department": (
        lambda data: data["departments"].update({"999999": {"nodes": {}}}), check, "",
        {"department": "999999"},
    ),
    "unreachable": (own_loose_node, warnings, "centre", {}),
    "unreachable_inherited": (only_first_choice("340000"), warnings, "callback",
                              {"origin": "national"}),
}


def test_every_code_has_a_case_here() -> None:
    assert sorted(CASES) == sorted(PROBLEM_CODES)
    assert len(set(PROBLEM_CODES)) == len(PROBLEM_CODES)


@pytest.mark.parametrize("code", list(CASES))
def test_each_rule_gives_its_code_and_the_values_of_its_message(code: str) -> None:
    change, look, node, params = CASES[code]
    found = look(spec(change))
    assert found, "the rule did not fire"
    first = found[0]
    assert (first.code, first.node, dict(first.params)) == (code, node, params)
    for problem in found:
        assert problem.code in PROBLEM_CODES, problem
        assert all(isinstance(value, str) for value in problem.params.values())
        assert ProblemOut(**problem.as_json()).params == dict(problem.params)


def test_a_generated_prompt_without_audio_says_it_is_text() -> None:
    book = MenuBook.from_spec(spec(), SMALL)
    built = catalog_of(book)
    unbuilt = {k: v for k, v in built.entries.items() if k != "svc.dues.rate"}
    problems = book.problems(Catalog(built.directory, unbuilt))
    assert [(p.code, dict(p.params)) for p in problems] == [
        ("no_audio", {"prompt": "svc.dues.rate", "source": "text"})
    ]


def test_the_english_messages_stay_as_they_were() -> None:
    [nowhere] = check(spec(add_choice(4, "nowhere")))
    assert str(nowhere) == "national main: key 4 leads to nowhere, which does not exist"
    [twice] = check(spec(add_choice(1, "opinions")))
    assert twice.message == "key 1 is used twice: for dues and for opinions"
    [deep] = check(spec(chain(menu.MAX_DEPTH + 1)))
    assert deep.message == f"is 7 levels deep ({DEEP}), more than 6: move it up"
    assert nowhere.as_json() == {
        "department": "national",
        "node": "main",
        "message": "key 4 leads to nowhere, which does not exist",
        "code": "key_leads_nowhere",
        "params": {"key": "4", "to": "nowhere"},
    }


def test_a_problem_made_elsewhere_needs_no_code() -> None:
    problem = Problem("national", "main", "something")
    assert problem.as_json()["code"] == "" and problem.as_json()["params"] == {}
    assert ProblemOut(**problem.as_json()).code == ""


def test_the_web_says_every_code_in_chinese() -> None:
    """labels.js's PROBLEM_TEXTS has an entry per code: a new rule without a
    Chinese sentence would show its English message to the staff."""
    source = LABELS_JS.read_text(encoding="utf-8")
    block = re.search(r"const PROBLEM_TEXTS = \{(.*?)\n\};", source, re.S)
    assert block is not None, "labels.js has no PROBLEM_TEXTS"
    keys = set(re.findall(r"^  (\w+): ", block.group(1), re.M))
    assert keys == set(PROBLEM_CODES)
