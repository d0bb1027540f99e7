"""`ivr cases ...` and `ivr report` on a database of their own."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ivr.ari.client import AriClient
from ivr.cases.registry import Cases
from ivr.cases.views import CaseView
from ivr.cli import main as cli
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.directory.routing import Directory
from ivr.errors import AriError
from ivr.settings import REPO_ROOT

DIRECTORY = Directory.load(REPO_ROOT / "routing" / "departments.csv")
# IVR_NOW below: Tuesday 2026-11-24 10:00 in Beijing.
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
TWO_WEEKS_AGO = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
ME = f"cli:{pwd.getpwuid(os.getuid()).pw_name}"


@pytest.fixture(autouse=True)
def own_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}"
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_DATABASE_URL", url)
    monkeypatch.setenv("IVR_NOW", "2026-11-24T10:00:00")
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def register(url: str, source: str, at: datetime = NOW, **fields: object) -> CaseView:
    """A case as the controller registers it (the database exists: a command ran first)."""

    async def work() -> CaseView:
        engine = make_engine(url)
        try:
            cases = Cases(make_sessionmaker(engine), DIRECTORY, lambda: at)
            given: dict[str, object] = {
                "source": source, "kind": "message", "department": "340121",
                "category": "dues", "caller": "055162345678", "call_id": f"call-{source}",
                "recording": source, "seconds": 7.5,
            }
            given.update(fields)
            return await cases.register(**given)  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    return asyncio.run(work())


def test_cases_are_listed_handled_and_their_history_shown(
    capsys: pytest.CaptureFixture[str], own_database: str
) -> None:
    assert run(capsys, "cases", "list") == (0, "no cases\n", "")
    number = register(own_database, "msg-1").number
    run(capsys, "operators", "add", "op1001", "--name", "张敏", "--departments", "340121")
    code, out, _ = run(capsys, "cases", "list", "--department", "340100", "--sub")
    assert code == 0
    assert out.strip() == (
        f"{number} registered: message [党费收缴、使用和管理] from 055162345678 "
        "at 中共长丰县委组织部 (340121), due 2026-11-27 24:00"
    )
    assert run(capsys, "cases", "list", "--department", "340100")[1] == "no cases\n"
    code, out, _ = run(capsys, "cases", "assign", number, "--to", "op1001", "--note", "请办理")
    assert code == 0 and f"{number} assigned (op1001)" in out
    run(capsys, "cases", "start", number, "--by", "op1001")
    code, out, _ = run(capsys, "cases", "resolve", number, "--note", "已电话答复", "--json")
    assert json.loads(out)["status"] == "resolved"
    code, out, _ = run(capsys, "cases", "show", number)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"{number} resolved (op1001): message")
    assert lines[1] == "  created 2026-11-24 10:00; at this department since 2026-11-24 10:00"
    assert lines[2] == "  call call-msg-1; recording msg-1 (7.5 s); satisfaction not asked"
    assert lines[3] == "History:"
    assert lines[4] == "  2026-11-24 10:00 registered by caller"
    assert lines[5] == f"  2026-11-24 10:00 assign registered -> assigned by {ME}: 请办理"
    assert lines[6] == "  2026-11-24 10:00 start assigned -> in progress by op1001"
    assert lines[7] == f"  2026-11-24 10:00 resolve in progress -> resolved by {ME}: 已电话答复"
    shown = json.loads(run(capsys, "cases", "show", number, "--json")[1])
    assert [event["action"] for event in shown["events"]] == [
        "registered", "assign", "start", "resolve"
    ]


def test_forward_and_urgent(capsys: pytest.CaptureFixture[str], own_database: str) -> None:
    run(capsys, "cases", "list")
    number = register(own_database, "msg-f").number
    code, out, _ = run(capsys, "cases", "forward", number, "--to", "340122", "--note", "属肥东县")
    assert code == 0 and "at 中共肥东县委组织部 (340122)" in out
    code, out, _ = run(capsys, "cases", "urgent", number)
    assert code == 0 and "registered URGENT" in out and "due 2026-11-25 10:00" in out
    history = run(capsys, "cases", "show", number)[1]
    assert f"forward 340121 -> 340122 by {ME}: 属肥东县" in history
    assert f"urgent by {ME}" in history


def test_mistakes_get_one_readable_line(
    capsys: pytest.CaptureFixture[str], own_database: str
) -> None:
    run(capsys, "cases", "list")
    number = register(own_database, "msg-x").number
    code, _, err = run(capsys, "cases", "resolve", number, "--note", "答复")
    assert (code, err) == (
        1, f"ivr: cannot resolve case {number}: it is registered (assign and start it first)\n"
    )
    assert run(capsys, "cases", "show", "nope")[1:] == ("", "ivr: no case 'nope'\n")
    code, _, err = run(capsys, "cases", "list", "--department", "999999")
    assert (code, err) == (1, "ivr: no department with code '999999'\n")
    code, _, err = run(capsys, "cases", "assign", number, "--to", "op9")
    assert (code, err) == (1, "ivr: no operator 'op9'\n")
    code, _, err = run(capsys, "cases", "forward", number, "--to", "999999", "--note", "x")
    assert (code, err) == (1, "ivr: no department with code '999999'\n")


def test_overdue_list_and_report(capsys: pytest.CaptureFixture[str], own_database: str) -> None:
    run(capsys, "cases", "list")
    late = register(own_database, "msg-late", at=TWO_WEEKS_AGO).number
    register(own_database, "msg-new")
    code, out, _ = run(capsys, "cases", "overdue", "--department", "340100")
    assert code == 0
    # Due at the end of Friday 2026-11-13; now Tuesday 2026-11-24 10:00.
    assert out.strip() == (
        f"{late} late 10天10小时 at 中共长丰县委组织部 (340121), due 2026-11-13 24:00, "
        "registered; supervised by 中共合肥市委组织部 (340100)"
    )
    (item,) = json.loads(run(capsys, "cases", "overdue", "--department", "340100", "--json")[1])
    assert (item["supervisor"], item["late_seconds"]) == ("340100", 10 * 86400 + 10 * 3600)
    out = run(capsys, "cases", "overdue", "--department", "340121")[1]
    assert out == "no late cases below 中共长丰县委组织部 (340121)\n"

    code, out, _ = run(capsys, "report", "--period", "week")
    assert code == 0 and "12371 week report, 2026-11-23 to 2026-11-29" in out
    assert "Cases registered: 1" in out
    body = json.loads(run(capsys, "report", "--period", "month", "--json")[1])
    assert (body["first_day"], body["cases"]) == ("2026-11-01", 2)
    assert body["departments"][0]["overdue"] == 1
    code, _, err = run(capsys, "report", "--date", "tomorrow")
    assert (code, err) == (1, "ivr: 'tomorrow' is not a date like 2026-11-24\n")


def test_a_recording_is_fetched_through_ari(
    capsys: pytest.CaptureFixture[str],
    own_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def stored(self: AriClient, name: str) -> bytes:
        if name == "msg-kept":
            return b"RIFF-fake-wav"
        raise AriError(f"GET /recordings/stored/{name}/file: 404 not found", http_status=404)

    monkeypatch.setattr(AriClient, "stored_recording_file", stored)
    run(capsys, "cases", "list")
    kept = register(own_database, "msg-kept").number
    gone = register(own_database, "msg-gone").number
    out_file = tmp_path / "message.wav"
    code, out, _ = run(capsys, "cases", "recording", kept, "--out", str(out_file))
    assert code == 0 and out_file.read_bytes() == b"RIFF-fake-wav"
    assert out == f"{out_file}: recording msg-kept of case {kept} (13 bytes, 7.5 s)\n"
    code, _, err = run(capsys, "cases", "recording", gone, "--out", str(out_file))
    assert (code, err) == (1, f"ivr: Asterisk no longer has recording msg-gone of case {gone}\n")


def closed_long_ago(url: str, source: str, closed_at: datetime) -> CaseView:
    """A message case registered, handled and closed by `closed_at`."""
    register(url, source, at=closed_at)

    async def work() -> CaseView:
        engine = make_engine(url)
        try:
            cases = Cases(make_sessionmaker(engine), DIRECTORY, lambda: closed_at)
            await cases.transition(source, "assign", actor="admin", note="", operator="op1001")
            for action, note in (("start", ""), ("resolve", "已答复"), ("close", "")):
                case = await cases.transition(source, action, actor="admin", note=note)
            return case
        finally:
            await engine.dispose()

    return asyncio.run(work())


def test_retention_says_what_it_would_do_then_does_it(
    capsys: pytest.CaptureFixture[str],
    own_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept = {"msg-old": b"RIFF-old-wav", "msg-new": b"RIFF-new-wav"}

    async def stored(self: AriClient, name: str) -> bytes:
        if name not in kept:
            raise AriError(f"GET /recordings/stored/{name}/file: 404", http_status=404)
        return kept[name]

    async def delete(self: AriClient, name: str) -> None:
        if kept.pop(name, None) is None:
            raise AriError(f"DELETE /recordings/stored/{name}: 404", http_status=404)

    monkeypatch.setattr(AriClient, "stored_recording_file", stored)
    monkeypatch.setattr(AriClient, "delete_stored_recording", delete)
    code, _, err = run(capsys, "cases", "retention", "--now")
    assert code == 1 and "IVR_RECORDING_RETENTION_DAYS is not set" in err
    run(capsys, "operators", "add", "op1001", "--name", "张敏", "--departments", "340121")
    old = closed_long_ago(own_database, "msg-old", datetime(2026, 10, 20, 2, 0, tzinfo=UTC))
    closed_long_ago(own_database, "msg-new", datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
    archive = tmp_path / "archive"
    monkeypatch.setenv("IVR_RECORDING_RETENTION_DAYS", "30")
    monkeypatch.setenv("IVR_RECORDING_ARCHIVE_DIR", str(archive))
    copy = archive / f"{old.number}-msg-old.wav"

    code, out, _ = run(capsys, "cases", "retention", "--dry-run")
    assert (code, out) == (
        0, f"{old.number}: closed 2026-10-20; would archive to {copy}, "
        "then delete recording msg-old\n",
    )
    assert "msg-old" in kept and not archive.exists()

    code, out, _ = run(capsys, "cases", "retention", "--now")
    assert code == 0 and out.startswith(f"{old.number}: recording_archived: ")
    assert copy.read_bytes() == b"RIFF-old-wav" and list(kept) == ["msg-new"]
    code, _, err = run(capsys, "cases", "recording", old.number, "--out", str(tmp_path / "x.wav"))
    assert (code, err) == (
        1, f"ivr: 案件 {old.number} 的录音已按保存期限归档并删除（2026-11-24 10:00）\n"
    )
    code, out, _ = run(capsys, "cases", "retention", "--now")
    assert (code, out) == (
        0, "no recording of a case closed more than 30 days ago is left in Asterisk\n"
    )
