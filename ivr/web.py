"""The controller's HTTP side: prompt audio for Asterisk, and `/api/`.

Prompt files are served under names that carry their content hash, so a URL
never changes content and Asterisk's media cache never needs to refresh one.
API errors are JSON with a stable `error_id` and a message a person reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ivr.ari.client import AriClient
from ivr.controller import Controller
from ivr.db import operators as stored_operators
from ivr.db import queue as lines
from ivr.db.models import PAUSE_REASON_MAX
from ivr.db.operators import DayCounts, operator_json
from ivr.db.queries import find_by_sip_call_id, get_call, recent_calls
from ivr.errors import DataError, IvrError, NotFound
from ivr.operators import MOVES
from ivr.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
CONTROLLER = web.AppKey("controller", Controller)
ARI = web.AppKey("ari", AriClient)
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")

MAX_CALLS_LIMIT = 1000
DEFAULT_CALLS_LIMIT = 20

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except IvrError as exc:
        return web.json_response(exc.as_json(), status=exc.status)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        body = {"error_id": f"http_{exc.status}", "message": exc.reason, "details": {}}
        return web.json_response(body, status=exc.status)


async def list_calls(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", DEFAULT_CALLS_LIMIT, 1, MAX_CALLS_LIMIT)
    sip_call_id = request.query.get("sip_call_id")
    async with request.app[SESSIONS]() as session:
        if sip_call_id is not None:
            found = await find_by_sip_call_id(session, sip_call_id)
            calls = [found] if found is not None else []
        else:
            calls = await recent_calls(session, limit)
    return web.json_response([call.model_dump(mode="json") for call in calls])


async def show_call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    async with request.app[SESSIONS]() as session:
        call = await get_call(session, call_id)
    if call is None:
        raise NotFound(f"no call with id {call_id!r}", call_id=call_id)
    return web.json_response(call.model_dump(mode="json"))


async def health(request: web.Request) -> web.Response:
    ari = request.app[ARI]
    controller = request.app[CONTROLLER]
    connected = ari.connected.is_set()
    body = {
        "ari_connected": connected,
        "active_calls": len(controller.calls),
        "node": request.app[SETTINGS].node_name,
        "now": request.app[CLOCK]().isoformat(),
    }
    return web.json_response(body, status=200 if connected else 503)


async def list_operators_api(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        operators = await stored_operators.list_operators(session)
        counts = await stored_operators.counts_today(session, request.app[CLOCK]())
    body = [operator_json(op, counts.get(op.id, DayCounts())) for op in operators]
    return web.json_response(body)


async def list_queues_api(request: web.Request) -> web.Response:
    """Who waits where, and for how long: each department with someone in line."""
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session:
        entries = await lines.in_line(session)
    departments: dict[str, list[dict[str, object]]] = {}
    for entry in entries:
        departments.setdefault(entry.department_code, []).append(lines.entry_json(entry, now))
    body = {
        "at": now.isoformat(),
        "queues": [
            {"department": code, "waiting": len(waiting), "callers": waiting}
            for code, waiting in departments.items()
        ],
    }
    return web.json_response(body)


async def operator_action(request: web.Request) -> web.Response:
    operator_id, word = request.match_info["operator_id"], request.match_info["action"]
    action = MOVES.get(word)
    if action is None:
        raise NotFound(f"operators have no action {word!r}; use {', '.join(MOVES)}")
    reason = await _reason(request)
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        operator = await stored_operators.act(session, operator_id, action, now, reason=reason)
        counts = await stored_operators.counts_today(session, now)
    return web.json_response(operator_json(operator, counts.get(operator.id, DayCounts())))


async def _reason(request: web.Request) -> str | None:
    if not request.can_read_body:
        return None
    try:
        body = await request.json()
    except ValueError:
        raise DataError("the body must be JSON, e.g. {\"reason\": \"培训\"}") from None
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and (not isinstance(reason, str) or len(reason) > PAUSE_REASON_MAX):
        raise DataError(f"reason must be text of at most {PAUSE_REASON_MAX} characters")
    return reason


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DataError(f"{name} must be a whole number, not {raw!r}", parameter=name) from None
    if not low <= value <= high:
        raise DataError(f"{name} must be between {low} and {high}", parameter=name)
    return value


@web.middleware
async def immutable_prompts(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A prompt's name carries its content hash: its content never changes.

    Told so, Asterisk's media cache keeps the file instead of asking again
    on every call."""
    response = await handler(request)
    if request.path.startswith("/prompts/") and response.status == 200:
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def add_routes(app: web.Application, prompt_dir: Path) -> None:
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/calls/{call_id}", show_call)
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/operators", list_operators_api)
    app.router.add_get("/api/queues", list_queues_api)
    app.router.add_post("/api/operators/{operator_id}/{action}", operator_action)
    from ivr import web_cases  # here, not above: it imports this module's app keys

    web_cases.add_routes(app)
    app.router.add_static("/prompts/", prompt_dir, follow_symlinks=False)
    app.middlewares.append(json_errors)
    app.middlewares.append(immutable_prompts)
