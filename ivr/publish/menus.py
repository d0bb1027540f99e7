"""The after-hours service menu: a tree of nodes, as data (`routing/menus.yaml`).

Theory of operation: outside working hours a caller who stays on the line
enters their department's service menu (组厅字〔2009〕5号: 非工作时间提供自动语音
应答服务). The national menu offers the seven service categories of 12371,
each with information drawn from the information catalog (信息目录). A
department may override any node by its id (the override replaces the whole
node) or add nodes; what it does not override it inherits from its nearest
ancestor that did, and then from the national menu. `MenuBook.effective`
merges that once per department and caches it: the call flow asks on every call.

Keys 1 to 9 come from the data; `0` (leave a message), `*` (back one level)
and `#` (repeat) are the same on every level, so the data may not use them.
Because `*` goes back to where the caller came from, a menu must be a tree:
every node is reached from the root by exactly one path (`ivr/publish/checks.py`
says so node by node when it is not). A node's text is rendered by the prompt
build under a generated id (`svc.<node>`, or `svc.<code>.<node>` for a
department's override) unless it names a recorded `prompt`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from ivr.audio.catalog import Catalog
from ivr.directory.routing import Directory
from ivr.errors import ConfigError

# Re-exported: the menu's nodes and the file's schema are part of what
# `ivr.publish.menus` offers.
from ivr.publish.menu_nodes import Menu as Menu
from ivr.publish.menu_nodes import Node as Node
from ivr.publish.menu_spec import MAX_NODES as MAX_NODES
from ivr.publish.menu_spec import MAX_TEXT as MAX_TEXT
from ivr.publish.menu_spec import Kind as Kind
from ivr.publish.menu_spec import MenuSpec as MenuSpec
from ivr.publish.menu_spec import NodeSpec as NodeSpec

if TYPE_CHECKING:
    from ivr.publish.checks import Problem

# The seven service categories of 组厅字〔2009〕5号, in its order: menus, cases and
# the report use these ids; "" is a call or case with none (未分类).
CATEGORIES: dict[str, str] = {
    "theory": "党章及理论、路线、方针、政策和决议",
    "relations": "组织关系接转、组织生活、党籍党龄",
    "dues": "党费收缴、使用和管理",
    "rights": "履行义务、保障权利",
    "building": "党的建设其他方面工作",
    "difficulties": "特殊困难和问题",
    "opinions": "情况反映、意见建议",
}
# Menu and info nodes say something of their own; the others act, with defaults.
SPEAKING_KINDS = frozenset({"menu", "info"})
CHOICE_KEYS = "123456789"
KEY_MESSAGE, KEY_BACK, KEY_REPEAT = "0", "*", "#"
RESERVED_KEYS = (KEY_MESSAGE, KEY_BACK, KEY_REPEAT)
NATIONAL = "national"  # the origin of a node the national menu defines
PARENT = "parent"  # a department node's target: the caller's department's parent
PROMPT_PREFIX = "svc."
VERSION_MARK = "@v"
# A caller cannot find their way in a deeper menu (MAX_NODES bounds its size).
MAX_DEPTH = 6  # levels, the root being the first

# Prompt ids the service menu plays besides the nodes' own; prompts/prompts.yaml.
PROMPT_KEYS = "svc.keys"  # after every menu node: 0 message, * back, # repeat
PROMPT_AFTER_INFO = "svc.after_info"  # after an information leaf
PROMPT_ENTER = "svc.enter"  # on entering the service menu
PROMPT_CALLBACK_UNAVAILABLE = "svc.callback_unavailable"  # no number to call back
PROMPT_CALLBACK_REGISTERED = "svc.callback_registered"
PROMPT_TRANSFER = "svc.transfer"  # before a department or queue node's transfer
PROMPT_QUEUE_CLOSED = "svc.queue_closed"  # a queue node outside working hours
PROMPT_TOO_MANY = "svc.too_many"  # third invalid turn: then the message box
PROMPT_NO_INPUT_END = "svc.no_input_end"  # third silent turn: then goodbye
PROMPTS_USED = (
    PROMPT_KEYS,
    PROMPT_AFTER_INFO,
    PROMPT_ENTER,
    PROMPT_CALLBACK_UNAVAILABLE,
    PROMPT_CALLBACK_REGISTERED,
    PROMPT_TRANSFER,
    PROMPT_QUEUE_CLOSED,
    PROMPT_TOO_MANY,
    PROMPT_NO_INPUT_END,
)


def generated_prompt_id(node_id: str, origin: str = NATIONAL) -> str:
    """The id under which the build renders a node's text."""
    if origin == NATIONAL:
        return f"{PROMPT_PREFIX}{node_id}"
    return f"{PROMPT_PREFIX}{origin}.{node_id}"


def versioned_prompt_id(prompt_id: str, version: int | None) -> str:
    """A published version's rendering of a generated prompt: `svc.main@v3`.
    Each version has its own id, so a call that entered the menu before a
    publication goes on hearing the texts of the version it started with."""
    return prompt_id if version is None else f"{prompt_id}{VERSION_MARK}{version}"


def _node(node_id: str, spec: NodeSpec, origin: str, version: int | None = None) -> Node:
    prompt_id = spec.prompt
    if prompt_id is None and spec.text is not None:
        prompt_id = versioned_prompt_id(generated_prompt_id(node_id, origin), version)
    choices: dict[str, str] = {}
    for choice in spec.choices if spec.kind == "menu" else ():  # the others cannot offer any
        choices.setdefault(choice.key, choice.to)
    return Node(
        node_id,
        spec.kind,
        spec.text,
        prompt_id,
        MappingProxyType(choices),
        spec.category,
        spec.department,
        origin,
        spec,
    )


class MenuBook:
    """The national menu and every department's overrides, against a directory."""

    def __init__(
        self, spec: MenuSpec, directory: Directory, versions: Mapping[str, int] | None = None
    ) -> None:
        """`versions`: the published version of each scope (NATIONAL or a code)
        whose texts are rendered under versioned prompt ids; a scope not in it
        (a file's menus, a draft) uses the plain generated ids."""
        self.spec = spec
        self.directory = directory
        self.versions = dict(versions or {})
        self._overrides = {
            code: {
                node_id: _node(node_id, node, code, self.versions.get(code))
                for node_id, node in dept.nodes.items()
            }
            for code, dept in spec.departments.items()
        }
        version = self.versions.get(NATIONAL)
        national = {
            node_id: _node(node_id, node, NATIONAL, version)
            for node_id, node in spec.national.nodes.items()
        }
        self.national = Menu(spec.national.root, national)
        self._cache: dict[str, Menu] = {}

    @classmethod
    def from_spec(
        cls, spec: MenuSpec | Any, directory: Directory, versions: Mapping[str, int] | None = None
    ) -> MenuBook:
        """A book from parsed data (a file's, or versions stored in the database);
        pydantic's ValidationError if the data is not shaped like a menu file."""
        parsed = spec if isinstance(spec, MenuSpec) else MenuSpec.model_validate(spec)
        return cls(parsed, directory, versions)

    def overriding(self) -> tuple[str, ...]:
        """Codes of the departments with overrides of their own, as written."""
        return tuple(self._overrides)

    def effective(self, code: str) -> Menu:
        """Department `code`'s menu: the national nodes, each ancestor's overrides
        from the top down, then its own. NotFound for a code not in the directory."""
        menu = self._cache.get(code)
        if menu is None:
            lineage = [d.code for d in reversed(self.directory.lineage(code))]
            layers = [ancestor for ancestor in lineage if ancestor in self._overrides]
            if not layers:
                menu = self.national
            elif layers[-1] != code:
                menu = self.effective(layers[-1])  # shared with the nearest that overrides
            else:
                nodes = {node.id: node for node in self.national}
                for ancestor in layers:
                    nodes.update(self._overrides[ancestor])
                menu = Menu(self.spec.national.root, nodes)
            self._cache[code] = menu
        return menu

    def prompt_texts(self) -> dict[str, str]:
        """Every text the build renders, by its generated prompt id."""
        texts = {
            node.prompt_id: node.text
            for node in self.national
            if node.spec.prompt is None and node.prompt_id and node.text
        }
        for overrides in self._overrides.values():
            for node in overrides.values():
                if node.spec.prompt is None and node.prompt_id and node.text:
                    texts[node.prompt_id] = node.text
        return texts

    def problems(self, catalog: Catalog | None = None) -> list[Problem]:
        """Everything that stops the menus being activated; see ivr/publish/checks.py."""
        from ivr.publish.checks import check

        return check(self, catalog)


def read(path: Path, directory: Directory) -> MenuBook:
    """The menus of `path`, parsed but not checked (what the prompt build needs)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", path=str(path)) from exc
    try:
        return MenuBook.from_spec(data, directory)
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"{path}: {errors}", path=str(path)) from None


def load(path: Path, directory: Directory, catalog: Catalog | None = None) -> MenuBook:
    """The menus of `path`, checked against the directory and, if given, the built
    prompts; a ConfigError listing every problem if they cannot be activated."""
    book = read(path, directory)
    found = book.problems(catalog)
    if found:
        listing = "\n".join(f"  {problem}" for problem in found)
        raise ConfigError(
            f"{path}: the menu cannot be activated "
            f"({len(found)} problem{'s' if len(found) != 1 else ''}):\n{listing}",
            path=str(path),
            problems=[problem.as_json() for problem in found],
        )
    return book
