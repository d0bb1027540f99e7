"""Every menu page a caller can reach, and how long each lasts (issue 14).

A position is where the caller stands while choosing: the call's snapshot
(its menu, region, page and service node tell positions apart) and the `Play`
the flow issued on arriving there. From each position the caller may press
any of 0-9, * and #, or press nothing (the page ends, the digit timer fires);
each move is fed to a flow restored from the position's snapshot. A key the
menu does not offer, and silence that only says the same page again, lead
nowhere new. A move that reaches another department (measured on its own),
or starts a message, a callback or the queue, ends the walk there.

The region menu (`regions`) is the same from every department, and a service
menu (`service`) the same for every department that has that effective menu:
their positions are walked once, in a group shared by every department that
reaches them. A department's pages are its own and those of its service
menu; the region menu's are reported once. The `Play` at an information node
is an information item, not a page.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

from benchmarks.prompt_timing import World
from ivr.call.flow import (
    CallFlow,
    Command,
    Ended,
    Hangup,
    JoinQueue,
    KeyPressed,
    Play,
    PlaybackEnded,
    RecordMessage,
    RegisterCallback,
    RequestCallback,
    Service,
    Started,
    StartTimer,
    State,
    TimerFired,
)

# The flow's names of the menus shared between departments (`MenuKind`).
REGIONS = "regions"
SERVICE = "service"
SILENCE = "silence"  # a move: the caller lets the page end and presses nothing
MOVES = (*"0123456789*#", SILENCE)
# What starts something other than a menu: the walk stops there.
STARTS = (JoinQueue, RecordMessage, RegisterCallback, RequestCallback, Hangup, Ended)

GroupKey = tuple[Hashable, ...]


@dataclass(frozen=True)
class Position:
    snapshot: dict[str, Any]
    prompts: tuple[str, ...]

    @property
    def place(self) -> tuple[str, str, str, int, str]:
        s = self.snapshot
        return s["department"], s["menu"], s["region"], s["page"], s["node"]

    @property
    def key(self) -> Hashable:
        """Positions apart: where the caller is, and what was said on arriving."""
        return (*self.place[1:], self.prompts)

    def where(self) -> str:
        """Where a page is said, for people: `guidance page 2`, `regions 340000`, `service dues`."""
        _, menu, region, page, node = self.place
        if menu == SERVICE:  # its levels have no pages (the snapshot keeps the last one)
            return f"{menu} {node}"
        if menu == REGIONS:
            menu = f"{menu} {region or 'provinces'}"
        return menu + (f" page {page + 1}" if page else "")


@dataclass(frozen=True)
class Page:
    where: str
    seconds: float
    prompts: tuple[str, ...]


@dataclass
class Group:
    """Positions shared by departments (the region menu, a service menu), walked once."""

    seen: set[Hashable] = field(default_factory=set)
    pages: list[Page] = field(default_factory=list)
    info: list[Page] = field(default_factory=list)


@dataclass(frozen=True)
class Reach:
    """What a caller at one department can hear while choosing."""

    pages: list[Page]  # the department's own
    groups: frozenset[GroupKey]  # the shared groups it reaches


class Explorer:
    """Walks the menus of the departments for one service, sharing the groups."""

    def __init__(self, world: World, service: Service) -> None:
        self.world = world
        self.service = service
        self.groups: dict[GroupKey, Group] = {}
        # The menus named by id in group keys, kept so that no id is reused.
        self._menus_kept: dict[int, object] = {}

    def department(self, code: str) -> Reach:
        flow = self.world.call(code, self.service)
        start = self._landed(flow, flow.handle(Started()), code)
        if start is None:
            return Reach([], frozenset())
        seen: set[Hashable] = {start.key}
        pages, groups, todo = [], set(), [start]
        while todo:
            position = todo.pop()
            pages.append(self._page(position))
            for found in self._moves(position):
                group = self._group(found)
                if group is not None:
                    groups.add(group)
                    self._walk_group(group, found)
                elif found.key not in seen:
                    seen.add(found.key)
                    todo.append(found)
        return Reach(pages, frozenset(groups))

    def longest_page(self, reach: Reach) -> Page | None:
        """The department's own pages and those of its service menu."""
        shared = [p for g in reach.groups if g[0] == SERVICE for p in self.groups[g].pages]
        return max([*reach.pages, *shared], key=lambda p: p.seconds, default=None)

    def longest_info(self, reach: Reach) -> Page | None:
        items = [p for g in reach.groups for p in self.groups[g].info]
        return max(items, key=lambda p: p.seconds, default=None)

    def region_pages(self) -> list[Page]:
        return [p for key, g in self.groups.items() if key[0] == REGIONS for p in g.pages]

    # -- walking ---------------------------------------------------------------------

    def _walk_group(self, key: GroupKey, entry: Position) -> None:
        """Every position of the group reached from `entry` not walked yet, and
        of the other groups reached from there."""
        todo: list[tuple[GroupKey, Position]] = []
        self._enqueue(key, entry, todo)
        while todo:
            key, position = todo.pop()
            group = self.groups[key]
            page = self._page(position)
            (group.info if self._is_info(position) else group.pages).append(page)
            for found in self._moves(position):
                other = self._group(found)
                if other is not None:  # else back at a department's page: walked with it
                    self._enqueue(other, found, todo)

    def _enqueue(
        self, key: GroupKey, position: Position, todo: list[tuple[GroupKey, Position]]
    ) -> None:
        group = self.groups.setdefault(key, Group())
        if position.key not in group.seen:
            group.seen.add(position.key)
            todo.append((key, position))

    def _moves(self, position: Position) -> Iterator[Position]:
        home = position.place[0]
        for move in MOVES:
            flow = self.world.restore(position.snapshot, self.service)
            if move == SILENCE:
                commands = self._silent(flow, position)
            else:
                commands = flow.handle(KeyPressed(move))
                if flow.invalid:
                    continue  # a key this menu does not offer
            found = self._landed(flow, commands, home)
            if found is not None and found.key != position.key:
                yield found

    def _silent(self, flow: CallFlow, position: Position) -> list[Command]:
        """The page ends and the timer fires, until the call moves on from the
        position (the page said again after "no key" is the same position);
        nothing if it never does."""
        for _ in range(self.world.config.max_silences + self.world.config.max_invalid):
            if flow.playback_id is None:
                return []
            ended = flow.handle(PlaybackEnded(flow.playback_id, "done"))
            timers = [c for c in ended if isinstance(c, StartTimer)]
            if not timers:
                return ended
            commands = flow.handle(TimerFired(timers[-1].timer_id))
            moved = Position(flow.snapshot(), ()).place != position.place
            if moved or self._stopped(flow, commands):
                return commands
        return []

    def _landed(self, flow: CallFlow, commands: list[Command], home: str) -> Position | None:
        """Where a move left the caller, if at a menu of the same department."""
        if flow.department != home or self._stopped(flow, commands):
            return None
        play = [c for c in commands if isinstance(c, Play)]
        if not play:
            return None
        return Position(flow.snapshot(), play[-1].prompts)

    @staticmethod
    def _stopped(flow: CallFlow, commands: list[Command]) -> bool:
        return flow.state is not State.PROMPTING or any(isinstance(c, STARTS) for c in commands)

    def _group(self, position: Position) -> GroupKey | None:
        code, menu = position.place[:2]
        if menu == REGIONS:
            return (REGIONS,)
        if menu == SERVICE and self.world.menus is not None:
            service_menu = self.world.menus(code)
            self._menus_kept.setdefault(id(service_menu), service_menu)
            return (SERVICE, id(service_menu))
        return None

    def _is_info(self, position: Position) -> bool:
        code, menu, _, _, node = position.place
        menus = self.world.menus
        return menu == SERVICE and menus is not None and menus(code).node(node).kind == "info"

    def _page(self, position: Position) -> Page:
        seconds = self.world.clips.seconds(position.prompts)
        return Page(position.where(), seconds, position.prompts)

