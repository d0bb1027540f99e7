"""Versions of a scope's menu or working hours: the one way to publish one,
what a version is shown as, and what changed between two.

`publish_version` is the only path by which an admin's version comes in,
for menus and hours alike, published or restored: the version and the
audit line that records it are written in the caller's transaction, so
both are there or neither is. (The files' first versions, `in_force.seed`,
are nobody's change and have no line.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.db.audit import Author, audit
from ivr.db.models import ConfigVersionRow
from ivr.publish import store as stored


class VersionInfo(BaseModel):
    number: int
    published_at: datetime
    published_by: str
    note: str
    restored_from: int | None
    active: bool


class VersionOut(VersionInfo):
    body: dict[str, Any]


class Change(BaseModel):
    node: str
    change: str  # added, removed, changed
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class DiffOut(BaseModel):
    scope: str
    from_: int = Field(serialization_alias="from")
    to: int
    changes: list[Change]


def version_target(number: int) -> str:
    """What the audit line of version `number` names."""
    return f"version {number}"


async def publish_version(
    session: AsyncSession,
    author: Author,
    *,
    kind: str,
    scope: str,
    body: Any,
    prompts: Mapping[str, str] | None = None,
    note: str = "",
    restored_from: int | None = None,
    target: Callable[[int], str] = version_target,
) -> ConfigVersionRow:
    """Add the next version of (kind, scope) and its audit line
    (`<kind>_publish` or `<kind>_restore`, with the bodies before and after).

    `session` is in a transaction the caller commits; `target` names the new
    version's number for the line. A Conflict if someone published the scope
    at the same moment."""
    current = await stored.current(session, kind, scope)
    row = await stored.publish(
        session,
        kind=kind,
        scope=scope,
        body=body,
        prompts=dict(prompts or {}),
        by=author.username,
        at=author.at,
        note=note,
        restored_from=restored_from,
    )
    await audit(
        session,
        author,
        action=f"{kind}_restore" if restored_from is not None else f"{kind}_publish",
        scope=scope,
        target=target(row.number),
        before=current.body if current is not None else None,
        after=body,
    )
    return row


def version_info(row: ConfigVersionRow, active: int | None) -> VersionInfo:
    return VersionInfo(
        number=row.number,
        published_at=row.published_at,
        published_by=row.published_by,
        note=row.note,
        restored_from=row.restored_from,
        active=row.number == active,
    )


async def version_infos(session: AsyncSession, kind: str, scope: str) -> list[VersionInfo]:
    """Every version of `kind` for `scope`, newest (the one in force) first."""
    rows = await stored.versions(session, kind, scope)
    active = rows[0].number if rows else None
    return [version_info(row, active) for row in rows]


def diff_bodies(before: Any, after: Any) -> list[Change]:
    """Node by node: what `after` adds, removes and changes against `before`."""
    old, new = before.get("nodes", {}), after.get("nodes", {})
    changes = []
    for node_id in sorted(set(old) | set(new)):
        a, b = old.get(node_id), new.get(node_id)
        if a == b:
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        changes.append(Change(node=node_id, change=change, before=a, after=b))
    if before.get("root") != after.get("root"):
        changes.insert(
            0,
            Change(
                node="(root)",
                change="changed",
                before={"root": before.get("root")},
                after={"root": after.get("root")},
            ),
        )
    return changes
