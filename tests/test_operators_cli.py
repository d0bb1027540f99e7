"""`ivr operators ...` on a database of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.cli import main as cli


@pytest.fixture(autouse=True)
def own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}")
    monkeypatch.setenv("IVR_NOW", "2026-11-24T10:00:00")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_sign_in_pause_and_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "operators", "add", "op1001", "--name", "张敏", "--departments", "340100,340121"
    )
    assert code == 0 and "op1001 张敏 <op1001> [340100, 340121]: signed out" in out
    assert run(capsys, "operators", "sign-in", "op1001")[0] == 0
    code, out, _ = run(capsys, "operators", "pause", "op1001", "--reason", "培训")
    assert "paused (培训) since 2026-11-24 10:00" in out
    code, out, _ = run(capsys, "operators", "list", "--json")
    (listed,) = json.loads(out)
    assert (listed["status"], listed["pause_reason"]) == ("paused", "培训")


def test_mistakes_get_one_readable_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "operators", "add", "op1", "--name", "李强", "--departments", "999999"
    )
    assert (code, err.strip()) == (1, "ivr: no such departments: 999999")
    run(capsys, "operators", "add", "op1", "--name", "李强", "--departments", "340100")
    code, _, err = run(capsys, "operators", "pause", "op1")
    assert (code, err.strip()) == (1, "ivr: operator op1 is signed out: cannot pause")
    code, _, err = run(capsys, "operators", "sign-in", "op9")
    assert (code, err.strip()) == (1, "ivr: no operator 'op9'")
