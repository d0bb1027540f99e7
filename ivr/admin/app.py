"""The controller's HTTP side: prompt audio for Asterisk, and `/api/`.

Prompt files are served under names that carry their content hash, so a URL
never changes content and Asterisk's media cache never needs to refresh one.
API errors are JSON with a stable `error_id` and a message a person reads.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from ivr.admin import cases as web_cases
from ivr.admin import desk_screen as web_desk
from ivr.admin import hours as web_hours
from ivr.admin import inbox as web_inbox
from ivr.admin import menus as web_menus
from ivr.admin import metrics as web_metrics
from ivr.admin import overview as web_admin
from ivr.admin import sessions as web_auth
from ivr.admin import users as web_users
from ivr.admin.auth import Role
from ivr.admin.keys import (
    API,
    ARI,
    CLOCK,
    CONFIG,
    CONTROLLER,
    DIRECTORY,
    LOOP_LAG,
    SESSIONS,
    SETTINGS,
)
from ivr.admin.limits import RateLimit
from ivr.admin.openapi import Api, Handler, int_param, read_json
from ivr.admin.sessions import allow_read, allow_seeing, authenticate, conceal, record, refuse, who
from ivr.audio.join import JOIN_DIR, join_page
from ivr.db.models import PAUSE_REASON_MAX
from ivr.db.queries import CallView, find_by_sip_call_id, get_call, missing_call, recent_calls
from ivr.desk import line_store as lines
from ivr.desk import operator_store as stored_operators
from ivr.desk.feed import DeskFeed
from ivr.desk.operator_store import DayCounts, operator_json
from ivr.desk.operators import MOVES
from ivr.desk.presence import phones_seen
from ivr.errors import DataError, IvrError, NotFound

__all__ = [
    "API",
    "ARI",
    "CLOCK",
    "CONFIG",
    "CONTROLLER",
    "DIRECTORY",
    "SESSIONS",
    "SETTINGS",
    "add_routes",
]

MAX_CALLS_LIMIT = 1000
DEFAULT_CALLS_LIMIT = 20
# The largest request body: an uploaded recording (ivr/audio/uploads.py bounds the file).
UPLOAD_BODY_MAX = 11 * 1024 * 1024
STATIC_DIR = Path(__file__).parent / "static"

routes = Api("calls", "1")
PROMPT_DIR = web.AppKey("prompt_dir", Path)


class HealthOut(BaseModel):
    ari_connected: bool
    # Each Asterisk this controller serves, by node name: connected or not.
    asterisks: dict[str, bool]
    active_calls: int
    node: str
    now: str
    # How late the event loop woke (ivr/loop_lag.py): the worst since start and
    # of the last ten seconds; null without the watchdog.
    loop_lag_worst_ms: float | None = None
    loop_lag_recent_ms: float | None = None


class OperatorOut(BaseModel):
    id: str
    name: str
    endpoint: str
    departments: list[str]
    status: str
    since: str
    pause_reason: str | None
    today: dict[str, Any]
    # Whether Asterisk can ring the phone: state online, offline or unknown,
    # since when, and each Asterisk's own word (by node).
    phone: dict[str, Any]


class QueueOut(BaseModel):
    department: str
    waiting: int
    callers: list[dict[str, Any]]


class QueuesOut(BaseModel):
    at: str
    queues: list[QueueOut]


class ReasonIn(BaseModel):
    reason: str | None = None


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except IvrError as exc:
        return web.json_response(exc.as_json(), status=exc.status, headers=exc.http_headers())
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        body = {"error_id": f"http_{exc.status}", "message": exc.reason, "details": {}}
        return web.json_response(body, status=exc.status)


@web.middleware
async def no_nul(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A NUL in a path or a query is bad input, answered before any route
    passes it on: PostgreSQL's text cannot hold one (a 500), and no name,
    code or number has one. (JSON bodies: `read_json`.)"""
    if "\x00" in request.path or "\x00" in request.query_string:
        raise DataError("a path or a query may not hold a NUL character (%00)")
    return await handler(request)


@routes.route(
    "GET",
    "/api/calls",
    "Recent calls, newest first, of the departments the user may see",
    "calls",
    response=CallView,
    many=True,
    parameters=(
        ("limit", f"at most this many (1 to {MAX_CALLS_LIMIT})"),
        ("sip_call_id", "the call with this SIP Call-ID"),
        ("department", "this department and the ones below it"),
    ),
    errors=(404,),
)
async def list_calls(request: web.Request) -> web.Response:
    limit = int_param(request, "limit", DEFAULT_CALLS_LIMIT, 1, MAX_CALLS_LIMIT)
    sip_call_id = request.query.get("sip_call_id")
    departments = await visible_departments(request, "read_calls")
    async with request.app[SESSIONS]() as session:
        if sip_call_id is not None:
            found = await find_by_sip_call_id(session, sip_call_id)
            calls = [found] if found is not None else []
            if departments is not None:
                calls = [call for call in calls if call.department_code in departments]
        else:
            calls = await recent_calls(session, limit, departments)
    return web.json_response([call.model_dump(mode="json") for call in calls])


async def visible_departments(request: web.Request, action: str) -> list[str] | None:
    """The codes a listing may show: the user's reach, narrowed to `?department=`
    (and the departments below it) if given; None for no limit."""
    principal = who(request)
    directory = request.app[DIRECTORY]
    department = request.query.get("department")
    if not department:
        return principal.visible(directory)
    if not directory.has(department):
        raise NotFound(f"no department with code {department!r}", department=department)
    await allow_read(request, department, action)
    return principal.reach(department, directory)


@routes.route("GET", "/api/calls/{call_id}", "One call and its steps", "calls", response=CallView)
async def show_call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    async with request.app[SESSIONS]() as session:
        call = await get_call(session, call_id)
    if call is None:
        raise missing_call(call_id)
    await allow_seeing(request, call.department_code, "read_call", call_id, missing_call(call_id))
    return web.json_response(call.model_dump(mode="json"))


@routes.route(
    "GET",
    "/api/health",
    "Whether the controller is connected to Asterisk",
    "calls",
    response=HealthOut,
    public=True,
    also=(503,),  # not connected to any Asterisk
)
async def health(request: web.Request) -> web.Response:
    ari = request.app[ARI]
    controller = request.app[CONTROLLER]
    connections = dict(ari.connections)
    # Serving calls on one Asterisk of several is serving.
    connected = any(connections.values())
    body = {
        "ari_connected": connected,
        "asterisks": connections,
        "active_calls": len(controller.calls),
        "node": request.app[SETTINGS].node_name,
        "now": request.app[CLOCK]().isoformat(),
        "loop_lag_worst_ms": None,
        "loop_lag_recent_ms": None,
    }
    watchdog = request.app.get(LOOP_LAG)
    if watchdog is not None:
        body["loop_lag_worst_ms"] = round(watchdog.worst_ms, 1)
        body["loop_lag_recent_ms"] = round(watchdog.recent_worst_ms(), 1)
    return web.json_response(body, status=200 if connected else 503)


@routes.route("GET", "/api/openapi.json", "This API, described (OpenAPI 3.1)", "calls", public=True)
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[API].document())


@routes.route(
    "GET",
    "/api/operators",
    "Operators of the departments the user may see, with today's counts",
    "operators",
    response=OperatorOut,
    many=True,
)
async def list_operators_api(request: web.Request) -> web.Response:
    principal, directory = who(request), request.app[DIRECTORY]
    async with request.app[SESSIONS]() as session:
        operators = await stored_operators.list_operators(session)
        counts = await stored_operators.counts_today(session, request.app[CLOCK]())
        phones = await phones_seen(session)
    if principal.role is Role.OPERATOR:
        operators = [op for op in operators if op.id == principal.username]
    else:
        operators = [op for op in operators if principal.covers_any(op.departments, directory)]
    body = [
        operator_json(op, counts.get(op.id, DayCounts()), phones.get(op.endpoint))
        for op in operators
    ]
    return web.json_response(body)


@routes.route(
    "GET", "/api/queues", "Who waits where, and for how long", "operators", response=QueuesOut
)
async def list_queues_api(request: web.Request) -> web.Response:
    now = request.app[CLOCK]()
    visible = who(request).visible(request.app[DIRECTORY])
    async with request.app[SESSIONS]() as session:
        entries = await lines.in_line(session)
    departments: dict[str, list[dict[str, object]]] = {}
    for entry in entries:
        if visible is None or entry.department_code in visible:
            departments.setdefault(entry.department_code, []).append(lines.entry_json(entry, now))
    body = {
        "at": now.isoformat(),
        "queues": [
            {"department": code, "waiting": len(waiting), "callers": waiting}
            for code, waiting in departments.items()
        ],
    }
    return web.json_response(body)


@routes.route(
    "POST",
    "/api/operators/{operator_id}/{action}",
    "Sign an operator in or out, pause or resume (an operator: only themselves)",
    "operators",
    body=ReasonIn,
    response=OperatorOut,
)
async def operator_action(request: web.Request) -> web.Response:
    operator_id, word = request.match_info["operator_id"], request.match_info["action"]
    action = MOVES.get(word)
    if action is None:
        raise NotFound(f"operators have no action {word!r}; use {', '.join(MOVES)}")
    reason = await _reason(request)
    await _allow_operator(request, operator_id, word)
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        before = await stored_operators.get_operator(session, operator_id)
        operator = await stored_operators.act(session, operator_id, action, now, reason=reason)
        counts = await stored_operators.counts_today(session, now)
        phones = await phones_seen(session)
        scope = sorted(operator.departments)[0] if operator.departments else "national"
        await record(
            request,
            session,
            f"operator_{word}",
            scope,
            operator_id,
            before={"status": before.status},
            after={"status": operator.status, "reason": reason},
        )
    body = operator_json(
        operator, counts.get(operator.id, DayCounts()), phones.get(operator.endpoint)
    )
    return web.json_response(body)


async def _allow_operator(request: web.Request, operator_id: str, word: str) -> None:
    principal = who(request)
    if principal.role is Role.NATIONAL_ADMIN or (
        principal.role is Role.OPERATOR and principal.username == operator_id
    ):
        return
    async with request.app[SESSIONS]() as session:
        operator = await stored_operators.get_operator(session, operator_id)
    directory = request.app[DIRECTORY]
    scope = sorted(operator.departments)[0] if operator.departments else "national"
    # Whom `/api/operators` lists to this user: an operator only themselves.
    listed = principal.role is not Role.OPERATOR and principal.covers_any(
        operator.departments, directory
    )
    if not listed:
        missing = stored_operators.missing_operator(operator_id)
        await conceal(request, f"operator_{word}", scope, operator_id, missing)
    if principal.role is Role.DEPARTMENT_ADMIN:
        return
    why = f"{principal.username} may not move operator {operator_id}"
    await refuse(request, f"operator_{word}", scope, operator_id, why)


async def _reason(request: web.Request) -> str | None:
    body = await read_json(request)  # e.g. {"reason": "培训"}; none at all is {}
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and (not isinstance(reason, str) or len(reason) > PAUSE_REASON_MAX):
        raise DataError(f"reason must be text of at most {PAUSE_REASON_MAX} characters")
    return reason


@web.middleware
async def immutable_prompts(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A prompt's name carries its content hash: its content never changes.

    Told so, Asterisk's media cache keeps the file instead of asking again
    on every call."""
    response = await handler(request)
    if request.path.startswith("/prompts/") and response.status == 200:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


async def joined_page(request: web.Request) -> web.Response:
    """A menu page's prompts as one WAV (`ivr.audio.join`)."""
    wav = await asyncio.to_thread(join_page, request.app[PROMPT_DIR], request.match_info["name"])
    return web.Response(body=wav, content_type="audio/wav")


async def admin_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin/")


async def admin_index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


@web.middleware
async def page_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every file of the admin page carries its security headers: the page is
    also `/admin/index.html`, and a script is a page of its own when opened."""
    response = await handler(request)
    if request.path.startswith("/admin/"):
        response.headers.update(_PAGE_HEADERS)
    return response


# The admin page loads only its own files; nothing is framed or inlined.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",  # frame-ancestors' older twin, for browsers without CSP 2
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}


async def _close_feed(app: web.Application) -> None:
    """Operators' open streams end when the server stops, not at its timeout."""
    app[web_desk.FEED].close()


def add_routes(app: web.Application, prompt_dir: Path) -> None:
    api = Api("12371 IVR", "1")
    parts = (web_auth, web_cases, web_inbox, web_desk, web_menus, web_hours, web_admin, web_users)
    for part in (routes, *(module.routes for module in parts)):
        api.endpoints.extend(part.endpoints)
    app[API] = api
    api.add_to(app)
    settings = app[SETTINGS]
    app[web_menus.PROMPT_LIMIT] = RateLimit(
        settings.prompt_audio_burst, settings.prompt_audio_per_minute
    )
    if web_desk.FEED not in app:
        app[web_desk.FEED] = DeskFeed()  # the composition root gives it to the desk
    app.on_shutdown.append(_close_feed)
    web_metrics.add_route(app)
    app.router.add_get("/", admin_page)
    app.router.add_get("/admin/", admin_index)
    app.router.add_static("/admin/", STATIC_DIR, follow_symlinks=False)
    app[PROMPT_DIR] = prompt_dir
    app.router.add_get(f"/prompts/{JOIN_DIR}/{{name}}", joined_page)  # before the files
    app.router.add_static("/prompts/", prompt_dir, follow_symlinks=False)
    app.middlewares.append(json_errors)
    app.middlewares.append(no_nul)
    app.middlewares.append(authenticate)
    app.middlewares.append(immutable_prompts)
    app.middlewares.append(page_headers)
