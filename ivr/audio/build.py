"""Mandarin prompt audio, rendered from the texts in prompts/prompts.yaml.

Asterisk fetches prompts from the controller over HTTP and caches them by URL,
so a URL must never change what it plays: every file is named after the hash
of its own bytes, and a changed text gets a new name. `manifest.json` maps each
prompt id to its file. A build re-renders only the prompts whose input (text,
voice, rate, renderer) changed since the last build, and then removes the files
no prompt uses any more.

espeak-ng speaks each text as WAV and sox turns it into telephone audio (8 kHz,
mono, 16-bit). sox runs without dither (`-D`), which would otherwise add random
noise, so the same text always gives the same bytes and so the same file name;
the level is normalised so that every prompt plays equally loud.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import string
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ivr.audio.catalog import (
    HASH_CHARS,
    Catalog,
    PromptEntry,
    intact,
    previous_manifest,
    remove_unreferenced,
    wav_duration_ms,
    write_atomically,
    write_manifest,
)
from ivr.call import guide
from ivr.call import queueing as flow_desk
from ivr.call import service as flow_service
from ivr.desk import phones as operators_phone
from ivr.directory.routing import Directory
from ivr.errors import ConfigError
from ivr.publish import menus as menu

log = logging.getLogger(__name__)

DEPARTMENT_PREFIX = guide.DEPARTMENT_PREFIX
FALLBACK_PROMPTS = ("fallback.apology", "fallback.thanks")
# The call flow and the native fallback play these, so a build without them fails.
REQUIRED_PROMPTS = (
    *guide.PROMPTS_USED,
    "menu.invalid",
    "menu.no_input",
    "goodbye",
    "call.resumed",
    "call.ended_by_system",
    *FALLBACK_PROMPTS,
    # Working hours, the queue and the operator's phone.
    *flow_desk.PROMPTS_USED,
    *operators_phone.PROMPTS_USED,
    # The after-hours service menu, around its nodes' own texts, and the
    # message box's review and the survey.
    *menu.PROMPTS_USED,
    *flow_service.PROMPTS_USED,
)
# Part of every prompt's input hash: a change in how audio is made re-renders all.
RENDERER = "espeak-ng stdin | sox -D gain -3 rate gain -n -3 | digits v1"
RENDER_WORKERS = 4
RENDER_TIMEOUT = 60.0  # seconds for one run of one tool
INSTALL_HINT = "apt-get install espeak-ng sox"

_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)*")
_DIGIT_RUN = re.compile(r"[0-9]+")
_NUMBER = str.maketrans("0123456789", "零一二三四五六七八九")
# A run of digits is a number to dial, said digit by digit the way hotlines say
# them, with 幺 for 1 so that it cannot be heard as 7.
_DIALLED = str.maketrans("0123456789", "零幺二三四五六七八九")
_DEPARTMENT_FIELDS = frozenset({"short_name", "name"})


class PromptSpec(BaseModel):
    """prompts/prompts.yaml; see prompts/README.md."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voice: str = Field(min_length=1)
    # Asterisk's `wav` format is 8 kHz signed linear: other rates would play wrong.
    sample_rate: Literal[8000] = 8000
    # How a department's name is said, from routing/departments.csv: `dept.<code>`.
    department: str = Field(default="{short_name}", min_length=1)
    prompts: dict[str, str]
    pronounce: dict[str, str] = Field(default_factory=dict)

    @field_validator("prompts")
    @classmethod
    def _check_prompts(cls, prompts: dict[str, str]) -> dict[str, str]:
        for prompt_id, text in prompts.items():
            if not _ID.fullmatch(prompt_id) or prompt_id.startswith(DEPARTMENT_PREFIX):
                raise ValueError(
                    f"bad prompt id {prompt_id!r} (a-z, 0-9, _ and dots; "
                    f"{DEPARTMENT_PREFIX}* is generated)"
                )
            if not text.strip():
                raise ValueError(f"prompt {prompt_id} has no text")
        missing = [prompt_id for prompt_id in REQUIRED_PROMPTS if prompt_id not in prompts]
        if missing:
            raise ValueError(f"missing prompts: {', '.join(missing)}")
        return prompts

    @field_validator("department")
    @classmethod
    def _check_department(cls, template: str) -> str:
        fields = {
            field for _, field, _, _ in string.Formatter().parse(template) if field is not None
        }
        if not fields <= _DEPARTMENT_FIELDS:
            raise ValueError(
                f"department may use {sorted(_DEPARTMENT_FIELDS)}, not {sorted(fields)}"
            )
        return template


def load_spec(path: Path) -> PromptSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", path=str(path)) from exc
    try:
        return PromptSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}", path=str(path)) from None


def prompt_texts(
    spec: PromptSpec, directory: Directory, menu_texts: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every prompt's written text by id, with each department's name as `dept.<code>`
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
        texts[DEPARTMENT_PREFIX + department.code] = spec.department.format(
            short_name=department.short_name, name=department.name
        )
    return texts


def spoken(text: str, pronounce: Mapping[str, str]) -> str:
    """What espeak-ng is given for `text`: homophones for words it misreads, digits spelled."""
    for written, said in pronounce.items():
        text = text.replace(written, said)
    return _DIGIT_RUN.sub(_say_digits, text)


def _say_digits(match: re.Match[str]) -> str:
    digits = match.group()
    return digits.translate(_NUMBER if len(digits) == 1 else _DIALLED)


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
) -> Catalog:
    """Render every prompt that changed into `out_dir`, then write the manifest.

    `cache_dir`, if given, keeps rendered audio by input hash for every build on
    the machine: a department's name is rendered once, not once per build.
    `menu_texts` are the service menu's texts by generated id (routing/menus.yaml).
    """
    spec = load_spec(spec_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = previous_manifest(out_dir)
    entries: dict[str, PromptEntry] = {}
    jobs: list[_Job] = []
    for prompt_id, text in prompt_texts(spec, directory, menu_texts).items():
        said = spoken(text, spec.pronounce)
        job = _Job(prompt_id, text, said, render_input(spec.voice, spec.sample_rate, text, said))
        old = previous.get(prompt_id)
        if old is not None and old.input == job.input and intact(out_dir, old):
            entries[prompt_id] = old
        else:
            jobs.append(job)
    if jobs:
        entries.update(_render_all(jobs, spec, out_dir, cache_dir))
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


def render_input(voice: str, sample_rate: int, text: str, said: str) -> str:
    """The hash of all that shapes a text's audio: a build's `input`, the render cache's key."""
    key = json.dumps([RENDERER, voice, sample_rate, text, said], ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()


def render_text(
    text: str,
    voice: str,
    sample_rate: int,
    pronounce: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
) -> bytes:
    """One text as WAV, the same bytes a build makes of it, through the same render cache:
    what an admin previews is what callers hear, and a later build does not speak it again."""
    said = spoken(text, pronounce or {})

    def speak_now() -> bytes:
        tools = _tools()
        _check_voice(tools[0], voice)
        with tempfile.TemporaryDirectory(prefix="ivr-speak-") as work:
            return _speech(said, voice, sample_rate, tools, Path(work), "preview")

    data = _cached_or_spoken(render_input(voice, sample_rate, text, said), cache_dir, speak_now)
    _duration_ms(data, "preview")
    return data


def _tools() -> tuple[str, str]:
    found = []
    for tool in ("espeak-ng", "sox"):
        path = shutil.which(tool)
        if path is None:
            raise ConfigError(
                f"{tool} is not installed; prompts are built with it: {INSTALL_HINT}", tool=tool
            )
        found.append(path)
    return found[0], found[1]


def _check_voice(espeak: str, voice: str) -> None:
    """Refuse a voice espeak-ng does not list: it reads `no-such` as Norwegian, silently."""
    listing = _run([espeak, "--voices"], b"", "(voice list)").decode(errors="replace")
    known = set()
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5:  # Pty Language Age/Gender VoiceName File ...
            known |= {fields[1].lower(), fields[3].lower(), fields[4].rsplit("/", 1)[-1].lower()}
    if voice.lower() not in known:
        raise ConfigError(f"espeak-ng has no voice {voice!r} (see espeak-ng --voices)", voice=voice)


def _render_all(
    jobs: list[_Job], spec: PromptSpec, out_dir: Path, cache_dir: Path | None
) -> dict[str, PromptEntry]:
    tools = _tools()
    _check_voice(tools[0], spec.voice)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    pool = ThreadPoolExecutor(max_workers=RENDER_WORKERS, thread_name_prefix="prompt")
    try:
        rendered = pool.map(lambda job: _render(job, spec, tools, out_dir, cache_dir), jobs)
        return {job.prompt_id: entry for job, entry in zip(jobs, rendered, strict=True)}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _render(
    job: _Job, spec: PromptSpec, tools: tuple[str, str], out_dir: Path, cache_dir: Path | None
) -> PromptEntry:
    data = _cached_or_spoken(job.input, cache_dir, lambda: _speak(job, spec, tools, out_dir))
    digest = hashlib.sha256(data).hexdigest()
    name = f"{job.prompt_id}-{digest[:HASH_CHARS]}.wav"
    write_atomically(out_dir / name, data)
    return PromptEntry(
        file=name,
        text=job.text,
        sha256=digest,
        duration_ms=_duration_ms(data, job.prompt_id),
        input=job.input,
    )


def _cached_or_spoken(key: str, cache_dir: Path | None, speak: Callable[[], bytes]) -> bytes:
    cached = None if cache_dir is None else cache_dir / f"{key}.wav"
    data = _read_cached(cached)
    if data is None:
        data = speak()
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(cached, data)
    return data


def _speak(job: _Job, spec: PromptSpec, tools: tuple[str, str], out_dir: Path) -> bytes:
    return _speech(job.spoken, spec.voice, spec.sample_rate, tools, out_dir, job.prompt_id)


def _speech(
    said: str, voice: str, sample_rate: int, tools: tuple[str, str], work_dir: Path, label: str
) -> bytes:
    espeak, sox = tools
    # The text goes in on standard input, where it cannot be taken for an option.
    speech = _run([espeak, "-v", voice, "--stdout"], said.encode(), label)
    partial = work_dir / f".{label}.partial.wav"
    rate = str(sample_rate)
    audio = ["-r", rate, "-c", "1", "-b", "16", "-e", "signed-integer", str(partial)]
    effects = ["gain", "-3", "rate", "gain", "-n", "-3"]  # headroom, resample, normalise
    _run([sox, "-D", "-V1", "-t", "wav", "-", *audio, *effects], speech, label)
    try:
        return partial.read_bytes()
    finally:
        partial.unlink(missing_ok=True)


def _read_cached(path: Path | None) -> bytes | None:
    """A cached render, if there is a whole one (a torn write is never renamed in)."""
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def _run(command: list[str], stdin: bytes, prompt_id: str) -> bytes:
    tool = Path(command[0]).name
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, timeout=RENDER_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"{tool} took over {RENDER_TIMEOUT:g}s on prompt {prompt_id}", prompt_id=prompt_id
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot run {tool}: {exc}; {INSTALL_HINT}", tool=tool) from exc
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip()
        raise ConfigError(
            f"{tool} failed on prompt {prompt_id}: {error}", prompt_id=prompt_id, tool=tool
        )
    return done.stdout


def _duration_ms(data: bytes, prompt_id: str) -> int:
    duration = wav_duration_ms(data)
    if duration == 0:
        raise ConfigError(f"prompt {prompt_id} rendered no audio", prompt_id=prompt_id)
    return duration
