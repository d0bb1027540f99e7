"""Generate `ivr/ari/models.py` from the ARI description that Asterisk ships.

Asterisk describes ARI in Swagger 1.2 files (`usr/share/asterisk/rest-api/*.json`).
Deriving the pydantic models from them, instead of writing them by hand, keeps one
source of truth: the Asterisk we actually run. `--check` (also run by the tests)
catches a `models.py` that no longer matches it.

    python -m ivr.ari.codegen [API_DIR] [--check]
"""

from __future__ import annotations

import argparse
import difflib
import heapq
import json
import keyword
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ivr.errors import ConfigError
from ivr.settings import Settings

MODELS_PATH = Path(__file__).with_name("models.py")
API_DIR_ENV = "IVR_ARI_API_DIR"
REST_API_SUBDIR = Path("usr/share/asterisk/rest-api")
# The Asterisk that `ivr asterisk up` runs: its chroot, else the host's.
API_DIR_CANDIDATES = (
    Settings().rootfs_dir / REST_API_SUBDIR,
    Path("/") / REST_API_SUBDIR,
)
REGENERATE = "python -m ivr.ari.codegen [API_DIR]"
LINE_LENGTH = 100
BASE_CLASS = "AriModel"
MESSAGE, EVENT = "Message", "Event"

SCALAR_TYPES = {
    "string": "str",
    "int": "int",
    "long": "int",
    "double": "float",
    "boolean": "bool",
    "object": "dict[str, Any]",
    "Date": "datetime",  # Asterisk writes "2024-01-01T12:00:00.000+0000"; pydantic parses it
}
# Names a field may not take in a generated class: they would shadow the names
# its annotations use, or pydantic's own attributes.
TAKEN_NAMES = frozenset(
    {"Any", "BaseModel", "ConfigDict", "Field", "datetime", BASE_CLASS}
    | {"str", "int", "float", "bool", "dict", "list", "None"}
    | set(dir(BaseModel))
)


class CodegenError(ConfigError):
    """The ARI description is missing or says something this generator does not understand."""

    error_id = "ari_codegen_error"


@dataclass(frozen=True)
class Prop:
    name: str
    type: str
    required: bool
    description: str
    allowed: tuple[str, ...]


@dataclass(frozen=True)
class Model:
    id: str
    description: str
    props: tuple[Prop, ...]
    sub_types: tuple[str, ...]


def find_api_dir() -> Path:
    """Where the ARI description is: `$IVR_ARI_API_DIR`, else the first known place that has it."""
    override = os.environ.get(API_DIR_ENV)
    if override:
        path = Path(override).expanduser()
        if not _has_api_files(path):
            raise CodegenError(f"{API_DIR_ENV}={override} holds no ARI Swagger *.json files")
        return path
    for path in API_DIR_CANDIDATES:
        if _has_api_files(path):
            return path
    tried = ", ".join(str(path) for path in API_DIR_CANDIDATES)
    raise CodegenError(
        f"no ARI description (Asterisk's rest-api/*.json) found; looked in {tried}. "
        f"Build the Asterisk root filesystem or set {API_DIR_ENV}."
    )


def _has_api_files(path: Path) -> bool:
    return path.is_dir() and any(path.glob("*.json"))


def load_models(api_dir: Path) -> dict[str, Model]:
    """Every model of every file, by id. Files share models, so a repeated id must agree."""
    models: dict[str, Model] = {}
    for path in sorted(api_dir.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for raw in document.get("models", {}).values():
            try:
                model = _model(raw)
            except KeyError as missing:
                raise CodegenError(f"{path.name}: a model lacks {missing}") from None
            if models.get(model.id, model) != model:
                raise CodegenError(f"{path.name}: model {model.id} differs from another file's")
            models[model.id] = model
    if not models:
        raise CodegenError(f"{api_dir} holds no Swagger models")
    return models


def _model(raw: dict[str, Any]) -> Model:
    props = tuple(
        Prop(
            name=name,
            type=spec["type"],
            # Swagger 1.2: a property without "required" is optional (Asterisk omits it often).
            required=bool(spec.get("required", False)),
            description=spec.get("description", ""),
            allowed=tuple(spec.get("allowableValues", {}).get("values", ())),
        )
        for name, spec in raw.get("properties", {}).items()
    )
    return Model(raw["id"], raw.get("description", ""), props, tuple(raw.get("subTypes", ())))


def python_type(swagger_type: str, models: dict[str, Model]) -> str:
    inner = re.fullmatch(r"List\[(.+)\]", swagger_type)
    if inner:
        return f"list[{python_type(inner.group(1), models)}]"
    if swagger_type in SCALAR_TYPES:
        return SCALAR_TYPES[swagger_type]
    if swagger_type in models:
        return swagger_type
    raise CodegenError(f"unknown Swagger type {swagger_type!r}")


def field_name(json_name: str, models: dict[str, Model]) -> str:
    """A Python name for a JSON property; when it differs, the JSON name becomes the alias."""
    name = re.sub(r"\W", "_", json_name).lstrip("_") or "field"
    while keyword.iskeyword(name) or name in TAKEN_NAMES or name in models:
        name += "_"
    return name if not name.startswith("model_") else f"ari_{name}"


def parents(models: dict[str, Model]) -> dict[str, str]:
    """Each subtype's base, from the `subTypes` lists (Message -> Event -> StasisStart, ...)."""
    found: dict[str, str] = {}
    for model in models.values():
        for sub in model.sub_types:
            if sub not in models or found.setdefault(sub, model.id) != model.id:
                raise CodegenError(f"subtype {sub} of {model.id} is unknown or has two bases")
    return found


def class_order(models: dict[str, Model], bases: dict[str, str]) -> list[str]:
    """Bases and referenced models before their users; ties alphabetical, so output is stable."""
    needs = {model.id: _dependencies(model, models, bases) for model in models.values()}
    ready = [name for name, deps in needs.items() if not deps]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for other, deps in needs.items():
            if name in deps:
                deps.discard(name)
                if not deps:
                    heapq.heappush(ready, other)
    if len(order) != len(models):
        raise CodegenError(
            f"models refer to each other in a cycle: {sorted(models.keys() - order)}"
        )
    return order


def _dependencies(model: Model, models: dict[str, Model], bases: dict[str, str]) -> set[str]:
    refs = {ref for prop in model.props for ref in re.findall(r"\w+", prop.type) if ref in models}
    if model.id in bases:
        refs.add(bases[model.id])
    return refs - {model.id}


def descendants(root: str, models: dict[str, Model]) -> list[str]:
    """Concrete (leaf) subtypes of `root`, sorted."""
    found: list[str] = []
    for sub in models[root].sub_types:
        found.extend(descendants(sub, models) if models[sub].sub_types else [sub])
    return sorted(found)


def _docstring(text: str, indent: str) -> list[str]:
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"') or "(undocumented)"
    if text.endswith('"'):
        text += "."
    width = LINE_LENGTH - len(indent) - 3  # room for the quotes
    paragraphs = [textwrap.wrap(p, width) for p in text.split("\n\n") if p.strip()]
    if len(paragraphs) == 1 and len(paragraphs[0]) == 1 and len(paragraphs[0][0]) + 3 <= width:
        return [f'{indent}"""{paragraphs[0][0]}"""']
    lines = [f'{indent}"""{paragraphs[0][0]}']
    lines += [f"{indent}{line}" for line in paragraphs[0][1:]]
    for paragraph in paragraphs[1:]:
        lines += [""] + [f"{indent}{line}" for line in paragraph]
    return [*lines, f'{indent}"""']


def _field(prop: Prop, models: dict[str, Model]) -> list[str]:
    note = " ".join(prop.description.split())
    if prop.allowed:
        note += ("" if note.endswith(".") or not note else ".") + " One of: "
        note = (note + ", ".join(prop.allowed) + ".").strip()
    lines = textwrap.wrap(
        note,
        LINE_LENGTH,
        initial_indent="    # ",
        subsequent_indent="    # ",
        break_on_hyphens=False,
    )
    annotation = python_type(prop.type, models)
    name = field_name(prop.name, models)
    if not prop.required:
        annotation += " | None"
    if name != prop.name:
        default = "" if prop.required else "default=None, "
        return [*lines, f'    {name}: {annotation} = Field({default}alias="{prop.name}")']
    return [*lines, f"    {name}: {annotation}" + ("" if prop.required else " = None")]


def _class(model: Model, base: str, models: dict[str, Model]) -> list[str]:
    lines = [f"class {model.id}({base}):", *_docstring(model.description, "    ")]
    for prop in model.props:
        lines += ["", *_field(prop, models)]
    return lines


def source_label(api_dir: Path) -> tuple[str, str]:
    """The description's files and its Asterisk version, without the machine-specific path."""
    resources = api_dir / "resources.json"
    ari = json.loads(resources.read_text()).get("apiVersion", "?") if resources.is_file() else "?"
    resolved = api_dir.resolve()
    if resolved.parts[-len(REST_API_SUBDIR.parts) :] != REST_API_SUBDIR.parts:
        return f"{api_dir.name}/*.json (ARI {ari})", "an Asterisk of unknown version"
    status = resolved.parents[len(REST_API_SUBDIR.parts) - 1] / "var/lib/dpkg/status"
    text = status.read_text(encoding="utf-8") if status.is_file() else ""
    package = r"^Package: asterisk\n(?:.+\n)*?Version: ((?:\d+:)?([\d.]+)\S*)"
    found = re.search(package, text, re.MULTILINE)
    version = f"{found.group(2)} (Debian {found.group(1)})" if found else "of unknown version"
    return f"{REST_API_SUBDIR}/*.json (ARI {ari})", f"Asterisk {version}"


HEADER = '''\
# Generated by ivr.ari.codegen from Asterisk's ARI description: do not edit.
# Source: {files}
#   of {asterisk}
# Regenerate: {regenerate}   (add --check to compare only)
"""Typed ARI models: one class per Swagger model; events subclass `Event`, itself a `Message`."""

{imports}


class {base}(BaseModel):
    """Fields a newer Asterisk adds are kept (as extras), never rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
'''

FOOTER = '''
def parse_event(data: dict[str, Any]) -> Event:
    """The event class named by `data["type"]`; a type this Asterisk lacks gives a plain `Event`.

    An unknown type keeps its fields as extras, so a newer Asterisk never stops the
    controller. Raises `pydantic.ValidationError` when a known event is malformed, or
    when any event lacks the fields every event has (type, application, timestamp).
    """
    kind = data.get("type")
    event_class = EVENT_TYPES.get(kind, Event) if isinstance(kind, str) else Event
    return event_class.model_validate(data)
'''


def generate(api_dir: Path) -> str:
    """The source of `ivr/ari/models.py` for the ARI description in `api_dir`."""
    models = load_models(api_dir)
    if MESSAGE not in models or EVENT not in models:
        raise CodegenError(f"{api_dir} has no {MESSAGE}/{EVENT} models: not an ARI description")
    bases = parents(models)
    body: list[str] = []
    for name in class_order(models, bases):
        body += ["", "", *_class(models[name], bases.get(name, BASE_CLASS), models)]
    events = [f'    "{name}": {name},' for name in descendants(EVENT, models)]
    body += ["", "", "EVENT_TYPES: dict[str, type[Event]] = {", *events, "}"]
    body += ['"""Event classes by the `type` string Asterisk sends."""', "", ""]
    text = "\n".join(body)
    uses_datetime = re.search(r"[:[] ?datetime\b", text)
    imports = "from datetime import datetime\n" if uses_datetime else ""
    imports += "from typing import Any\n\nfrom pydantic import BaseModel, ConfigDict"
    imports += ", Field" if "Field(" in text else ""
    files, asterisk = source_label(api_dir)
    header = HEADER.format(
        files=files, asterisk=asterisk, regenerate=REGENERATE, imports=imports, base=BASE_CLASS
    )
    return header + text + FOOTER


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr.ari.codegen", description=__doc__)
    parser.add_argument("api_dir", nargs="?", type=Path, help="default: see find_api_dir()")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if different")
    parser.add_argument("--output", type=Path, default=MODELS_PATH, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        api_dir = args.api_dir or find_api_dir()
        source = generate(api_dir)
    except (CodegenError, OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
    if args.check:
        if current == source:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), source.splitlines(), str(args.output), str(api_dir), lineterm=""
        )
        print(f"{args.output} does not match {api_dir}; regenerate it with:", file=sys.stderr)
        print(f"    python -m ivr.ari.codegen {api_dir}\n", file=sys.stderr)
        print("\n".join(list(diff)[:60]), file=sys.stderr)
        return 1
    args.output.write_text(source, encoding="utf-8")
    print(f"wrote {args.output} from {api_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
