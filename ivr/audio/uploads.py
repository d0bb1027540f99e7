"""Audio an admin gives the hotline: an uploaded file, or a recording made with
the browser's microphone (WebM or Ogg from MediaRecorder), and spoken previews.

An upload is untrusted bytes. It is written under a fixed name into a private
temporary folder (the admin's file name is only checked, never used as a path),
and ffprobe, limited to the few demuxers we accept and to local files, says
whether it is audio at all before ffmpeg decodes it. ffmpeg measures its
loudness in a first pass and then, in a second, levels it to the same loudness
as the spoken prompts (`ivr.audio.loudness`), band-limits it to the phone's
8 kHz and writes plain telephone WAV without metadata, so the same upload
always gives the same bytes and so the same hash-named file. Every refusal is
an `AudioRejected` whose message an admin can act on; ffmpeg's own words go to
the log.

These functions block (subprocesses, up to two passes of ffmpeg): the web layer
calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import wave
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.audio import loudness
from ivr.audio.loudness import TARGET_LUFS as TARGET_LUFS  # what an upload is levelled to
from ivr.audio.speech import Speaker, render_text
from ivr.errors import ConfigError, DataError

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SECONDS = 120
ALLOWED_SUFFIXES = (".wav", ".mp3", ".m4a", ".webm", ".ogg")
MAX_NAME_CHARS = 120
# EBU R128 measures loudness in 400 ms blocks: anything shorter has none, and
# is too short for a caller to make out anyway.
MIN_SECONDS = 0.4
TOOL_TIMEOUT = 30.0  # seconds for one run of ffprobe or ffmpeg; 2 min of audio takes ~2 s
INSTALL_HINT = "apt-get install ffmpeg"

# ffprobe's demuxer names (`format_name`) of what we accept, and the short
# name to force for the conversion, so ffmpeg decodes what ffprobe checked.
_DEMUXERS = {
    "wav": "wav",
    "mp3": "mp3",
    "mov,mp4,m4a,3gp,3g2,mj2": "mov",
    "matroska,webm": "matroska",
    "ogg": "ogg",
}
# Also stops the demuxers that open other files or URLs (HLS, concat) at probing.
_FORMAT_WHITELIST = ",".join(sorted(set(_DEMUXERS.values())))
_UPLOAD = "upload"  # the file's name in the temporary folder, plus the checked suffix
_NOT_AUDIO = "this file is not audio we can read (expected WAV, MP3, M4A, WebM or Ogg)"
_UNUSABLE = "this file could not be converted; it may be damaged. Try saving it again as MP3"
_MIB = 1024 * 1024


class AudioRejected(DataError):
    """Audio (or its file name) an admin gave that cannot be played to callers."""

    error_id = "audio_rejected"


class AudioTooLarge(AudioRejected):
    status = 413


@dataclass(frozen=True, slots=True)
class Converted:
    """An upload as telephone audio: mono, 16-bit signed PCM WAV."""

    wav: bytes
    sha256: str  # hex of `wav`: the prompt file is named after it
    duration_ms: int
    source_format: str  # the demuxer ffprobe named, e.g. "mp3", "matroska,webm"
    loudness_lufs: float  # the input's integrated loudness, before leveling


def check_name(filename: str) -> str:
    """The suffix (lower case) of an acceptable upload name; a name is only ever a label."""
    if not _plain(filename):
        raise AudioRejected(
            'the file name must be a plain file name such as "greeting.mp3" '
            f"(no folders, at most {MAX_NAME_CHARS} characters)",
            reason="bad_name",
        )
    suffix = Path(filename).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        allowed = ", ".join(ALLOWED_SUFFIXES)
        raise AudioRejected(
            f'the file name must end in one of {allowed}, such as "greeting.mp3"',
            reason="bad_suffix",
        )
    return suffix


def _plain(filename: str) -> bool:
    return (
        0 < len(filename) <= MAX_NAME_CHARS
        and not any(mark in filename for mark in ("/", "\\", ".."))
        and not filename.startswith(".")
        and filename.strip() == filename
        # NUL, line breaks, and the likes of U+202E, which shows "a\u202egpj.wav" as "avaw.jpg".
        and not any(unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} for char in filename)
    )


def convert(data: bytes, filename: str, sample_rate: int = 8000) -> Converted:
    """Check an upload and turn it into leveled telephone audio at `sample_rate`."""
    suffix = check_name(filename)
    if not data:
        raise AudioRejected("the file is empty", reason="empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise AudioTooLarge(
            f"the file is {_size(len(data))}; the limit is {_size(MAX_UPLOAD_BYTES)}",
            reason="too_large",
            size=len(data),
            limit=MAX_UPLOAD_BYTES,
        )
    ffmpeg, ffprobe = _tools()
    with tempfile.TemporaryDirectory(prefix="ivr-audio-") as work:
        source = Path(work) / f"{_UPLOAD}{suffix}"
        source.write_bytes(data)
        format_name = _probe(ffprobe, source)
        loudness = _measure(ffmpeg, source, format_name)
        wav = _level(ffmpeg, source, format_name, loudness, sample_rate, Path(work))
    duration_ms = _check_result(wav)
    return Converted(
        wav=wav,
        sha256=hashlib.sha256(wav).hexdigest(),
        duration_ms=duration_ms,
        source_format=format_name,
        loudness_lufs=float(loudness["input_i"]),
    )


def speak(
    text: str,
    speaker: Speaker,
    sample_rate: int,
    pronounce: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
) -> bytes:
    """`text` as WAV, exactly as the prompt build speaks it (and from its render cache)."""
    if not text.strip():
        raise DataError("there is no text to speak")
    return render_text(text, speaker, sample_rate, pronounce, cache_dir)


# The steps of a conversion ----------------------------------------------------


def _tools() -> tuple[str, str]:
    found = []
    for tool in ("ffmpeg", "ffprobe"):
        path = shutil.which(tool)
        if path is None:
            raise ConfigError(
                f"{tool} is not installed; uploaded audio is converted with it: {INSTALL_HINT}",
                tool=tool,
            )
        found.append(path)
    return found[0], found[1]


def _input(source: Path, demuxer: str | None = None) -> list[str]:
    """How ffprobe and ffmpeg open the upload: a local file, by a demuxer we accept."""
    forced = [] if demuxer is None else ["-f", demuxer]
    whitelist = ["-protocol_whitelist", "file", "-format_whitelist", _FORMAT_WHITELIST]
    return [*whitelist, *forced, "-i", f"file:{source}"]


def _probe(ffprobe: str, source: Path) -> str:
    """The upload's demuxer name, if it is audio we accept and not too long."""
    command = [ffprobe, "-v", "error", "-show_streams", "-show_format", "-of", "json"]
    done = _run([*command, *_input(source)], "read")
    try:
        info = json.loads(done.stdout) if done.returncode == 0 else {}
        format_name = str(info["format"]["format_name"])
        streams: list[dict[str, Any]] = info.get("streams") or []
    except (ValueError, KeyError, TypeError):
        _log_failure("ffprobe", done)
        raise AudioRejected(_NOT_AUDIO, reason="not_audio") from None
    audio = [s for s in streams if s.get("codec_type") == "audio" and s.get("codec_name")]
    if format_name not in _DEMUXERS or not audio:
        raise AudioRejected(_NOT_AUDIO, reason="not_audio", format=format_name)
    seconds = _seconds(info["format"].get("duration"))
    if seconds is None:
        seconds = _seconds(audio[0].get("duration"))
    if seconds is not None and seconds < MIN_SECONDS:
        raise AudioRejected(
            f"the recording is too short to hear ({seconds:.1f} s)",
            reason="too_short",
            seconds=round(seconds, 3),
        )
    if seconds is not None and seconds > MAX_SECONDS:
        raise AudioRejected(
            f"the recording is {_length(math.ceil(seconds))} long; "
            f"the limit is {_length(MAX_SECONDS)}",
            reason="too_long",
            seconds=round(seconds, 3),
            limit=MAX_SECONDS,
        )
    return format_name


def _seconds(value: object) -> float | None:
    try:
        seconds = float(str(value))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


def _cap() -> list[str]:
    """Stop decoding just past the limit: a stream may not say how long it is
    (a browser's WebM recording does not), and may be far longer."""
    return ["-t", str(MAX_SECONDS + 1)]


def _measure(ffmpeg: str, source: Path, format_name: str) -> dict[str, str]:
    """The first pass: loudnorm's measurement of the whole recording."""
    opened = _input(source, _DEMUXERS[format_name])
    done = _run(loudness.measure_command(ffmpeg, opened, _cap()), "measure")
    measured = loudness.measured(done.stderr) if done.returncode == 0 else None
    if measured is None:
        _log_failure("ffmpeg", done)
        raise AudioRejected(_UNUSABLE, reason="unusable")
    if loudness.silent(measured):
        raise AudioRejected("the recording is silent", reason="silent")
    return measured


def _level(
    ffmpeg: str,
    source: Path,
    format_name: str,
    measured: Mapping[str, str],
    sample_rate: int,
    work: Path,
) -> bytes:
    """The second pass, into `work`: the upload as leveled telephone WAV."""
    out = work / "converted.wav"
    opened = _input(source, _DEMUXERS[format_name])
    command = loudness.level_command(ffmpeg, opened, _cap(), measured, sample_rate, out)
    done = _run(command, "convert")
    if done.returncode != 0 or not out.is_file():
        _log_failure("ffmpeg", done)
        raise AudioRejected(_UNUSABLE, reason="unusable")
    return out.read_bytes()


def _check_result(wav: bytes) -> int:
    """The converted audio's length in ms, if it is neither too long nor silent."""
    with wave.open(io.BytesIO(wav), "rb") as audio:
        rate, frames = audio.getframerate(), audio.readframes(audio.getnframes())
    samples = array("h", frames)
    if sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian
    duration_ms = round(len(samples) * 1000 / rate)
    if duration_ms > MAX_SECONDS * 1000:
        raise AudioRejected(
            f"the recording is over {_length(MAX_SECONDS)} long; the limit is "
            f"{_length(MAX_SECONDS)}",
            reason="too_long",
            limit=MAX_SECONDS,
        )
    peak = max((abs(sample) for sample in samples), default=0)
    if peak == 0 or 20 * math.log10(peak / 32768) < loudness.SILENT_PEAK_DBFS:
        raise AudioRejected("the recording is silent", reason="silent")
    return duration_ms


def _run(command: list[str], step: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        log.warning("%s did not %s the upload within %gs", command[0], step, TOOL_TIMEOUT)
        raise AudioRejected(
            "this file took too long to convert; try a shorter recording, or save it as MP3",
            reason="timeout",
        ) from None
    except OSError as exc:
        tool = Path(command[0]).name
        raise ConfigError(f"cannot run {tool}: {exc}; {INSTALL_HINT}", tool=tool) from exc


def _log_failure(tool: str, done: subprocess.CompletedProcess[bytes]) -> None:
    error = done.stderr.decode(errors="replace").strip()
    log.warning("%s refused an upload (exit %d): %s", tool, done.returncode, error[-500:])


def _size(size: int) -> str:
    if size >= _MIB:
        return f"{math.ceil(size * 10 / _MIB) / 10:g} MB"
    if size >= 1024:
        return f"{math.ceil(size / 1024)} kB"
    return f"{size} bytes"


def _length(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min" + (f" {rest} s" if rest else "")
