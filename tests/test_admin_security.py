"""What the admin web does against a hostile page or a greedy user: signing in
only from its own page (login CSRF), the page's security headers, and the
limits on the expensive prompt routes. A real database (SQLite and
PostgreSQL), the real routes and middleware, no Asterisk."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp import web

from ivr.admin.auth import Role
from ivr.admin.keys import SETTINGS
from tests.admin_support import AdminApp, admin_app
from tests.test_admin_web import _tone_wav, _upload
from tests.web_support import PASSWORD

CREDENTIALS = {"username": "hefei", "password": PASSWORD}


@pytest.fixture
async def admin(tmp_path: Path, database_url: str) -> AsyncIterator[AdminApp]:
    async with admin_app(tmp_path, database_url) as found:
        await found.as_user("hefei", Role.DEPARTMENT_ADMIN, "340100")
        yield found


async def test_a_sign_in_posted_from_another_site_is_refused(admin: AdminApp) -> None:
    """Login CSRF: another site's page must not sign the browser in as someone
    (the attacker), whose session would then see what the victim enters."""
    browser = await admin.client()
    evil = {"Origin": "http://evil.example"}
    forged = await browser.post("/api/session", json=CREDENTIALS, headers=evil)
    assert forged.status == 403, await forged.text()
    assert (await forged.json())["error_id"] == "csrf_failed"
    assert "Set-Cookie" not in forged.headers
    assert (await browser.get("/api/session")).status == 401
    national = await admin.as_user("boss")
    (line,) = await (await national.get("/api/audit?limit=1")).json()
    assert (line["action"], line["target"], line["outcome"]) == ("csrf", "hefei", "denied")


async def test_a_sign_in_sent_as_a_form_is_refused(admin: AdminApp) -> None:
    """An HTML form can post text/plain that looks like JSON, and older browsers
    sent no Origin with a form: only a JSON request (which another site cannot
    send without a preflight this server never allows) signs in."""
    browser = await admin.client()
    body = json.dumps(CREDENTIALS)
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        form = await browser.post("/api/session", data=body, headers={"Content-Type": kind})
        assert form.status == 400, kind
        assert "application/json" in (await form.json())["message"]
        assert "Set-Cookie" not in form.headers


async def test_the_page_and_scripts_sign_in(admin: AdminApp) -> None:
    """Its own page (Origin of this site) and a script (no Origin) sign in."""
    browser = await admin.client()
    own = {"Origin": f"http://{browser.host}:{browser.port}"}
    signed = await browser.post("/api/session", json=CREDENTIALS, headers=own)
    assert signed.status == 200, await signed.text()
    script = await admin.client()
    assert (await script.post("/api/session", json=CREDENTIALS)).status == 200


async def test_a_page_of_another_scheme_is_another_site(admin: AdminApp) -> None:
    """An origin is scheme, host and port: an https:// page is not this
    http:// server's own, for signing in or for a change."""
    browser = await admin.client()
    host = f"{browser.host}:{browser.port}"
    tls = {"Origin": f"https://{host}"}
    forged = await browser.post("/api/session", json=CREDENTIALS, headers=tls)
    assert forged.status == 403, await forged.text()
    assert (await forged.json())["error_id"] == "csrf_failed"
    own = {"Origin": f"http://{host}"}
    signed = await browser.post("/api/session", json=CREDENTIALS, headers=own)
    assert signed.status == 200
    token = {"X-CSRF-Token": (await signed.json())["csrf_token"]}
    change = await browser.delete("/api/session", headers={**token, **tls})
    assert change.status == 403
    assert (await browser.delete("/api/session", headers={**token, **own})).status == 204


async def test_behind_an_https_proxy_the_site_is_https(tmp_path: Path, database_url: str) -> None:
    """IVR_COOKIE_SECURE says the browser sees https (a proxy speaks http to us)."""

    def behind_tls(app: web.Application) -> None:
        app[SETTINGS] = app[SETTINGS].model_copy(update={"cookie_secure": True})

    async with admin_app(tmp_path, database_url, behind_tls) as proxied:
        await proxied.as_user("hefei", Role.DEPARTMENT_ADMIN, "340100")
        browser = await proxied.client()
        host = f"{browser.host}:{browser.port}"
        for scheme, status in (("http", 403), ("https", 200)):
            headers = {"Origin": f"{scheme}://{host}"}
            answer = await browser.post("/api/session", json=CREDENTIALS, headers=headers)
            assert answer.status == status, scheme


async def test_control_characters_of_a_user_name_are_not_written_raw(admin: AdminApp) -> None:
    """A failed sign-in writes the name it was sent to the audit log: terminal
    escapes, line breaks and the like are written as escapes, so that a line
    read in a terminal or a log file says only what it says."""
    stranger = await admin.client()
    name = "\x1b[2J\rroot\n\u202eadmin\x7f"
    answer = await stranger.post("/api/session", json={"username": name, "password": "x"})
    assert answer.status == 401
    national = await admin.as_user("boss")
    (line,) = await (await national.get("/api/audit?limit=1")).json()
    assert line["action"] == "sign_in" and line["outcome"] == "denied"
    assert line["target"] == r"\x1b[2J\rroot\n\u202eadmin\x7f"


async def test_a_nul_character_is_bad_input_not_a_database_error(admin: AdminApp) -> None:
    """PostgreSQL's text cannot hold a NUL: one in a path, a query or a JSON
    body's text was sent on to the database, which refused it (a 500). It is
    refused at the door, a 400 like any other bad input; on SQLite alike."""
    stranger = await admin.client()
    national = await admin.as_user("boss")
    nul_name = {"username": "ad\x00min", "password": "x"}
    signing_in = await stranger.post("/api/session", json=nul_name)
    assert signing_in.status == 400, await signing_in.text()
    sent = [
        ("GET", "/api/calls/a%00b", None),
        ("GET", "/api/cases/a%00b", None),
        ("GET", "/api/audit?scope=a%00b", None),
        ("GET", "/api/menus/a%00b", None),
        ("GET", "/api/calls?sip_call_id=a%00b", None),
        ("PATCH", "/api/users/boss", {"name": "a\x00b"}),
        ("POST", "/api/operators/nobody/pause", {"reason": "a\x00b"}),
    ]
    for method, path, body in sent:
        answer = await national.request(method, path, json=body)
        assert answer.status == 400, (method, path, answer.status, await answer.text())
        assert (await answer.json())["error_id"] == "invalid_input", path


async def test_a_deeply_nested_body_is_bad_input_on_every_route(admin: AdminApp) -> None:
    """10 KB of nested arrays made the JSON decoder recurse until it raised
    (a 500, to someone not signed in). Every route reads JSON one way, with a
    depth limit: the answer is the 400 of any other bad body."""
    nested = "[" * 5000 + "]" * 5000
    deep_object = '{"reason": ' + "[" * 5000 + "]" * 5000 + "}"
    stranger = await admin.client()
    national = await admin.as_user("boss")
    sent = [
        (stranger, "/api/session", nested),
        (national, "/api/users", nested),  # parse()
        (national, "/api/cases/nope/close", deep_object),  # the case actions' own reader
        (national, "/api/operators/nobody/pause", deep_object),  # a pause's reason
    ]
    for client, path, body in sent:
        headers = {"Content-Type": "application/json"}
        answer = await client.post(path, data=body, headers=headers)
        assert answer.status == 400, (path, answer.status, await answer.text())
        found = await answer.json()
        assert found["error_id"] == "invalid_input", path
        assert set(found) == {"error_id", "message", "details"}
    # Nesting as deep as a real body is still read.
    ok = {"username": "hefei", "password": PASSWORD}
    assert (await stranger.post("/api/session", json=ok)).status == 200


async def test_previews_and_uploads_are_limited_per_user(admin: AdminApp) -> None:
    """Each preview runs espeak-ng and each upload ffmpeg on the controller that
    also serves calls: one user gets IVR_PROMPT_AUDIO_BURST at once, then
    IVR_PROMPT_AUDIO_PER_MINUTE, and a 429 saying when to try again."""
    settings = admin.app[SETTINGS]
    hefei = await admin.as_user("hefei-admin", Role.DEPARTMENT_ADMIN, "340100")
    for _ in range(settings.prompt_audio_burst):
        spoken = await hefei.post("/api/prompts/preview", json={"text": "党费"})
        assert spoken.status == 200, await spoken.text()
    refused = await hefei.post("/api/prompts/preview", json={"text": "党费"})
    assert refused.status == 429
    body = await refused.json()
    assert body["error_id"] == "rate_limited"
    wait = int(refused.headers["Retry-After"])
    assert wait == math.ceil(60 / settings.prompt_audio_per_minute)
    assert body["details"]["retry_after"] == wait
    upload = await _upload(hefei, "问候.wav", _tone_wav(), "340100")
    assert upload.status == 429  # the same bucket: both are audio work
    other = await admin.as_user("other-admin", Role.DEPARTMENT_ADMIN, "340100")
    assert (await other.post("/api/prompts/preview", json={"text": "党费"})).status == 200
    admin.clock.advance(seconds=wait)
    assert (await hefei.post("/api/prompts/preview", json={"text": "党费"})).status == 200
    assert (await hefei.post("/api/prompts/preview", json={"text": "党费"})).status == 429


async def test_the_limit_is_in_the_api_description(admin: AdminApp) -> None:
    client = await admin.client()
    paths = (await (await client.get("/api/openapi.json")).json())["paths"]
    for path in ("/api/prompts/preview", "/api/prompts/uploads"):
        limited = paths[path]["post"]["responses"]["429"]
        assert "Retry-After" in limited["headers"], path
        assert limited["content"]["application/json"]["schema"]["$ref"].endswith("ErrorOut")


class _Scripts(HTMLParser):
    """What of a page would run as inline script: <script> without src, on*= handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script":
            src = named.get("src")
            if src:
                self.sources.append(src)
            else:
                self.inline.append("<script> without src")
        self.inline += [f"{tag} {name}=" for name, _ in attrs if name.startswith("on")]
        if any((value or "").strip().lower().startswith("javascript:") for _, value in attrs):
            self.inline.append(f"{tag} with a javascript: URL")


async def test_the_admin_page_is_sent_with_security_headers(admin: AdminApp) -> None:
    """No framing (clickjacking), no script but its own files (XSS), no
    referrer to other sites, no type sniffing."""
    client = await admin.client()
    page = await client.get("/admin/")
    assert page.status == 200
    headers = page.headers
    policy = {
        name: values
        for name, *values in (d.split() for d in headers["Content-Security-Policy"].split(";"))
    }
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert headers["X-Frame-Options"] == "DENY"  # browsers without frame-ancestors
    assert headers["Referrer-Policy"] in ("no-referrer", "same-origin")
    assert headers["X-Content-Type-Options"] == "nosniff"
    # The policy holds only if the page needs no inline script.
    scripts = _Scripts()
    scripts.feed(await page.text())
    assert scripts.inline == [] and scripts.sources == ["app.js"]
    # The same page and its scripts under their own names.
    for path in ("/admin/index.html", "/admin/app.js", "/admin/errors.js"):
        other = await client.get(path)
        assert other.status == 200, path
        for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
            assert other.headers.get(name) == headers[name], (path, name)
