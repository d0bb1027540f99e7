"""`ivr users ...`: who may sign in to the admin web, and with what role.

Passwords never go on the command line (where `ps` and the shell history
would keep them): they are read from an environment variable named with
`--password-env`, or typed at a prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from datetime import datetime

from ivr.admin import auth
from ivr.admin import user_store as stored
from ivr.db.migrate import migrated_session
from ivr.errors import DataError
from ivr.settings import Settings


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="who signs in to the admin web, and their role")
    actions = users.add_subparsers(required=True, metavar="ACTION")
    add = actions.add_parser("add", help="a new user")
    add.add_argument("username", help="small letters, digits, '.', '_' and '-'")
    add.add_argument("--name", required=True, help="as shown in the page and the audit log")
    add.add_argument("--role", required=True, choices=[role.value for role in auth.Role])
    add.add_argument("--department", help="division code (department admins, operators)")
    add.add_argument(
        "--sub", action="store_true", help="the departments below it too (department admins)"
    )
    _password_option(add)
    add.set_defaults(handler=_add)
    listing = actions.add_parser("list", help="every user")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_list)
    passwd = actions.add_parser("passwd", help="set a user's password (ends their sessions)")
    passwd.add_argument("username")
    _password_option(passwd)
    passwd.set_defaults(handler=_passwd)
    token = actions.add_parser(
        "token", help="a new API token for scripts (printed once; the old one stops working)"
    )
    token.add_argument("username")
    token.set_defaults(handler=_token)
    for word, disabled in (("disable", True), ("enable", False)):
        toggle = actions.add_parser(word, help=f"{word} a user (disabling ends their sessions)")
        toggle.add_argument("username")
        toggle.set_defaults(handler=_toggle, disabled=disabled)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-env",
        metavar="VAR",
        help="the environment variable holding the password (default: ask at a prompt)",
    )


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        password = os.environ.get(args.password_env)
        if not password:
            raise DataError(f"environment variable {args.password_env} is empty or unset")
        return password
    if not sys.stdin.isatty():
        raise DataError("no terminal to ask for the password at: use --password-env VAR")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise DataError("the two passwords differ")
    return first


def _now(settings: Settings) -> datetime:
    from ivr.cli.serve import make_clock

    return make_clock(settings)()


def _add(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.cli.serve import load_directory

    role = auth.validate_role(args.role, args.department, load_directory(settings))
    password = _password(args)

    async def add() -> dict[str, object]:
        async with migrated_session(settings.database_url) as session, session.begin():
            row = await stored.add_user(
                session,
                username=args.username,
                name=args.name,
                role=role,
                department=args.department,
                include_sub=args.sub,
                password=password,
                now=_now(settings),
            )
            return stored.user_json(row)

    user = asyncio.run(add())
    print(f"added {user['username']} ({user['role']}{_where(user)})")
    return 0


def _where(user: dict[str, object]) -> str:
    if user["department"] is None:
        return ", national"
    return f", {user['department']}" + (" and below" if user["include_sub"] else "")


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def listing() -> list[dict[str, object]]:
        async with migrated_session(settings.database_url) as session:
            return [stored.user_json(row) for row in await stored.list_users(session)]

    found = asyncio.run(listing())
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return 0
    for user in found:
        state = " (disabled)" if user["disabled"] else ""
        print(
            f"{user['username']:<20} {user['role']:<17}{_where(user)[2:]:<20} {user['name']}{state}"
        )
    if not found:
        print("no users yet: `ivr serve` creates `admin` on first start, or use `ivr users add`")
    return 0


def _passwd(settings: Settings, args: argparse.Namespace) -> int:
    password = _password(args)

    async def change() -> None:
        async with migrated_session(settings.database_url) as session, session.begin():
            await stored.change_user(session, args.username, _now(settings), password=password)

    asyncio.run(change())
    print(f"{args.username}: password changed; their sessions are ended")
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    async def make() -> str:
        async with migrated_session(settings.database_url) as session, session.begin():
            return await stored.set_token(session, args.username, _now(settings))

    print(asyncio.run(make()))
    return 0


def _toggle(settings: Settings, args: argparse.Namespace) -> int:
    async def toggle() -> None:
        async with migrated_session(settings.database_url) as session, session.begin():
            await stored.change_user(session, args.username, _now(settings), disabled=args.disabled)

    asyncio.run(toggle())
    print(f"{args.username}: {'disabled' if args.disabled else 'enabled'}")
    return 0
