"""Signing in to the admin web and API, and who may do what.

A browser signs in with `POST /api/session` (JSON only, and from this site's
own page when it names one in `Origin`: no login CSRF) and gets a session cookie
(HttpOnly: no script reads it; SameSite=Strict: no other site's page sends
it) and a CSRF token, which every request that changes something sends back
in `X-CSRF-Token`. A script sends `Authorization: Bearer <token>` instead.
Every `/api/` route needs one or the other unless it is declared public.

Guessing passwords is throttled per name and source address: each attempt
is counted by one statement in the database before its password is checked
(`user_store.count_attempt`), so guesses sent at once, to any controller,
are refused after the fifth in 15 minutes (429, `Retry-After`); the same name
from another address is not, so that no one can lock an admin out. Failed
attempts are also audit lines, which the user's department's admins see.

A refused attempt to read or change a scope is a 403 and a line in the audit
log, like every change that is made. An object (a case, a call, an operator)
outside the user's reach is answered exactly as one that does not exist, a
404, so that its id tells nothing; the attempt is still an audit line.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.admin import user_store as stored
from ivr.admin.auth import (
    NATIONAL,
    Forbidden,
    NotSignedIn,
    Principal,
    Role,
    SignInFailed,
    check_scope,
)
from ivr.admin.keys import API, CLOCK, DIRECTORY, SESSIONS, SETTINGS
from ivr.admin.limits import RateLimited
from ivr.admin.openapi import Api, Handler, parse
from ivr.db.audit import Author, audit
from ivr.errors import DataError, IvrError

COOKIE = "ivr_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PRINCIPAL = web.RequestKey("principal", Principal)


@dataclass(frozen=True, slots=True)
class Browser:
    """What a request's browser session says of itself (none for a token)."""

    csrf_token: str
    expires_at: datetime


_BROWSER = web.RequestKey("browser", Browser)
# Sign-in attempts: after this many for one name from one address within the
# window (counted before the password is checked; a success starts the count
# again), that name is refused to that address until the window has passed
# (argon2 makes each try slow too).
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


class TooManyAttempts(RateLimited):
    error_id = "too_many_attempts"
    status = 429


class CsrfFailed(IvrError):
    error_id = "csrf_failed"
    status = 403


class SignInIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class UserOut(BaseModel):
    username: str
    name: str
    role: str
    department: str | None
    department_name: str | None
    include_sub: bool


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str
    expires_at: str


def who(request: web.Request) -> Principal:
    """The signed-in user of a request that passed `authenticate`."""
    try:
        return request[_PRINCIPAL]
    except KeyError:
        raise NotSignedIn("sign in first") from None


def address(request: web.Request) -> str:
    return request.remote or ""


async def record(
    request: web.Request,
    session: AsyncSession,
    action: str,
    scope: str,
    target: str,
    *,
    before: Any = None,
    after: Any = None,
    outcome: str = "ok",
) -> None:
    """A line in the audit log, in the same transaction as the change it records."""
    await audit(
        session,
        author(request),
        action=action,
        scope=scope,
        target=target,
        outcome=outcome,
        before=before,
        after=after,
    )


def author(request: web.Request) -> Author:
    """Who makes the request's changes, now, from where: for the audit lines
    that parts below the admin write with their changes (a published version)."""
    return Author(request.app[CLOCK](), request.get(_PRINCIPAL), address(request))


async def refuse(request: web.Request, action: str, scope: str, target: str, why: str) -> None:
    """Write the refused attempt to the audit log, then answer 403; a scope
    that is no department at all is 404, as it is to those who may see all."""
    check_scope(scope, request.app[DIRECTORY])
    async with request.app[SESSIONS]() as session, session.begin():
        await record(request, session, action, scope, target, outcome="denied")
    raise Forbidden(why, scope=scope, action=action)


async def conceal(
    request: web.Request, action: str, scope: str, target: str, missing: IvrError
) -> NoReturn:
    """Write the refused attempt to the audit log, then answer `missing`: what
    the object's absence says. An id outside the user's reach must not tell
    that it exists (a 403 where a made-up id gets a 404 would)."""
    async with request.app[SESSIONS]() as session, session.begin():
        await record(request, session, action, scope, target, outcome="denied")
    raise missing


async def allow_seeing(
    request: web.Request, scope: str, action: str, target: str, missing: IvrError
) -> Principal:
    """The user, if `scope` (an object's department) is within reach; else as `conceal`."""
    principal = who(request)
    if not principal.covers(scope, request.app[DIRECTORY]):
        await conceal(request, action, scope, target, missing)
    return principal


async def allow_read(request: web.Request, scope: str, action: str, target: str = "") -> Principal:
    principal = who(request)
    if scope == NATIONAL:
        ok = principal.is_national
    else:
        ok = principal.covers(scope, request.app[DIRECTORY])
    if not ok:
        await refuse(request, action, scope, target or scope, _outside(principal, scope))
    return principal


async def allow_change(
    request: web.Request, scope: str, action: str, target: str = ""
) -> Principal:
    principal = who(request)
    if scope == NATIONAL:
        ok = principal.role is Role.NATIONAL_ADMIN
    else:
        ok = principal.can_change(scope, request.app[DIRECTORY])
    if not ok:
        if principal.role is Role.AUDITOR or principal.role is Role.OPERATOR:
            why = f"a {principal.role.value} cannot change menus, prompts or hours"
        else:
            why = _outside(principal, scope)
        await refuse(request, action, scope, target or scope, why)
    return principal


def _outside(principal: Principal, scope: str) -> str:
    mine = principal.department or NATIONAL
    reach = " and the departments below it" if principal.include_sub else ""
    return f"{scope} is outside what {principal.username} may see: department {mine}{reach}"


# The middleware ------------------------------------------------------------------


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/") or _is_public(request):
        return await handler(request)
    principal = await _bearer(request) or await _cookie(request)
    request[_PRINCIPAL] = principal
    return await handler(request)


def _is_public(request: web.Request) -> bool:
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return True  # no route: the router answers 404 or 405 itself
    endpoint = request.app[API].find(route.method, resource.canonical)
    return endpoint is not None and endpoint.public


async def _bearer(request: web.Request) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    async with request.app[SESSIONS]() as session:
        row = await stored.by_token(session, header[7:].strip())
    if row is None:
        raise NotSignedIn("the API token is not valid (made again, or its user disabled?)")
    return stored.principal(row)


async def _cookie(request: web.Request) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise NotSignedIn("sign in first")
    async with request.app[SESSIONS]() as session, session.begin():
        found = await stored.find_session(session, token, request.app[CLOCK](), _times(request))
    if found is None:
        raise NotSignedIn("the session has ended; sign in again")
    web_session, user = found
    principal = stored.principal(user)
    request[_BROWSER] = Browser(web_session.csrf_token, web_session.expires_at)
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, web_session.csrf_token) or not _same_origin(request):
            request[_PRINCIPAL] = principal
            async with request.app[SESSIONS]() as session, session.begin():
                scope = principal.department or NATIONAL
                await record(request, session, "csrf", scope, request.path, outcome="denied")
            raise CsrfFailed(f"a change needs the {CSRF_HEADER} header the sign-in gave")
    return principal


def _same_origin(request: web.Request) -> bool:
    """A browser names the page a request comes from; it must be this site:
    scheme, host and port (an https:// page is not an http:// site's own)."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.lower() == f"{_scheme(request)}://{request.host}".lower()


def _scheme(request: web.Request) -> str:
    """The scheme the browser sees: behind an HTTPS proxy (IVR_COOKIE_SECURE)
    https, though the proxy speaks http to this server."""
    return "https" if request.app[SETTINGS].cookie_secure else request.scheme


def _times(request: web.Request) -> stored.SessionTimes:
    settings = request.app[SETTINGS]
    return stored.SessionTimes(
        timedelta(minutes=settings.session_idle_minutes), timedelta(hours=settings.session_hours)
    )


# Sessions ---------------------------------------------------------------------------

routes = Api("sessions", "1")


def _user_out(request: web.Request, principal: Principal) -> UserOut:
    directory = request.app[DIRECTORY]
    code = principal.department
    return UserOut(
        username=principal.username,
        name=principal.name,
        role=principal.role.value,
        department=code,
        department_name=directory.by_code(code).name if code and directory.has(code) else None,
        include_sub=principal.include_sub,
    )


async def _throttle(request: web.Request, username: str, now: datetime) -> None:
    """Count this attempt, then refuse it if it is past MAX_FAILURES in the
    window: counted in the database before the password is checked, so that
    guesses sent at once, to any controller, are refused alike. Counted per
    name and address: guesses lock out the address they come from, and the
    user still signs in from their own (a lock per name alone would let
    anyone lock any admin out with six requests)."""
    if not stored.USERNAME.fullmatch(username):
        return  # no user has such a name: there is nothing to guess
    async with request.app[SESSIONS]() as session, session.begin():
        attempts = await stored.count_attempt(
            session, username, address(request), now, FAILURE_WINDOW
        )
    if attempts.count > MAX_FAILURES:
        wait = max(1, math.ceil((attempts.since + FAILURE_WINDOW - now).total_seconds()))
        raise TooManyAttempts(
            f"too many failed sign-ins for {username} from {address(request)}; "
            f"try again in {math.ceil(wait / 60)} min",
            retry_after=wait,
        )


async def _failed(
    request: web.Request, username: str, now: datetime, action: str = stored.SIGN_IN
) -> None:
    """A failed sign-in, in the audit log: the user's department's admins see it."""
    async with request.app[SESSIONS]() as session, session.begin():
        user = (
            await stored.get_user(session, username)
            if stored.USERNAME.fullmatch(username)
            else None
        )
        scope = (user.department_code if user is not None else None) or NATIONAL
        await audit(
            session,
            Author(now, None, address(request)),
            action=action,
            scope=scope,
            target=username,
            outcome="denied",
        )


@routes.route(
    "POST",
    "/api/session",
    "Sign in",
    "session",
    body=SignInIn,
    response=SessionOut,
    public=True,
    errors=(401, 429),  # a wrong name or password; too many of them
)
async def sign_in(request: web.Request) -> web.Response:
    # Login CSRF: another site's page must not sign this browser in (as the
    # attacker). A form can send only form types or text/plain, and older
    # browsers sent no Origin with one; JSON from another page needs a CORS
    # preflight, which nothing here answers. Browsers name the page of every
    # POST in Origin, so one naming another site is refused; a request with no
    # Origin is no browser's cross-site request (scripts, the CLI).
    if request.content_type != "application/json":
        raise DataError(
            "sign in with a JSON body and Content-Type: application/json",
            content_type=request.content_type,
        )
    data = await parse(request, SignInIn)
    now = request.app[CLOCK]()
    if not _same_origin(request):
        await _failed(request, data.username, now, action="csrf")
        raise CsrfFailed("a sign-in is accepted only from this site's own page")
    await _throttle(request, data.username, now)
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            opened = await stored.sign_in(
                session, data.username, data.password, now, _times(request), address(request)
            )
            await stored.forget_attempts(
                session, data.username, address(request), now, FAILURE_WINDOW
            )
            principal = stored.principal(opened.user)
            request[_PRINCIPAL] = principal
            scope = principal.department or NATIONAL
            await record(request, session, stored.SIGN_IN, scope, principal.username)
    except SignInFailed:
        await _failed(request, data.username, now)
        raise
    body = SessionOut(
        user=_user_out(request, principal),
        csrf_token=opened.csrf_token,
        expires_at=opened.expires_at.isoformat(),
    )
    response = web.json_response(body.model_dump(mode="json"))
    settings = request.app[SETTINGS]
    response.set_cookie(
        COOKIE,
        opened.token,
        httponly=True,
        samesite="Strict",
        secure=settings.cookie_secure,
        path="/",
        max_age=settings.session_hours * 3600,
    )
    return response


@routes.route("GET", "/api/session", "Who is signed in", "session", response=SessionOut)
async def show_session(request: web.Request) -> web.Response:
    principal = who(request)
    # The middleware read the session already; a token has none ("").
    browser = request.get(_BROWSER)
    csrf, expires = (browser.csrf_token, browser.expires_at.isoformat()) if browser else ("", "")
    body = SessionOut(user=_user_out(request, principal), csrf_token=csrf, expires_at=expires)
    return web.json_response(body.model_dump(mode="json"))


@routes.route("DELETE", "/api/session", "Sign out", "session", status=204)
async def sign_out(request: web.Request) -> web.Response:
    principal = who(request)
    async with request.app[SESSIONS]() as session, session.begin():
        await stored.sign_out(session, request.cookies.get(COOKIE, ""))
        await record(
            request, session, "sign_out", principal.department or NATIONAL, principal.username
        )
    response = web.Response(status=204)
    response.del_cookie(COOKIE, path="/")
    return response
