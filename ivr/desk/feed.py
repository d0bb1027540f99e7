"""The desk feed: what an operator's screen shows of the call ringing them.

Theory of operation: the desk publishes, per operator, each moment of an
offered call (`ringing` when their phone is offered it, `connected` when
they are bridged, `ended` after the talk, `missed` when it rang out or the
caller left first) with what the caller went through: the number, the
department and the departments the call passed on its way, the menu branch
(category) and when it began to ring. Anyone may subscribe to one operator's
events (the admin web's `GET /api/operator/feed`, one per open page).

A call never waits for a screen: `publish` only puts the event in each
subscriber's own bounded queue, and a subscriber too slow to keep up loses
its oldest events, not the call its time.

With several controllers on one PostgreSQL an operator's page is open on
one of them, and the call may be offered by another: `relay_through` then
sends every event through the database (`ivr.db.notify`) and each
controller `receive`s every one, its own included, for its own pages. Alone
(SQLite, or no relay), events go straight to this process's pages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

log = logging.getLogger(__name__)

FeedKind = Literal["ringing", "connected", "ended", "missed"]
# Events a subscriber may fall behind by before the oldest are dropped: a
# screen needs the last few moments of a call, never a backlog.
DEFAULT_QUEUE_SIZE = 32


@dataclass(frozen=True)
class PathStep:
    """A department the call passed through, and how it got there (routed, chosen, ...)."""

    code: str
    name: str
    how: str


@dataclass(frozen=True)
class FeedCall:
    """What an operator is told of the call offered to them."""

    call_id: str
    caller: str
    department: str
    department_name: str
    path: tuple[PathStep, ...]
    category: str  # the menu branch ("" if none)
    category_name: str
    ringing_at: datetime  # when the offer rang the operator's phone


@dataclass(frozen=True)
class FeedEvent:
    kind: FeedKind
    operator: str
    call: FeedCall
    at: datetime  # when the desk published it
    node: str  # the controller that offered the call

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        data["call"]["ringing_at"] = self.call.ringing_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeedEvent:
        """An event as `as_json` wrote it (another controller's, relayed)."""
        call = dict(data["call"])
        kind = data["kind"]
        if kind not in get_args(FeedKind):
            raise ValueError(f"no feed event kind {kind!r}")
        return cls(
            kind=kind,
            operator=str(data["operator"]),
            call=FeedCall(
                call_id=str(call["call_id"]),
                caller=str(call["caller"]),
                department=str(call["department"]),
                department_name=str(call["department_name"]),
                path=tuple(PathStep(**step) for step in call["path"]),
                category=str(call["category"]),
                category_name=str(call["category_name"]),
                ringing_at=datetime.fromisoformat(call["ringing_at"]),
            ),
            at=datetime.fromisoformat(data["at"]),
            node=str(data["node"]),
        )


@dataclass(eq=False)
class Subscription:
    """One subscriber's events for one operator, in order, oldest dropped first."""

    operator: str
    size: int = DEFAULT_QUEUE_SIZE
    dropped: int = 0  # events lost because the subscriber fell behind
    closed: bool = False  # the feed closed (the server stops): no more events
    _queue: asyncio.Queue[FeedEvent | None] = field(init=False)

    def __post_init__(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.size)

    def put(self, event: FeedEvent | None) -> None:
        """Never blocks: a full queue gives up its oldest event."""
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    def close(self) -> None:
        self.closed = True
        self.put(None)  # wakes a `get` that waits

    async def get(self, wait_s: float | None = None) -> FeedEvent | None:
        """The next event; None if none came within `wait_s` seconds, or closed."""
        if self.closed:
            return None
        try:
            async with asyncio.timeout(wait_s):
                return await self._queue.get()
        except TimeoutError:
            return None

    def pending(self) -> int:
        return self._queue.qsize()


class DeskFeed:
    """Fan-out of the desk's events to each operator's subscribers."""

    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[Subscription]] = {}
        self._relay: Callable[[str], None] | None = None

    def relay_through(self, send: Callable[[str], None] | None) -> None:
        """Publish through `send` (every controller's `receive` gets it), or,
        with None, straight to this process's subscribers."""
        self._relay = send

    @property
    def relayed(self) -> bool:
        """Whether every controller's events reach this one's pages."""
        return self._relay is not None

    def receive(self, payload: str) -> None:
        """An event relayed by a controller (this one too): to the subscribers here."""
        try:
            event = FeedEvent.from_json(json.loads(payload))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("desk feed: a relayed event could not be read (%s)", exc)
            return
        self.deliver(event)

    def subscribe(self, operator: str) -> Subscription:
        subscription = Subscription(operator, self._queue_size)
        self._subscribers.setdefault(operator, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.operator)
        if subscribers is None:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscribers[subscription.operator]

    def close(self) -> None:
        """The server stops: every subscriber's stream ends."""
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.close()

    def subscribers(self, operator: str) -> int:
        return len(self._subscribers.get(operator, ()))

    def publish(self, event: FeedEvent) -> None:
        """Hand `event` to everyone watching its operator, on every controller
        when relayed; returns at once."""
        if self._relay is not None:
            self._relay(json.dumps(event.as_json(), ensure_ascii=False, separators=(",", ":")))
            return
        self.deliver(event)

    def deliver(self, event: FeedEvent) -> None:
        """Hand `event` to the subscribers of this process."""
        for subscription in tuple(self._subscribers.get(event.operator, ())):
            subscription.put(event)
            if subscription.dropped == 1:
                log.warning("desk feed of %s: a subscriber fell behind", event.operator)
