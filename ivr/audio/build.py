"""Mandarin prompt audio, rendered from the texts in prompts/prompts.yaml.

Asterisk fetches prompts from the controller over HTTP and caches them by URL,
so a URL must never change what it plays: every file is named after the hash
of its own bytes, and a changed text gets a new name. `manifest.json` maps each
prompt id to its file. A build re-renders only the prompts whose input (text,
voice, speed, sample rate, renderer) changed since the last build, and then removes the files
no prompt uses any more. Speaking a text is `ivr.audio.speech`'s.

Which prompts must be there is the caller's to say (`required`): the parts of
the product that play them (the call flow, the desk, the menus) are above
audio, so the composition root collects their ids (`ivr.cli.prompt_ids`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import string
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from ivr.audio.catalog import (
    DEPARTMENT_PREFIX,
    GENERATED_PREFIXES,
    HASH_CHARS,
    PLACE_PREFIX,
    Catalog,
    PromptEntry,
    intact,
    previous_manifest,
    remove_unreferenced,
    write_atomically,
    write_manifest,
)
from ivr.audio.speech import (
    Speaker,
    cached_or_spoken,
    check_voice,
    checked_duration_ms,
    find_tools,
    render_input,
    say,
    spoken,
)
from ivr.directory.routing import Directory
from ivr.errors import ConfigError
from ivr.settings import TTS_RATE

log = logging.getLogger(__name__)

# What the native fallback in dialplan/extensions.conf plays from Asterisk's disk.
FALLBACK_PROMPTS = ("fallback.apology", "fallback.thanks")
RENDER_WORKERS = 4

_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")
_DEPARTMENT_FIELDS = frozenset({"short_name", "name", "place"})


class PromptSpec(BaseModel):
    """prompts/prompts.yaml; see prompts/README.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voice: str = Field(min_length=1)
    # Asterisk's `wav` format is 8 kHz signed linear: other rates would play wrong.
    sample_rate: Literal[8000] = 8000
    # How a department's name is said, from routing/departments.csv: `dept.<code>`.
    department: str = Field(default="{short_name}", min_length=1)
    # How a list says the place a department serves: `place.<code>`.
    place: str = Field(default="{place}", min_length=1)
    prompts: dict[str, str]
    pronounce: dict[str, str] = Field(default_factory=dict)

    @field_validator("prompts")
    @classmethod
    def _check_prompts(cls, prompts: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for prompt_id, text in prompts.items():
            if not _ID.fullmatch(prompt_id) or prompt_id.startswith(GENERATED_PREFIXES):
                raise ValueError(
                    f"bad prompt id {prompt_id!r} (a-z, 0-9, _ and dots; "
                    f"{' and '.join(p + '*' for p in GENERATED_PREFIXES)} are generated)"
                )
            if not text.strip():
                raise ValueError(f"prompt {prompt_id} has no text")
        required: Collection[str] = (info.context or {}).get("required", ())
        missing = [prompt_id for prompt_id in required if prompt_id not in prompts]
        if missing:
            raise ValueError(f"missing prompts: {', '.join(missing)}")
        return prompts

    @field_validator("department", "place")
    @classmethod
    def _check_department(cls, template: str, info: ValidationInfo) -> str:
        fields = {
            field for _, field, _, _ in string.Formatter().parse(template) if field is not None
        }
        if not fields <= _DEPARTMENT_FIELDS:
            raise ValueError(
                f"{info.field_name} may use {sorted(_DEPARTMENT_FIELDS)}, not {sorted(fields)}"
            )
        return template


def load_spec(path: Path, required: Collection[str] = ()) -> PromptSpec:
    """The spec at `path`, which must hold a text for every prompt id in `required`."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", path=str(path)) from exc
    try:
        return PromptSpec.model_validate(data, context={"required": tuple(required)})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}", path=str(path)) from None


def prompt_texts(
    spec: PromptSpec, directory: Directory, menu_texts: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every prompt's written text by id, with each department's name as `dept.<code>`
    and its place as `place.<code>`
    and the service menu's node texts (`MenuBook.prompt_texts`) under their ids."""
    texts = dict(spec.prompts)
    for prompt_id, text in (menu_texts or {}).items():
        if prompt_id in texts:
            raise ConfigError(
                f"prompt {prompt_id} is both in prompts.yaml and a menu node's text: "
                "rename the node or the prompt",
                prompt_id=prompt_id,
            )
        texts[prompt_id] = text
    for department in directory:
        fields = {
            "short_name": department.short_name,
            "name": department.name,
            "place": department.place,
        }
        texts[DEPARTMENT_PREFIX + department.code] = spec.department.format(**fields)
        texts[PLACE_PREFIX + department.code] = spec.place.format(**fields)
    return texts


@dataclass(frozen=True, slots=True)
class _Job:
    prompt_id: str
    text: str
    spoken: str
    input: str


def build(
    spec_path: Path,
    directory: Directory,
    out_dir: Path,
    cache_dir: Path | None = None,
    menu_texts: Mapping[str, str] | None = None,
    *,
    required: Collection[str] = (),
    voice: str = "",
    rate: int = TTS_RATE,
) -> Catalog:
    """Render every prompt that changed into `out_dir`, then write the manifest.

    `cache_dir`, if given, keeps rendered audio by input hash for every build on
    the machine: a department's name is rendered once, not once per build.
    `menu_texts` are the service menu's texts by generated id (routing/menus.yaml).
    `required` are the ids the product plays: a spec without one of them fails.
    `voice` (IVR_TTS_VOICE), when set, wins over the spec's; `rate` is espeak-ng's
    speed in words a minute (IVR_TTS_RATE).
    """
    spec = load_spec(spec_path, required)
    speaker = Speaker.chosen(spec.voice, voice, rate)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = previous_manifest(out_dir)
    entries: dict[str, PromptEntry] = {}
    jobs: list[_Job] = []
    for prompt_id, text in prompt_texts(spec, directory, menu_texts).items():
        said = spoken(text, spec.pronounce)
        job = _Job(prompt_id, text, said, render_input(speaker, spec.sample_rate, text, said))
        old = previous.get(prompt_id)
        if old is not None and old.input == job.input and intact(out_dir, old):
            entries[prompt_id] = old
        else:
            jobs.append(job)
    if jobs:
        entries.update(_render_all(jobs, spec, speaker, out_dir, cache_dir))
    entries = dict(sorted(entries.items()))
    write_manifest(out_dir, entries)
    removed = remove_unreferenced(out_dir, entries)
    log.info(
        "prompts in %s: %d built (spoken, or copied from the render cache), %d kept, %d removed",
        out_dir,
        len(jobs),
        len(entries) - len(jobs),
        removed,
    )
    return Catalog(out_dir, entries)


# Rendering ----------------------------------------------------------------


def _render_all(
    jobs: list[_Job], spec: PromptSpec, speaker: Speaker, out_dir: Path, cache_dir: Path | None
) -> dict[str, PromptEntry]:
    tools = find_tools()
    check_voice(tools[0], speaker)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    pool = ThreadPoolExecutor(max_workers=RENDER_WORKERS, thread_name_prefix="prompt")
    try:
        rendered = pool.map(
            lambda job: _render(job, spec, speaker, tools, out_dir, cache_dir), jobs
        )
        return {job.prompt_id: entry for job, entry in zip(jobs, rendered, strict=True)}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _render(
    job: _Job,
    spec: PromptSpec,
    speaker: Speaker,
    tools: tuple[str, str],
    out_dir: Path,
    cache_dir: Path | None,
) -> PromptEntry:
    data = cached_or_spoken(
        job.input, cache_dir, lambda: _speak(job, spec, speaker, tools, out_dir)
    )
    digest = hashlib.sha256(data).hexdigest()
    name = f"{job.prompt_id}-{digest[:HASH_CHARS]}.wav"
    write_atomically(out_dir / name, data)
    return PromptEntry(
        file=name,
        text=job.text,
        sha256=digest,
        duration_ms=checked_duration_ms(data, job.prompt_id),
        input=job.input,
    )


def _speak(
    job: _Job, spec: PromptSpec, speaker: Speaker, tools: tuple[str, str], out_dir: Path
) -> bytes:
    return say(job.spoken, speaker, spec.sample_rate, tools, out_dir, job.prompt_id)
