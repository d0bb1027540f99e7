"""`/api/users`: who signs in, for national admins (the `ivr users` command
does the same from a shell)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from ivr.admin import auth
from ivr.admin import user_store as stored_users
from ivr.admin.auth import NATIONAL
from ivr.admin.keys import CLOCK, DIRECTORY, SESSIONS
from ivr.admin.openapi import Api, parse
from ivr.admin.sessions import allow_change, record
from ivr.errors import NotFound

routes = Api("users", "1")


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    role: str
    department: str | None = None
    include_sub: bool = False
    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=auth.MAX_PASSWORD)


class UserPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=64)
    password: str | None = Field(None, min_length=auth.MIN_PASSWORD, max_length=auth.MAX_PASSWORD)
    disabled: bool | None = None
    include_sub: bool | None = None


class UserRecord(BaseModel):
    username: str
    name: str
    role: str
    department: str | None
    include_sub: bool
    disabled: bool
    has_token: bool
    created_at: str


async def _national_admin(request: web.Request, action: str, target: str) -> auth.Principal:
    return await allow_change(request, NATIONAL, action, target)


@routes.route(
    "GET", "/api/users", "Every user (national admins)", "admin", response=UserRecord, many=True
)
async def list_users(request: web.Request) -> web.Response:
    await _national_admin(request, "read_users", "users")
    async with request.app[SESSIONS]() as session:
        rows = await stored_users.list_users(session)
    return web.json_response([stored_users.user_json(row) for row in rows])


@routes.route(
    "POST",
    "/api/users",
    "Add a user (national admins)",
    "admin",
    body=UserIn,
    response=UserRecord,
    status=201,
    errors=(409,),  # a user of that name exists
)
async def add_user(request: web.Request) -> web.Response:
    data = await parse(request, UserIn)
    await _national_admin(request, "user_add", data.username)
    role = auth.validate_role(data.role, data.department, request.app[DIRECTORY])
    async with request.app[SESSIONS]() as session, session.begin():
        row = await stored_users.add_user(
            session,
            username=data.username,
            name=data.name,
            role=role,
            department=data.department,
            include_sub=data.include_sub,
            password=data.password,
            now=request.app[CLOCK](),
        )
        shown = stored_users.user_json(row)
        await record(request, session, "user_add", NATIONAL, data.username, after=shown)
    return web.json_response(shown, status=201)


@routes.route(
    "PATCH",
    "/api/users/{username}",
    "Change a user: name, password, disabled (national admins)",
    "admin",
    body=UserPatch,
    response=UserRecord,
)
async def change_user(request: web.Request) -> web.Response:
    username = request.match_info["username"]
    data = await parse(request, UserPatch)
    await _national_admin(request, "user_change", username)
    values = data.model_dump(exclude_none=True)
    async with request.app[SESSIONS]() as session, session.begin():
        old = await stored_users.get_user(session, username)
        if old is None:
            raise NotFound(f"no user {username!r}", username=username)
        before = stored_users.user_json(old)
        row = await stored_users.change_user(session, username, request.app[CLOCK](), **values)
        after = stored_users.user_json(row)
        # The audit line says that the password changed, never what it is.
        changed = {"password": "(changed)"} if "password" in values else {}
        await record(
            request,
            session,
            "user_change",
            NATIONAL,
            username,
            before=before,
            after={**after, **changed},
        )
    return web.json_response(after)
