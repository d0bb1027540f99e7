"""Messages between the controllers that share one PostgreSQL: LISTEN/NOTIFY.

Theory of operation: a `Channel` holds two connections of its own, outside
the engine's pool. One LISTENs and hands every payload to `on_message` in
the order PostgreSQL delivers it (its own NOTIFYs included: every controller,
this one too, hears each message once, so a message has one way in). The
other sends: `send` only queues the payload and returns, and a task NOTIFYs
the queue in order, so a call's task never waits on the database. A
connection that drops is made again after `RECONNECT_S`; what was sent while
the listener was away is lost, as with any NOTIFY (use it for what is live,
like a screen pop, never for what must be kept). Payloads are text, at most
`MAX_PAYLOAD` bytes (PostgreSQL's limit is 8000).

SQLite has no such thing and needs none: one controller, in one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

MAX_PAYLOAD = 7900
RECONNECT_S = 1.0
# Payloads waiting to be sent, at most; past it the oldest are dropped.
QUEUE_SIZE = 1000


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def _dsn(url: str) -> str:
    """The asyncpg address of a SQLAlchemy URL (`postgresql+asyncpg://...`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Channel:
    def __init__(self, url: str, name: str, on_message: Callable[[str], None]) -> None:
        if not name.isidentifier():
            raise ValueError(f"a channel name is an identifier, not {name!r}")
        self._dsn = _dsn(url)
        self._name = name
        self._on_message = on_message
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._tasks: list[asyncio.Task[None]] = []
        self.listening = asyncio.Event()  # set while the listener is connected
        self.dropped = 0  # payloads lost: too large, or the queue full

    async def start(self) -> None:
        """Listen and send from now on; returns once listening (or trying to)."""
        self._tasks = [
            asyncio.create_task(self._listen(), name=f"listen-{self._name}"),
            asyncio.create_task(self._send_queued(), name=f"notify-{self._name}"),
        ]
        try:
            async with asyncio.timeout(5):
                await self.listening.wait()
        except TimeoutError:
            log.warning("channel %s: not listening yet; messages wait for it", self._name)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def send(self, payload: str) -> None:
        """Queue `payload` for every listener; never waits."""
        if len(payload.encode()) > MAX_PAYLOAD:
            self.dropped += 1
            log.warning("channel %s: a %d-byte message is too large", self._name, len(payload))
            return
        if self._outbox.full():
            self._outbox.get_nowait()
            self.dropped += 1
        self._outbox.put_nowait(payload)

    def _deliver(self, _: object, __: int, ___: str, payload: object) -> None:
        try:
            self._on_message(str(payload))
        except Exception:
            log.exception("channel %s: a message could not be handled", self._name)

    async def _listen(self) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _, lost=lost: lost.set())
                await connection.add_listener(self._name, self._deliver)
                self.listening.set()
                await lost.wait()
                log.warning("channel %s: the listening connection dropped", self._name)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("channel %s: cannot listen (%s); again in %.0f s",
                            self._name, exc, RECONNECT_S)
            finally:
                self.listening.clear()
                if connection is not None and not connection.is_closed():
                    await connection.close()
            await asyncio.sleep(RECONNECT_S)

    async def _send_queued(self) -> None:
        connection: asyncpg.Connection | None = None
        try:
            while True:
                payload = await self._outbox.get()
                while True:
                    try:
                        if connection is None or connection.is_closed():
                            connection = await asyncpg.connect(self._dsn)
                        await connection.execute("SELECT pg_notify($1, $2)", self._name, payload)
                        break
                    except (OSError, asyncpg.PostgresError) as exc:
                        log.warning("channel %s: cannot send (%s); again in %.0f s",
                                    self._name, exc, RECONNECT_S)
                        connection = None
                        await asyncio.sleep(RECONNECT_S)
        finally:
            if connection is not None and not connection.is_closed():
                await connection.close()
