"""Operators' phones as Asterisk sees them: is there a phone to ring?

Theory of operation. An operator signed in is offered calls only while
Asterisk can reach their phone. Asterisk knows: a PJSIP endpoint is
`online` while it has a contact to call (a phone registered and not
expired, or a fixed `--contact`), `offline` when it has none (the phone
never registered, unregistered, or let its registration expire), `unknown`
when it cannot tell. Each controller keeps its own Asterisk's view
(`Presence`): read whole after every connect, and kept up by the
`EndpointStateChange` events of the operators' endpoints, which the desk
subscribes to as it pushes each phone. Only `offline` keeps an operator
from being rung: a state not known yet (the second after a reconnect) is
not held against anyone, and a phone that fails to answer is a missed
offer as before.

The view is per Asterisk, because each Asterisk rings only the phones it
knows: in a cluster a phone registered with one of them is reachable from
that one only. Every controller writes its Asterisk's view to
`operator_phones` (a row per phone and node) when it changes, so the admin
page on any controller shows every Asterisk's view (`phones_seen`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.batch import upsert
from ivr.db.models import OperatorPhoneRow, operator_phones_table
from ivr.desk.operators import Operator

PhoneState = Literal["online", "offline", "unknown"]
STATES: tuple[PhoneState, ...] = ("online", "offline", "unknown")


def phone_state(reported: str | None) -> PhoneState:
    """Asterisk's word for an endpoint's state, as one of ours."""
    return reported if reported in ("online", "offline") else "unknown"  # type: ignore[return-value]


@dataclass
class Presence:
    """What this controller's Asterisk says of each operator's phone, by endpoint."""

    states: dict[str, PhoneState] = field(default_factory=dict)
    # Seen to change and not yet written (`pending`), with when.
    _changed: dict[str, datetime] = field(default_factory=dict)
    # Asterisk (re)connected: what was written for this node is stale.
    _forgotten: bool = False

    def seen(self, endpoint: str, reported: str | None, at: datetime) -> bool:
        """Asterisk says `endpoint` is `reported`; whether that is news."""
        state = phone_state(reported)
        if self.states.get(endpoint) == state:
            return False
        self.states[endpoint] = state
        self._changed[endpoint] = at
        return True

    def unreachable(self, staff: Iterable[Operator]) -> frozenset[str]:
        """The operators (by id) whose phone Asterisk has no way to ring."""
        return frozenset(op.id for op in staff if self.states.get(op.endpoint) == "offline")

    def forget(self) -> None:
        """Asterisk (re)connected: everything it said before may have changed."""
        self.states.clear()
        self._changed.clear()
        self._forgotten = True

    def pending(self) -> tuple[bool, dict[str, tuple[PhoneState, datetime]]]:
        """What to write: whether this node's rows are stale, and the changes."""
        changes = {endpoint: (self.states[endpoint], at) for endpoint, at in self._changed.items()}
        return self._forgotten, changes

    def written(self, cleared: bool, changes: Mapping[str, tuple[PhoneState, datetime]]) -> None:
        """`pending`'s answer is stored; a change seen since stays pending."""
        if cleared:
            self._forgotten = False
        for endpoint, (_, at) in changes.items():
            if self._changed.get(endpoint) == at:
                del self._changed[endpoint]


async def record(
    session: AsyncSession,
    node: str,
    changes: Mapping[str, tuple[PhoneState, datetime]],
    *,
    clear: bool = False,
) -> None:
    """Write what `node`'s Asterisk says of the phones (`clear`: forget its old rows)."""
    if clear:
        await session.execute(delete(OperatorPhoneRow).where(OperatorPhoneRow.node == node))
    if not changes:
        return
    dialect = session.get_bind().dialect.name
    statement = upsert(dialect, operator_phones_table, ["endpoint", "node"], ["state", "since"])
    await session.execute(
        statement,
        [
            {"endpoint": endpoint, "node": node, "state": state, "since": at}
            for endpoint, (state, at) in changes.items()
        ],
    )


@dataclass(frozen=True, slots=True)
class PhoneSeen:
    state: PhoneState
    since: datetime


PhonesSeen = dict[str, dict[str, PhoneSeen]]


async def phones_seen(session: AsyncSession) -> PhonesSeen:
    """Every phone's state as each Asterisk (node) sees it, by endpoint then node."""
    seen: PhonesSeen = {}
    for row in (await session.scalars(select(OperatorPhoneRow))).all():
        seen.setdefault(row.endpoint, {})[row.node] = PhoneSeen(phone_state(row.state), row.since)
    return seen


def overall_state(by_node: Mapping[str, PhoneSeen]) -> PhoneState:
    """`online` if some Asterisk can ring the phone, `offline` if those that
    know of it cannot, `unknown` if none has said."""
    states = {seen.state for seen in by_node.values()}
    return next((state for state in STATES if state in states), "unknown")


def phone_json(by_node: Mapping[str, PhoneSeen]) -> dict[str, Any]:
    """An operator's phone as the API shows it: its `overall_state`, since
    when, and each Asterisk's own word (a phone registered with one Asterisk
    of a cluster rings only through that one)."""
    state = overall_state(by_node)
    since = max((seen.since for seen in by_node.values() if seen.state == state), default=None)
    return {
        "state": state,
        "since": since.isoformat() if since is not None else None,
        "nodes": {node: seen.state for node, seen in sorted(by_node.items())},
    }
