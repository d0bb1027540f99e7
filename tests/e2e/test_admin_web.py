"""The admin web end to end: a department admin in headless Chromium changes
what callers hear, and real SIPp callers hear it on the next call.

Debian's chromium is driven by Playwright (never a downloaded browser). The
platform's clock is a Friday evening, after hours, so a caller of 长丰县 who
presses nothing in the guidance enters the county's service menu and hears
its top node, `main`: the node the admin changes. Each test leaves
screenshots in IVR_SCREENSHOT_DIR (default build/screenshots/).
"""

from __future__ import annotations

import io
import re
import wave
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, Page, expect

from devtools.callermedia import Hangup, Pause
from devtools.sipcall import CallPlan
from ivr.audio.catalog import Catalog
from tests.browser_support import SHOTS, chromium, signed_in_page

from .harness import DIGIT_TIMEOUT_S, Platform, start_platform

pytestmark = pytest.mark.e2e

FRIDAY_EVENING = "2026-11-27T20:00:00+08:00"
COUNTY = "340121"  # 长丰县, of Hefei
CALLER = "055162345678"
ADMIN = "changfeng"
PASSWORD = "e2e-only-password-长丰"  # this test's own user, on a throwaway database
FIRST_TEXT = "长丰县自助服务：党费问题，请按3；反映情况和意见建议，请按7；预约回电，请按8。"
SECOND_TEXT = "长丰县自助服务，第二版：党费问题，请按3；预约回电，请按8。"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def after_hours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    platform = start_platform(tmp_path_factory.mktemp("admin-web"), IVR_NOW=FRIDAY_EVENING)
    platform.ivr(
        "users", "add", ADMIN, "--name", "长丰县委组织部管理员", "--role", "department_admin",
        "--department", COUNTY, "--password-env", "ADMIN_PASSWORD", ADMIN_PASSWORD=PASSWORD,
    )
    try:
        yield platform
    finally:
        platform.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    # A microphone that plays a beep, allowed without asking.
    async with chromium(
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"
    ) as found:
        yield found


async def signed_in(
    browser: Browser,
    platform: Platform,
    viewport: dict[str, int],
    username: str = ADMIN,
    password: str = PASSWORD,
) -> Page:
    url = f"http://127.0.0.1:{platform.settings.http_port}/admin/"
    page = await signed_in_page(browser, url, username, password, viewport)
    await expect(page.get_by_test_id("user-name")).to_be_visible()
    return page


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def service_menu_at(platform: Platform) -> float:
    """Seconds after the answer when the caller hears the service menu's top."""
    catalog = Catalog.load(platform.settings.prompt_build_dir)
    guidance = [
        "greeting.hello", f"dept.{COUNTY}", "greeting.hotline", "hours.closed",
        "front.self_service", "front.message", "menu.other_region", "menu.repeat", "svc.enter",
    ]
    return sum(catalog.duration_ms(p) for p in guidance) / 1000 + DIGIT_TIMEOUT_S + 1.0


async def heard(platform: Platform) -> list[str]:
    """The prompts a caller who waits into the service menu hears, by id."""
    listen = service_menu_at(platform) + 4.0
    plan = CallPlan(
        caller=CALLER, origin=COUNTY, actions=(Pause(round(listen * 1000)), Hangup()),
        offer_pcma=True, max_call_s=90,
    )
    result, record = await platform.call(plan)
    assert result.answered, result.sipp_log
    assert record is not None
    errors = [s for s in record["steps"] if s["kind"] == "error"]
    assert errors == [], f"Asterisk could not play: {errors}"
    return [s["value"] for s in record["steps"] if s["kind"] == "prompt"]


def audio(platform: Platform, prompt_id: str) -> bytes:
    status, data = platform.http_get_bytes(f"/api/prompts/{prompt_id}/audio")
    assert status == 200, data[:200]
    return data


async def publish_text(page: Page, text: str, note: str) -> None:
    """Select the top node, give it `text`, listen to it, save and publish."""
    await page.locator('[data-testid="tree-node"][data-node-id="main"]').first.click()
    editor = page.get_by_test_id("node-editor")
    await expect(editor).to_be_visible()
    await page.get_by_test_id("node-text").fill(text)
    await page.get_by_test_id("preview-button").click()
    preview = page.get_by_test_id("preview-audio")
    # The preview is real speech: the audio element knows its length once loaded.
    await expect(preview).to_have_attribute("src", re.compile("^blob:"))
    seconds = await preview.evaluate(
        "el => el.duration > 0 ? el.duration : new Promise(ok => "
        "el.addEventListener('loadedmetadata', () => ok(el.duration), {once: true}))"
    )
    assert seconds > 2.0, f"a {len(text)}-character text spoken in {seconds} s"
    await page.get_by_test_id("node-save").click()
    await expect(page.get_by_test_id("draft-bar")).to_contain_text("草稿")
    await page.get_by_test_id("publish-note").fill(note)
    await page.get_by_test_id("publish-button").click()
    await expect(page.get_by_test_id("status-message")).to_contain_text("已发布")


async def test_an_admin_changes_a_prompt_and_the_next_call_hears_it_then_restores_it(
    after_hours: Platform, browser: Browser
) -> None:
    before = await heard(after_hours)
    assert "svc.main@v1" in before  # the national menu, as published on first start

    page = await signed_in(browser, after_hours, DESKTOP)
    await shot(page, "01-today")
    await page.goto(page.url.split("#")[0] + f"#/menu/{COUNTY}")
    await expect(page.locator('[data-testid="tree-node"][data-node-id="main"]')).to_be_visible()
    await publish_text(page, FIRST_TEXT, "长丰县自己的首层菜单")
    await shot(page, "02-menu-published")

    first = await heard(after_hours)
    assert f"svc.{COUNTY}.main@v1" in first and "svc.main@v1" not in first

    await publish_text(page, SECOND_TEXT, "第二版")
    second = await heard(after_hours)
    assert f"svc.{COUNTY}.main@v2" in second

    versions = page.get_by_test_id("versions")
    row = versions.locator('[data-testid="version-row"][data-version="1"]')
    await row.get_by_test_id("diff-button").click()
    await expect(page.get_by_test_id("diff")).to_contain_text("第二版")
    await shot(page, "03-menu-diff")
    page.once("dialog", lambda dialog: dialog.accept())
    await row.get_by_test_id("restore-button").click()
    await expect(page.get_by_test_id("status-message")).to_contain_text("3")

    restored = await heard(after_hours)
    assert f"svc.{COUNTY}.main@v3" in restored
    # Version 3 is version 1 again: the same audio, not the second text's.
    v1, v3 = (audio(after_hours, f"svc.{COUNTY}.main@v{n}") for n in (1, 3))
    assert v1 == v3 != audio(after_hours, f"svc.{COUNTY}.main@v2")
    assert page.errors == []  # type: ignore[attr-defined]

    status, log = after_hours.http_get(f"/api/audit?scope={COUNTY}")
    assert status == 200
    actions = [(entry["actor"], entry["action"]) for entry in log]
    assert (ADMIN, "menu_restore") in actions and (ADMIN, "menu_publish") in actions


async def test_a_recording_made_in_the_browser_is_what_the_next_call_hears(
    after_hours: Platform, browser: Browser
) -> None:
    page = await signed_in(browser, after_hours, DESKTOP)
    await page.goto(page.url.split("#")[0] + f"#/menu/{COUNTY}")
    await page.locator('[data-testid="tree-node"][data-node-id="main"]').first.click()
    record = page.get_by_test_id("record-button")
    await record.click()
    await expect(record).to_have_attribute("aria-pressed", "true")
    await page.wait_for_timeout(3000)
    await record.click()
    await expect(page.get_by_test_id("upload-status")).to_contain_text("已上传", timeout=20000)
    await page.get_by_test_id("node-save").click()
    await page.get_by_test_id("publish-button").click()
    await expect(page.get_by_test_id("status-message")).to_contain_text("已发布")
    await shot(page, "04-menu-recorded")

    prompts = await heard(after_hours)
    recorded = [p for p in prompts if p.startswith(f"rec.{COUNTY}.")]
    assert recorded, prompts
    with wave.open(io.BytesIO(audio(after_hours, recorded[0]))) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
        seconds = wav.getnframes() / wav.getframerate()
    assert 2.0 < seconds < 4.5, f"a 3 s recording plays {seconds:.1f} s"
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_main_pages_at_desktop_and_phone_width(
    after_hours: Platform, browser: Browser
) -> None:
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = await signed_in(browser, after_hours, viewport)
        base = page.url.split("#")[0]
        for name, route, ready in (
            ("today", f"#/today/{COUNTY}", "chart-hours"),
            ("menu", f"#/menu/{COUNTY}", "tree"),
            ("hours", f"#/hours/{COUNTY}", "hours-save"),
            ("cases", f"#/cases/{COUNTY}", "nav-cases"),
            ("audit", f"#/audit/{COUNTY}", "nav-audit"),
        ):
            await page.goto(base + route)
            await expect(page.get_by_test_id(ready)).to_be_visible()
            await page.wait_for_load_state("networkidle")
            await shot(page, f"{label}-{name}")
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 1, f"{name} scrolls sideways by {overflow} px at {label} width"
        # On a phone the editor opens where the thumb is, not off to the side.
        await page.goto(base + f"#/menu/{COUNTY}")
        await page.locator('[data-testid="tree-node"][data-node-id="main"]').first.click()
        box = await page.get_by_test_id("node-text").bounding_box()
        assert box is not None and box["x"] >= 0
        assert box["x"] + box["width"] <= viewport["width"]
        assert page.errors == []  # type: ignore[attr-defined]


async def test_another_department_is_refused_in_the_page_too(
    after_hours: Platform, browser: Browser
) -> None:
    page = await signed_in(browser, after_hours, DESKTOP)
    await page.goto(page.url.split("#")[0] + "#/menu/340100")
    await expect(page.get_by_test_id("status-message")).to_contain_text("无权")
    await shot(page, "refused")
    status, log = after_hours.http_get("/api/audit?scope=340100")
    assert status == 200
    assert any(e["actor"] == ADMIN and e["outcome"] == "denied" for e in log)


async def test_the_first_admin_adds_a_department_admin_who_can_then_sign_in(
    after_hours: Platform, browser: Browser
) -> None:
    first = (after_hours.state_dir / "initial-admin-password").read_text().strip()
    page = await signed_in(browser, after_hours, DESKTOP, "admin", first)
    await page.get_by_test_id("nav-users").click()
    form = page.get_by_test_id("user-add-form")
    await form.get_by_test_id("user-username").fill("feidong")
    await form.get_by_test_id("user-fullname").fill("肥东县委组织部管理员")
    await form.get_by_test_id("user-role").select_option("department_admin")
    await form.get_by_test_id("user-department").fill("340122")
    await form.get_by_test_id("user-password").fill("feidong-e2e-password")
    await form.get_by_test_id("user-password2").fill("feidong-e2e-password")
    await form.get_by_test_id("user-add-submit").click()
    row = page.locator('[data-testid="user-row"][data-username="feidong"]')
    await expect(row).to_contain_text("340122")
    await shot(page, "05-users")

    added = await signed_in(browser, after_hours, PHONE, "feidong", "feidong-e2e-password")
    await expect(added.get_by_test_id("user-name")).to_contain_text("肥东县")
    await expect(added.get_by_test_id("nav-users")).to_be_hidden()
    assert page.errors == [] and added.errors == []  # type: ignore[attr-defined]
