"""Whether the menus can be activated: every rule, said next to the node at fault.

The national menu is checked as it is, under `national`. A department's
effective menu is checked when it overrides something, and what it inherits
broken is not said again under its code: the fix belongs where the fault was
brought in, whether that is the national menu, an ancestor or the department.
Messages are for the person editing the menu (issue 6's editor shows them
beside the node), so each says what is wrong and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

from ivr.catalog import Catalog
from ivr.directory import Directory
from ivr.menu import (
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
    Problem,
)

Say = Callable[[str, str], None]  # (node, message)


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
            Problem(department, node_id, _unused_message(menu.origin(node_id), department))
            for node_id in menu.unreachable()
        ]

    return _each_menu(book, found, lambda p: p.node, [])


def _unused_message(origin: str, department: str) -> str:
    if origin == department:
        return "no choice leads here from the root: callers never hear it"
    return "no choice leads here from the root (inherited but unused)"


def _unknown_departments(book: MenuBook) -> list[Problem]:
    return [
        Problem(code, "", "overrides nodes but is not a department in the directory")
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

    def say(node: str, message: str) -> None:
        problems.append(Problem(department, node, message))

    if len(menu) > MAX_NODES:
        say("", f"has {len(menu)} nodes, more than {MAX_NODES}: make it smaller")
    for node in menu:
        _node_problems(node, menu, directory, catalog, say)
    if menu.has(menu.root):
        _tree_problems(menu, say)
    else:
        say(menu.root, "is the root, but there is no such node")
    return problems


def _node_problems(
    node: Node, menu: Menu, directory: Directory, catalog: Catalog | None, say: Say
) -> None:
    def about(message: str) -> None:
        say(node.id, message)

    if node.kind in SPEAKING_KINDS and node.prompt_id is None:
        about(f"says nothing: give this {node.kind} node a text to speak or a recorded prompt")
    if node.kind == "menu" and not node.spec.choices:
        about("is a menu without choices: give it at least one (keys 1 to 9)")
    if node.kind != "menu" and node.spec.choices:
        about(f"has choices, but its kind is {node.kind}: only a menu offers choices")
    for message in _key_problems(node, menu):
        about(message)
    if node.category is not None and node.category not in CATEGORIES:
        about(f"unknown category {node.category!r}: use one of {', '.join(CATEGORIES)}")
    if node.kind == "department":
        if node.department is None:
            about(f"a department node needs `department`: a division code, or {PARENT}")
        elif node.department != PARENT and not directory.has(node.department):
            about(f"transfers to department {node.department}, which is not in the directory")
    elif node.department is not None:
        about(f"has `department`, but its kind is {node.kind}: only a department node transfers")
    generated = node.spec.prompt is None and node.prompt_id is not None
    if generated and node.prompt_id in PROMPTS_USED:
        about(f"its text would be the prompt {node.prompt_id}, a standard prompt: rename the node")
    if catalog is not None and node.prompt_id is not None:
        if not catalog.has(node.prompt_id):
            about(
                f"has no prompt audio: {node.prompt_id} is not among the built prompts "
                "(run `ivr prompts build`, or record it)"
            )
        elif generated and catalog.text(node.prompt_id) != node.text:
            about(f"its prompt audio {node.prompt_id} says an older text: run `ivr prompts build`")


def _key_problems(node: Node, menu: Menu) -> Iterable[str]:
    first: dict[str, str] = {}
    for choice in node.spec.choices:
        key = choice.key
        if key in RESERVED_KEYS:
            yield (
                f"key {key} is reserved: on every level 0 leaves a message, "
                "* goes back and # repeats; use 1 to 9"
            )
        elif len(key) != 1 or key not in CHOICE_KEYS:
            yield f"{key!r} is not a key: use one digit from 1 to 9"
        elif key in first:
            yield f"key {key} is used twice: for {first[key]} and for {choice.to}"
        else:
            first[key] = choice.to
        if not menu.has(choice.to):
            yield f"key {key} leads to {choice.to}, which does not exist"


def _tree_problems(menu: Menu, say: Say) -> None:
    """Loops, nodes reached from two places, and nodes too deep, walking from the
    root in the order a caller meets them (as `Menu` does)."""
    root = menu.root
    reached: dict[str, tuple[str, ...]] = {}
    stack: list[tuple[str, tuple[str, ...], str]] = [(root, (root,), "")]
    while stack:
        node_id, path, key = stack.pop()
        if node_id in reached:
            say(
                path[-2],
                f"key {key} leads to {node_id}, which is also reached by "
                f"{' → '.join(reached[node_id])}: a menu is a tree, so give each place "
                "a node of its own",
            )
            continue
        reached[node_id] = path
        if len(path) > MAX_DEPTH:
            say(
                node_id,
                f"is {len(path)} levels deep ({' → '.join(path)}), "
                f"more than {MAX_DEPTH}: move it up",
            )
            continue
        onward = []
        for key, target in menu.node(node_id).choices.items():
            if not menu.has(target):
                continue
            if target in path:
                loop = " → ".join((*path, target))
                say(node_id, f"key {key} leads back to {target}, a loop ({loop}): * goes back")
            else:
                onward.append((target, (*path, target), key))
        stack.extend(reversed(onward))
