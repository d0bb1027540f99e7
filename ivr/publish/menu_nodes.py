"""One effective menu as the call flow walks it: its nodes (`Node`) and the
tree they make from the root (`Menu`: choices, parents, paths, categories).
`ivr.publish.menus` builds them from the data and re-exports both."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ivr.errors import NotFound
from ivr.publish.menu_spec import Kind, NodeSpec


@dataclass(frozen=True, slots=True)
class Node:
    """A node of an effective menu, as the call flow reads it."""

    id: str
    kind: Kind
    text: str | None
    # What the node says: its `prompt`, else its text's generated id; None
    # for a node that says nothing of its own (the flow plays its kind's default).
    prompt_id: str | None
    choices: Mapping[str, str]  # key -> node id, in the data's order; a repeated key's first
    category: str | None  # None: the category along the path
    department: str | None  # a department node's target: a division code or "parent"
    origin: str  # NATIONAL, or the code of the department whose override this is
    spec: NodeSpec = field(repr=False, compare=False)


class Menu:
    """One department's effective menu (or the national one): nodes by id."""

    def __init__(self, root: str, nodes: Mapping[str, Node]) -> None:
        self.root = root  # the id of the node a caller enters at
        self._nodes = dict(nodes)
        # Parent and category of every node reached from the root, first path first.
        self._parents: dict[str, str | None] = {}
        self._categories: dict[str, str] = {}
        self._order: list[str] = []
        if root in self._nodes:
            self._walk(root)

    def _walk(self, root: str) -> None:
        # Depth first, in key order, as a caller meets them; a node reached twice
        # (a loop, which the check refuses) keeps its first parent.
        stack: list[tuple[str, str | None]] = [(root, None)]
        while stack:
            node_id, parent = stack.pop()
            if node_id in self._parents:
                continue
            node = self._nodes[node_id]
            inherited = self._categories[parent] if parent is not None else ""
            self._parents[node_id] = parent
            self._categories[node_id] = node.category if node.category is not None else inherited
            self._order.append(node_id)
            stack.extend(
                (target, node_id)
                for target in reversed(list(node.choices.values()))
                if target in self._nodes and target not in self._parents
            )

    def node(self, node_id: str) -> Node:
        try:
            return self._nodes[node_id]
        except KeyError:
            raise NotFound(f"no menu node {node_id!r}", node=node_id) from None

    def has(self, node_id: str) -> bool:
        return node_id in self._nodes

    def choice(self, node_id: str, key: str) -> Node | None:
        """The node behind `key` at `node_id`, or None if that key offers nothing."""
        target = self.node(node_id).choices.get(key)
        return self._nodes.get(target) if target is not None else None

    def children(self, node_id: str) -> tuple[tuple[str, Node], ...]:
        """(key, node) of every choice at `node_id` that leads somewhere, in order."""
        node = self.node(node_id)
        return tuple(
            (key, self._nodes[target])
            for key, target in node.choices.items()
            if target in self._nodes
        )

    def parent(self, node_id: str) -> Node | None:
        """Where `*` goes from `node_id`; None at the root (back to the guidance)."""
        parent = self._parents.get(node_id)
        return self._nodes[parent] if parent is not None else None

    def path(self, node_id: str) -> tuple[str, ...]:
        """Node ids from the root to `node_id`; empty if the root does not reach it."""
        if node_id not in self._parents:
            return ()
        found = [node_id]
        while (parent := self._parents[found[-1]]) is not None:
            found.append(parent)
        return tuple(reversed(found))

    def category(self, node_id: str) -> str:
        """The nearest category on the path from the root to `node_id` (itself
        included), or "": what a message left there is filed under."""
        found = self._categories.get(node_id)
        if found is None:  # not reached from the root: its own, if any
            return self.node(node_id).category or ""
        return found

    def origin(self, node_id: str) -> str:
        """NATIONAL, or the code of the department whose override defines the node."""
        return self.node(node_id).origin

    def reachable(self) -> tuple[str, ...]:
        """Node ids reached from the root, in the order a caller meets them."""
        return tuple(self._order)

    def unreachable(self) -> tuple[str, ...]:
        """Nodes no path from the root leads to (inherited but unused), sorted."""
        return tuple(sorted(set(self._nodes) - set(self._parents)))

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def __len__(self) -> int:
        return len(self._nodes)
