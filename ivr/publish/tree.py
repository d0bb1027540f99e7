"""A scope's menu as the admin page draws it: node by node, from the root
down, then the nodes no path reaches, each saying where it comes from."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ivr.audio.catalog import Catalog
from ivr.publish.menus import NATIONAL, Menu, MenuBook, Node


class TreeNode(BaseModel):
    id: str
    key: str  # the key that leads here from `parent`; "" at the root and unreachable nodes
    depth: int  # 0 at the root; -1: no path from the root reaches it
    parent: str | None
    kind: str
    text: str | None
    prompt: str | None  # a recording's id, if the node plays one
    prompt_id: str | None  # what the node plays
    category: str | None
    department: str | None
    origin: str  # "national" or the code of the department that defines it
    here: bool  # defined by this scope
    overridden: bool  # defined here and above: this scope changed it
    audio_url: str | None
    spec: dict[str, Any]  # the node as its origin wrote it (what an override starts from)


def tree(book: MenuBook, shown: Menu, scope: str, own: Any, catalog: Catalog) -> list[TreeNode]:
    """`shown` (the scope's menu in `book`), its own nodes being `own`'s."""
    mine = set(own.get("nodes", {}))
    above = _above(book, scope)
    found = []
    for node_id in shown.reachable():
        parent = shown.parent(node_id)
        key = ""
        if parent is not None:
            key = next(k for k, to in parent.choices.items() if to == node_id)
        found.append(_tree_node(shown, node_id, key, parent, mine, above, catalog))
    for node_id in shown.unreachable():
        found.append(_tree_node(shown, node_id, "", None, mine, above, catalog))
    return found


def _tree_node(
    shown: Menu,
    node_id: str,
    key: str,
    parent: Node | None,
    mine: set[str],
    above: Menu | None,
    catalog: Catalog,
) -> TreeNode:
    node = shown.node(node_id)
    path = shown.path(node_id)
    audio_url = None
    if node.prompt_id and catalog.has(node.prompt_id):
        audio_url = f"/api/prompts/{node.prompt_id}/audio"
    return TreeNode(
        id=node_id,
        key=key,
        depth=len(path) - 1 if path else -1,
        parent=parent.id if parent else None,
        kind=node.kind,
        text=node.text,
        prompt=node.spec.prompt,
        prompt_id=node.prompt_id,
        category=node.category,
        department=node.department,
        origin=node.origin,
        here=node_id in mine,
        overridden=node_id in mine and above is not None and above.has(node_id),
        audio_url=audio_url,
        spec=node.spec.model_dump(mode="json", exclude_none=True),
    )


def _above(book: MenuBook, scope: str) -> Menu | None:
    """The menu `scope` would have without its own overrides."""
    if scope == NATIONAL:
        return None
    lineage = book.directory.lineage(scope)
    if len(lineage) < 2:
        return book.national
    return book.effective(lineage[1].code)
