"""Every Asterisk one controller process serves, seen as one.

A controller connects to each Asterisk of its cluster (`Settings.asterisks`)
and runs one `Controller` per connection: a call lives on one Asterisk, and
everything about it (its channel, its prompts, its operator's leg) goes
through that Asterisk's connection. What the rest of the process sees is
the fleet: the calls of all of them, which Asterisks are connected, a case's
recording from whichever Asterisk keeps it, a publication put in force on
all of them. With one Asterisk the fleet is that one controller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ivr.ari.client import AriClient, Keepers
from ivr.publish.in_force import Published
from ivr.stasis.calls import Call
from ivr.stasis.controller import Controller


@dataclass
class Node:
    """One Asterisk's connection and the controller carrying its calls (of
    one Stasis application: this process's own, or one it took over)."""

    ari: AriClient  # entered (`__aenter__`) by whoever made the node
    controller: Controller
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)

    @property
    def app(self) -> str:
        return self.ari.settings.ari_app

    @property
    def name(self) -> str:
        return self.ari.settings.node_name

    def start(self) -> None:
        """Connect for events (taking back the application's calls on every
        connect) and run the operator queue's dispatcher."""
        self._tasks = [
            asyncio.create_task(
                self.ari.run_events(self.controller.recover, self.controller.on_event),
                name=f"ari-events {self.name}",
            ),
            asyncio.create_task(self.controller.desk.run(), name=f"queue-dispatcher {self.name}"),
            asyncio.create_task(
                self.controller.watch_asterisk(), name=f"watch {self.name}"
            ),
        ]

    async def stop(self) -> None:
        """Stop serving: the calls stay in Stasis for whoever serves the
        application next (this process again, or another)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.controller.close()
        await self.ari.__aexit__(None, None, None)


class Fleet:
    """The nodes of every application this process serves now."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []

    def add(self, nodes: list[Node]) -> None:
        self.nodes.extend(nodes)

    def remove(self, app: str) -> list[Node]:
        """Take `app`'s nodes out (the caller stops them)."""
        gone = [node for node in self.nodes if node.app == app]
        self.nodes = [node for node in self.nodes if node.app != app]
        return gone

    @property
    def calls(self) -> Mapping[str, Call]:
        """The calls in progress on every Asterisk, by id."""
        return _AllCalls([node.controller.calls for node in self.nodes])

    @property
    def connections(self) -> dict[str, bool]:
        merged: dict[str, bool] = {}
        for node in self.nodes:
            merged.update(node.ari.connections)
        return merged

    async def stored_recording_file(self, name: str) -> bytes:
        """A recording from whichever Asterisk keeps it (names are unique:
        they carry the channel's id)."""
        return await self._keepers().stored_recording_file(name)

    async def delete_stored_recording(self, name: str) -> None:
        """Delete a recording from whichever Asterisk keeps it: 404 only when
        every Asterisk answered that it has none."""
        await self._keepers().delete_stored_recording(name)

    def _keepers(self) -> Keepers:
        return Keepers([node.ari for node in self.nodes])  # the nodes served now

    def publish(self, published: Published) -> None:
        for node in self.nodes:
            node.controller.publish(published)


class _AllCalls(Mapping[str, Call]):
    """Several controllers' calls as one mapping (a call is on one Asterisk)."""

    def __init__(self, parts: list[Mapping[str, Call]]) -> None:
        self._parts = parts

    def __getitem__(self, call_id: str) -> Call:
        for part in self._parts:
            if call_id in part:
                return part[call_id]
        raise KeyError(call_id)

    def __iter__(self) -> Iterator[str]:
        for part in self._parts:
            yield from part

    def __len__(self) -> int:
        return sum(len(part) for part in self._parts)
