"""The admin web's users, their sessions, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.models.base import (
    ADDRESS_MAX,
    AUDIT_ACTION_MAX,
    AUDIT_TARGET_MAX,
    DIVISION_CODE_LENGTH,
    OPERATOR_NAME_MAX,
    PASSWORD_HASH_MAX,
    ROLE_MAX,
    SCOPE_MAX,
    SHA256_HEX,
    STATUS_MAX,
    USERNAME_MAX,
    Base,
    UtcDateTime,
)


class UserRow(Base):
    """Someone who signs in to the admin web (or a script with an API token)."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(USERNAME_MAX), primary_key=True)
    name: Mapped[str] = mapped_column(String(OPERATOR_NAME_MAX))
    role: Mapped[str] = mapped_column(String(ROLE_MAX))
    # None for a national admin or auditor: the whole country.
    department_code: Mapped[str | None] = mapped_column(String(DIVISION_CODE_LENGTH))
    include_sub: Mapped[bool] = mapped_column(Boolean())
    password_hash: Mapped[str] = mapped_column(String(PASSWORD_HASH_MAX))
    # sha256 of the API token, if the user has one; the token itself is shown once.
    token_hash: Mapped[str | None] = mapped_column(String(SHA256_HEX), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebSessionRow(Base):
    """A signed-in browser. Only the token's hash is kept: a copy of the table
    signs no one in. Any controller serves any session (the database has them)."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(SHA256_HEX), primary_key=True)
    username: Mapped[str] = mapped_column(
        ForeignKey("users.username", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(SHA256_HEX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Idle expiry, pushed back by use; never past `ends_at`.
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    address: Mapped[str] = mapped_column(String(ADDRESS_MAX))


class AuditRow(Base):
    """One change made (or refused) through the admin web or API: who, when,
    what before, what after. Rows are only ever added."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(USERNAME_MAX))
    role: Mapped[str] = mapped_column(String(ROLE_MAX))
    action: Mapped[str] = mapped_column(String(AUDIT_ACTION_MAX))
    scope: Mapped[str] = mapped_column(String(SCOPE_MAX), index=True)
    target: Mapped[str] = mapped_column(String(AUDIT_TARGET_MAX))
    outcome: Mapped[str] = mapped_column(String(STATUS_MAX))  # ok, denied
    before: Mapped[Any] = mapped_column(JSON(), nullable=True)
    after: Mapped[Any] = mapped_column(JSON(), nullable=True)
    address: Mapped[str] = mapped_column(String(ADDRESS_MAX))


class SignInAttemptRow(Base):
    """Sign-ins tried for one name from one address since `since`, right or
    wrong: counted by one statement per attempt before its password is checked
    (the throttle of `ivr.admin.sessions`), and gone when one succeeds. Per
    address, so that guesses from one place lock out that place, not the user."""

    __tablename__ = "sign_in_attempts"

    username: Mapped[str] = mapped_column(String(USERNAME_MAX), primary_key=True)
    address: Mapped[str] = mapped_column(String(ADDRESS_MAX), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
