"""The rest of the admin API: the directory to pick a department from, working
hours, today's calls in numbers, the audit log, and users.

Working hours are versioned like menus (`ivr/db/config.py`) but published
at once: a schedule has no tree to get half right, and the page shows the
status it gives before the admin saves.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from ivr import auth
from ivr.auth import NATIONAL, Role
from ivr.db import config as stored
from ivr.db import users as stored_users
from ivr.db.report import classified_calls
from ivr.errors import DataError, NotFound
from ivr.hours import DepartmentHours, Period, Week, explain
from ivr.menu import CATEGORIES
from ivr.menu_admin import VersionInfo, version_info
from ivr.openapi import Api, parse
from ivr.openapi import explain as explain_errors
from ivr.settings import HOTLINE_TZ
from ivr.web_auth import allow_change, allow_read, record, who
from ivr.web_keys import CLOCK, CONFIG, DIRECTORY, SESSIONS

routes = Api("admin", "1")
DEFAULT_AUDIT_LIMIT = 100


class DepartmentBrief(BaseModel):
    code: str
    name: str
    has_children: bool


class DepartmentOut(BaseModel):
    code: str
    name: str
    short_name: str
    parent: str | None
    children: list[DepartmentBrief]
    editable: bool


@routes.route(
    "GET",
    "/api/departments/{code}",
    "A department and the ones directly below it (`national`: the provinces)",
    "admin",
    response=DepartmentOut,
)
async def show_department(request: web.Request) -> web.Response:
    code = request.match_info["code"]
    directory = request.app[DIRECTORY]
    principal = who(request)
    if code == NATIONAL:
        await allow_read(request, NATIONAL, "read_directory")
        children, name, short, parent = directory.provinces(), "全国", "全国", None
    else:
        if not directory.has(code):
            raise NotFound(f"no department with code {code!r}", code=code)
        await allow_read(request, code, "read_directory")
        department = directory.by_code(code)
        children, name, short = directory.children(code), department.name, department.short_name
        parent = (
            department.parent
            if department.parent and principal.covers(department.parent, directory)
            else None
        )
        if parent is not None and principal.is_national and department.level == "province":
            parent = NATIONAL
    if code != NATIONAL and principal.department == code and not principal.include_sub:
        children = ()
    body = DepartmentOut(
        code=code,
        name=name,
        short_name=short,
        parent=parent,
        children=[
            DepartmentBrief(code=c.code, name=c.name, has_children=bool(directory.children(c.code)))
            for c in children
        ],
        editable=(
            principal.role is Role.NATIONAL_ADMIN
            if code == NATIONAL
            else principal.can_change(code, directory)
        ),
    )
    return web.json_response(body.model_dump(mode="json"))


# Working hours ---------------------------------------------------------------------


class HoursIn(BaseModel):
    week: Week | None = None  # None: the week of the department above
    closures: list[Period] = Field(default_factory=list, max_length=200)
    openings: list[Period] = Field(default_factory=list, max_length=200)


class HoursView(BaseModel):
    scope: str
    name: str
    week: Week
    week_from: str  # the scope whose week applies
    own_week: bool
    closures: list[Period]
    openings: list[Period]
    open_now: bool
    status: dict[str, Any]
    version: VersionInfo | None


def _hours_scope(request: web.Request) -> str:
    scope = request.match_info["scope"]
    if scope != NATIONAL and not request.app[DIRECTORY].has(scope):
        raise NotFound(f"no department with code {scope!r}", scope=scope)
    return scope


async def _hours_view(request: web.Request, scope: str) -> HoursView:
    directory = request.app[DIRECTORY]
    hours = request.app[CONFIG].now().hours
    async with request.app[SESSIONS]() as session:
        current = await stored.current(session, stored.HOURS, scope)
    now = request.app[CLOCK]()
    if scope == NATIONAL:
        week, own = hours.spec.default, DepartmentHours(week=hours.spec.default)
        week_from, status = NATIONAL, {}
        open_now = False
    else:
        own = hours.spec.departments.get(scope, DepartmentHours())
        found = hours.status(scope, now)
        status = dict(explain(directory.by_code(scope).name, scope, found, at=now))
        week_from = found.schedule_from if found.schedule_from != "default" else NATIONAL
        week = own.week or _inherited_week(hours.spec, directory, scope)
        open_now = found.open
    return HoursView(
        scope=scope,
        name="全国" if scope == NATIONAL else directory.by_code(scope).name,
        week=week,
        week_from=week_from,
        own_week=scope == NATIONAL or own.week is not None,
        closures=own.closures,
        openings=own.openings,
        open_now=open_now,
        status=status,
        version=version_info(current, current.number) if current else None,
    )


def _inherited_week(spec: Any, directory: Any, code: str) -> Week:
    for ancestor in directory.lineage(code)[1:]:
        found = spec.departments.get(ancestor.code)
        if found is not None and found.week is not None:
            week: Week = found.week
            return week
    default: Week = spec.default
    return default


@routes.route(
    "GET",
    "/api/hours/{scope}",
    "A scope's working hours, closures and openings, and its status",
    "hours",
    response=HoursView,
)
async def show_hours(request: web.Request) -> web.Response:
    scope = _hours_scope(request)
    await allow_read(request, scope, "read_hours")
    view = await _hours_view(request, scope)
    return web.json_response(view.model_dump(mode="json"))


@routes.route(
    "PUT",
    "/api/hours/{scope}",
    "Set a scope's working hours (published at once, versioned)",
    "hours",
    body=HoursIn,
    response=HoursView,
)
async def set_hours(request: web.Request) -> web.Response:
    scope = _hours_scope(request)
    data = await parse(request, HoursIn)
    principal = await allow_change(request, scope, "hours_publish")
    for period in (*data.closures, *data.openings):
        if period.end <= period.start:
            raise DataError(f"{period.reason}: the end must come after the start")
    if scope == NATIONAL:
        if data.week is None:
            raise DataError("the national hours need a week", field="week")
        body: Any = data.week.model_dump(mode="json")
    else:
        body = DepartmentHours(
            week=data.week, closures=data.closures, openings=data.openings
        ).model_dump(mode="json", exclude_none=True)
    await _publish_hours(request, scope, body, principal.username, "")
    view = await _hours_view(request, scope)
    return web.json_response(view.model_dump(mode="json"))


async def _publish_hours(
    request: web.Request, scope: str, body: Any, by: str, note: str, restored: int | None = None
) -> int:
    async with request.app[SESSIONS]() as session, session.begin():
        current = await stored.current(session, stored.HOURS, scope)
        row = await stored.publish(
            session,
            kind=stored.HOURS,
            scope=scope,
            body=body,
            prompts={},
            by=by,
            at=request.app[CLOCK](),
            note=note,
            restored_from=restored,
        )
        await record(
            request,
            session,
            "hours_restore" if restored else "hours_publish",
            scope,
            f"version {row.number}",
            before=current.body if current else None,
            after=body,
        )
        number = row.number
    await request.app[CONFIG].refresh()
    return number


@routes.route(
    "GET",
    "/api/hours/{scope}/versions",
    "Published versions of a scope's hours, newest first",
    "hours",
    response=VersionInfo,
    many=True,
)
async def hours_versions(request: web.Request) -> web.Response:
    scope = _hours_scope(request)
    await allow_read(request, scope, "read_hours")
    async with request.app[SESSIONS]() as session:
        rows = await stored.versions(session, stored.HOURS, scope)
    active = rows[0].number if rows else None
    return web.json_response([version_info(r, active).model_dump(mode="json") for r in rows])


@routes.route(
    "POST",
    "/api/hours/{scope}/versions/{number}/restore",
    "Put an earlier version of the hours back in force",
    "hours",
    response=HoursView,
)
async def restore_hours(request: web.Request) -> web.Response:
    scope = _hours_scope(request)
    raw = request.match_info["number"]
    if not raw.isdigit():
        raise DataError(f"a version number is a whole number, not {raw!r}")
    principal = await allow_change(request, scope, "hours_restore", f"version {raw}")
    async with request.app[SESSIONS]() as session:
        old = await stored.version(session, stored.HOURS, scope, int(raw))
    if old is None:
        raise NotFound(f"{scope}'s hours have no version {raw}")
    note = f"restored version {old.number}"
    await _publish_hours(request, scope, old.body, principal.username, note, old.number)
    view = await _hours_view(request, scope)
    return web.json_response(view.model_dump(mode="json"))


# Today ---------------------------------------------------------------------------------


class TodayOut(BaseModel):
    department: str
    date: str
    calls: int
    answered: int
    after_hours: int
    per_hour: list[int]
    answered_per_hour: list[int]
    after_hours_per_hour: list[int]
    by_category: dict[str, int]


@routes.route(
    "GET",
    "/api/stats/today",
    "Today's calls: per hour, answered or after hours, by category",
    "admin",
    response=TodayOut,
    parameters=(("department", "this department and the ones below it (default: the user's)"),),
)
async def today(request: web.Request) -> web.Response:
    directory = request.app[DIRECTORY]
    principal = who(request)
    department = request.query.get("department") or principal.department or NATIONAL
    if department == NATIONAL:
        await allow_read(request, NATIONAL, "read_stats")
        codes = None
    else:
        if not directory.has(department):
            raise NotFound(f"no department with code {department!r}")
        await allow_read(request, department, "read_stats")
        codes = [department, *directory.below(department)]
        if not principal.include_sub and principal.department == department:
            codes = [department]
    now = request.app[CLOCK]().astimezone(HOTLINE_TZ)
    start = datetime.combine(now.date(), time(0), HOTLINE_TZ)
    async with request.app[SESSIONS]() as session:
        calls = await classified_calls(session, start, start + timedelta(days=1), codes)
    per_hour, answered, after = [0] * 24, [0] * 24, [0] * 24
    by_category = dict.fromkeys([*CATEGORIES, ""], 0)
    for call in calls:
        hour = call.started_at.astimezone(HOTLINE_TZ).hour
        per_hour[hour] += 1
        answered[hour] += call.answered
        after[hour] += call.after_hours
        by_category[call.category if call.category in by_category else ""] += 1
    body = TodayOut(
        department=department,
        date=now.date().isoformat(),
        calls=len(calls),
        answered=sum(answered),
        after_hours=sum(after),
        per_hour=per_hour,
        answered_per_hour=answered,
        after_hours_per_hour=after,
        by_category=by_category,
    )
    return web.json_response(body.model_dump())


# The audit log ---------------------------------------------------------------------------


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    role: str
    action: str
    scope: str
    target: str
    outcome: str
    before: Any
    after: Any
    address: str


@routes.route(
    "GET",
    "/api/audit",
    "Who changed what, and what was refused, newest first",
    "admin",
    response=AuditOut,
    many=True,
    parameters=(("scope", "one scope (default: all the user may see)"), ("limit", "at most")),
)
async def audit_log(request: web.Request) -> web.Response:
    principal = who(request)
    directory = request.app[DIRECTORY]
    scope = request.query.get("scope")
    limit_raw = request.query.get("limit", str(DEFAULT_AUDIT_LIMIT))
    if not limit_raw.isdigit() or not 1 <= int(limit_raw) <= stored_users.MAX_AUDIT_LIMIT:
        raise DataError(f"limit is a whole number from 1 to {stored_users.MAX_AUDIT_LIMIT}")
    actor = None
    if scope:
        await allow_read(request, scope, "read_audit")
        scopes: list[str] | None = [scope]
    else:
        scopes = principal.visible(directory)
    if principal.role is Role.OPERATOR:
        actor = principal.username  # an operator sees what they did, no more
    async with request.app[SESSIONS]() as session:
        rows = await stored_users.audit_entries(session, scopes, int(limit_raw), actor)
    return web.json_response([stored_users.audit_json(row) for row in rows])


# Users ------------------------------------------------------------------------------------


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
    try:
        data = await parse(request, UserPatch)
    except ValidationError as exc:  # pragma: no cover - parse turns these into DataError
        raise DataError(explain_errors(exc)) from None
    await _national_admin(request, "user_change", username)
    values = data.model_dump(exclude_none=True)
    async with request.app[SESSIONS]() as session, session.begin():
        old = await stored_users.get_user(session, username)
        if old is None:
            raise NotFound(f"no user {username!r}", username=username)
        before = stored_users.user_json(old)
        row = await stored_users.change_user(session, username, request.app[CLOCK](), **values)
        after = stored_users.user_json(row)
        shown_values = {k: v for k, v in values.items() if k != "password"}
        await record(
            request,
            session,
            "user_change",
            NATIONAL,
            username,
            before=before,
            after={
                **after,
                **({"password": "(changed)"} if "password" in values else {}),
                **shown_values,
            },
        )
    return web.json_response(after)
