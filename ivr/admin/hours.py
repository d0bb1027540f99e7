"""`/api/hours/...`: working hours, closures and extra openings, per scope.

Versioned like menus (`ivr/publish/versions.py`) but published at once: a schedule
has no tree to get half right, and the page shows the status it gives
before the admin saves.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from ivr.admin.auth import NATIONAL, check_scope
from ivr.admin.keys import CLOCK, CONFIG, DIRECTORY, SESSIONS
from ivr.admin.openapi import Api, parse, version_number
from ivr.admin.sessions import allow_change, allow_read, author
from ivr.directory.routing import Directory
from ivr.errors import DataError, NotFound
from ivr.publish import store as stored
from ivr.publish.hours import DepartmentHours, HoursSpec, Period, Week, explain
from ivr.publish.versions import VersionInfo, publish_version, version_info, version_infos

routes = Api("hours", "1")


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
    return check_scope(request.match_info["scope"], request.app[DIRECTORY])


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


def _inherited_week(spec: HoursSpec, directory: Directory, code: str) -> Week:
    for ancestor in directory.lineage(code)[1:]:
        found = spec.departments.get(ancestor.code)
        if found is not None and found.week is not None:
            return found.week
    return spec.default


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
    errors=(409,),  # published by someone else meanwhile
)
async def set_hours(request: web.Request) -> web.Response:
    scope = _hours_scope(request)
    data = await parse(request, HoursIn)
    await allow_change(request, scope, "hours_publish")
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
    await _publish_hours(request, scope, body)
    view = await _hours_view(request, scope)
    return web.json_response(view.model_dump(mode="json"))


async def _publish_hours(
    request: web.Request, scope: str, body: Any, note: str = "", restored: int | None = None
) -> None:
    """The next version of the scope's hours, with its audit line, in force at once."""
    async with request.app[SESSIONS]() as session, session.begin():
        await publish_version(
            session,
            author(request),
            kind=stored.HOURS,
            scope=scope,
            body=body,
            note=note,
            restored_from=restored,
        )
    await request.app[CONFIG].refresh()


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
        found = await version_infos(session, stored.HOURS, scope)
    return web.json_response([v.model_dump(mode="json") for v in found])


@routes.route(
    "POST",
    "/api/hours/{scope}/versions/{number}/restore",
    "Put an earlier version of the hours back in force",
    "hours",
    response=HoursView,
    errors=(409,),  # published by someone else meanwhile
)
async def restore_hours(request: web.Request) -> web.Response:
    scope = _hours_scope(request)
    number = version_number(request.match_info["number"])
    await allow_change(request, scope, "hours_restore", f"version {number}")
    async with request.app[SESSIONS]() as session:
        old = await stored.version(session, stored.HOURS, scope, number)
    if old is None:
        raise NotFound(f"{scope}'s hours have no version {number}")
    note = f"restored version {old.number}"
    await _publish_hours(request, scope, old.body, note, old.number)
    view = await _hours_view(request, scope)
    return web.json_response(view.model_dump(mode="json"))
