"""The `ivr` command: run the controller and work with the platform around it."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime

from pydantic import ValidationError

from ivr import logs
from ivr.cli import cases as cases_cli
from ivr.cli import directory as directory_cli
from ivr.cli import menu as menu_cli
from ivr.cli import operators as operators_cli
from ivr.cli import users as users_cli
from ivr.errors import IvrError
from ivr.settings import HOTLINE_TZ, Settings

log = logging.getLogger("ivr")

# Seconds between key presses when `ivr call` is not told otherwise: long
# enough for the caller to hear the start of the greeting first.
DEFAULT_FIRST_KEY_S = 3.0
DEFAULT_KEY_GAP_S = 3.0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"ivr: bad setting: {exc}", file=sys.stderr)
        return 2
    # The one place logging is configured (IVR_LOG_FORMAT: text or JSON lines).
    level = logging.DEBUG if args.verbose else logging.INFO
    logs.configure(settings.log_format, level, node=settings.node_name)
    # Alembic announces every plugin and its dialect at INFO on every command;
    # only the migrations it runs matter.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_only_migrations)
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

    cluster = sub.add_parser(
        "cluster",
        help="Kamailio, two Asterisks and two controllers on PostgreSQL, on this machine",
    )
    cluster.add_argument("action", choices=["up", "down", "status"])
    cluster.set_defaults(handler=_cluster)

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
    call.add_argument("--keys", default="", help="keys to press, e.g. 3,5,*")
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
    try:
        from devtools import asterisk
    except ImportError as exc:
        return _without_devtools("asterisk", exc)
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


def _cluster(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from devtools import cluster
    except ImportError as exc:
        return _without_devtools("cluster", exc)
    spec = cluster.Cluster.standard(settings)
    if args.action == "up":
        for line in cluster.up(spec):
            print(line)
        print(f"Call sip:12371@{spec.door.host}:{spec.door.port}; `ivr cluster down` stops it all.")
    elif args.action == "down":
        for line in cluster.down(spec):
            print(line)
    else:
        state = cluster.status(spec)
        print(json.dumps(state, indent=2, ensure_ascii=False))
        healthy = state["door"]["running"] and all(
            (health or {}).get("ari_connected") for health in state["controllers"].values()
        )
        return 0 if healthy else 3
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
    try:
        from devtools import calls
    except ImportError as exc:
        return _without_devtools("call", exc)

    keys = [key.strip() for key in args.keys.split(",") if key.strip()]
    return calls.place(
        settings, args.caller, args.to, keys, args.first_key, args.gap, args.hangup_after, args.json
    )


def _without_devtools(command: str, exc: ImportError) -> int:
    """`ivr call`, `ivr asterisk` and `ivr cluster` are development tools: outside the wheel."""
    if not (exc.name or "").startswith("devtools"):
        raise exc
    print(
        f"ivr {command}: a development tool, in devtools/ of a checkout of the repository; "
        "this installation has none",
        file=sys.stderr,
    )
    return 2


def _safe_url(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


if __name__ == "__main__":
    raise SystemExit(main())

