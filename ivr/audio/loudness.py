"""Levelling uploaded audio to the spoken prompts' loudness: ffmpeg's `loudnorm`
(EBU R128) in two passes, as command lines and the reading of what it measured.

The first pass measures the whole recording; with that measurement the second
moves the level evenly (linear) rather than riding the gain as one pass would.
No I/O here: `ivr.audio.uploads` runs the commands on the untrusted file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

# Chosen for prompts on a phone line:
# - I -20 LUFS is the median loudness of the espeak-ng prompts (measured over a
#   build: -23 to -16, median -20.3), so an uploaded greeting plays as loud as
#   the spoken prompts around it.
# - TP -3 dBTP matches the prompts' -3 dBFS peak (sox `gain -n -3`), and leaves
#   room for the overshoot of resampling and of codecs further down the line.
# - LRA 11 LU is the range up to which loudnorm only shifts the gain (linear);
#   speech recorded at a desk stays below it. A wider range (a speaker walking
#   away from the microphone) is compressed, so no part is lost in line noise.
TARGET_LUFS = -20.0
TARGET_PEAK_DBTP = -3.0
TARGET_RANGE_LU = 11.0
# Below these a recording holds at most faint noise, which leveling would
# only turn into loud hiss.
SILENT_LUFS = -60.0
SILENT_PEAK_DBFS = -60.0
# Loudness is measured as the phone line carries it.
MEASURE_RATE = 8000


def measure_command(ffmpeg: str, opened: list[str], cap: list[str]) -> list[str]:
    """The first pass: `opened` are the input's options (`-i` last), `cap` limits decoding."""
    chain = _filters(_loudnorm(print_format="json"), MEASURE_RATE)
    command = [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "info"]
    command += [*opened, "-map", "0:a:0"]
    return [*command, "-af", chain, *cap, "-f", "null", "-"]


def measured(stderr: bytes) -> dict[str, str] | None:
    """What the first pass printed (its last JSON object), or None if it printed none."""
    text = stderr.decode(errors="replace")
    start, end = text.rfind("{"), text.rfind("}")
    try:
        values = json.loads(text[start : end + 1])
        float(values["input_i"])
    except (ValueError, KeyError, TypeError):
        return None
    return {str(key): str(value) for key, value in values.items()}


def silent(measurement: Mapping[str, str]) -> bool:
    # Also -inf, which loudnorm says of digital silence.
    return not float(measurement["input_i"]) > SILENT_LUFS


def level_command(
    ffmpeg: str,
    opened: list[str],
    cap: list[str],
    measurement: Mapping[str, str],
    sample_rate: int,
    out: Path,
) -> list[str]:
    """The second pass: leveled, band-limited telephone WAV at `sample_rate` into `out`."""
    loudnorm = _loudnorm(
        measured_I=measurement["input_i"],
        measured_TP=measurement["input_tp"],
        measured_LRA=measurement["input_lra"],
        measured_thresh=measurement["input_thresh"],
        offset=measurement["target_offset"],
        linear="true",
    )
    command = [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "error"]
    command += [*opened, "-map", "0:a:0"]
    command += ["-af", _filters(loudnorm, sample_rate), *cap]
    command += ["-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le"]
    # No tags, no encoder name: identical input must give identical bytes.
    command += ["-map_metadata", "-1", "-map_chapters", "-1"]
    return [*command, "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "wav", str(out)]


def _filters(loudnorm: str, sample_rate: int) -> str:
    # Mono first, so that the loudness measured is the loudness played; resampled
    # to the phone's rate before measuring, so that sound the line cannot carry
    # does not count; and again after loudnorm, which always puts out 192 kHz.
    rate = f"aresample={sample_rate}"
    return f"aformat=channel_layouts=mono,{rate},{loudnorm},{rate}"


def _loudnorm(**options: object) -> str:
    target = f"I={TARGET_LUFS:g}:TP={TARGET_PEAK_DBTP:g}:LRA={TARGET_RANGE_LU:g}"
    return ":".join(["loudnorm=" + target, *(f"{key}={value}" for key, value in options.items())])
