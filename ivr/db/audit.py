"""The audit log: who changed (or tried to change) what, when, from where.

Lines are only ever added, each in the same transaction as the change it
records, so there is no change without its line and no line without its
change. The admin web writes them for what it changes itself (users, cases,
refusals); publishing writes the line of a version it adds
(`ivr.publish.versions`). Both come here, below them, so neither imports the other.

A line's target is often what a stranger sent (the name a failed sign-in
tried): its control characters are written as escapes (`\\x1b`, `\\n`), so
that a line read in a terminal or a log says only what it says, and a NUL,
which PostgreSQL's text cannot hold, is stored as well as any other.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.models import ADDRESS_MAX, AUDIT_TARGET_MAX, AuditRow, audit_table

MAX_AUDIT_LIMIT = 500


class Actor(Protocol):
    """Someone signed in (`ivr.admin.auth.Principal`): what a line says of them."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Author:
    """Who makes a change, when, and from which address: what every line of
    one request has in common. `who` is None before anyone signed in."""

    at: datetime
    who: Actor | None
    address: str = ""

    @property
    def username(self) -> str:
        return self.who.username if self.who is not None else ""


async def audit(
    session: AsyncSession,
    author: Author,
    *,
    action: str,
    scope: str,
    target: str,
    outcome: str = "ok",
    before: Any = None,
    after: Any = None,
) -> None:
    """Add a line; the caller's transaction commits it with the change."""
    who = author.who
    await session.execute(
        insert(audit_table).values(
            at=author.at,
            actor=who.username if who is not None else "",
            role=str(who.role) if who is not None else "",
            action=action,
            scope=scope,
            target=printable(target)[:AUDIT_TARGET_MAX],
            outcome=outcome,
            before=before,
            after=after,
            address=author.address[:ADDRESS_MAX],
        )
    )


def printable(text: str) -> str:
    """`text` with each control or invisible format character (Unicode's
    categories C*: terminal escapes, line breaks, NUL, bidi overrides) as its
    Python escape."""
    if text.isprintable():
        return text
    return "".join(_escaped(char) for char in text)


def _escaped(char: str) -> str:
    if unicodedata.category(char).startswith("C"):
        return char.encode("unicode_escape").decode("ascii")
    return char


def audit_json(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "role": row.role,
        "action": row.action,
        "scope": row.scope,
        "target": row.target,
        "outcome": row.outcome,
        "before": row.before,
        "after": row.after,
        "address": row.address,
    }


async def audit_entries(
    session: AsyncSession, scopes: list[str] | None, limit: int, actor: str | None = None
) -> list[AuditRow]:
    """Newest first; `scopes` None for every scope."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(min(limit, MAX_AUDIT_LIMIT))
    if scopes is not None:
        query = query.where(AuditRow.scope.in_(scopes))
    if actor is not None:
        query = query.where(AuditRow.actor == actor)
    return list((await session.scalars(query)).all())
