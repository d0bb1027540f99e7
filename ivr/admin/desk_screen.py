"""The operator's screen pop: the call ringing them, live, and a case from it.

`GET /api/operator/feed` is a stream of server-sent events for the signed-in
operator (a user with role operator whose user name is their desk operator's
id): each moment of a call offered to them (`ringing`, `connected`, `ended`,
`missed`, from `ivr.desk.feed`), the ringing and connected ones with the
caller's earlier cases at the operator's departments. A comment every
`IVR_OPERATOR_FEED_HEARTBEAT_SECONDS` keeps the stream open through proxies;
the browser's EventSource reconnects by itself after `retry`.

`POST /api/calls/{call_id}/case` registers a case (kind `call`) from a call:
once per call, with the menu branch the caller came through as its category
unless the operator chose another. An operator registers only calls they were
offered (the queue's own record says so, whichever controller rang them).

With several controllers on PostgreSQL, the feed carries every controller's
events (`ivr.desk.feed.DeskFeed.relay_through`): a page sees the calls
offered to its operator by any of them.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from ivr.admin.auth import NATIONAL, Role
from ivr.admin.cases import CASES
from ivr.admin.keys import DIRECTORY, SESSIONS, SETTINGS
from ivr.admin.openapi import Api, parse
from ivr.admin.sessions import conceal, record, refuse, who
from ivr.cases.registry import call_source
from ivr.cases.views import CallerCase, CaseView
from ivr.db.models import CASE_NOTE_MAX, CATEGORY_MAX
from ivr.db.queries import CallView, get_call, missing_call
from ivr.desk import line_store as lines
from ivr.desk import operator_store as stored_operators
from ivr.desk.feed import DeskFeed, FeedEvent
from ivr.errors import NotFound

FEED = web.AppKey("desk_feed", DeskFeed)
# The caller's earlier cases a pop lists, newest first.
REMEMBERED_CALLS = 8  # calls whose earlier cases a page keeps for their next event
EARLIER_CASES = 5

routes = Api("operator desk", "1")


class PathStepOut(BaseModel):
    code: str
    name: str
    how: str  # routed, chosen, back, menu, callback


class FeedCallOut(BaseModel):
    call_id: str
    caller: str
    department: str
    department_name: str
    path: list[PathStepOut]
    category: str
    category_name: str
    ringing_at: str


class FeedEventOut(BaseModel):
    """One server-sent event's data (`event:` is its kind)."""

    kind: str  # ringing, connected, ended, missed
    operator: str
    node: str  # the controller that offered the call
    at: str
    call: FeedCallOut
    # The caller's earlier cases at the operator's departments (ringing, connected).
    earlier_cases: list[CallerCase] = Field(default_factory=list)


class CallCaseIn(BaseModel):
    note: str = Field("", max_length=CASE_NOTE_MAX)
    # A category of the service menu; absent: the menu branch the call came through.
    category: str | None = Field(None, max_length=CATEGORY_MAX)


@routes.route(
    "GET",
    "/api/operator/feed",
    "The signed-in operator's calls, live (server-sent events: ringing, connected, "
    "ended, missed), with the caller's earlier cases",
    "operators",
    response=FeedEventOut,
    media="text/event-stream",
    parameters=(("operator", "the operator's id: only the signed-in operator's own"),),
    errors=(404,),  # no desk operator of that id
)
async def operator_feed(request: web.Request) -> web.StreamResponse:
    principal = who(request)
    operator_id = request.query.get("operator") or principal.username
    scope = principal.department or NATIONAL
    if principal.role is not Role.OPERATOR:
        role = principal.role.value
        why = f"the desk feed is an operator's own; {principal.username} is a {role}"
        await refuse(request, "operator_feed", scope, operator_id, why)
    if operator_id != principal.username:
        why = f"{principal.username} may watch only their own calls, not {operator_id}'s"
        await refuse(request, "operator_feed", scope, operator_id, why)
    async with request.app[SESSIONS]() as session:
        try:
            operator = await stored_operators.get_operator(session, operator_id)
        except NotFound:
            raise NotFound(
                f"no desk operator {operator_id!r}: an operator signs in to the admin web "
                "under their desk operator's id (ivr operators add)",
                operator=operator_id,
            ) from None
    departments = sorted(operator.departments)
    settings = request.app[SETTINGS]
    feed = request.app[FEED]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # a proxy must pass each event on at once
        }
    )
    subscription = feed.subscribe(operator_id)
    try:
        await response.prepare(request)
        hello = {
            "operator": operator_id,
            "node": settings.node_name,
            "departments": departments,
            "all_controllers": feed.relayed,  # False: only this controller's calls
        }
        await response.write(
            f"retry: {settings.operator_feed_retry_ms}\n"
            f"event: hello\ndata: {json.dumps(hello, ensure_ascii=False)}\n\n".encode()
        )
        sent = 0
        # The caller's earlier cases, read when the call rings and shown again
        # when it is answered (the last few calls only).
        earlier_by_call: dict[str, list[dict[str, Any]]] = {}
        while not subscription.closed:
            event = await subscription.get(settings.operator_feed_heartbeat_seconds)
            if event is None:
                await response.write(b": heartbeat\n\n")
                continue
            sent += 1
            data = await _event_data(request, event, departments, earlier_by_call)
            await response.write(
                f"id: {sent}\nevent: {event.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                .encode()
            )
    except (ConnectionResetError, ConnectionError):
        pass  # the page went away
    finally:
        feed.unsubscribe(subscription)
    return response


async def _event_data(
    request: web.Request,
    event: FeedEvent,
    departments: list[str],
    earlier_by_call: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    data = event.as_json()
    data["earlier_cases"] = []
    if event.kind in ("ringing", "connected"):
        call_id = event.call.call_id
        shown = earlier_by_call.get(call_id)
        if shown is None:
            earlier = await request.app[CASES].of_caller(
                event.call.caller, departments, EARLIER_CASES
            )
            principal, directory = who(request), request.app[DIRECTORY]
            shown = [
                case.model_dump(mode="json")
                for case in earlier
                if principal.covers(case.department, directory)
            ]
            if len(earlier_by_call) >= REMEMBERED_CALLS:
                earlier_by_call.pop(next(iter(earlier_by_call)))  # the oldest
            earlier_by_call[call_id] = shown
        data["earlier_cases"] = shown
    return data


@routes.route(
    "POST",
    "/api/calls/{call_id}/case",
    "Register a case from a call (登记工单): once per call, in the menu branch's category",
    "cases",
    body=CallCaseIn,
    response=CaseView,
    status=201,
)
async def case_from_call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    body = await parse(request, CallCaseIn)
    async with request.app[SESSIONS]() as session:
        call = await get_call(session, call_id)
        entry = await lines.get_entry(session, call_id)
    if call is None:
        raise missing_call(call_id)
    # The department that answered: the line the caller waited in.
    department = entry.department_code if entry is not None else call.department_code
    offered = {str(offer["operator"]) for offer in entry.offers} if entry is not None else set()
    principal, directory = who(request), request.app[DIRECTORY]
    if not principal.covers_any({call.department_code, department}, directory):
        await conceal(request, "case_register", department, call_id, missing_call(call_id))
    await _allow_register(request, call_id, department, offered)
    cases = request.app[CASES]
    source = call_source(call_id)
    try:
        existing: CaseView | None = await cases.get(source)
    except NotFound:
        existing = None
    if existing is not None:
        return web.json_response(existing.model_dump(mode="json"))  # once per call
    principal = who(request)
    category = body.category if body.category is not None else menu_branch(call)
    case = await cases.register(
        source=source,
        kind="call",
        department=department,
        category=category,
        caller=call.caller,
        call_id=call_id,
        actor=principal.username,
        note=body.note,
    )
    async with request.app[SESSIONS]() as session, session.begin():
        after = {"call": call_id, "category": case.category, "note": body.note}
        await record(request, session, "case_register", department, case.number, after=after)
    return web.json_response(case.model_dump(mode="json"), status=201)


async def _allow_register(
    request: web.Request, call_id: str, department: str, offered: set[str]
) -> None:
    principal, directory = who(request), request.app[DIRECTORY]
    if principal.role is Role.OPERATOR:
        if principal.username in offered:
            return
        why = f"{principal.username} was not offered call {call_id}"
    elif principal.can_handle_cases(department, directory):
        return
    else:
        why = f"{principal.username} may not register cases of {department}"
    await refuse(request, "case_register", department, call_id, why)


def menu_branch(call: CallView) -> str:
    """The last menu branch (category) the call's record shows, or ""."""
    found = [step.value for step in call.steps if step.kind == "category"]
    return found[-1] if found else ""
