"""What the desk needs of the world outside it: a call, and Asterisk.

The desk does not know the controller's `Call` (`ivr.stasis` imports the desk,
never the other way round) nor the ARI client (`ivr.ari` is reached only by
the controller): it declares here what it uses of each, and the controller's
`Call` and `AriClient` satisfy these protocols as they are.

Asterisk may have hung up a channel or destroyed a bridge before we do (the
other side hung up first, or the channel went with its bridge): the client's
`hangup_quietly` and `destroy_bridge` here are the one place each that says
an error then means nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from typing_extensions import TypeVar

from ivr.desk.core import Leg
from ivr.errors import AriError


class QueuedFlow(Protocol):
    """What the desk reads of a call's flow."""

    @property
    def department(self) -> str: ...  # the department the call is at now

    @property
    def queued(self) -> bool: ...  # the call holds a place in its department's line

    @property
    def category(self) -> str: ...  # the menu branch the caller came through, or ""


class QueuedCall(Protocol):
    """A call as the desk sees it: a place in line and an operator's leg."""

    @property
    def call_id(self) -> str: ...  # the caller's channel

    @property
    def caller(self) -> str: ...  # the caller's number as received

    @property
    def entry_id(self) -> str: ...  # its queue entry: its own, or a callback's request

    @property
    def flow(self) -> QueuedFlow: ...

    @property
    def path(self) -> Sequence[tuple[str, str]]: ...  # departments passed: (code, how)

    leg: Leg | None  # the operator being rung or talked to
    offers: int  # operators rung so far


# The controller's own call type, as the desk hands it back (`handle`). A bare
# `Desk` takes any call; `Desk[Call]` has mypy check the controller's calls.
CallT = TypeVar("CallT", bound=QueuedCall, default=Any)


class PhonePush(Protocol):
    """Tell Asterisk a PJSIP object (an operator's endpoint, AOR, auth)."""

    async def push_config(
        self, object_type: str, object_id: str, fields: dict[str, str]
    ) -> None: ...


class PhoneWatch(Protocol):
    """Where operators' phones are: Asterisk's endpoint states, and their changes."""

    async def watch_endpoint(self, technology: str, resource: str) -> None: ...

    async def endpoint_states(self, technology: str = "PJSIP") -> dict[str, str]: ...


class DeskAsterisk(PhonePush, PhoneWatch, Protocol):
    """The ARI commands of an operator's leg and of a callback, and the phones'."""

    async def originate(
        self,
        channel_id: str,
        endpoint: str,
        app_args: str,
        *,
        caller_id: str,
        ring_seconds: float,
    ) -> None: ...

    async def play(self, channel_id: str, playback_id: str, media: list[str]) -> None: ...

    async def hangup_quietly(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up a channel that may be gone already (then nothing happens)."""

    async def create_bridge(self, bridge_id: str) -> None: ...

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None: ...

    async def destroy_bridge(self, bridge_id: str) -> None: ...


async def destroy_bridge(ari: DeskAsterisk, bridge_id: str) -> None:
    """Destroy a bridge that may be gone already: then there is nothing to do."""
    try:
        await ari.destroy_bridge(bridge_id)
    except AriError:
        pass  # already gone
