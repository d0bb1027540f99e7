"""`ivr directory ...` and `ivr route` on a database of their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.cli import main as cli
from ivr.cli.directory import stats
from tests.directory_data import SMALL_CSV, full_directory


@pytest.fixture(autouse=True)
def own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'state' / 'ivr.sqlite3'}"
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("IVR_DATABASE_URL", url)
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_then_export_gives_the_same_bytes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "directory", "import", str(SMALL_CSV))
    assert code == 0
    assert f"imported {SMALL_CSV}: 27 departments, 14 area codes" in out
    exported = tmp_path / "out.csv"
    assert run(capsys, "directory", "export", str(exported))[0] == 0
    assert exported.read_bytes() == SMALL_CSV.read_bytes()


def test_export_to_standard_output(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "directory", "import", str(SMALL_CSV))
    code, out, _ = run(capsys, "directory", "export")
    assert (code, out) == (0, SMALL_CSV.read_text(encoding="utf-8"))


def test_a_bad_file_is_refused_in_one_line_naming_the_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    lines = SMALL_CSV.read_text(encoding="utf-8").splitlines()
    bad.write_text("\n".join([*lines, lines[3]]) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "directory", "import", str(bad))
    assert code == 1
    assert err == f"ivr: {bad} line 29: duplicate code 120000 (first on line 4)\n"


def test_exporting_an_empty_database_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "directory", "export")
    assert code == 1
    assert "ivr directory import" in err


def test_stats_of_a_seeded_database(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "directory", "stats", "--json")
    assert code == 0
    found = json.loads(out)
    levels = {level: found[level] for level in ("central", "province", "city", "county")}
    assert levels == {"central": 1, "province": 31, "city": 333, "county": 2843}
    assert found["departments"] == 3208
    assert found["mobile_ranges"] == full_directory().mobile_range_count()
    assert {"code": "341600", "name": "中共亳州市委组织部", "gap": "no area code"} in found["gaps"]
    code, text, _ = run(capsys, "directory", "stats")
    assert "departments:   3208 (1 central, 31 province, 333 city, 2843 county)" in text


def test_stats_list_every_gap() -> None:
    found = stats(full_directory())
    kinds = {gap["gap"] for gap in found["gaps"]}
    assert kinds == {"no area code", "no mobile prefix"}
    assert found["area_codes"] == len(full_directory().area_codes())


def test_route_reads_the_database_and_takes_an_origin(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "route", "--caller", "055162345678", "--origin", "310000", "--json")
    assert code == 0
    data = json.loads(out)
    assert (data["department"]["code"], data["rule"], data["read"]) == (
        "310000",
        "origin",
        "310000",
    )


def test_build_writes_routing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "directory", "build", "--out", str(tmp_path / "routing"))
    assert code == 0
    assert out.startswith("3208 departments (1 central, 31 province, 333 city, 2843 county)")
    assert {p.name for p in (tmp_path / "routing").iterdir()} == {
        "departments.csv",
        "sources.yaml",
        "build-report.md",
    }
