"""How each department's operator queue behaves: ring time, wrap-up, limits.

Theory of operation: `routing/queues.yaml` has a national `default` and,
under `departments`, what a department changes. A department's rules are
the default overlaid with every ancestor's changes, nearest last, so a
province that lengthens the ring time lengthens it for its cities too,
unless a city sets its own. Every field has a bound: a typo that would make
a caller wait an hour or ring an operator for a second is refused at load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.directory.routing import Directory
from ivr.errors import ConfigError


class QueueRules(BaseModel):
    """One department's queue, all fields set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # How long an operator's phone rings before the next operator is tried.
    ring_seconds: float = Field(15, ge=3, le=120)
    # Time after a call before an operator is offered the next one.
    wrap_up_seconds: float = Field(10, ge=0, le=600)
    # After this long in the queue the caller may leave a message or ask
    # for a callback instead of waiting on.
    max_wait_seconds: float = Field(120, ge=5, le=3600)
    # The caller hears their position on joining and then this often.
    announce_every_seconds: float = Field(30, ge=5, le=600)
    # The operator hears which department the call is for before it connects.
    whisper: bool = True
    # After this long, the parent department's operators may answer too;
    # null: never.
    overflow_after_seconds: float | None = Field(None, ge=0, le=3600)
    # A callback nobody answers is tried this many times, this far apart.
    callback_attempts: int = Field(3, ge=1, le=10)
    callback_retry_seconds: float = Field(300, ge=10, le=86400)


class QueuesSpec(BaseModel):
    """routing/queues.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: QueueRules = Field(default_factory=QueueRules)
    departments: dict[str, dict[str, Any]] = Field(default_factory=dict)


def load(path: Path, directory: Directory) -> Queues:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        spec = QueuesSpec.model_validate(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", path=str(path)) from exc
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}", path=str(path)) from None
    for code, changes in spec.departments.items():
        try:
            QueueRules.model_validate(spec.default.model_dump() | (changes or {}))
        except ValidationError as exc:
            raise ConfigError(f"{path}: department {code}: {exc}", path=str(path)) from None
    unknown = sorted(code for code in spec.departments if not directory.has(code))
    if unknown:
        raise ConfigError(f"{path}: no such departments: {', '.join(unknown)}", path=str(path))
    return Queues(spec, directory)


class Queues:
    def __init__(self, spec: QueuesSpec, directory: Directory) -> None:
        self._spec = spec
        self._directory = directory
        self._cache: dict[str, QueueRules] = {}

    def rules(self, code: str) -> QueueRules:
        found = self._cache.get(code)
        if found is None:
            merged = self._spec.default.model_dump()
            for ancestor in reversed(self._directory.lineage(code)):
                merged |= self._spec.departments.get(ancestor.code) or {}
            found = self._cache[code] = QueueRules.model_validate(merged)
        return found
