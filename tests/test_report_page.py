"""The report page in headless Chromium: a week of calls, cases, late cases
and survey answers drawn as charts, and downloaded from its buttons.

Debian's chromium is driven by Playwright (never a downloaded browser), as in
tests/e2e/test_admin_web.py; no Asterisk is needed: the admin web runs in
this process over a seeded database (SQLite and PostgreSQL). The page is
left as screenshots in IVR_SCREENSHOT_DIR (default build/screenshots/):
report.png at desktop width, report-phone.png at a phone's.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, Page, expect

from ivr.admin.auth import Role
from tests.admin_support import AdminApp, admin_app
from tests.browser_support import SHOTS, chromium, signed_in_page
from tests.report_support import CHANGFENG, WEEK_DAY, seed_week
from tests.web_support import PASSWORD, add_user

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WEEK = f"week/{WEEK_DAY}"


@pytest.fixture
async def admin(tmp_path: Path, database_url: str) -> AsyncIterator[AdminApp]:
    async with admin_app(tmp_path, database_url) as made:
        await seed_week(made)
        await add_user(made.sessions, "boss")
        await add_user(made.sessions, "changfeng", Role.DEPARTMENT_ADMIN, CHANGFENG)
        yield made


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium("--lang=zh-CN") as found:
        yield found


async def signed_in(browser: Browser, admin: AdminApp, viewport: dict[str, int], user: str) -> Page:
    url = str(admin.server.make_url("/admin/"))
    page = await signed_in_page(browser, url, user, PASSWORD, viewport)
    await expect(page.get_by_test_id("user-name")).to_be_visible()
    return page


async def open_report(page: Page, route: str) -> None:
    await page.goto(page.url.split("#")[0] + f"#/report/{route}")
    await expect(page.get_by_test_id("chart-report-hours")).to_be_visible()
    await page.wait_for_load_state("networkidle")


async def titles(page: Page, chart: str) -> list[str]:
    """What each bar of a chart says (its <title>), top to bottom."""
    return await page.locator(f'[data-testid="{chart}"] g.bar > title').all_text_contents()


async def downloaded(page: Page, button: str, folder: Path) -> tuple[str, bytes]:
    async with page.expect_download() as info:
        await page.get_by_test_id(button).click()
    download = await info.value
    path = folder / download.suggested_filename
    await download.save_as(path)
    return download.suggested_filename, await asyncio.to_thread(path.read_bytes)


async def no_sideways_scroll(page: Page, label: str) -> None:
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the report scrolls sideways by {overflow} px at {label} width"


async def test_the_report_page_draws_the_week_and_downloads_it(
    admin: AdminApp, browser: Browser, tmp_path: Path
) -> None:
    page = await signed_in(browser, admin, DESKTOP, "boss")
    await expect(page.get_by_test_id("nav-report")).to_have_text("报表")
    await open_report(page, f"national/{WEEK}")
    await expect(page.get_by_test_id("report-range")).to_contain_text(
        "周报 · 2026-11-23 至 2026-11-29"
    )
    await expect(page.get_by_test_id("tile-report-calls")).to_contain_text("13")
    await expect(page.get_by_test_id("tile-report-overdue")).to_contain_text("11")

    hours = await titles(page, "chart-report-hours")
    assert len(hours) == 24
    assert hours[9] == "9时：来电4个，人工接听4个，非工作时间0个"
    assert hours[14] == "14时：来电2个，人工接听1个，非工作时间0个"
    assert hours[20] == "20时：来电2个，人工接听0个，非工作时间2个"
    assert hours[3] == "3时：来电0个，人工接听0个，非工作时间0个"
    assert await titles(page, "chart-statuses") == [
        "已登记：10个",
        "已分派：1个",
        "办理中：1个",
        "已办结：2个",
        "已关闭：1个",
    ]
    # Ten departments registered cases: eight by name, the rest as 其他.
    departments = await titles(page, "chart-departments")
    assert departments[:2] == [
        "合肥市：登记4个，已办结1个，未办结3个",
        "长丰县：登记3个，已办结2个，未办结1个",
    ]
    assert len(departments) == 9
    assert departments[-1] == "其他2个部门：登记2个，已办结0个，未办结2个"
    overdue = await titles(page, "chart-overdue")
    assert overdue[0] == "合肥市：超期2个，未办结3个"
    assert overdue[-1] == "其他2个部门：超期2个"
    assert await titles(page, "chart-satisfaction") == [
        "话务员服务：满意5个（71.4%），基本满意1个（14.3%），不满意1个（14.3%）",
        "工单办理：满意1个（33.3%），基本满意1个（33.3%），不满意1个（33.3%）",
        "全部：满意6个（60.0%），基本满意2个（20.0%），不满意2个（20.0%）",
    ]
    await expect(page.get_by_test_id("report-rate")).to_contain_text("80.0%")
    for chart in ("chart-statuses", "chart-departments", "chart-overdue", "chart-satisfaction"):
        summary = await page.get_by_test_id(chart).get_attribute("aria-label")
        assert summary, f"{chart} has no summary for a screen reader"
    await no_sideways_scroll(page, "desktop")
    await page.screenshot(path=str(SHOTS / "report.png"), full_page=True)

    name, xlsx = await downloaded(page, "report-download-xlsx", tmp_path)
    assert name == "12371-report-week-2026-11-23.xlsx"
    book = load_workbook(io.BytesIO(xlsx), read_only=True)
    overview = {row[0]: row[1] for row in book["概况"].iter_rows(values_only=True)}
    assert (overview["来电"], overview["登记工单"], overview["超期工单（当前）"]) == (13, 15, 11)
    name, data = await downloaded(page, "report-download-csv", tmp_path)
    assert name == "12371-report-week-2026-11-23.csv"
    assert data.startswith(b"\xef\xbb\xbf") and "满意率（满意+基本满意）,80.0%" in data.decode()

    # Another period: the month around it, and the address says so.
    await page.get_by_test_id("report-period-month").check(force=True)
    await expect(page.get_by_test_id("report-range")).to_contain_text("2026-11-01 至 2026-11-30")
    assert page.url.endswith(f"#/report/national/month/{WEEK_DAY}")
    await page.get_by_test_id("report-earlier").click()
    await expect(page.get_by_test_id("report-range")).to_contain_text("2026-10-01 至 2026-10-31")
    await expect(page.get_by_test_id("chart-statuses")).to_have_text("本月没有登记工单")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_report_page_on_a_phone(admin: AdminApp, browser: Browser) -> None:
    page = await signed_in(browser, admin, PHONE, "boss")
    await open_report(page, f"national/{WEEK}")
    assert len(await titles(page, "chart-departments")) == 9
    box = await page.get_by_test_id("report-download-xlsx").bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    await no_sideways_scroll(page, "phone")
    await page.screenshot(path=str(SHOTS / "report-phone.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_department_admin_sees_its_own_department_only(
    admin: AdminApp, browser: Browser
) -> None:
    page = await signed_in(browser, admin, DESKTOP, "changfeng")
    await open_report(page, f"{CHANGFENG}/{WEEK}")
    assert await titles(page, "chart-departments") == ["长丰县：登记3个，已办结2个，未办结1个"]
    assert await titles(page, "chart-overdue") == ["长丰县：超期1个，未办结1个"]
    await expect(page.get_by_test_id("tile-report-calls")).to_contain_text("2")
    # Its parent's report is refused, in the page too.
    await page.goto(page.url.split("#")[0] + f"#/report/340100/{WEEK}")
    await expect(page.get_by_test_id("status-message")).to_contain_text("无权")
