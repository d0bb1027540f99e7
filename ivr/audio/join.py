"""A menu page as one WAV: the prompts it says, joined end to end.

A page is a greeting, a department's name and a list of choices: twenty
prompt files or more. Asterisk opens, reads and switches between every
file of a playlist, and at a hundred new calls a second that work, not the
controller, decided when callers heard their first word. So the controller
asks for a page as one URL naming its files in order,

    /prompts/join/greeting.hello-0123456789abcdef+dept.340100-fedcba9876543210.wav

and the prompt server joins them. Every piece's name carries its content
hash, so a page's URL names its content for good: Asterisk fetches each
page once and keeps it in its media cache. The pieces are joined by `+`
because ARI takes a playlist as one comma-separated value.
"""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Sequence
from pathlib import Path

from ivr.errors import DataError, NotFound

JOIN_DIR = "join"
SEPARATOR = "+"
# A page longer than this is asked for in parts: URLs stay short enough for
# any HTTP server and for the key of Asterisk's media cache.
MAX_PIECES = 24
# A built or published prompt's file name without `.wav` (`catalog.py`,
# `in_force.prompt_file`): nothing that could name a path.
_PIECE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]*-[0-9a-f]{16}")
_SUFFIX = ".wav"


def page_path(files: Sequence[str]) -> str:
    """The path, under the prompt server's `/prompts/`, of `files` said in turn."""
    if len(files) == 1:
        return files[0]
    stems = [file.removesuffix(_SUFFIX) for file in files]
    return f"{JOIN_DIR}/{SEPARATOR.join(stems)}{_SUFFIX}"


def pieces(name: str) -> list[str]:
    """The prompt files a joined page's name lists, in order; `DataError`
    for a name no page has."""
    if not name.endswith(_SUFFIX):
        raise DataError(f"a joined page's name ends in {_SUFFIX}: {name!r}")
    stems = name.removesuffix(_SUFFIX).split(SEPARATOR)
    if not 2 <= len(stems) <= MAX_PIECES:
        raise DataError(f"a joined page has 2 to {MAX_PIECES} prompts, not {len(stems)}")
    for stem in stems:
        if not _PIECE.fullmatch(stem):
            raise DataError(f"{stem!r} is not a prompt's file name")
    return [stem + _SUFFIX for stem in stems]


def join_page(directory: Path, name: str) -> bytes:
    """The WAV of a joined page: its prompts' audio end to end.

    Raises `DataError` for a malformed name or pieces that do not share one
    format, and `NotFound` when a piece is not in `directory`."""
    return join_files(directory, pieces(name))


def join_files(directory: Path, files: Sequence[str]) -> bytes:
    """The WAV of prompt `files` of `directory` end to end (see `join_page`)."""
    frames: list[bytes] = []
    shapes: set[tuple[int, int, int]] = set()
    for file in files:
        path = directory / file
        if path.is_symlink() or not path.is_file():
            raise NotFound(f"no prompt {file}")
        with wave.open(str(path), "rb") as audio:
            shapes.add((audio.getnchannels(), audio.getsampwidth(), audio.getframerate()))
            frames.append(audio.readframes(audio.getnframes()))
    if len(shapes) != 1:
        raise DataError(f"the prompts of {SEPARATOR.join(files)} are not all in one format")
    channels, width, rate = shapes.pop()
    out = io.BytesIO()
    with wave.open(out, "wb") as joined:
        joined.setnchannels(channels)
        joined.setsampwidth(width)
        joined.setframerate(rate)
        joined.writeframes(b"".join(frames))
    return out.getvalue()
