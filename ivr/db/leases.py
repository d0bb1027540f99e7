"""Leases of Stasis applications: which controller process serves whose calls.

Every controller has its own Stasis application (Asterisk gives a name to
one WebSocket), and serves its calls only while it holds that application's
lease, renewed every fraction of a second. A controller that dies stops
renewing; once the lease has expired, one other controller takes it
(`take`: one UPDATE that only one process can win) and serves the dead
one's calls from their saved state. When the dead one comes back it marks
its lease `wanted`; the holder hands it back (`release`), and the owner
takes its calls back the same way. A call is therefore served by the one
process holding its application's lease, never by two.

Times are the controllers' wall clocks (UTC): the hosts of a cluster keep
time with NTP, and a lease lasts seconds, far above their skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.models import LeaseRow, leases_table

NOBODY = ""
# A released lease expires at once: nobody holds it.
_LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Lease:
    app: str
    node: str
    holder: str
    expires_at: datetime
    wanted: bool


def _lease(row: LeaseRow) -> Lease:
    return Lease(row.app, row.node, row.holder, row.expires_at, row.wanted)


async def take(
    session: AsyncSession,
    app: str,
    node: str,
    holder: str,
    now: datetime,
    ttl: timedelta,
    *,
    own: bool,
) -> bool:
    """Take `app`'s lease for `holder` until now + ttl, if nobody holds it
    (it expired, or was released) or `holder` already does. `own`: the
    application's own controller, which may take it even when it is wanted
    (by itself) and clears the mark; another may not. The caller commits."""
    until = now + ttl
    free = (leases_table.c.expires_at < now) | (leases_table.c.holder == holder)
    if not own:
        free = free & ~leases_table.c.wanted
    values: dict[str, object] = {"holder": holder, "expires_at": until}
    if own:
        values["wanted"] = False
        values["node"] = node
    taken = await session.execute(
        update(leases_table).where(leases_table.c.app == app, free).values(**values)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if not own or await session.get(LeaseRow, app) is not None:
        return False
    # The application's first start: its row does not exist yet.
    try:
        async with session.begin_nested():
            session.add(LeaseRow(app=app, node=node, holder=holder, expires_at=until, wanted=False))
    except IntegrityError:
        return False  # another process made it first
    return True


async def renew(
    session: AsyncSession, holder: str, apps: list[str], now: datetime, ttl: timedelta
) -> dict[str, bool]:
    """Extend every lease of `apps` that `holder` still holds. Returns those
    it holds, each with whether its own controller wants it back. The caller
    commits."""
    if not apps:
        return {}
    rows = await session.execute(
        update(leases_table)
        .where(leases_table.c.app.in_(apps), leases_table.c.holder == holder)
        .values(expires_at=now + ttl)
        .returning(leases_table.c.app, leases_table.c.wanted)
    )
    return {app: wanted for app, wanted in rows.all()}


async def release(session: AsyncSession, app: str, holder: str) -> None:
    """Give up `app`'s lease, if `holder` holds it. The caller commits."""
    await session.execute(
        update(leases_table)
        .where(leases_table.c.app == app, leases_table.c.holder == holder)
        .values(holder=NOBODY, expires_at=_LONG_AGO)
    )


async def want(session: AsyncSession, app: str) -> None:
    """The application's own controller is back: ask its holder for it."""
    await session.execute(update(leases_table).where(leases_table.c.app == app).values(wanted=True))


async def orphans(session: AsyncSession, now: datetime, held: list[str]) -> list[Lease]:
    """Leases nobody holds now that nobody asked back: their controller died
    (or stopped) and another should serve its calls. Not those in `held`."""
    rows = await session.scalars(
        select(LeaseRow).where(
            LeaseRow.expires_at < now, LeaseRow.wanted.is_(False), LeaseRow.app.not_in(held)
        )
    )
    return [_lease(row) for row in rows]


async def get(session: AsyncSession, app: str) -> Lease | None:
    row = await session.get(LeaseRow, app)
    return _lease(row) if row is not None else None
