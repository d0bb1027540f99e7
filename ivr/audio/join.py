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
because ARI takes a playlist as one comma-separated value. A page asked
for as `.alaw` or `.ulaw` comes in that G.711 codec: the caller's own, so
Asterisk sends it as it is instead of transcoding every 20 ms frame.
"""

from __future__ import annotations

import functools
import io
import re
import sys
import wave
from array import array
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
# What a page comes in: WAV as the prompts are stored, or the caller's G.711
# codec, which Asterisk sends without transcoding (8 kHz, a byte a sample).
CONTENT_TYPES = {"wav": "audio/wav", "alaw": "audio/x-alaw-basic", "ulaw": "audio/basic"}
_WAV = ".wav"


def page_path(files: Sequence[str], page_format: str = "wav") -> str:
    """The path, under the prompt server's `/prompts/`, of `files` said in turn."""
    if len(files) == 1 and page_format == "wav":
        return files[0]
    stems = [file.removesuffix(_WAV) for file in files]
    return f"{JOIN_DIR}/{SEPARATOR.join(stems)}.{page_format}"


def pieces(name: str) -> tuple[list[str], str]:
    """The prompt files a joined page's name lists, in order, and its format;
    `DataError` for a name no page has."""
    stem, _, page_format = name.rpartition(".")
    if page_format not in CONTENT_TYPES:
        raise DataError(f"a page comes as {', '.join(CONTENT_TYPES)}, not {name!r}")
    stems = stem.split(SEPARATOR)
    if len(stems) > MAX_PIECES:
        raise DataError(f"a joined page has at most {MAX_PIECES} prompts, not {len(stems)}")
    for piece in stems:
        if not _PIECE.fullmatch(piece):
            raise DataError(f"{piece!r} is not a prompt's file name")
    return [piece + _WAV for piece in stems], page_format


def join_page(directory: Path, name: str) -> tuple[bytes, str]:
    """A joined page's audio (its prompts end to end, in its format) and content type.

    Raises `DataError` for a malformed name, pieces that do not share one
    format or a codec their rate cannot take, and `NotFound` when a piece is
    not in `directory`."""
    files, page_format = pieces(name)
    wav = join_files(directory, files)
    if page_format == "wav":
        return wav, CONTENT_TYPES["wav"]
    return g711(wav, page_format), CONTENT_TYPES[page_format]


def g711(wav: bytes, codec: str) -> bytes:
    """8 kHz 16-bit mono WAV as raw A-law or μ-law."""
    with wave.open(io.BytesIO(wav), "rb") as audio:
        shape = (audio.getnchannels(), audio.getsampwidth(), audio.getframerate())
        frames = audio.readframes(audio.getnframes())
    if shape != (1, 2, G711_RATE):
        raise DataError(f"{codec} needs 8 kHz 16-bit mono audio, not {shape}")
    samples = array("H", frames)  # as unsigned: an index into the table
    if sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian
    return bytes(map(_table(codec).__getitem__, samples))


G711_RATE = 8000


@functools.cache
def _table(codec: str) -> bytes:
    """The code of every 16-bit sample (indexed as unsigned)."""
    encode = _alaw if codec == "alaw" else _ulaw
    return bytes(encode(n - 65536 if n >= 32768 else n) for n in range(65536))


# ITU-T G.711, as in the reference coder (Sun's g711.c).
_A_ENDS = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)
_U_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_U_BIAS, _U_CLIP = 0x84, 8159


def _segment(value: int, ends: tuple[int, ...]) -> int:
    return next((n for n, end in enumerate(ends) if value <= end), len(ends))


def _alaw(sample: int) -> int:
    pcm = sample >> 3
    mask = 0xD5
    if pcm < 0:
        mask, pcm = 0x55, -pcm - 1
    segment = _segment(pcm, _A_ENDS)
    if segment >= 8:
        return 0x7F ^ mask
    step = (pcm >> 1) if segment < 2 else (pcm >> segment)
    return ((segment << 4) | (step & 0x0F)) ^ mask


def _ulaw(sample: int) -> int:
    pcm = sample >> 2
    mask = 0xFF
    if pcm < 0:
        mask, pcm = 0x7F, -pcm
    pcm = min(pcm, _U_CLIP) + (_U_BIAS >> 2)
    segment = _segment(pcm, _U_ENDS)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((pcm >> (segment + 1)) & 0x0F)) ^ mask


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
        raise DataError(f"the prompts of {'+'.join(files)} are not all in one format")
    channels, width, rate = shapes.pop()
    out = io.BytesIO()
    with wave.open(out, "wb") as joined:
        joined.setnchannels(channels)
        joined.setsampwidth(width)
        joined.setframerate(rate)
        joined.writeframes(b"".join(frames))
    return out.getvalue()
