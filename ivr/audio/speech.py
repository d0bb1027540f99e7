"""Speaking a text as telephone audio: espeak-ng, then sox, through a render cache.

espeak-ng speaks each text as WAV at a `Speaker`'s speed (IVR_TTS_RATE) and in
its voice (IVR_TTS_VOICE, else prompts.yaml's), and sox turns it into
telephone audio (8 kHz, mono, 16-bit). sox runs without dither (`-D`), which
would otherwise add random noise, so the same text always gives the same bytes
and so the same file name; the level is normalised so that every prompt plays
equally loud. A call plays prompts as sequences of clips (greeting, name,
hotline), so sox cuts the silence espeak-ng leaves before and after the speech
and pads each clip with a short, fixed pause instead: the gap between two clips
is always the same, and short.

What espeak-ng is given (`spoken`) is the written text with homophones for the
words it misreads, digits spelled out, and its characters kept apart. The render
cache keeps audio by the hash of all that shapes it (`render_input`), for every
build on the machine and for the admin's previews alike: what an admin previews
is what callers hear.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.audio.catalog import wav_duration_ms, write_atomically
from ivr.errors import ConfigError
from ivr.settings import TTS_RATE

# Below this level (of full scale, before levelling) is silence to cut. espeak-ng
# pauses in digital silence (±1), and its voice peaks at only 30-45 % of full
# scale: at 0.5 % the aspiration of 慈 (c-), 邹 (z-) and 自 (z-) was cut, up to
# 80 ms of it; at 0.02 % no clip of the prompts loses over 2 ms of sound.
SILENCE_LEVEL = "0.02%"
SILENCE_MIN_SOUND = "0.02"  # seconds of sound that end the silence
# What is put back: a short breath before the speech, and the pause a listener
# hears between this clip and the next.
PAD_BEFORE, PAD_AFTER = "0.03", "0.08"
_TRIM = ["silence", "1", SILENCE_MIN_SOUND, SILENCE_LEVEL]
EFFECTS = [
    "gain", "-3", "rate",  # headroom, resample
    *_TRIM, "reverse", *_TRIM, "reverse",  # the silence before, then after, the speech
    "pad", PAD_BEFORE, PAD_AFTER,
    "gain", "-n", "-3",  # normalise
]  # fmt: skip
# Part of every prompt's input hash: a change in how audio is made re-renders all.
RENDERER = f"espeak-ng -v VOICE -s RATE stdin | sox -D {' '.join(EFFECTS)} | digits v1"
RENDER_TIMEOUT = 60.0  # seconds for one run of one tool
INSTALL_HINT = "apt-get install espeak-ng sox"

_DIGIT_RUN = re.compile(r"[0-9]+")
# espeak-ng 1.51 says the last character of a word from its dictionary twice
# (espeak-ng issue 685: 兰考县 as "lán kǎo kǎo xiàn", 嘉兴 "jiā xīng xìng"; 167 of
# our names). A zero-width space between two characters keeps it to one
# character at a time, with no pause; prompts.yaml's `pronounce` says the
# characters it reads wrongly on their own.
_BETWEEN_HAN = re.compile(r"(?<=[\u4e00-\u9fff])(?=[\u4e00-\u9fff])")
_APART = "\u200b"
_NUMBER = str.maketrans("0123456789", "零一二三四五六七八九")
# A run of digits is a number to dial, said digit by digit the way hotlines say
# them, with 幺 for 1 so that it cannot be heard as 7.
_DIALLED = str.maketrans("0123456789", "零幺二三四五六七八九")


@dataclass(frozen=True, slots=True)
class Speaker:
    """An espeak-ng voice at a speed in words a minute (espeak-ng's own is 175);
    `chosen_by` says where the voice was chosen, for the error that refuses it."""

    voice: str
    rate: int = TTS_RATE
    chosen_by: str = "prompts.yaml"

    @classmethod
    def chosen(cls, spec_voice: str, voice_setting: str = "", rate: int = TTS_RATE) -> Speaker:
        """IVR_TTS_VOICE (`voice_setting`) when it is set, else prompts.yaml's voice."""
        if voice_setting:
            return cls(voice_setting, rate, "IVR_TTS_VOICE")
        return cls(spec_voice, rate)


def spoken(text: str, pronounce: Mapping[str, str]) -> str:
    """What espeak-ng is given for `text`: homophones for words it misreads, digits
    spelled, and a zero-width space between characters."""
    for written, said in pronounce.items():
        text = text.replace(written, said)
    return _BETWEEN_HAN.sub(_APART, _DIGIT_RUN.sub(_say_digits, text))


def _say_digits(match: re.Match[str]) -> str:
    digits = match.group()
    return digits.translate(_NUMBER if len(digits) == 1 else _DIALLED)


def render_input(speaker: Speaker, sample_rate: int, text: str, said: str) -> str:
    """The hash of all that shapes a text's audio: a build's `input`, the render cache's key."""
    key = json.dumps(
        [RENDERER, speaker.voice, speaker.rate, sample_rate, text, said], ensure_ascii=False
    )
    return hashlib.sha256(key.encode()).hexdigest()


def render_text(
    text: str,
    speaker: Speaker,
    sample_rate: int,
    pronounce: Mapping[str, str] | None = None,
    cache_dir: Path | None = None,
) -> bytes:
    """One text as WAV, the same bytes a build makes of it, through the same render cache:
    what an admin previews is what callers hear, and a later build does not speak it again."""
    said = spoken(text, pronounce or {})

    def speak_now() -> bytes:
        tools = find_tools()
        check_voice(tools[0], speaker)
        with tempfile.TemporaryDirectory(prefix="ivr-speak-") as work:
            return say(said, speaker, sample_rate, tools, Path(work), "preview")

    key = render_input(speaker, sample_rate, text, said)
    data = cached_or_spoken(key, cache_dir, speak_now)
    checked_duration_ms(data, "preview")
    return data


def find_tools() -> tuple[str, str]:
    """espeak-ng's and sox's paths; a ConfigError says how to install what is missing."""
    found = []
    for tool in ("espeak-ng", "sox"):
        path = shutil.which(tool)
        if path is None:
            raise ConfigError(
                f"{tool} is not installed; prompts are built with it: {INSTALL_HINT}", tool=tool
            )
        found.append(path)
    return found[0], found[1]


def check_voice(espeak: str, speaker: Speaker) -> None:
    """Refuse a voice espeak-ng does not list: it reads `no-such` as Norwegian, silently."""
    voice = speaker.voice
    listing = _run([espeak, "--voices"], b"", "(voice list)").decode(errors="replace")
    known = set()
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5:  # Pty Language Age/Gender VoiceName File ...
            known |= {fields[1].lower(), fields[3].lower(), fields[4].rsplit("/", 1)[-1].lower()}
    if voice.lower() not in known:
        raise ConfigError(
            f"espeak-ng has no voice {voice!r} (set in {speaker.chosen_by}; "
            "see espeak-ng --voices)",
            voice=voice,
            chosen_by=speaker.chosen_by,
        )


def cached_or_spoken(key: str, cache_dir: Path | None, speak: Callable[[], bytes]) -> bytes:
    """The cached audio for `key`, else `speak()`'s, which is then cached."""
    cached = None if cache_dir is None else cache_dir / f"{key}.wav"
    data = _read_cached(cached)
    if data is None:
        data = speak()
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(cached, data)
    return data


def say(
    said: str,
    speaker: Speaker,
    sample_rate: int,
    tools: tuple[str, str],
    work_dir: Path,
    label: str,
) -> bytes:
    """`said` spoken by espeak-ng and made telephone audio by sox; `label` names it in errors."""
    espeak, sox = tools
    # The text goes in on standard input, where it cannot be taken for an option.
    voice = ["-v", speaker.voice, "-s", str(speaker.rate)]
    speech = _run([espeak, *voice, "--stdout"], said.encode(), label)
    partial = work_dir / f".{label}.partial.wav"
    rate = str(sample_rate)
    audio = ["-r", rate, "-c", "1", "-b", "16", "-e", "signed-integer", str(partial)]
    _run([sox, "-D", "-V1", "-t", "wav", "-", *audio, *EFFECTS], speech, label)
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


def checked_duration_ms(data: bytes, prompt_id: str) -> int:
    """The audio's length; a render that holds none is a ConfigError."""
    duration = wav_duration_ms(data)
    if duration == 0:
        raise ConfigError(f"prompt {prompt_id} rendered no audio", prompt_id=prompt_id)
    return duration
