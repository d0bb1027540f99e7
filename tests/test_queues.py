"""routing/queues.yaml: each department's queue rules, inherited down the directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.desk import queues
from ivr.directory.routing import Directory
from ivr.errors import ConfigError
from ivr.settings import REPO_ROOT

DIRECTORY = Directory.load(Path(__file__).parent / "data" / "departments.csv")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "queues.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_committed_rules_load_with_the_documented_defaults() -> None:
    rules = queues.load(REPO_ROOT / "routing" / "queues.yaml", DIRECTORY).rules("340121")
    assert (rules.ring_seconds, rules.wrap_up_seconds, rules.max_wait_seconds) == (15, 10, 120)
    assert rules.whisper and rules.overflow_after_seconds is None


def test_a_change_holds_for_the_departments_below_unless_they_set_their_own(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, """
default: {ring_seconds: 20}
departments:
  "340000": {ring_seconds: 25, whisper: false}
  "340121": {ring_seconds: 30}
""")
    loaded = queues.load(path, DIRECTORY)
    assert loaded.rules("000000").ring_seconds == 20
    assert loaded.rules("340100").ring_seconds == 25  # Anhui's, inherited by Hefei
    assert not loaded.rules("340100").whisper
    assert loaded.rules("340121").ring_seconds == 30  # its own
    assert not loaded.rules("340121").whisper  # the province's, still


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('departments: {"340121": {ring_seconds: 1}}', "department 340121"),
        ("default: {max_wait_seconds: 99999}", "max_wait_seconds"),
        ('departments: {"999999": {}}', "no such departments: 999999"),
        ("default: {ring_time: 5}", "ring_time"),
        ("default: [", "cannot read"),
    ],
)
def test_a_bad_file_is_refused_naming_what_is_wrong(
    tmp_path: Path, text: str, named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        queues.load(write(tmp_path, text), DIRECTORY)
