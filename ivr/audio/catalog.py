"""The built prompts: `manifest.json` and the files it names.

A build (`ivr/audio/build.py`) writes each prompt as `<id>-<16 hex of the WAV's
sha256>.wav` and lists it in the manifest with its text, hash, length and
the hash of what it was made from. `Catalog` is what the controller reads:
what each id plays and the URL Asterisk fetches it from. A file's name is
also a path, so the manifest is trusted only for the names a build gives.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import threading
import wave
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from ivr.audio.join import MAX_PIECES, page_path
from ivr.errors import ConfigError

# Each department's name is the prompt `dept.<code>`: the build speaks it
# from the directory and the call flow plays it (`ivr.call.guide`).
DEPARTMENT_PREFIX = "dept."
# ... and the place it serves, as a list says it (长丰县): `place.<code>`.
PLACE_PREFIX = "place."
GENERATED_PREFIXES = (DEPARTMENT_PREFIX, PLACE_PREFIX)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
HASH_CHARS = 16


class PromptEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    text: str
    sha256: str
    duration_ms: int
    input: str  # hash of what the audio was made from; unchanged means no re-render


_MANIFEST = TypeAdapter(dict[str, PromptEntry])


@dataclass(frozen=True)
class Catalog:
    """The built prompts: what each id plays, and where Asterisk fetches it."""

    directory: Path
    entries: Mapping[str, PromptEntry]

    @classmethod
    def load(cls, out_dir: Path) -> Catalog:
        entries = read_manifest(out_dir / MANIFEST)
        for prompt_id, entry in entries.items():
            if not (out_dir / entry.file).is_file():
                raise ConfigError(
                    f"prompt {prompt_id}: {entry.file} is missing from {out_dir}; "
                    "build the prompts again",
                    prompt_id=prompt_id,
                )
        return cls(out_dir, entries)

    def has(self, prompt_id: str) -> bool:
        return prompt_id in self.entries

    def ids(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def file(self, prompt_id: str) -> str:
        return self._entry(prompt_id).file

    def path(self, prompt_id: str) -> Path:
        return self.directory / self._entry(prompt_id).file

    def text(self, prompt_id: str) -> str:
        return self._entry(prompt_id).text

    def duration_ms(self, prompt_id: str) -> int:
        return self._entry(prompt_id).duration_ms

    def media_uri(self, prompt_id: str, base_url: str) -> str:
        """What ARI plays: Asterisk fetches the file over HTTP and caches it by URL."""
        return _sound(base_url, self.file(prompt_id))

    def page_uris(self, prompt_ids: Sequence[str], base_url: str) -> list[str]:
        """What ARI plays for prompts said in turn: as few joined pages as
        the prompt server makes (`ivr.audio.join`), in order."""
        files = [self.file(prompt_id) for prompt_id in prompt_ids]
        return [
            _sound(base_url, page_path(files[at : at + MAX_PIECES]))
            for at in range(0, len(files), MAX_PIECES)
        ]

    def _entry(self, prompt_id: str) -> PromptEntry:
        try:
            return self.entries[prompt_id]
        except KeyError:
            raise ConfigError(f"unknown prompt {prompt_id!r}", prompt_id=prompt_id) from None


def _sound(base_url: str, path: str) -> str:
    """The ARI media of `path` under the prompt server's `/prompts/`."""
    return f"sound:{base_url.rstrip('/')}/prompts/{path}"


def wav_duration_ms(data: bytes) -> int:
    """How long WAV audio plays: a prompt, or a caller's recording. Raises
    `wave.Error` or `EOFError` for what is not WAV."""
    with wave.open(io.BytesIO(data), "rb") as audio:
        frames, rate = audio.getnframes(), audio.getframerate()
    return round(frames * 1000 / rate)


def read_manifest(path: Path) -> dict[str, PromptEntry]:
    try:
        entries = _MANIFEST.validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}; build the prompts", path=str(path)) from exc
    except ValidationError as exc:
        raise ConfigError(f"{path} is not a prompt manifest: {exc}", path=str(path)) from None
    for prompt_id, entry in entries.items():
        # The file name is also a path: accept only the name the build gives it.
        if entry.file != f"{prompt_id}-{entry.sha256[:HASH_CHARS]}.wav" or "/" in entry.file:
            raise ConfigError(f"{path}: prompt {prompt_id} has a bad file name", path=str(path))
    return entries


def previous_manifest(out_dir: Path) -> dict[str, PromptEntry]:
    """The last build's manifest, or nothing (so everything is rendered) if unusable."""
    path = out_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        return read_manifest(path)
    except ConfigError as exc:
        log.warning("rendering every prompt again: %s", exc.message)
        return {}


def intact(out_dir: Path, entry: PromptEntry) -> bool:
    try:
        data = (out_dir / entry.file).read_bytes()
    except OSError:
        return False
    return hashlib.sha256(data).hexdigest() == entry.sha256


def write_manifest(out_dir: Path, entries: Mapping[str, PromptEntry]) -> None:
    data = {prompt_id: entry.model_dump() for prompt_id, entry in entries.items()}
    text = (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()
    path = out_dir / MANIFEST
    if path.is_file() and path.read_bytes() == text:
        return  # an unchanged build leaves every file as it was
    write_atomically(path, text)


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def remove_unreferenced(out_dir: Path, entries: Mapping[str, PromptEntry]) -> int:
    """Remove old prompt files and any partial file a failed build left behind."""
    keep = {entry.file for entry in entries.values()}
    removed = 0
    for path in [*out_dir.glob("*.wav"), *out_dir.glob(".*.partial")]:
        if path.name not in keep:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
