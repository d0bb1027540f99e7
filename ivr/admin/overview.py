"""The rest of the admin API: the directory to pick a department from,
today's calls in numbers, and the audit log."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from ivr.admin.auth import NATIONAL, Role
from ivr.admin.keys import CLOCK, DIRECTORY, SESSIONS
from ivr.admin.openapi import Api, int_param
from ivr.admin.sessions import allow_read, who
from ivr.cases.report_counts import classified_calls
from ivr.db.audit import MAX_AUDIT_LIMIT, audit_entries, audit_json
from ivr.errors import NotFound
from ivr.publish.menus import CATEGORIES
from ivr.settings import HOTLINE_TZ

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
    errors=(404,),
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
        codes = principal.reach(department, directory)
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
    errors=(404,),  # no department of that code
)
async def audit_log(request: web.Request) -> web.Response:
    principal = who(request)
    directory = request.app[DIRECTORY]
    scope = request.query.get("scope")
    limit = int_param(request, "limit", DEFAULT_AUDIT_LIMIT, 1, MAX_AUDIT_LIMIT)
    actor = None
    if scope:
        await allow_read(request, scope, "read_audit")
        scopes: list[str] | None = [scope]
    else:
        scopes = principal.visible(directory)
    if principal.role is Role.OPERATOR:
        actor = principal.username  # an operator sees what they did, no more
    async with request.app[SESSIONS]() as session:
        rows = await audit_entries(session, scopes, limit, actor)
    return web.json_response([audit_json(row) for row in rows])
