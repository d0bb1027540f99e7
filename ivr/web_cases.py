"""`/api/cases` and `/api/report`: registered cases and the periodic report over HTTP.

Errors are JSON like every `/api/` answer (`ivr.web.json_errors`): a body
that is not JSON, or a field of the wrong type or size, is a 400 with a
message a person reads; an unknown case or action a 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ivr import report as reports
from ivr.case_views import recording_audio
from ivr.cases import Cases
from ivr.db.cases import MAX_LIMIT
from ivr.db.models import ACTOR_MAX, CASE_NOTE_MAX, DIVISION_CODE_LENGTH, OPERATOR_ID_MAX
from ivr.errors import DataError
from ivr.web import ARI, CLOCK, SESSIONS

CASES = web.AppKey("cases", Cases)

DEFAULT_LIMIT = 100
# The body of a POST: each field, and how long it may be.
_FIELDS = {
    "note": CASE_NOTE_MAX,
    "operator": OPERATOR_ID_MAX,
    "department": DIVISION_CODE_LENGTH,
    "actor": ACTOR_MAX,
}
# Who acted, when the body does not say.
DEFAULT_ACTOR = "api"


async def list_cases(request: web.Request) -> web.Response:
    query = request.query
    found = await request.app[CASES].list(
        department=query.get("department") or None,
        status=query.get("status") or None,
        include_sub=_flag(query.get("sub")),
        limit=_limit(query.get("limit")),
    )
    return web.json_response([case.model_dump(mode="json") for case in found])


async def overdue_cases(request: web.Request) -> web.Response:
    department = request.query.get("department")
    if not department:
        raise DataError("say which department supervises: ?department=340100", field="department")
    late = await request.app[CASES].overdue(department, request.app[CLOCK]())
    return web.json_response([item.model_dump(mode="json") for item in late])


async def show_case(request: web.Request) -> web.Response:
    case = await request.app[CASES].get(request.match_info["number"])
    return web.json_response(case.model_dump(mode="json"))


async def case_action(request: web.Request) -> web.Response:
    body = await _body(request)
    case = await request.app[CASES].transition(
        request.match_info["number"],
        request.match_info["action"],
        actor=body.get("actor") or DEFAULT_ACTOR,
        note=body.get("note") or "",
        operator=body.get("operator"),
        department=body.get("department"),
    )
    return web.json_response(case.model_dump(mode="json"))


async def case_recording(request: web.Request) -> web.Response:
    case = await request.app[CASES].get(request.match_info["number"])
    audio = await recording_audio(request.app[ARI], case)
    return web.Response(
        body=audio,
        content_type="audio/wav",
        headers={"Content-Disposition": f'attachment; filename="{case.number}.wav"'},
    )


async def report(request: web.Request) -> web.Response:
    now = request.app[CLOCK]()
    day = reports.parse_day(request.query.get("date"), now)
    period = request.query.get("period", "week")
    async with request.app[SESSIONS]() as session:
        made = await reports.build(session, request.app[CASES].directory, period, day, now)
    return web.json_response(made.model_dump(mode="json"))


async def _body(request: web.Request) -> dict[str, str]:
    if not request.can_read_body:
        return {}
    try:
        body: Any = await request.json()
    except ValueError:
        raise DataError('the body must be JSON, e.g. {"note": "已电话答复"}') from None
    if not isinstance(body, dict):
        raise DataError("the body must be a JSON object")
    for name, value in body.items():
        limit = _FIELDS.get(name)
        if limit is None:
            raise DataError(f"unknown field {name!r}; use {', '.join(_FIELDS)}", field=name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise DataError(f"{name} must be text of at most {limit} characters", field=name)
    return {name: value for name, value in body.items() if value is not None}


def _flag(raw: str | None) -> bool:
    if raw in (None, "", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise DataError(f"sub is true or false, not {raw!r}", parameter="sub")


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise DataError(f"limit must be a whole number, not {raw!r}", parameter="limit") from None
    if not 1 <= value <= MAX_LIMIT:
        raise DataError(f"limit must be between 1 and {MAX_LIMIT}", parameter="limit")
    return value


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/cases", list_cases)
    # Before `{number}`, which would take "overdue" for a case number.
    app.router.add_get("/api/cases/overdue", overdue_cases)
    app.router.add_get("/api/cases/{number}", show_case)
    app.router.add_get("/api/cases/{number}/recording", case_recording)
    app.router.add_post("/api/cases/{number}/{action}", case_action)
    app.router.add_get("/api/report", report)
