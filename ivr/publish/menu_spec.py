"""The schema of a menu file (`routing/menus.yaml`), as pydantic models.

Only the shape is checked here, so that a file or a version stored in the
database parses the same way; whether the menus can be activated (keys,
targets, loops, prompts) is `ivr/publish/checks.py`'s, node by node.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

Kind = Literal[
    "menu", "info", "message", "callback", "lookup", "department", "queue", "hangup"
]
MAX_NODES = 200  # in one department's effective menu
MAX_TEXT = 300  # characters; espeak-ng says about five a second (IVR_TTS_RATE 250)
NODE_ID = r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*"
NodeId = Annotated[str, StringConstraints(pattern=f"^{NODE_ID}$", max_length=80)]


class ChoiceSpec(BaseModel):
    """One key of a menu node: `{key: 1, to: dues}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(max_length=4)
    to: NodeId

    @field_validator("key", mode="before")
    @classmethod
    def _key_as_text(cls, key: Any) -> Any:
        # YAML reads an unquoted `key: 1` as a number.
        return str(key) if isinstance(key, int) and not isinstance(key, bool) else key


class NodeSpec(BaseModel):
    """A node as written; routing/menus.yaml explains each field."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    prompt: NodeId | None = None
    choices: tuple[ChoiceSpec, ...] = Field((), max_length=20)
    category: str | None = None
    department: str | None = Field(None, max_length=10)


class NationalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    root: NodeId
    nodes: dict[NodeId, NodeSpec] = Field(max_length=MAX_NODES * 2)


class DepartmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    nodes: dict[NodeId, NodeSpec] = Field(default_factory=dict, max_length=MAX_NODES * 2)


class MenuSpec(BaseModel):
    """routing/menus.yaml, or a published version from the database."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    national: NationalSpec
    departments: dict[str, DepartmentSpec] = Field(default_factory=dict)


