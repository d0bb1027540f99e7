"""`ivr menu check|show`: the after-hours service menus from the command line.

- `check [--json]` checks the menus file (routing/menus.yaml, or
  IVR_MENUS_FILE) against the database's directory and, once the prompts are
  built, against the built prompts: every problem as `DEPT node: message`,
  then a summary; exit 1 if the menus cannot be activated;
- `show DEPT [--json]` is a department's effective menu as a tree: each
  node's key, id, kind, category and text, and whether it is inherited (from
  the national menu or an ancestor) or defined by the department itself.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ivr.audio.catalog import Catalog
from ivr.errors import ConfigError
from ivr.publish import menus as menu
from ivr.publish.checks import unused
from ivr.publish.menus import NATIONAL, MenuBook, Node
from ivr.settings import Settings

NATIONAL_NAME = "全国"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `menu` command and its actions, on the `ivr` subparsers `sub`."""
    menus = sub.add_parser("menu", help="the after-hours service menus: check, show")
    actions = menus.add_subparsers(required=True, metavar="ACTION")
    check = actions.add_parser("check", help="whether the menus file can be activated")
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=_check)
    show = actions.add_parser("show", help="a department's effective menu, as a tree")
    show.add_argument("department", help=f"division code, e.g. 340100, or {NATIONAL}")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)


def _book(settings: Settings) -> MenuBook:
    from ivr.cli.serve import load_directory

    return menu.read(settings.menus_file, load_directory(settings))


def _check(settings: Settings, args: argparse.Namespace) -> int:
    book = _book(settings)
    try:
        catalog: Catalog | None = Catalog.load(settings.prompt_build_dir)
    except ConfigError:
        catalog = None  # not built here: the audio is checked when it is
    report = check_report(book, catalog, settings.menus_file)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else check_text(report))
    return 0 if report["ok"] else 1


def check_report(book: MenuBook, catalog: Catalog | None, path: Path) -> dict[str, Any]:
    problems = book.problems(catalog)
    return {
        "file": str(path),
        "ok": not problems,
        "problems": [problem.as_json() for problem in problems],
        "warnings": [problem.as_json() for problem in unused(book)],
        "national_nodes": len(book.national),
        "departments": len(book.overriding()),
        "department_nodes": sum(len(dept.nodes) for dept in book.spec.departments.values()),
        "audio_checked": catalog is not None,
    }


def check_text(report: dict[str, Any]) -> str:
    lines = [_line(problem) for problem in report["problems"]]
    lines += [f"warning: {_line(warning)}" for warning in report["warnings"]]
    audio = (
        "prompt audio checked"
        if report["audio_checked"]
        else "prompt audio not checked (no prompts built: run `ivr prompts build`)"
    )
    if report["ok"]:
        lines.append(
            f"{report['file']}: OK: national menu {report['national_nodes']} nodes, "
            f"{report['departments']} departments override {report['department_nodes']} "
            f"nodes; {audio}"
        )
    else:
        count = len(report["problems"])
        lines.append(
            f"{report['file']}: {count} problem{'s' if count != 1 else ''}: "
            f"the menus cannot be activated; {audio}"
        )
    return "\n".join(lines)


def _line(problem: dict[str, str]) -> str:
    node = f" {problem['node']}" if problem["node"] else ""
    return f"{problem['department']}{node}: {problem['message']}"


def _show(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.cli.serve import load_directory
    from ivr.publish.in_force import read_in_force

    # What callers hear: the published versions, once a controller started on
    # this database; before that, the file.
    published = read_in_force(settings.database_url, load_directory(settings))
    book = published[0] if published is not None else _book(settings)
    tree = show_tree(book, args.department)
    print(json.dumps(tree, ensure_ascii=False, indent=2) if args.json else show_text(tree))
    return 0


def show_tree(book: MenuBook, code: str) -> dict[str, Any]:
    """A department's effective menu (or the national one) as nested data."""
    if code == NATIONAL:
        found, name, above = book.national, NATIONAL_NAME, None
    else:
        department = book.directory.by_code(code)
        found, name = book.effective(code), department.name
        parent = department.parent
        above = book.effective(parent) if parent is not None else book.national
    lineage = book.directory.lineage(code) if above is not None else ()
    names = {d.code: d.short_name for d in lineage}

    def where(node: Node) -> str:
        if above is None:
            return "national menu"
        if node.origin == code:
            return "overridden here" if above.has(node.id) else "added here"
        return f"inherited from {names.get(node.origin, NATIONAL_NAME)}"

    def branch(key: str, node: Node, depth: int, seen: set[str]) -> dict[str, Any]:
        seen.add(node.id)
        children = [
            branch(k, child, depth + 1, seen)
            for k, child in found.children(node.id)
            if child.id not in seen and depth < menu.MAX_DEPTH
        ]
        return {
            "key": key,
            "id": node.id,
            "kind": node.kind,
            "category": found.category(node.id),
            "text": node.text,
            "prompt_id": node.prompt_id,
            "department": node.department,
            "origin": node.origin,
            "where": where(node),
            "children": children,
        }

    root = branch("", found.node(found.root), 1, set()) if found.has(found.root) else None
    return {
        "department": code,
        "name": name,
        "nodes": len(found),
        "root": root,
        "unreachable": [
            {"id": node_id, "where": where(found.node(node_id))}
            for node_id in found.unreachable()
        ],
    }


def show_text(tree: dict[str, Any]) -> str:
    lines = [f"{tree['name']} ({tree['department']}): service menu, {tree['nodes']} nodes"]
    if tree["root"] is None:
        lines.append("(no root node)")
    else:
        _show_branch(tree["root"], 0, lines)
    for node in tree["unreachable"]:
        lines.append(f"not reached from the root: {node['id']} ({node['where']})")
    return "\n".join(lines)


def _show_branch(node: dict[str, Any], depth: int, lines: list[str]) -> None:
    parts = [f"{'  ' * depth}{node['key'] + ' ' if node['key'] else ''}{node['id']}", node["kind"]]
    if node["category"]:
        parts.append(f"[{node['category']}]")
    if node["department"]:
        parts.append(f"-> {node['department']}")
    if node["text"]:
        parts.append(f"“{node['text']}”")
    elif node["prompt_id"]:
        parts.append(f"prompt {node['prompt_id']}")
    parts.append(f"({node['where']})")
    lines.append("  ".join(parts))
    for child in node["children"]:
        _show_branch(child, depth + 1, lines)

