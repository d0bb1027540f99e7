"""`ivr menu check` and `ivr menu show`, on the test directory and menus files of their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.audio import build as prompts
from ivr.cli import main as cli
from ivr.cli import serve as service
from ivr.directory.routing import Directory
from ivr.publish import menus as menu
from ivr.settings import REPO_ROOT
from tests.test_menu import MENUS, PROMPT_SPEC, SMALL

HEFEI = {
    "340000": {"nodes": {"dues.other": {"kind": "info", "text": "安徽的说法。"}}},
    "340100": {
        "nodes": {
            "building.centre": {"kind": "info", "text": "合肥市党员服务中心。"},
            "building": {
                "kind": "menu",
                "category": "building",
                "text": "申请入党，请按1；发展党员，请按2；基层组织，请按3；服务中心，请按4。",
                "choices": [
                    {"key": 1, "to": "building.apply"},
                    {"key": 2, "to": "building.process"},
                    {"key": 3, "to": "building.organization"},
                    {"key": 4, "to": "building.centre"},
                ],
            },
        }
    },
}


@pytest.fixture
def menus_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The real menus in a file of the test's own, on the test directory, no prompts built."""
    path = tmp_path / "menus.yaml"
    path.write_bytes(MENUS.read_bytes())
    monkeypatch.setenv("IVR_MENUS_FILE", str(path))
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(service, "load_directory", lambda settings: SMALL)
    return path


def edit(path: Path, departments: dict[str, Any] | None = None, **main: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["national"]["nodes"]["main"].update(main)
    if departments is not None:
        data["departments"] = departments
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_of_the_real_menus_is_one_line(
    capsys: pytest.CaptureFixture[str], menus_file: Path
) -> None:
    code, out, _ = run(capsys, "menu", "check")
    assert code == 0
    assert out == (
        f"{menus_file}: OK: national menu 34 nodes, 0 departments override 0 nodes; "
        "prompt audio not checked (no prompts built: run `ivr prompts build`)\n"
    )


def test_check_lists_each_problem_then_says_the_menus_cannot_be_activated(
    capsys: pytest.CaptureFixture[str], menus_file: Path
) -> None:
    data = yaml.safe_load(menus_file.read_text(encoding="utf-8"))
    choices = data["national"]["nodes"]["main"]["choices"]
    choices = [c for c in choices if c["key"] != 9]  # the lookup's key, given to nowhere
    edit(menus_file, choices=[*choices, {"key": 9, "to": "nowhere"}, {"key": 1, "to": "dues"}])
    data = yaml.safe_load(menus_file.read_text(encoding="utf-8"))
    del data["national"]["nodes"]["lookup"]
    menus_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    code, out, _ = run(capsys, "menu", "check")
    assert code == 1
    assert out.splitlines() == [
        "national main: key 9 leads to nowhere, which does not exist",
        "national main: key 1 is used twice: for theory and for dues",
        f"{menus_file}: 2 problems: the menus cannot be activated; "
        "prompt audio not checked (no prompts built: run `ivr prompts build`)",
    ]
    code, out, _ = run(capsys, "menu", "check", "--json")
    report = json.loads(out)
    assert code == 1
    assert report["ok"] is False
    assert report["problems"][0] == {
        "department": "national",
        "node": "main",
        "message": "key 9 leads to nowhere, which does not exist",
        "code": "key_leads_nowhere",
        "params": {"key": "9", "to": "nowhere"},
    }


def test_check_warns_of_unused_nodes_and_counts_overrides(
    capsys: pytest.CaptureFixture[str], menus_file: Path
) -> None:
    departments = {"340100": {"nodes": {"building.centre": {"kind": "info", "text": "中心。"}}}}
    edit(menus_file, departments)
    code, out, _ = run(capsys, "menu", "check")
    assert code == 0
    assert out.splitlines() == [
        "warning: 340100 building.centre: no choice leads here from the root: "
        "callers never hear it",
        f"{menus_file}: OK: national menu 34 nodes, 1 departments override 1 nodes; "
        "prompt audio not checked (no prompts built: run `ivr prompts build`)",
    ]


def test_check_against_the_built_prompts(
    capsys: pytest.CaptureFixture[str], menus_file: Path, tmp_path: Path
) -> None:
    # One department keeps the build short; the build without the menus has no audio for them.
    csv = tmp_path / "departments.csv"
    csv.write_text(
        "\n".join((REPO_ROOT / "tests/data/departments.csv").read_text().splitlines()[:2]) + "\n",
        encoding="utf-8",
    )
    out_dir = tmp_path / "state" / "prompts"
    prompts.build(PROMPT_SPEC, Directory.load(csv), out_dir)
    code, out, _ = run(capsys, "menu", "check")
    assert code == 1
    assert (
        "national main: has no prompt audio: svc.main is not among the built prompts "
        "(run `ivr prompts build`, or record it)"
    ) in out.splitlines()
    assert out.splitlines()[-1].endswith(
        ": 29 problems: the menus cannot be activated; prompt audio checked"
    )
    book = menu.read(menus_file, SMALL)
    prompts.build(PROMPT_SPEC, Directory.load(csv), out_dir, None, book.prompt_texts())
    code, out, _ = run(capsys, "menu", "check")
    assert code == 0
    assert out.endswith("; prompt audio checked\n")


def test_show_a_county_inheriting_from_its_city_province_and_the_nation(
    capsys: pytest.CaptureFixture[str], menus_file: Path
) -> None:
    edit(menus_file, HEFEI)
    code, out, _ = run(capsys, "menu", "show", "340121")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "中共长丰县委组织部 (340121): service menu, 35 nodes"
    assert lines[1].startswith("main  menu  “理论政策按1，组织关系按2")
    assert lines[1].endswith("(inherited from 全国)")
    assert (
        "    3 dues.other  info  [dues]  “安徽的说法。”  (inherited from 安徽省委组织部)"
    ) in lines
    assert (
        "    4 building.centre  info  [building]  “合肥市党员服务中心。”  "
        "(inherited from 合肥市委组织部)"
    ) in lines
    assert "    3 difficulties.message  message  [difficulties]  (inherited from 全国)" in lines
    assert "  8 callback  callback  (inherited from 全国)" in lines


def test_show_says_what_a_department_overrode_and_added(
    capsys: pytest.CaptureFixture[str], menus_file: Path
) -> None:
    edit(menus_file, HEFEI)
    code, out, _ = run(capsys, "menu", "show", "340100", "--json")
    assert code == 0
    tree = json.loads(out)
    building = next(node for node in tree["root"]["children"] if node["id"] == "building")
    assert (building["key"], building["where"], building["origin"]) == (
        "5", "overridden here", "340100"
    )
    centre = building["children"][3]
    assert (centre["id"], centre["where"], centre["category"]) == (
        "building.centre", "added here", "building"
    )
    code, out, _ = run(capsys, "menu", "show", "320100")
    assert "安徽的说法" not in out and "building.centre" not in out


def test_show_the_national_menu_and_refuse_an_unknown_department(
    capsys: pytest.CaptureFixture[str], menus_file: Path
) -> None:
    code, out, _ = run(capsys, "menu", "show", "national")
    assert code == 0
    assert out.splitlines()[0] == "全国 (national): service menu, 34 nodes"
    assert out.splitlines()[1].endswith("(national menu)")
    code, _, err = run(capsys, "menu", "show", "999999")
    assert (code, err) == (1, "ivr: no department with code '999999'\n")


def test_a_file_not_shaped_like_a_menu_is_one_line(
    capsys: pytest.CaptureFixture[str], menus_file: Path
) -> None:
    edit(menus_file, kind="choice")
    code, _, err = run(capsys, "menu", "check")
    assert code == 1
    assert err.startswith(f"ivr: {menus_file}: national.nodes.main.kind: Input should be ")
