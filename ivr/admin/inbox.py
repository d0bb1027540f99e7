"""`/api/inbox`: the escalations (督办) a supervising department's admins are
told of, and `/api/webhook/deliveries`, how sending them went.

An admin's inbox holds the escalations addressed to the departments they may
see (`Principal.visible`): a department admin of Hefei those of Hefei's
counties, a national admin every one. Auditors read it; operators handle
cases, not supervision, and have none. Marking an item read is for admins,
and shared: any admin of the supervising department marks it for all.
"""

from __future__ import annotations

from aiohttp import web

from ivr.admin.auth import NATIONAL, Role
from ivr.admin.keys import DIRECTORY
from ivr.admin.openapi import Api, bool_param, int_param, whole_number
from ivr.admin.sessions import allow_change, refuse, who
from ivr.cases.escalation import INBOX_LIMIT, Delivery, Escalations, Inbox, InboxItem

ESCALATIONS = web.AppKey("escalations", Escalations)

routes = Api("inbox", "1")


def _supervised(request: web.Request) -> list[str] | None:
    return who(request).visible(request.app[DIRECTORY])


@routes.route(
    "GET",
    "/api/inbox",
    "Escalations to the departments the user supervises, newest first, and how many are unread",
    "cases",
    response=Inbox,
    parameters=(
        ("unread", "true: unread ones only"),
        ("limit", f"at most this many (1 to {INBOX_LIMIT})"),
    ),
)
async def inbox(request: web.Request) -> web.Response:
    principal = who(request)
    if principal.role is Role.OPERATOR:
        await refuse(
            request, "read_inbox", principal.department or NATIONAL, "inbox",
            "an operator handles cases; supervision (督办) is for admins and auditors",
        )
    found = await request.app[ESCALATIONS].inbox(
        _supervised(request),
        unread_only=bool_param(request, "unread"),
        limit=int_param(request, "limit", INBOX_LIMIT, 1, INBOX_LIMIT),
    )
    return web.json_response(found.model_dump(mode="json"))


@routes.route(
    "POST",
    "/api/inbox/{id}/read",
    "Mark an escalation read (admins of the supervising department)",
    "cases",
    response=InboxItem,
)
async def mark_read(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    escalation = whole_number(raw, "an escalation's id", "id")
    principal = who(request)
    if principal.role not in (Role.NATIONAL_ADMIN, Role.DEPARTMENT_ADMIN):
        await refuse(
            request, "inbox_read", principal.department or NATIONAL, raw,
            f"a {principal.role.value} cannot mark escalations read",
        )
    item = await request.app[ESCALATIONS].mark_read(
        escalation, principal.username, _supervised(request)
    )
    return web.json_response(item.model_dump(mode="json"))


@routes.route(
    "GET",
    "/api/webhook/deliveries",
    "Escalations sent to IVR_WEBHOOK_URL, newest first, with their attempts (national admins)",
    "cases",
    response=Delivery,
    many=True,
    parameters=(("limit", "at most this many (1 to 500)"),),
)
async def deliveries(request: web.Request) -> web.Response:
    await allow_change(request, NATIONAL, "read_webhook_deliveries", "webhook")
    sent = await request.app[ESCALATIONS].deliveries(int_param(request, "limit", 100, 1, 500))
    return web.json_response([d.model_dump(mode="json") for d in sent])
