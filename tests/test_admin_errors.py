"""Every error the admin page can show, in Chinese: the page's one catalogue
(`ivr/admin/static/errors.js`) has an entry for every `error_id` the product
raises (read from the source, so a new error class without one fails here),
for each `details.error` and each refused upload's `details.reason`, and for
the web server's own answers; and each says Chinese whatever its details hold.

The catalogue runs in headless Chromium (Debian's, as in tests/e2e), loaded
from the app like the page loads it. SQLite only: no database is involved.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.settings import REPO_ROOT
from tests.admin_support import AdminApp, admin_app
from tests.browser_support import chromium

ENGLISH = "an English sentence for scripts"
HAN = re.compile(r"[\u4e00-\u9fff]")


def _found(pattern: str, folder: Path) -> set[str]:
    return {
        match
        for path in folder.rglob("*.py")
        for match in re.findall(pattern, path.read_text(encoding="utf-8"))
    }


def error_bodies() -> dict[str, dict[str, Any]]:
    """An answer for each error the product can give: name -> {error_id, message, details}."""
    ivr = REPO_ROOT / "ivr"
    ids = _found(r'\berror_id = "([a-z_]+)"', ivr)
    assert {"invalid_input", "case_not_found", "rate_limited", "forbidden"} <= ids
    bodies = {i: {"error_id": i, "message": ENGLISH, "details": {}} for i in ids}
    for error in _found(r'\berror="([a-z_]+)"', ivr):  # conflict and not_found, told apart
        for error_id in ("conflict", "not_found"):
            body = {"error_id": error_id, "message": ENGLISH, "details": {"error": error}}
            bodies[f"{error_id}/{error}"] = body
    for reason in _found(r'\breason="([a-z_]+)"', ivr / "audio"):
        body = {"error_id": "audio_rejected", "message": ENGLISH, "details": {"reason": reason}}
        bodies[f"audio_rejected/{reason}"] = body
    # The web server's own answers (ivr/admin/app.py json_errors), and the page's own.
    for status in (400, 404, 405, 413, 415, 500):
        bodies[f"http_{status}"] = {"error_id": f"http_{status}", "message": ENGLISH}
    bodies["network"] = {"error_id": "network", "message": ENGLISH}
    return bodies


@pytest.fixture
async def admin(tmp_path: Path) -> AsyncIterator[AdminApp]:
    async with admin_app(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'ivr.sqlite3'}") as made:
        yield made


async def test_every_error_the_page_can_show_is_in_chinese(admin: AdminApp) -> None:
    bodies = error_bodies()
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(str(admin.server.make_url("/admin/")))
        said: dict[str, str] = await page.evaluate(
            """async (bodies) => {
                const { errorText } = await import("/admin/errors.js");
                return Object.fromEntries(Object.entries(bodies).map(
                    ([name, body]) => [name, errorText(body, 400)]));
            }""",
            bodies,
        )
    english = sorted(name for name, text in said.items() if not HAN.search(text or ""))
    assert english == [], f"no Chinese in the page for: {english}"


async def test_the_page_shows_an_api_error_in_chinese(admin: AdminApp) -> None:
    """api.js reports the catalogue's words, and keeps the API's for the log."""
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(str(admin.server.make_url("/admin/")))
        error = await page.evaluate(
            """async () => {
                const { api } = await import("/admin/api.js");
                try { await api("GET", "/api/cases/999997", { quiet401: true }); }
                catch (e) {
                    return { message: e.message, api: e.apiMessage, status: e.status };
                }
            }"""
        )
    assert error == {"message": "登录已失效", "api": "sign in first", "status": 401}
