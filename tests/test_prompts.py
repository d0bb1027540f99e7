"""Building prompt audio with the real espeak-ng and sox, into temporary folders."""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
import wave
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ivr.audio import build as prompts
from ivr.audio.catalog import Catalog
from ivr.audio.speech import spoken
from ivr.call.guide import department_prompt, greeting_prompts
from ivr.cli.prompt_ids import REQUIRED_PROMPTS
from ivr.cli.serve import build_prompts, fallback_sounds
from ivr.dialplan import Layout, install_sounds
from ivr.directory.routing import Directory
from ivr.errors import ConfigError
from ivr.publish import menus as menu
from ivr.settings import Settings
from ivr.stasis.runner import playlist

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "prompts" / "prompts.yaml"
# The test directory (27 departments): the full one would take a minute to speak.
DIRECTORY = Directory.load(ROOT / "tests" / "data" / "departments.csv")
# A build as the product makes it: with every prompt the product plays required.
build = functools.partial(prompts.build, required=REQUIRED_PROMPTS)
SMALL_CSV = """code,name,short_name,level,parent,area_code,answers,timezone
000000,中共中央组织部,中央组织部,central,,010,yes,
340000,中共安徽省委组织部,安徽省委组织部,province,000000,,,
340100,中共合肥市委组织部,合肥市委组织部,city,340000,0551,yes,
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return build(SPEC, DIRECTORY, tmp_path_factory.mktemp("prompts"))


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Directory]:
    """A copy of the real spec and a three-department directory, for fast rebuilds."""
    spec = tmp_path / "prompts.yaml"
    spec.write_text(SPEC.read_text(encoding="utf-8"), encoding="utf-8")
    csv = tmp_path / "departments.csv"
    csv.write_text(SMALL_CSV, encoding="utf-8")
    return spec, Directory.load(csv)


def edit_spec(path: Path, **changes: object) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.update(changes)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def wav_files(out_dir: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in out_dir.glob("*.wav")}


# What a build makes --------------------------------------------------------


def test_every_prompt_and_one_name_per_department(catalog: Catalog) -> None:
    names = {f"{kind}.{department.code}" for department in DIRECTORY for kind in ("dept", "place")}
    assert set(catalog.ids()) == set(REQUIRED_PROMPTS) | names
    assert len(catalog) == len(REQUIRED_PROMPTS) + 2 * len(DIRECTORY)
    # A list says the place, a greeting the department.
    assert catalog.text("place.340121") == "长丰县"
    assert catalog.text("dept.340121") == "长丰县委组织部"


def test_every_file_is_telephone_audio(catalog: Catalog) -> None:
    for prompt_id in catalog.ids():
        with wave.open(str(catalog.path(prompt_id)), "rb") as audio:
            assert audio.getnchannels() == 1
            assert audio.getsampwidth() == 2
            assert audio.getframerate() == 8000
            frames = audio.getnframes()
        assert frames > 0
        assert catalog.entries[prompt_id].duration_ms == round(frames * 1000 / 8000)
        # The shortest, one syllable (digit.1, count.2), takes about a fifth of a second.
        assert catalog.entries[prompt_id].duration_ms > 150


def test_file_names_carry_the_content_hash(catalog: Catalog) -> None:
    for prompt_id in catalog.ids():
        digest = hashlib.sha256(catalog.path(prompt_id).read_bytes()).hexdigest()
        assert catalog.file(prompt_id) == f"{prompt_id}-{digest[:16]}.wav"
        assert catalog.entries[prompt_id].sha256 == digest


def test_manifest_lists_every_file(catalog: Catalog) -> None:
    manifest = json.loads((catalog.directory / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest) == set(catalog.ids())
    for entry in manifest.values():
        assert set(entry) >= {"file", "text", "sha256", "duration_ms"}
    assert {path.name for path in catalog.directory.glob("*.wav")} == {
        entry["file"] for entry in manifest.values()
    }


def test_the_greeting_says_hello_the_department_and_the_hotline(catalog: Catalog) -> None:
    greeting = [catalog.text(prompt) for prompt in greeting_prompts("340100")]
    assert "".join(greeting) == "您好，这里是合肥市委组织部12371党员咨询服务热线。"


def test_a_render_cache_is_shared_by_builds_and_gives_the_same_files(
    small: tuple[Path, Directory], tmp_path: Path
) -> None:
    spec, directory = small
    cache = tmp_path / "cache"
    first = build(spec, directory, tmp_path / "a", cache)
    # One render per text: 中央组织部 is both a department's name and its place.
    assert len(list(cache.glob("*.wav"))) == len({first.text(i) for i in first.ids()})
    # A second build elsewhere takes every file from the cache: with the
    # tools gone it would fail if it tried to render anything.
    second = build_without_tools(spec, directory, tmp_path / "b", cache)
    assert {i: second.file(i) for i in second.ids()} == {i: first.file(i) for i in first.ids()}


def build_without_tools(spec: Path, directory: Directory, out: Path, cache: Path) -> Catalog:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prompts, "_speak", _no_speaking)
        return build(spec, directory, out, cache)


def _no_speaking(*_: object) -> bytes:
    raise AssertionError("rendered although the cache had it")


def test_media_uri(catalog: Catalog) -> None:
    file = catalog.file("goodbye")
    assert catalog.media_uri("goodbye", "http://127.0.0.1:8080") == (
        f"sound:http://127.0.0.1:8080/prompts/{file}"
    )
    assert catalog.media_uri("goodbye", "http://127.0.0.1:8080/") == (
        f"sound:http://127.0.0.1:8080/prompts/{file}"
    )


def test_prompts_said_in_turn_are_one_page_until_a_recording(catalog: Catalog) -> None:
    ids = [i for i in catalog.ids() if i.startswith("dept.")][:30]
    stems = [catalog.file(i).removesuffix(".wav") for i in ids]
    base = "http://127.0.0.1:8080/prompts/join/"
    # A page that long is two pages; each URL stays short.
    assert catalog.page_uris(ids, "http://127.0.0.1:8080/") == [
        f"sound:{base}{'+'.join(stems[:24])}.wav",
        f"sound:{base}{'+'.join(stems[24:])}.wav",
    ]
    assert catalog.page_uris(ids[:1], "http://127.0.0.1:8080") == [
        catalog.media_uri(ids[0], "http://127.0.0.1:8080")
    ]

    # A caller's own message is Asterisk's, and splits the page around it.
    said = (ids[0], ids[1], "recording:m1", "goodbye")
    media, seconds = playlist(catalog, "http://127.0.0.1:8080", said)
    assert media == [
        f"sound:{base}{stems[0]}+{stems[1]}.wav",
        "recording:m1",
        catalog.media_uri("goodbye", "http://127.0.0.1:8080"),
    ]
    prompts_ms = sum(catalog.duration_ms(i) for i in (ids[0], ids[1], "goodbye"))
    assert seconds == prompts_ms / 1000


def test_unknown_prompt_is_a_config_error(catalog: Catalog) -> None:
    assert not catalog.has("menu.nothing")
    for lookup in (catalog.file, catalog.text, catalog.path):
        with pytest.raises(ConfigError, match=r"unknown prompt 'menu\.nothing'"):
            lookup("menu.nothing")
    with pytest.raises(ConfigError, match="unknown prompt"):
        catalog.media_uri("menu.nothing", "http://x")


def test_catalog_loads_what_was_built(catalog: Catalog) -> None:
    loaded = Catalog.load(catalog.directory)
    assert dict(loaded.entries) == dict(catalog.entries)


def test_catalog_without_a_build_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="build the prompts"):
        Catalog.load(tmp_path)


def test_install_fallback(catalog: Catalog, tmp_path: Path) -> None:
    # What `ivr asterisk up` gives the native dialplan fallback to play.
    layout = Layout(root=None, base=tmp_path / "instance", state=tmp_path)
    install_sounds(layout, fallback_sounds(Settings(state_dir=tmp_path), catalog))
    installed = sorted(layout.sounds.iterdir())
    assert installed == [
        layout.sounds / "fallback-apology.wav",
        layout.sounds / "fallback-thanks.wav",
    ]
    assert installed[0].read_bytes() == catalog.path("fallback.apology").read_bytes()
    assert installed[1].read_bytes() == catalog.path("fallback.thanks").read_bytes()


# Rebuilding ----------------------------------------------------------------


def test_second_build_renders_nothing(
    small: tuple[Path, Directory], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, directory = small
    out = tmp_path / "out"
    first = build(spec, directory, out)
    before = wav_files(out)
    manifest_before = (out / "manifest.json").stat().st_mtime_ns

    def no_render(*args: object) -> None:
        raise AssertionError("rendered again")

    monkeypatch.setattr(prompts, "_render", no_render)
    second = build(spec, directory, out)
    assert dict(second.entries) == dict(first.entries)
    assert wav_files(out) == before
    assert (out / "manifest.json").stat().st_mtime_ns == manifest_before


def test_changed_text_gets_a_new_file_and_the_old_one_goes(
    small: tuple[Path, Directory], tmp_path: Path
) -> None:
    spec, directory = small
    out = tmp_path / "out"
    first = build(spec, directory, out)
    before = wav_files(out)
    texts = yaml.safe_load(spec.read_text(encoding="utf-8"))["prompts"]
    edit_spec(spec, prompts={**texts, "goodbye": "感谢您的来电，祝您生活愉快，再见。"})
    second = build(spec, directory, out)
    assert second.file("goodbye") != first.file("goodbye")
    assert second.text("goodbye") == "感谢您的来电，祝您生活愉快，再见。"
    assert not first.path("goodbye").exists()
    assert second.path("goodbye").exists()
    after = wav_files(out)
    del before[first.file("goodbye")]
    del after[second.file("goodbye")]
    assert after == before  # nothing else was touched


def test_changed_pronunciation_re_renders_the_names_it_touches(
    small: tuple[Path, Directory], tmp_path: Path
) -> None:
    spec, directory = small
    out = tmp_path / "out"
    first = build(spec, directory, out)
    pronounce = yaml.safe_load(spec.read_text(encoding="utf-8"))["pronounce"]
    edit_spec(spec, pronounce={**pronounce, "合肥": "黑肥"})
    second = build(spec, directory, out)
    assert second.file("dept.340100") != first.file("dept.340100")
    assert second.text("dept.340100") == first.text("dept.340100")
    assert second.file("dept.340000") == first.file("dept.340000")


def test_same_text_gives_the_same_file_everywhere(
    catalog: Catalog, small: tuple[Path, Directory], tmp_path: Path
) -> None:
    spec, directory = small
    other = build(spec, directory, tmp_path / "other")
    assert other.file("dept.340100") == catalog.file("dept.340100")
    assert other.file("menu.repeat") == catalog.file("menu.repeat")


def test_departments_removed_from_the_directory_lose_their_name(
    small: tuple[Path, Directory], tmp_path: Path
) -> None:
    spec, directory = small
    out = tmp_path / "out"
    first = build(spec, DIRECTORY, out)
    second = build(spec, directory, out)
    assert not second.has("dept.530100")
    assert not first.path("dept.530100").exists()
    assert len(list(out.glob("*.wav"))) == len(second.ids())


def test_broken_manifest_renders_everything_again(
    small: tuple[Path, Directory], tmp_path: Path
) -> None:
    spec, directory = small
    out = tmp_path / "out"
    build(spec, directory, out)
    (out / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a prompt manifest"):
        Catalog.load(out)
    rebuilt = build(spec, directory, out)
    assert Catalog.load(out).entries == rebuilt.entries


# Configuration errors ------------------------------------------------------


def test_missing_tool_is_a_config_error_with_a_hint(
    small: tuple[Path, Directory], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, directory = small
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    with pytest.raises(ConfigError, match="apt-get install espeak-ng sox"):
        build(spec, directory, tmp_path / "out")


@pytest.mark.parametrize("voice", ["nosuchvoice", "no-such-voice"])  # "no-*" is Norwegian
def test_unknown_voice_is_a_config_error(
    small: tuple[Path, Directory], tmp_path: Path, voice: str
) -> None:
    spec, directory = small
    edit_spec(spec, voice=voice)
    with pytest.raises(ConfigError, match="espeak-ng has no voice"):
        build(spec, directory, tmp_path / "out")


def test_the_voice_setting_wins_over_the_spec_and_is_checked_by_name(
    small: tuple[Path, Directory], tmp_path: Path
) -> None:
    spec, directory = small
    with pytest.raises(ConfigError, match=r"no voice 'nosuchvoice' \(set in IVR_TTS_VOICE"):
        build(spec, directory, tmp_path / "out", voice="nosuchvoice")
    edit_spec(spec, voice="nosuchvoice")
    with pytest.raises(ConfigError, match=r"\(set in prompts.yaml"):
        build(spec, directory, tmp_path / "out")
    built = build(spec, directory, tmp_path / "out", voice="cmn-latn-pinyin")
    assert built.has("goodbye")


def test_the_settings_voice_and_speed_reach_the_build(
    small: tuple[Path, Directory], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ivr prompts build` speaks at IVR_TTS_RATE, in IVR_TTS_VOICE when it is set."""
    _, directory = small
    cache = tmp_path / "cache"
    monkeypatch.setenv("IVR_TTS_VOICE", "nosuchvoice")
    with pytest.raises(ConfigError, match="IVR_TTS_VOICE"):
        build_prompts(Settings(state_dir=tmp_path / "a", cache_dir=cache), directory)
    monkeypatch.delenv("IVR_TTS_VOICE")
    ordinary = build_prompts(Settings(state_dir=tmp_path / "a", cache_dir=cache), directory)
    monkeypatch.setenv("IVR_TTS_RATE", "300")
    fast = build_prompts(Settings(state_dir=tmp_path / "a", cache_dir=cache), directory)
    assert fast.entries["goodbye"].input != ordinary.entries["goodbye"].input
    assert fast.entries["goodbye"].duration_ms < ordinary.entries["goodbye"].duration_ms


@pytest.mark.parametrize("rate", ["79", "451", "fast"])
def test_a_speed_espeak_cannot_take_is_refused(
    rate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_TTS_RATE", rate)
    with pytest.raises(ValidationError, match="tts_rate"):
        Settings()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"department": "{department}"}, "department may use"),
        ({"sample_rate": 16000}, "sample_rate"),
        ({"prompts": {"goodbye": "再见"}}, "missing prompts"),
        ({"prompts": {"Bad Id": "再见"}}, "bad prompt id"),
        ({"prompts": {"dept.340100": "再见"}}, "bad prompt id"),
        ({"prompts": {"place.340100": "再见"}}, "bad prompt id"),
        ({"place": "{county}"}, "place may use"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_spec_is_a_config_error(
    small: tuple[Path, Directory], tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    spec, directory = small
    edit_spec(spec, **changes)
    with pytest.raises(ConfigError, match=message):
        build(spec, directory, tmp_path / "out")


def test_a_department_name_is_the_prompt_the_call_flow_plays_for_it() -> None:
    # The build names them without importing the call flow (it sits above audio).
    assert department_prompt("340100") == prompts.DEPARTMENT_PREFIX + "340100"


# What espeak-ng is given ---------------------------------------------------


def said(text: str, pronounce: dict[str, str]) -> str:
    """What espeak-ng is given, without the zero-width spaces between characters."""
    return spoken(text, pronounce).replace("\u200b", "")


def test_numbers_are_said_as_a_hotline_says_them() -> None:
    assert said("拨打12371", {}) == "拨打幺二三七幺"
    assert said("请按1，请按0", {}) == "请按一，请按零"


def test_pronunciation_replaces_words_espeak_misreads() -> None:
    assert said("中共重庆市委组织部", {"重庆": "虫庆"}) == "中共虫庆市委组织部"


def test_characters_are_given_apart_so_none_is_said_twice() -> None:
    """espeak-ng 1.51 says 兰考县 as "lán kǎo kǎo xiàn" (its dictionary's 兰考)."""
    assert spoken("兰考县，请按1", {}) == "兰\u200b考\u200b县，请\u200b按\u200b一"
    phonemes = subprocess.run(
        ["espeak-ng", "-q", "-x", "-v", "cmn-latn-pinyin"],
        input=spoken("兰考县", {}),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert phonemes.split() == ["l'a35n_|", "kh'Au21_|", "S;'iE51n_|"]


def test_the_place_names_espeak_misreads_are_said_right() -> None:
    pronounce = prompts.load_spec(SPEC).pronounce
    assert said("嘉兴市", pronounce) == "嘉星市"
    assert said("厦门市", pronounce) == "下门市"
    assert said("中央都无权", pronounce) == "中央都无权"  # dōu: only a place's 都 is dū
    assert said("江都区", pronounce) == "江嘟区"
    assert said("正在为您转接", pronounce) == "正在为您转接"  # wèi
    assert said("无为市", pronounce) == "无维市"


def test_espeak_reads_every_prompt_as_mandarin() -> None:
    """espeak-ng's phonemes show `(en)` where it gave up on Mandarin (as `cmn` 1.51 does).

    Every prompt: prompts.yaml's, the departments' names and the service menus' texts."""
    spec = prompts.load_spec(SPEC)
    national = Directory.load(ROOT / "routing" / "departments.csv")
    menus = menu.read(ROOT / "routing" / "menus.yaml", national)
    texts = prompts.prompt_texts(spec, DIRECTORY, menus.prompt_texts())
    for prompt_id, text in texts.items():
        phonemes = subprocess.run(
            ["espeak-ng", "-q", "-x", "-v", spec.voice],
            input=spoken(text, spec.pronounce),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert phonemes.strip(), prompt_id
        assert "(en)" not in phonemes, prompt_id
