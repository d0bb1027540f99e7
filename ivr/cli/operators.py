"""`ivr operators ...`: add operators and move them, as the admin API does."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from datetime import datetime

from ivr.db.migrate import migrated_session
from ivr.desk import operator_store as stored
from ivr.desk.operator_store import DayCounts, operator_json, sip_digest
from ivr.desk.operators import MOVES, Operator
from ivr.desk.presence import PhonesSeen, phones_seen
from ivr.errors import DataError
from ivr.settings import HOTLINE_TZ, Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `operators` command and its actions, on the `ivr` subparsers `sub`."""
    operators = sub.add_parser("operators", help="the operators who answer in working hours")
    actions = operators.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="a new operator, signed out")
    add.add_argument("id", help="letters, digits, - and _")
    add.add_argument("--name", required=True)
    add.add_argument("--endpoint", help="the SIP endpoint of the phone (default: the id)")
    add.add_argument("--departments", required=True, help="division codes, comma-separated")
    add.add_argument(
        "--contact",
        help="a phone that does not register: where it is (sip:user@host:port)",
    )
    add.add_argument(
        "--password-env",
        metavar="VAR",
        help="the environment variable holding the phone's SIP password (kept only as a digest)",
    )
    add.set_defaults(handler=_add)
    listing = actions.add_parser("list", help="every operator, their status and today's counts")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    for word in MOVES:
        move = actions.add_parser(word, help=f"{word.replace('-', ' ')} an operator")
        move.add_argument("id")
        move.add_argument("--reason", help="why (a pause needs one)")
        move.set_defaults(handler=_move, move=MOVES[word])


def _now(settings: Settings) -> datetime:
    from ivr.cli.serve import make_clock

    return make_clock(settings)()


def _add(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.cli.serve import load_directory

    directory = load_directory(settings)
    codes = [code.strip() for code in args.departments.split(",") if code.strip()]
    endpoint = args.endpoint or args.id
    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise DataError(f"environment variable {args.password_env} is empty or unset")

    async def add() -> Operator:
        async with migrated_session(settings.database_url) as session, session.begin():
            return await stored.add_operator(
                session,
                directory,
                args.id,
                name=args.name,
                endpoint=endpoint,
                departments=codes,
                at=_now(settings),
                sip_contact=args.contact,
                sip_md5=sip_digest(endpoint, settings.sip_realm, password) if password else None,
            )

    operator = asyncio.run(add())
    print(f"added {describe(operator, DayCounts())}")
    return 0


def _move(settings: Settings, args: argparse.Namespace) -> int:
    async def move() -> Operator:
        async with migrated_session(settings.database_url) as session, session.begin():
            return await stored.act(session, args.id, args.move, _now(settings), reason=args.reason)

    print(describe(asyncio.run(move()), None))
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def listing() -> tuple[list[Operator], dict[str, DayCounts], PhonesSeen]:
        async with migrated_session(settings.database_url) as session:
            found = await stored.list_operators(session)
            counts = await stored.counts_today(session, _now(settings))
            return found, counts, await phones_seen(session)

    operators, counts, phones = asyncio.run(listing())
    body = [
        operator_json(op, counts.get(op.id, DayCounts()), phones.get(op.endpoint))
        for op in operators
    ]
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        for operator, shown in zip(operators, body, strict=True):
            line = describe(operator, counts.get(operator.id, DayCounts()))
            print(f"{line}; phone {shown['phone']['state']}")
        if not operators:
            print("no operators yet: add one with `ivr operators add`")
    return 0


def describe(operator: Operator, counts: DayCounts | None) -> str:
    status = operator.status.replace("_", " ")
    since = operator.since.astimezone(HOTLINE_TZ)
    if operator.pause_reason:
        status += f" ({operator.pause_reason})"
    line = (
        f"{operator.id} {operator.name} <{operator.endpoint}> "
        f"[{', '.join(sorted(operator.departments))}]: {status} since {since:%Y-%m-%d %H:%M:%S}"
    )
    if counts is not None:
        line += (
            f"; today {counts.offered} offered, {counts.answered} answered, "
            f"{counts.missed} missed, {counts.talk_seconds} s talking"
        )
    return line
