"""Debian's Chromium for the page's tests, driven by Playwright (never a
downloaded browser): where it is, where screenshots go, and one way to start it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, async_playwright

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
