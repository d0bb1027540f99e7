"""Admin users and their web sessions in the database, and the count of
sign-in attempts that the throttle reads.

Sessions live here rather than in a signed cookie so that any controller
serves any browser, and signing out (or disabling a user) ends a session
everywhere at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.admin import auth
from ivr.admin.auth import Principal, Role
from ivr.db.batch import dialect_insert
from ivr.db.models import (
    ADDRESS_MAX,
    OPERATOR_NAME_MAX,
    USERNAME_MAX,
    UserRow,
    UtcDateTime,
    WebSessionRow,
    sign_in_attempts_table,
    users_table,
    web_sessions_table,
)
from ivr.errors import Conflict, DataError, NotFound

USERNAME = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{USERNAME_MAX - 1}}}")
SIGN_IN = "sign_in"  # the audit action of signing in, failed or not


def principal(row: UserRow) -> Principal:
    return Principal(row.username, row.name, Role(row.role), row.department_code, row.include_sub)


def user_json(row: UserRow) -> dict[str, Any]:
    return {
        "username": row.username,
        "name": row.name,
        "role": row.role,
        "department": row.department_code,
        "include_sub": row.include_sub,
        "disabled": row.disabled,
        "has_token": row.token_hash is not None,
        "created_at": row.created_at.isoformat(),
    }


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise DataError(
            "a username is 1 to 64 small letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            field="username",
        )
    return username


async def get_user(session: AsyncSession, username: str) -> UserRow | None:
    return await session.get(UserRow, username)


async def list_users(session: AsyncSession) -> list[UserRow]:
    return list((await session.scalars(select(UserRow).order_by(UserRow.username))).all())


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(users_table)) or 0)


async def add_user(
    session: AsyncSession,
    *,
    username: str,
    name: str,
    role: Role,
    department: str | None,
    include_sub: bool,
    password: str,
    now: datetime,
) -> UserRow:
    check_username(username)
    if not 1 <= len(name) <= OPERATOR_NAME_MAX:
        raise DataError(f"a name has 1 to {OPERATOR_NAME_MAX} characters", field="name")
    if await session.get(UserRow, username) is not None:
        raise Conflict(f"there is already a user {username!r}", username=username)
    row = UserRow(
        username=username,
        name=name,
        role=role.value,
        department_code=department,
        include_sub=include_sub,
        password_hash=auth.hash_password(password),
        token_hash=None,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def change_user(
    session: AsyncSession, username: str, now: datetime, **values: Any
) -> UserRow:
    """Set `values` (name, role, department_code, include_sub, disabled, password)."""
    row = await session.get(UserRow, username, with_for_update=True)
    if row is None:
        raise NotFound(f"no user {username!r}", username=username)
    password = values.pop("password", None)
    if password is not None:
        row.password_hash = auth.hash_password(password)
    for field, value in values.items():
        setattr(row, field, value)
    row.updated_at = now
    if password is not None or values.get("disabled") or "role" in values:
        await end_sessions(session, username)  # a changed account signs in again
    await session.flush()
    return row


async def set_token(session: AsyncSession, username: str, now: datetime) -> str:
    """A new API token for `username` (the old one stops working); shown once."""
    row = await session.get(UserRow, username, with_for_update=True)
    if row is None:
        raise NotFound(f"no user {username!r}", username=username)
    token = auth.new_token()
    row.token_hash = auth.token_hash(token)
    row.updated_at = now
    await session.flush()
    return token


async def by_token(session: AsyncSession, token: str) -> UserRow | None:
    row = await session.scalar(select(UserRow).where(UserRow.token_hash == auth.token_hash(token)))
    return row if row is not None and not row.disabled else None


# Sessions -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionTimes:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True, slots=True)
class OpenSession:
    token: str  # what the cookie carries; never stored
    csrf_token: str
    user: UserRow
    expires_at: datetime


async def sign_in(
    session: AsyncSession,
    username: str,
    password: str,
    now: datetime,
    times: SessionTimes,
    address: str,
) -> OpenSession:
    row = await session.get(UserRow, username) if USERNAME.fullmatch(username) else None
    ok = auth.verify_password(row.password_hash if row is not None else None, password)
    if row is None or not ok or row.disabled:
        raise auth.SignInFailed("the username or the password is wrong")
    if auth.needs_rehash(row.password_hash):
        row.password_hash = auth.hash_password(password)
    token, csrf = auth.new_token(), auth.new_token()
    expires = now + times.idle
    await session.execute(
        insert(web_sessions_table).values(
            token_hash=auth.token_hash(token),
            username=row.username,
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
            ends_at=now + times.absolute,
            address=address[:ADDRESS_MAX],
        )
    )
    # Expired sessions go when someone signs in: the table never grows unbounded.
    await session.execute(delete(web_sessions_table).where(web_sessions_table.c.expires_at < now))
    return OpenSession(token, csrf, row, expires)


async def find_session(
    session: AsyncSession, token: str, now: datetime, times: SessionTimes
) -> tuple[WebSessionRow, UserRow] | None:
    """The live session of `token` (its idle expiry pushed back), or None."""
    found = await session.get(WebSessionRow, auth.token_hash(token))
    if found is None or found.expires_at <= now or found.ends_at <= now:
        return None
    user = await session.get(UserRow, found.username)
    if user is None or user.disabled:
        return None
    # Pushed back at most once a minute: a page's burst of requests writes once.
    renewed = min(now + times.idle, found.ends_at)
    if renewed - found.expires_at > timedelta(minutes=1):
        found.expires_at = renewed
    return found, user


async def sign_out(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(web_sessions_table).where(web_sessions_table.c.token_hash == auth.token_hash(token))
    )


async def end_sessions(session: AsyncSession, username: str) -> None:
    await session.execute(
        delete(web_sessions_table).where(web_sessions_table.c.username == username)
    )


# Sign-in attempts, counted for the throttle ------------------------------------


@dataclass(frozen=True, slots=True)
class Attempts:
    count: int  # this attempt included
    since: datetime  # when the first of them came


async def count_attempt(
    session: AsyncSession, username: str, address: str, now: datetime, window: timedelta
) -> Attempts:
    """Count one more attempt to sign in as `username` from `address`, in one
    statement: an upsert, which attempts sent at once (to any controller) take
    their turns at, so that the n-th of them reads n. Once `window` has passed
    since the first, the count starts again."""
    table = sign_in_attempts_table
    started = table.c.since <= now - window
    statement = (
        dialect_insert(session.get_bind().dialect.name, table)
        .values(username=username, address=address[:ADDRESS_MAX], attempts=1, since=now)
        .on_conflict_do_update(
            index_elements=[table.c.username, table.c.address],
            set_={
                "attempts": case((started, 1), else_=table.c.attempts + 1),
                "since": case((started, literal(now, UtcDateTime())), else_=table.c.since),
            },
        )
        .returning(table.c.attempts, table.c.since)
    )
    row = (await session.execute(statement)).one()
    return Attempts(row.attempts, row.since)


async def forget_attempts(
    session: AsyncSession, username: str, address: str, now: datetime, window: timedelta
) -> None:
    """A sign-in succeeded: the count of its name and address starts again
    (another address's is kept); counts whose window has passed go too, so
    the table never grows unbounded."""
    table = sign_in_attempts_table
    mine = (table.c.username == username) & (table.c.address == address[:ADDRESS_MAX])
    await session.execute(delete(table).where(mine | (table.c.since <= now - window)))
