"""Whether the menus can be activated: every rule, said next to the node at fault.

The national menu is checked as it is, under `national`. A department's
effective menu is checked when it overrides something, and what it inherits
broken is not said again under its code: the fix belongs where the fault was
brought in, whether that is the national menu, an ancestor or the department.
Messages are for the person editing the menu (issue 6's editor shows them
beside the node), so each says what is wrong and what to do. The messages are
English (the CLI, the log, the API's `message`); each problem also carries a
code from `PROBLEM_CODES` and the values its message is built from, which the
admin web (ivr/admin/static/labels.js) turns into Chinese (`Problem`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from ivr.audio.catalog import Catalog
from ivr.directory.routing import Directory
from ivr.publish.menus import (
    CATEGORIES,
    CHOICE_KEYS,
    MAX_DEPTH,
    MAX_NODES,
    NATIONAL,
    PARENT,
    PROMPTS_USED,
    RESERVED_KEYS,
    SPEAKING_KINDS,
    Menu,
    MenuBook,
    Node,
)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a menu cannot be activated, said next to the node at fault."""

    department: str  # NATIONAL, or a division code
    node: str  # "" for the menu as a whole
    message: str  # English, for the CLI and the log
    # Which rule (PROBLEM_CODES) and the values `message` is built
    # from, so that the admin web can say it in Chinese without parsing English.
    code: str = ""
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __str__(self) -> str:
        where = f"{self.department} {self.node}" if self.node else self.department
        return f"{where}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {
            "department": self.department,
            "node": self.node,
            "message": self.message,
            "code": self.code,
            "params": dict(self.params),
        }


# One per rule; labels.js has a Chinese sentence for each (a test checks).
PROBLEM_CODES = (
    "too_many_nodes",
    "no_root",
    "says_nothing",
    "menu_without_choices",
    "choices_not_menu",
    "key_reserved",
    "not_a_key",
    "key_twice",
    "key_leads_nowhere",
    "unknown_category",
    "department_missing",
    "department_unknown",
    "department_not_transfer",
    "standard_prompt_name",
    "no_audio",
    "old_audio",
    "reached_twice",
    "too_deep",
    "loop",
    "overrides_unknown_department",
    "unreachable",
    "unreachable_inherited",
)


class Say(Protocol):
    """Reports a problem at `node`: its rule, its English message, and the
    values the message is built from."""

    def __call__(self, node: str, code: str, message: str, /, **params: object) -> None: ...


class About(Protocol):
    """`Say` about one node."""

    def __call__(self, code: str, message: str, /, **params: object) -> None: ...


def _problem(
    department: str, node: str, code: str, message: str, /, **params: object
) -> Problem:
    return Problem(department, node, message, code, {k: str(v) for k, v in params.items()})


def check(book: MenuBook, catalog: Catalog | None = None) -> list[Problem]:
    """Every problem of the national menu and of each department's effective menu;
    with `catalog`, also every prompt without audio (or with an older text's)."""

    def problems(menu: Menu, department: str) -> list[Problem]:
        return _menu_problems(menu, department, book.directory, catalog)

    return _each_menu(book, problems, lambda p: (p.node, p.message), _unknown_departments(book))


def unused(book: MenuBook) -> list[Problem]:
    """Nodes no path from the root reaches: not errors (a department may leave
    an inherited node unused), but worth a warning."""

    def found(menu: Menu, department: str) -> list[Problem]:
        return [
            _unused(department, node_id, menu.origin(node_id)) for node_id in menu.unreachable()
        ]

    return _each_menu(book, found, lambda p: p.node, [])


def _unused(department: str, node_id: str, origin: str) -> Problem:
    if origin == department:
        message = "no choice leads here from the root: callers never hear it"
        return _problem(department, node_id, "unreachable", message)
    message = "no choice leads here from the root (inherited but unused)"
    return _problem(department, node_id, "unreachable_inherited", message, origin=origin)


def _unknown_departments(book: MenuBook) -> list[Problem]:
    return [
        _problem(
            code,
            "",
            "overrides_unknown_department",
            "overrides nodes but is not a department in the directory",
            department=code,
        )
        for code in book.overriding()
        if not book.directory.has(code)
    ]


def _each_menu(
    book: MenuBook,
    found: Callable[[Menu, str], list[Problem]],
    same: Callable[[Problem], Hashable],
    first: list[Problem],
) -> list[Problem]:
    """`found` of the national menu, then of each overriding department's menu
    (parents first) less what that department inherits from the nearest above."""
    said = {NATIONAL: found(book.national, NATIONAL)}
    result = [*first, *said[NATIONAL]]
    directory = book.directory
    codes = [code for code in book.overriding() if directory.has(code)]
    for code in sorted(codes, key=lambda code: (len(directory.lineage(code)), code)):
        said[code] = found(book.effective(code), code)
        inherited = {same(problem) for problem in said[_nearest_above(book, code)]}
        result += [problem for problem in said[code] if same(problem) not in inherited]
    return result


def _nearest_above(book: MenuBook, code: str) -> str:
    overriding = set(book.overriding())
    for ancestor in book.directory.lineage(code)[1:]:
        if ancestor.code in overriding:
            return ancestor.code
    return NATIONAL


def _menu_problems(
    menu: Menu, department: str, directory: Directory, catalog: Catalog | None
) -> list[Problem]:
    problems: list[Problem] = []

    def say(node: str, code: str, message: str, /, **params: object) -> None:
        problems.append(_problem(department, node, code, message, **params))

    if len(menu) > MAX_NODES:
        count = len(menu)
        message = f"has {count} nodes, more than {MAX_NODES}: make it smaller"
        say("", "too_many_nodes", message, count=count, limit=MAX_NODES)
    for node in menu:
        _node_problems(node, menu, directory, catalog, say)
    if menu.has(menu.root):
        _tree_problems(menu, say)
    else:
        say(menu.root, "no_root", "is the root, but there is no such node", root=menu.root)
    return problems


def _node_problems(
    node: Node, menu: Menu, directory: Directory, catalog: Catalog | None, say: Say
) -> None:
    def about(code: str, message: str, /, **params: object) -> None:
        say(node.id, code, message, **params)

    kind = node.kind
    if kind in SPEAKING_KINDS and node.prompt_id is None:
        message = f"says nothing: give this {kind} node a text to speak or a recorded prompt"
        about("says_nothing", message, kind=kind)
    if kind == "menu" and not node.spec.choices:
        message = "is a menu without choices: give it at least one (keys 1 to 9)"
        about("menu_without_choices", message)
    if kind != "menu" and node.spec.choices:
        message = f"has choices, but its kind is {kind}: only a menu offers choices"
        about("choices_not_menu", message, kind=kind)
    _key_problems(node, menu, about)
    if node.category is not None and node.category not in CATEGORIES:
        message = f"unknown category {node.category!r}: use one of {', '.join(CATEGORIES)}"
        about("unknown_category", message, category=node.category)
    _department_problems(node, directory, about)
    _prompt_problems(node, catalog, about)


def _department_problems(node: Node, directory: Directory, about: About) -> None:
    department = node.department
    if node.kind == "department":
        if department is None:
            message = f"a department node needs `department`: a division code, or {PARENT}"
            about("department_missing", message)
        elif department != PARENT and not directory.has(department):
            message = f"transfers to department {department}, which is not in the directory"
            about("department_unknown", message, department=department)
    elif department is not None:
        message = f"has `department`, but its kind is {node.kind}: only a department node transfers"
        about("department_not_transfer", message, kind=node.kind, department=department)


def _prompt_problems(node: Node, catalog: Catalog | None, about: About) -> None:
    prompt = node.prompt_id
    generated = node.spec.prompt is None and prompt is not None
    if generated and prompt in PROMPTS_USED:
        message = f"its text would be the prompt {prompt}, a standard prompt: rename the node"
        about("standard_prompt_name", message, prompt=prompt)
    if catalog is None or prompt is None:
        return
    # `source` lets the web tell a lost upload (upload it again) from a text
    # whose speech is not built yet (a job for whoever runs the build).
    source = "text" if generated else "recording"
    if not catalog.has(prompt):
        message = (
            f"has no prompt audio: {prompt} is not among the built prompts "
            "(run `ivr prompts build`, or record it)"
        )
        about("no_audio", message, prompt=prompt, source=source)
    elif generated and catalog.text(prompt) != node.text:
        message = f"its prompt audio {prompt} says an older text: run `ivr prompts build`"
        about("old_audio", message, prompt=prompt)


def _key_problems(node: Node, menu: Menu, about: About) -> None:
    first: dict[str, str] = {}
    for choice in node.spec.choices:
        key, to = choice.key, choice.to
        if key in RESERVED_KEYS:
            message = (
                f"key {key} is reserved: on every level 0 leaves a message, "
                "* goes back and # repeats; use 1 to 9"
            )
            about("key_reserved", message, key=key)
        elif len(key) != 1 or key not in CHOICE_KEYS:
            about("not_a_key", f"{key!r} is not a key: use one digit from 1 to 9", key=key)
        elif key in first:
            message = f"key {key} is used twice: for {first[key]} and for {to}"
            about("key_twice", message, key=key, first=first[key], to=to)
        else:
            first[key] = to
        if not menu.has(to):
            message = f"key {key} leads to {to}, which does not exist"
            about("key_leads_nowhere", message, key=key, to=to)


def _tree_problems(menu: Menu, say: Say) -> None:
    """Loops, nodes reached from two places, and nodes too deep, walking from the
    root in the order a caller meets them (as `Menu` does)."""
    root = menu.root
    reached: dict[str, tuple[str, ...]] = {}
    stack: list[tuple[str, tuple[str, ...], str]] = [(root, (root,), "")]
    while stack:
        node_id, path, key = stack.pop()
        if node_id in reached:
            other = " → ".join(reached[node_id])
            message = (
                f"key {key} leads to {node_id}, which is also reached by {other}: "
                "a menu is a tree, so give each place a node of its own"
            )
            say(path[-2], "reached_twice", message, key=key, to=node_id, path=other)
            continue
        reached[node_id] = path
        if len(path) > MAX_DEPTH:
            shown = " → ".join(path)
            message = f"is {len(path)} levels deep ({shown}), more than {MAX_DEPTH}: move it up"
            say(node_id, "too_deep", message, depth=len(path), limit=MAX_DEPTH, path=shown)
            continue
        onward = []
        for key, target in menu.node(node_id).choices.items():
            if not menu.has(target):
                continue
            if target in path:
                loop = " → ".join((*path, target))
                message = f"key {key} leads back to {target}, a loop ({loop}): * goes back"
                say(node_id, "loop", message, key=key, to=target, path=loop)
            else:
                onward.append((target, (*path, target), key))
        stack.extend(reversed(onward))
