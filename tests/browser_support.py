"""Debian's Chromium for the page's tests, driven by Playwright (never a
downloaded browser): where it is, where screenshots go, one way to start it,
and one way to sign in to the admin page."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from ivr.settings import REPO_ROOT

CHROMIUM = os.environ.get("IVR_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("IVR_SCREENSHOT_DIR", REPO_ROOT / "build" / "screenshots"))
# Root in CI, and a small /dev/shm in containers.
ARGS = ("--no-sandbox", "--disable-dev-shm-usage")


@asynccontextmanager
async def chromium(*extra_args: str) -> AsyncIterator[Browser]:
    """Headless Chromium, closed on the way out; the screenshot folder exists."""
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, *extra_args]
        )
        try:
            yield browser
        finally:
            await browser.close()


DESKTOP = {"width": 1280, "height": 800}


async def signed_in_page(
    browser: Browser,
    url: str,
    username: str,
    password: str,
    viewport: dict[str, int] | None = None,
    *,
    console_errors: bool = True,
) -> Page:
    """A new page of the admin web at `url` (its /admin/), signed in as
    `username` (the caller waits for what it expects next). The page's script
    errors, and with `console_errors` the console's, are kept in `page.errors`."""
    context = await browser.new_context(viewport=viewport or DESKTOP, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    if console_errors:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(url)
    await page.get_by_test_id("login-username").fill(username)
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    return page
