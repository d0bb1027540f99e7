"""Which Stasis applications this controller process serves, and taking over
those of a controller that died.

Theory of operation. Each controller owns one Stasis application and holds
its lease in the database (`ivr.db.leases`), renewed every `lease_renew`
seconds for `lease_seconds`. On every renewal it also looks for leases that
expired: their controller is gone (killed, its machine down). It takes such
a lease in one UPDATE only one process can win, connects to every Asterisk
as that application (Asterisk hands the application's WebSocket, with its
channels still in Stasis, to the newest connection) and serves its calls
exactly as that controller would after a restart: the recovery on connect
takes each call back from its saved state (`Recovery`), under the dead
controller's node names, so its places in line and its records stay its own.

When the dead controller starts again it asks for its lease back (`want`);
the holder stops serving that application (the calls stay in Stasis) and
releases the lease, and the owner takes its calls back the same way. A
process that misses its own renewals long enough to lose a lease stops
serving that application at once and asks for it back.

A controller stopped cleanly releases its leases, so its calls are taken
over within one renewal. After the database was unreachable, every lease
looks expired: a process adopts only after the database has answered it for
a whole lease time, long enough for the living owners to renew.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.db import leases
from ivr.settings import Settings
from ivr.stasis.fleet import Fleet, Node

log = logging.getLogger(__name__)

# The nodes serving one application on every Asterisk, connected and started.
MakeNodes = Callable[[Settings], Awaitable[list[Node]]]


def wall_clock() -> datetime:
    """Leases run on real time, whatever clock the calls use (IVR_NOW)."""
    return datetime.now(UTC)


class Membership:
    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        fleet: Fleet,
        make_nodes: MakeNodes,
        now: Callable[[], datetime] = wall_clock,
    ) -> None:
        self._settings = settings
        self._sessionmaker = sessionmaker
        self._fleet = fleet
        self._make_nodes = make_nodes
        self._now = now
        self._ttl = timedelta(seconds=settings.lease_seconds)
        self.holder = f"{settings.node_name}:{os.getpid()}:{secrets.token_hex(4)}"
        self.own = settings.ari_app
        self.adopted: dict[str, str] = {}  # application: its node name
        # Since when the database has answered every renewal (monotonic), None while it does not.
        self._reachable_since: float | None = None

    @property
    def serving(self) -> list[str]:
        """The applications this process serves now: its own, and those it took over."""
        return [self.own, *self.adopted]

    # -- own ---------------------------------------------------------------------------

    async def join(self) -> None:
        """Take this controller's own lease (asking whoever took its calls
        over to hand them back) and start serving its application."""
        asked = False
        while True:
            async with self._sessionmaker() as session, session.begin():
                taken = await leases.take(
                    session, self.own, self._settings.node_name, self.holder, self._now(),
                    self._ttl, own=True,
                )
                if not taken and not asked:
                    await leases.want(session, self.own)
            if taken:
                break
            if not asked:
                log.info("application %s is served by another controller: asking it back", self.own)
                asked = True
            await asyncio.sleep(self._settings.lease_renew / 2)
        self._reachable_since = time.monotonic()
        self._fleet.add(await self._make_nodes(self._settings))
        log.info("serving application %s as %s", self.own, self.holder)

    async def run(self) -> None:
        """Renew, hand back, take over: every `lease_renew` seconds, for good."""
        while True:
            await asyncio.sleep(self._settings.lease_renew)
            try:
                await self.tick()
            except (SQLAlchemyError, OSError) as exc:
                if self._reachable_since is not None:
                    log.warning("leases: the database does not answer (%s); serving on", exc)
                self._reachable_since = None

    async def leave(self) -> None:
        """Stop serving every application and release their leases, so that
        another controller takes the calls over at its next renewal."""
        apps = self.serving
        for app in apps:
            await self._stop_serving(app)
        try:
            async with self._sessionmaker() as session, session.begin():
                for app in apps:
                    await leases.release(session, app, self.holder)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("leases not released (%s): they expire on their own", exc)

    # -- every renewal ----------------------------------------------------------------------

    async def tick(self) -> None:
        """One renewal: the leases held, and those to take over, in one transaction."""
        serving = self.serving
        if self._reachable_since is None:
            self._reachable_since = time.monotonic()
        trusted = time.monotonic() - self._reachable_since >= self._ttl.total_seconds()
        async with self._sessionmaker() as session, session.begin():
            now = self._now()
            held = await leases.renew(session, self.holder, serving, now, self._ttl)
            found = await leases.orphans(session, now, serving) if trusted else []
        for app in serving:
            if app not in held:
                await self._lost(app)
        for app, wanted in held.items():
            if wanted and app != self.own:
                await self._hand_back(app)
        for lease in found:
            await self._take_over(lease)

    async def _lost(self, app: str) -> None:
        log.error(
            "lease of %s lost (renewals missed for %.1f s): another controller serves it now",
            app, self._ttl.total_seconds(),
        )
        await self._stop_serving(app)
        self.adopted.pop(app, None)
        if app == self.own:
            await self.join()

    async def _hand_back(self, app: str) -> None:
        log.info("handing application %s back to its own controller", app)
        await self._stop_serving(app)
        async with self._sessionmaker() as session, session.begin():
            await leases.release(session, app, self.holder)
        self.adopted.pop(app, None)

    async def _take_over(self, lease: leases.Lease) -> None:
        async with self._sessionmaker() as session, session.begin():
            taken = await leases.take(
                session, lease.app, lease.node, self.holder, self._now(), self._ttl, own=False
            )
        if not taken:
            return  # another controller was first
        started = time.monotonic()
        settings = self._settings.model_copy(
            update={"ari_app": lease.app, "node_name": lease.node}
        )
        self.adopted[lease.app] = lease.node
        self._fleet.add(await self._make_nodes(settings))
        log.warning(
            "took over application %s (node %s, lease expired at %s) in %.0f ms",
            lease.app, lease.node, lease.expires_at.isoformat(),
            (time.monotonic() - started) * 1000,
        )

    async def _stop_serving(self, app: str) -> None:
        for node in self._fleet.remove(app):
            await node.stop()
