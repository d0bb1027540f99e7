"""Published versions and drafts of menus and working hours, and prompt audio."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ivr.db.models.base import (
    CONFIG_KIND_MAX,
    FILE_NAME_MAX,
    PROMPT_ID_MAX,
    SCOPE_MAX,
    SHA256_HEX,
    USERNAME_MAX,
    Base,
    UtcDateTime,
)


class ConfigVersionRow(Base):
    """A published version of one scope's menu or working hours. The newest
    of a (kind, scope) is the one in force; restoring adds a copy, so history
    only grows and the highest id tells controllers something changed."""

    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("kind", "scope", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(CONFIG_KIND_MAX))  # menu, hours
    scope: Mapped[str] = mapped_column(String(SCOPE_MAX))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per kind and scope
    body: Mapped[Any] = mapped_column(JSON())
    # A menu version's rendered texts: generated prompt id -> sha256 of its audio.
    prompts: Mapped[Any] = mapped_column(JSON())
    published_by: Mapped[str] = mapped_column(String(USERNAME_MAX))
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(Text())
    restored_from: Mapped[int | None] = mapped_column(Integer)


class ConfigDraftRow(Base):
    """Work in progress on a scope's menu: one draft per scope, shared by its admins."""

    __tablename__ = "config_drafts"

    kind: Mapped[str] = mapped_column(String(CONFIG_KIND_MAX), primary_key=True)
    scope: Mapped[str] = mapped_column(String(SCOPE_MAX), primary_key=True)
    body: Mapped[Any] = mapped_column(JSON())
    base_number: Mapped[int | None] = mapped_column(Integer)  # the version it started from
    updated_by: Mapped[str] = mapped_column(String(USERNAME_MAX))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AudioRow(Base):
    """Prompt audio made outside a build (published texts, uploads), by content,
    so that every controller plays the same bytes."""

    __tablename__ = "audio"

    sha256: Mapped[str] = mapped_column(String(SHA256_HEX), primary_key=True)
    wav: Mapped[bytes] = mapped_column(LargeBinary())
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PromptUploadRow(Base):
    """A recording an admin uploaded or recorded, under the id a node's `prompt` names."""

    __tablename__ = "prompt_uploads"

    prompt_id: Mapped[str] = mapped_column(String(PROMPT_ID_MAX), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("audio.sha256"))
    scope: Mapped[str] = mapped_column(String(SCOPE_MAX), index=True)
    file_name: Mapped[str] = mapped_column(String(FILE_NAME_MAX))
    source_format: Mapped[str] = mapped_column(String(CONFIG_KIND_MAX))
    created_by: Mapped[str] = mapped_column(String(USERNAME_MAX))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
