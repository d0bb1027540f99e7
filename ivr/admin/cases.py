"""`/api/cases` and `/api/report`: registered cases and the periodic report over
HTTP, the report also as CSV and XLSX to download.

Errors are JSON like every `/api/` answer (`ivr.admin.app.json_errors`): a body
that is not JSON, or a field of the wrong type or size, is a 400 with a
message a person reads; an unknown case or action a 404.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from pydantic import BaseModel

from ivr.admin.auth import NATIONAL
from ivr.admin.keys import ARI, CLOCK, DIRECTORY, SESSIONS
from ivr.admin.openapi import Api, bool_param, int_param, read_json
from ivr.admin.sessions import allow_read, allow_seeing, conceal, record, refuse, who
from ivr.cases import report as reports
from ivr.cases import report_files
from ivr.cases.registry import Cases
from ivr.cases.rules import missing_case
from ivr.cases.store import MAX_LIMIT
from ivr.cases.views import CaseView, OverdueView, recording_audio
from ivr.db.models import CASE_NOTE_MAX, DIVISION_CODE_LENGTH, OPERATOR_ID_MAX
from ivr.desk import operator_store as stored_operators
from ivr.errors import DataError, NotFound

CASES = web.AppKey("cases", Cases)

DEFAULT_LIMIT = 100
# The body of a POST: each field, and how long it may be.
_FIELDS = {
    "note": CASE_NOTE_MAX,
    "operator": OPERATOR_ID_MAX,
    "department": DIVISION_CODE_LENGTH,
}

routes = Api("cases", "1")


class CaseActionIn(BaseModel):
    note: str | None = None
    operator: str | None = None
    department: str | None = None


@routes.route(
    "GET",
    "/api/cases",
    "Registered cases, newest first, of the departments the user may see",
    "cases",
    response=CaseView,
    many=True,
    parameters=(
        ("department", "a department (default: the user's own)"),
        ("status", "only cases in this status"),
        ("sub", "true: the departments below it too"),
        ("limit", f"at most this many (1 to {MAX_LIMIT})"),
    ),
    errors=(404,),  # no department of that code
)
async def list_cases(request: web.Request) -> web.Response:
    query = request.query
    principal = who(request)
    directory = request.app[DIRECTORY]
    department = query.get("department") or principal.department
    include_sub = bool_param(request, "sub") or (department is not None and principal.include_sub)
    if department is not None:
        await allow_read(request, department, "read_cases")
    found = await request.app[CASES].list(
        department=department,
        status=query.get("status") or None,
        include_sub=include_sub,
        limit=int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
    )
    # `sub` reaches below what a department admin without sub-departments may see.
    shown = [case for case in found if principal.covers(case.department, directory)]
    return web.json_response([case.model_dump(mode="json") for case in shown])


@routes.route(
    "GET",
    "/api/cases/overdue",
    "Late cases under a supervising department (督办)",
    "cases",
    response=OverdueView,
    many=True,
    parameters=(("department", "the supervising department"),),
    errors=(404,),  # no department of that code
)
async def overdue_cases(request: web.Request) -> web.Response:
    department = request.query.get("department") or who(request).department
    if not department:
        raise DataError("say which department supervises: ?department=340100", field="department")
    await allow_read(request, department, "read_cases")
    late = await request.app[CASES].overdue(department, request.app[CLOCK]())
    # A supervisor sees the late cases below it only if it may see those departments.
    principal, directory = who(request), request.app[DIRECTORY]
    shown = [item for item in late if principal.covers(item.late_department, directory)]
    return web.json_response([item.model_dump(mode="json") for item in shown])


@routes.route("GET", "/api/cases/{number}", "One case and its history", "cases", response=CaseView)
async def show_case(request: web.Request) -> web.Response:
    key = request.match_info["number"]
    case = await request.app[CASES].get(key)
    await allow_seeing(request, case.department, "read_case", case.number, missing_case(key))
    return web.json_response(case.model_dump(mode="json"))


@routes.route(
    "POST",
    "/api/cases/{number}/{action}",
    "Move a case on: assign, start, answer, forward, close, reopen",
    "cases",
    body=CaseActionIn,
    response=CaseView,
)
async def case_action(request: web.Request) -> web.Response:
    body = await _body(request)
    number, action = request.match_info["number"], request.match_info["action"]
    cases = request.app[CASES]
    before = await cases.get(number)
    await allow_seeing(
        request, before.department, f"case_{action}", before.number, missing_case(number)
    )
    principal, directory = who(request), request.app[DIRECTORY]
    if not principal.can_handle_cases(before.department, directory):
        why = f"{principal.username} may not work on cases of {before.department}"
        await refuse(request, f"case_{action}", before.department, before.number, why)
    if body.get("operator"):
        await _allow_assignee(request, body["operator"], before.department, before.number)
    case = await cases.transition(
        number,
        action,
        actor=principal.username,
        note=body.get("note") or "",
        operator=body.get("operator"),
        department=body.get("department"),
    )
    async with request.app[SESSIONS]() as session, session.begin():
        await record(
            request,
            session,
            f"case_{action}",
            before.department,
            case.number,
            before={"status": before.status, "department": before.department},
            after={"status": case.status, "department": case.department, **body},
        )
    return web.json_response(case.model_dump(mode="json"))


async def _allow_assignee(request: web.Request, operator_id: str, scope: str, number: str) -> None:
    """A case goes to an operator of a department the user reaches (and so sees it)."""
    principal, directory = who(request), request.app[DIRECTORY]
    missing = DataError(f"no operator {operator_id!r}", field="operator")
    async with request.app[SESSIONS]() as session:
        try:
            operator = await stored_operators.get_operator(session, operator_id)
        except NotFound:
            raise missing from None
    if not principal.covers_any(operator.departments, directory):
        # Said as for an operator who does not exist: ids of others tell nothing.
        await conceal(request, "case_assign", scope, number, missing)


@routes.route(
    "GET",
    "/api/cases/{number}/recording",
    "The caller's message (WAV)",
    "cases",
    media="audio/wav",
    # Removed under the retention rules; fetched over ARI: Asterisk failing
    # the request (502 ari_error), or none connected (503 ari_unavailable).
    errors=(410, 502, 503),
)
async def case_recording(request: web.Request) -> web.Response:
    key = request.match_info["number"]
    case = await request.app[CASES].get(key)
    await allow_seeing(request, case.department, "read_case", case.number, missing_case(key))
    audio = await recording_audio(request.app[ARI], case)
    return web.Response(
        body=audio,
        content_type="audio/wav",
        headers={"Content-Disposition": f'attachment; filename="{case.number}.wav"'},
    )


REPORT_PARAMETERS = (
    ("date", "a day in the period, YYYY-MM-DD (default today, Beijing time)"),
    ("period", "day, week or month (default week)"),
    ("department", "this department and the ones below it (default: all the user may see)"),
)


@routes.route(
    "GET",
    "/api/report",
    "The periodic report (calls, cases, surveys) of what the user may see",
    "cases",
    response=reports.Report,
    parameters=REPORT_PARAMETERS,
)
async def report(request: web.Request) -> web.Response:
    made = await _report(request)
    return web.json_response(made.model_dump(mode="json"))


@routes.route(
    "GET",
    "/api/report.csv",
    "The periodic report as CSV (UTF-8 with a BOM, for Excel): its tables one after another",
    "cases",
    media=report_files.CSV_TYPE,
    parameters=REPORT_PARAMETERS,
)
async def report_csv(request: web.Request) -> web.Response:
    made = await _report(request)
    body = await asyncio.to_thread(report_files.to_csv, made)
    return _attachment(body, f"{report_files.CSV_TYPE}; charset=utf-8", made, "csv")


@routes.route(
    "GET",
    "/api/report.xlsx",
    "The periodic report as an Excel workbook, a sheet per table",
    "cases",
    media=report_files.XLSX_TYPE,
    parameters=REPORT_PARAMETERS,
)
async def report_xlsx(request: web.Request) -> web.Response:
    made = await _report(request)
    # A month of a province is thousands of lines: not on the loop that serves calls.
    body = await asyncio.to_thread(report_files.to_xlsx, made)
    return _attachment(body, report_files.XLSX_TYPE, made, "xlsx")


async def _report(request: web.Request) -> reports.Report:
    now = request.app[CLOCK]()
    day = reports.parse_day(request.query.get("date"), now)
    period = request.query.get("period", "week")
    reports.days_of(period, day)  # a wrong period is a 400 before any work
    departments = await _report_departments(request)
    async with request.app[SESSIONS]() as session:
        directory = request.app[CASES].directory
        return await reports.build(session, directory, period, day, now, departments)


async def _report_departments(request: web.Request) -> list[str] | None:
    """What the report counts: the user's reach, narrowed to `?department=` and
    the departments below it if given; None for everything."""
    principal, directory = who(request), request.app[DIRECTORY]
    department = request.query.get("department")
    if not department:
        return principal.visible(directory)
    if department == NATIONAL:
        await allow_read(request, NATIONAL, "read_report")
        return None
    if not directory.has(department):
        raise DataError(f"no department with code {department!r}", field="department")
    await allow_read(request, department, "read_report")
    return principal.reach(department, directory)


def _attachment(body: bytes, content_type: str, made: reports.Report, suffix: str) -> web.Response:
    name = report_files.file_name(made, suffix)
    return web.Response(
        body=body,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


async def _body(request: web.Request) -> dict[str, str]:
    body = await read_json(request)  # e.g. {"note": "已电话答复"}
    if not isinstance(body, dict):
        raise DataError("the body must be a JSON object")
    for name, value in body.items():
        limit = _FIELDS.get(name)
        if limit is None:
            raise DataError(f"unknown field {name!r}; use {', '.join(_FIELDS)}", field=name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise DataError(f"{name} must be text of at most {limit} characters", field=name)
    return {name: value for name, value in body.items() if value is not None}
