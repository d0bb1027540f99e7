"""`ivr cases ...` and `ivr report`: registered cases and the periodic report,
as the admin API offers them."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pwd
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TypeVar

from ivr.cases import report as reports
from ivr.cases.registry import Cases
from ivr.cases.rules import STATUSES, status_word
from ivr.cases.views import CaseView, OverdueView, recording_audio
from ivr.cli import retention as retention_cli
from ivr.errors import DataError
from ivr.settings import HOTLINE_TZ, Settings

T = TypeVar("T")

# Actions on a case: what they do, and whether their note is required.
_MOVES = {
    "start": ("an assigned case is being worked on", False),
    "resolve": ("the matter is handled: say how", True),
    "close": ("a resolved case is finished", False),
    "reopen": ("a resolved case needs more work", True),
    "urgent": ("mark it urgent: due IVR_CASE_URGENT_HOURS (24) after it arrived", False),
    "note": ("add a note, the status unchanged", True),
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `cases` and `report` commands, on the `ivr` subparsers `sub`."""
    cases = sub.add_parser("cases", help="registered cases (登记): list, show, handle, supervise")
    actions = cases.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="cases, newest first")
    listing.add_argument("--department", help="division code, e.g. 340100")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--sub", action="store_true", help="the departments below too")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    show = actions.add_parser("show", help="one case and its history")
    show.add_argument("number")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=_show)
    assign = _move_parser(actions, "assign", "give a case to an operator", note_required=False)
    assign.add_argument("--to", required=True, dest="operator", metavar="OPERATOR",
                        help="the operator's id")
    forward = _move_parser(actions, "forward", "send a case to another department (转交)", True)
    forward.add_argument("--to", required=True, dest="department", metavar="DEPT",
                         help="division code of the department that takes it over")
    for action, (help_text, required) in _MOVES.items():
        _move_parser(actions, action, help_text, required)
    overdue = actions.add_parser("overdue", help="late cases a department supervises (督办)")
    overdue.add_argument("--department", required=True, help="the supervising department")
    overdue.add_argument("--json", action="store_true")
    overdue.set_defaults(handler=_overdue)
    recording = actions.add_parser("recording", help="save a case's recording, fetched over ARI")
    recording.add_argument("number")
    recording.add_argument("--out", required=True, type=Path, metavar="FILE.wav")
    recording.set_defaults(handler=_recording)
    retention_cli.add_parser(actions)

    report = sub.add_parser("report", help="the periodic summary of calls and cases")
    report.add_argument("--period", choices=reports.PERIODS, default="week")
    report.add_argument("--date", help="a day of the period, YYYY-MM-DD (default: today)")
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=_report)


def _move_parser(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    action: str,
    help_text: str,
    note_required: bool,
) -> argparse.ArgumentParser:
    move = actions.add_parser(action, help=help_text)
    move.add_argument("number", help="the case number, e.g. 20261124-000123")
    move.add_argument("--note", required=note_required, default="", help="what was done, why")
    move.add_argument("--by", default=_login(), help="who acts (default: cli:<login>)")
    move.add_argument("--json", action="store_true")
    move.set_defaults(handler=_move, action=action, operator=None, department=None)
    return move


def _login() -> str:
    try:
        return f"cli:{pwd.getpwuid(os.getuid()).pw_name}"
    except KeyError:
        return f"cli:{os.getuid()}"


def _with_cases(settings: Settings, work: Callable[[Cases], Awaitable[T]]) -> T:
    from ivr.cli.serve import make_clock, seeded_directory
    from ivr.db.migrate import migrated_sessions

    async def run() -> T:
        async with migrated_sessions(settings.database_url) as sessions:
            cases = Cases(
                sessions,
                await seeded_directory(sessions),  # seeded if the database is new
                make_clock(settings),
                settings.case_due_working_days,
                settings.case_urgent_hours,
            )
            return await work(cases)

    return asyncio.run(run())


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _list(settings: Settings, args: argparse.Namespace) -> int:
    found = _with_cases(
        settings, lambda cases: cases.list(args.department, args.status, args.sub, args.limit)
    )
    if args.json:
        _print_json([case.model_dump(mode="json") for case in found])
    else:
        print("\n".join(describe(case) for case in found) or "no cases")
    return 0


def _show(settings: Settings, args: argparse.Namespace) -> int:
    case = _with_cases(settings, lambda cases: cases.get(args.number))
    if args.json:
        _print_json(case.model_dump(mode="json"))
    else:
        print(history(case))
    return 0


def _move(settings: Settings, args: argparse.Namespace) -> int:
    case = _with_cases(
        settings,
        lambda cases: cases.transition(
            args.number,
            args.action,
            actor=args.by,
            note=args.note,
            operator=args.operator,
            department=args.department,
        ),
    )
    if args.json:
        _print_json(case.model_dump(mode="json"))
    else:
        print(describe(case))
    return 0


def _overdue(settings: Settings, args: argparse.Namespace) -> int:
    async def work(cases: Cases) -> tuple[list[OverdueView], str]:
        name = cases.directory.by_code(args.department).label
        return await cases.overdue(args.department), name

    late, supervisor = _with_cases(settings, work)
    if args.json:
        _print_json([item.model_dump(mode="json") for item in late])
    else:
        print("\n".join(map(describe_late, late)) or f"no late cases below {supervisor}")
    return 0


def _recording(settings: Settings, args: argparse.Namespace) -> int:
    async def work(cases: Cases) -> tuple[CaseView, bytes]:
        case = await cases.get(args.number)
        async with retention_cli.asterisks(settings) as keeper:
            return case, await recording_audio(keeper, case)

    case, audio = _with_cases(settings, work)
    try:
        args.out.write_bytes(audio)
    except OSError as exc:
        raise DataError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    length = f", {case.recording_seconds:.1f} s" if case.recording_seconds is not None else ""
    print(f"{args.out}: recording {case.recording} of case {case.number} "
          f"({len(audio)} bytes{length})")
    return 0


def _report(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.cli.serve import make_clock, seeded_directory
    from ivr.db.migrate import migrated_sessions

    async def run() -> reports.Report:
        async with migrated_sessions(settings.database_url) as sessions:
            directory = await seeded_directory(sessions)
            now = make_clock(settings)()
            day = reports.parse_day(args.date, now)
            async with sessions() as session:
                return await reports.build(session, directory, args.period, day, now)

    made = asyncio.run(run())
    if args.json:
        _print_json(made.model_dump(mode="json"))
    else:
        print(reports.render(made))
    return 0


def when(moment: datetime) -> str:
    return f"{moment.astimezone(HOTLINE_TZ):%Y-%m-%d %H:%M}"


def due_text(moment: datetime) -> str:
    """A due date at midnight reads as the end of the day before: 24:00."""
    local = moment.astimezone(HOTLINE_TZ)
    if local.time() == time(0):
        return f"{local - timedelta(days=1):%Y-%m-%d} 24:00"
    return when(moment)


def describe(case: CaseView) -> str:
    status = status_word(case.status)
    if case.assigned_to and case.status not in ("registered", "closed"):
        status += f" ({case.assigned_to})"
    urgent = " URGENT" if case.urgent else ""
    return (
        f"{case.number} {status}{urgent}: {case.kind} "
        f"[{reports.category_name(case.category)}] from {case.caller or 'unknown'} "
        f"at {case.department_name or '?'} ({case.department}), due {due_text(case.due_at)}"
    )


def describe_late(item: OverdueView) -> str:
    supervisor = f"{item.supervisor_name} ({item.supervisor})" if item.supervisor else "nobody"
    return (
        f"{item.case.number} late {item.late_by} at {item.late_department_name} "
        f"({item.late_department}), due {due_text(item.case.due_at)}, "
        f"{status_word(item.case.status)}; supervised by {supervisor}"
    )


def history(case: CaseView) -> str:
    recording = "none"
    if case.recording:
        seconds = case.recording_seconds
        recording = case.recording + (f" ({seconds:.1f} s)" if seconds is not None else "")
    lines = [
        describe(case),
        f"  created {when(case.created_at)}; at this department since {when(case.received_at)}",
        f"  call {case.call_id or 'none'}; recording {recording}; "
        f"satisfaction {case.satisfaction or 'not asked'}",
        "History:",
    ]
    for event in case.events:
        moved = ""
        if event.from_department:
            moved = f" {event.from_department} -> {event.department}"
        elif event.from_status and event.from_status != event.to_status:
            moved = f" {status_word(event.from_status)} -> {status_word(event.to_status)}"
        note = f": {event.note}" if event.note else ""
        lines.append(f"  {when(event.at)} {event.action}{moved} by {event.actor}{note}")
    return "\n".join(lines)
