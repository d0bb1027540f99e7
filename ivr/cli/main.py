"""The `ivr` command: run the controller and work with the platform around it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from ivr.cli import cases as cases_cli
from ivr.cli import directory as directory_cli
from ivr.cli import menu as menu_cli
from ivr.cli import operators as operators_cli
from ivr.cli import users as users_cli
from ivr.errors import DataError, IvrError
from ivr.settings import HOTLINE_TZ, Settings

log = logging.getLogger("ivr")

# Seconds between key presses when `ivr call` is not told otherwise: long
# enough for the caller to hear the start of the greeting first.
DEFAULT_FIRST_KEY_S = 3.0
DEFAULT_KEY_GAP_S = 3.0
# How long `ivr call` waits for the controller to write the finished record.
RECORD_WAIT_S = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic announces every plugin and its dialect at INFO on every command;
    # only the migrations it runs matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_only_migrations)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"ivr: bad setting: {exc}", file=sys.stderr)
        return 2
    handler: Callable[[Settings, argparse.Namespace], int] = args.handler
    try:
        return handler(settings, args)
    except IvrError as exc:
        print(f"ivr: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _only_migrations(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(("Context impl", "Will assume"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the controller")
    serve.set_defaults(handler=_serve)

    asterisk = sub.add_parser("asterisk", help="the local Asterisk: up, down, status")
    asterisk.add_argument("action", choices=["up", "down", "status"])
    asterisk.add_argument("--json", action="store_true")
    asterisk.set_defaults(handler=_asterisk)

    db = sub.add_parser("db", help="the records database")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(handler=_db)

    prompts = sub.add_parser("prompts", help="build the prompt audio")
    prompts.add_argument("action", choices=["build"])
    prompts.set_defaults(handler=_prompts)

    route = sub.add_parser("route", help="explain which department a call reaches")
    route.add_argument("--caller", required=True, help="the caller's number as Asterisk sees it")
    route.add_argument("--dialed", default="12371", help="digits dialed (default 12371)")
    route.add_argument("--origin", default="",
                       help="where the carrier says the call is from: division or area code")
    route.add_argument("--json", action="store_true")
    route.set_defaults(handler=_route)

    directory_cli.add_parser(sub)
    operators_cli.add_parser(sub)
    cases_cli.add_parser(sub)
    menu_cli.add_parser(sub)
    users_cli.add_parser(sub)

    hours = sub.add_parser("hours", help="is a department open, and until when")
    hours.add_argument("department", help="division code, e.g. 340100")
    hours.add_argument("--at", type=_moment, default=None, metavar="TIME",
                       help="ISO time, e.g. 2026-11-24T10:00 (Beijing time unless a zone is given)")
    hours.add_argument("--json", action="store_true")
    hours.set_defaults(handler=_hours)

    call = sub.add_parser("call", help="place a real SIP call through Asterisk with SIPp")
    call.add_argument("--from", dest="caller", required=True, help="caller number")
    call.add_argument("--to", default="12371", help="digits to dial (default 12371)")
    call.add_argument("--keys", default="", help="keys to press, e.g. 5,*")
    call.add_argument("--first-key", type=float, default=DEFAULT_FIRST_KEY_S, metavar="S",
                      help="seconds after answer of the first key")
    call.add_argument("--gap", type=float, default=DEFAULT_KEY_GAP_S, metavar="S",
                      help="seconds between keys")
    call.add_argument("--hangup-after", type=float, default=None, metavar="S",
                      help="hang up after S seconds (default: wait for the IVR to end the call)")
    call.add_argument("--json", action="store_true")
    call.set_defaults(handler=_call)
    return parser


def _serve(settings: Settings, _: argparse.Namespace) -> int:
    from ivr.cli.serve import serve

    serve(settings)
    return 0


def _asterisk(settings: Settings, args: argparse.Namespace) -> int:
    from ivr import asterisk
    from ivr.cli.serve import build_prompts, fallback_sounds, load_directory

    if args.action == "up":
        catalog = build_prompts(settings, load_directory(settings))
        print(asterisk.up(settings, fallback_sounds(settings, catalog)))
    elif args.action == "down":
        print(asterisk.down(settings))
    else:
        state = asterisk.status(settings)
        if args.json:
            print(json.dumps(state, indent=2))
        else:
            for key, value in state.items():
                print(f"{key:>8}: {value}")
        return 0 if state["ari"] else 3
    return 0


def _db(settings: Settings, _: argparse.Namespace) -> int:
    from ivr.db.migrate import upgrade

    asyncio.run(upgrade(settings.database_url))
    print(f"database at head: {_safe_url(settings.database_url)}")
    return 0


def _prompts(settings: Settings, _: argparse.Namespace) -> int:
    from ivr.cli.serve import build_prompts, load_directory

    catalog = build_prompts(settings, load_directory(settings))
    print(f"{len(catalog)} prompts in {settings.prompt_build_dir}")
    return 0


def _route(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.cli.serve import load_directory
    from ivr.directory.routing import explain

    route = load_directory(settings).resolve(args.caller, args.dialed, args.origin)
    print(explain(route, as_json=args.json))
    return 0


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time like 2026-11-24T10:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=HOTLINE_TZ)


def _hours(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.cli.serve import load_directory, make_clock
    from ivr.publish import hours
    from ivr.publish.in_force import read_in_force

    directory = load_directory(settings)
    department = directory.by_code(args.department)
    at = args.at or make_clock(settings)()
    # The published hours once a controller started on this database; before, the file.
    published = read_in_force(settings.database_url, directory)
    in_force = published[1] if published is not None else hours.load(settings.hours_file, directory)
    status = in_force.status(department.code, at)
    data = hours.explain(department.name, department.code, status, at=at)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    change = status.next_change
    verb = "closes" if status.open else "opens"
    until = f"{verb} {change:%Y-%m-%d %H:%M %Z}" if change else (
        f"no change within {hours.LOOKAHEAD_DAYS} days"
    )
    print(f"{department.name} ({department.code}): {'OPEN' if status.open else 'CLOSED'}")
    print(f"  why:      {status.reason}")
    print(f"  next:     {until}")
    source = "published" if published is not None else "routing/hours.yaml"
    print(f"  schedule: {status.schedule_from} ({source}), calendar {hours.CALENDAR}")
    return 0


def _call(settings: Settings, args: argparse.Namespace) -> int:
    from devtools.sipcall import CallPlan, place_call, presses

    keys = [key.strip() for key in args.keys.split(",") if key.strip()]
    bad = [key for key in keys if key not in set("0123456789*#")]
    if bad:
        raise DataError(f"keys must be 0-9, * or #, separated by commas; not {bad}")
    times = [(args.first_key + i * args.gap, key) for i, key in enumerate(keys)]
    plan = CallPlan(
        caller=args.caller,
        to=args.to,
        actions=presses(*times, hangup_at_s=args.hangup_after),
    )
    result = asyncio.run(place_call(plan, settings))
    record = wait_for_record(settings, plan.call_id)
    if args.json:
        print(json.dumps({"sip": _result_json(result), "record": record}, indent=2))
    else:
        print(_describe(result, record, _prompt_texts(settings)))
    return 0 if result.answered and record is not None else 1


def _prompt_texts(settings: Settings) -> dict[str, str]:
    """What each prompt says, from the built prompts; empty if there are none here."""
    from ivr.audio.catalog import Catalog

    try:
        catalog = Catalog.load(settings.prompt_build_dir)
    except IvrError:
        return {}
    return {prompt_id: entry.text for prompt_id, entry in catalog.entries.items()}


def wait_for_record(
    settings: Settings, sip_call_id: str, timeout: float = RECORD_WAIT_S
) -> dict[str, Any] | None:
    """The controller's record of a call found by its SIP Call-ID, once it
    says the call ended (or as it stands when `timeout` runs out).

    Read from the database the controller writes (the API would need a
    signed-in user), in a thread of its own so that an asyncio caller can
    wait for it too."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        deadline = time.monotonic() + timeout
        return pool.submit(asyncio.run, _poll_record(settings, sip_call_id, deadline)).result()


async def _poll_record(
    settings: Settings, sip_call_id: str, deadline: float
) -> dict[str, Any] | None:
    from ivr.db.engine import make_engine, make_sessionmaker
    from ivr.db.queries import find_by_sip_call_id

    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    record: dict[str, Any] | None = None
    try:
        while time.monotonic() < deadline:
            try:
                async with sessions() as session:
                    found = await find_by_sip_call_id(session, sip_call_id)
            except SQLAlchemyError:
                found = None  # not migrated yet, or a write holds the file: next time
            if found is not None:
                record = found.model_dump(mode="json")
                if record.get("ended_at"):
                    return record
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    return record


def _result_json(result: Any) -> dict[str, Any]:
    return {
        "call_id": result.call_id,
        "answered": result.answered,
        "final_status": result.final_status,
        "ended_by": result.ended_by,
        "duration_s": round(result.duration_s, 2),
    }


def _describe(result: Any, record: dict[str, Any] | None, texts: dict[str, str]) -> str:
    lines = [
        f"SIP: {'answered' if result.answered else 'not answered'} "
        f"(final {result.final_status}), ended by {result.ended_by}, "
        f"{result.duration_s:.1f} s",
    ]
    if record is None:
        lines.append(
            "No record of this call at the controller: is `ivr serve` running? "
            "(a call while it is down hears the native fallback)"
        )
        return "\n".join(lines)
    lines.append(
        f"Routed by {record['route_rule']} {record['route_read']!r}; "
        f"ended at {record['department_name']} ({record['department_code']})"
    )
    heard: list[str] = []
    for step in [*record.get("steps", []), None]:
        if step is not None and step["kind"] == "prompt":
            heard.append(texts.get(step["value"], f"[{step['value']}]"))
            continue
        if heard:  # the prompts played in a row (a key cuts them short)
            lines.append(f"  {'played':>10}: {' '.join(heard)}")
            heard = []
        if step is not None:
            detail = f" ({step['detail']})" if step.get("detail") else ""
            lines.append(f"  {step['kind']:>10}: {step['value']}{detail}")
    queue = record.get("queue")
    if queue:
        offers = ", ".join(f"{o['operator']} ({o['outcome']})" for o in queue["offers"])
        lines.append(
            f"Queue: place {queue['position']} in {queue['department_code']}'s line, "
            f"waited {queue['wait_seconds']} s, talked {queue['talk_seconds']} s; "
            f"rang {offers or 'nobody'}; {queue['status']}"
        )
    lines.append(f"Ended: {record.get('end_reason') or 'still in progress'}")
    return "\n".join(lines)


def _safe_url(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


if __name__ == "__main__":
    raise SystemExit(main())

