"""Supervision (督办) end to end: cases left by real SIPp callers after hours
go past their deadline, and two controllers sharing one PostgreSQL escalate
each exactly once, send each escalation to a local webhook receiver (signed;
the receiver refuses the first one twice and takes it the third time), and
Hefei's admin sees them in the inbox in Debian's Chromium.

Friday evening, after hours: a message and a callback request are left at
长丰县 (340121), due at the end of Wednesday 2 December (three working
days). The controllers are then restarted on Thursday morning (IVR_NOW),
running the escalation job every half second.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import expect

from devtools import processes
from devtools.callermedia import Action, Audio, Key, Pause
from devtools.sipcall import CallPlan
from tests.browser_support import SHOTS, chromium, signed_in_page

from .harness import IVR, REPO, Platform, fresh_postgres_database, start_platform

pytestmark = pytest.mark.e2e

DATABASE = "ivr_e2e_supervision"
G711A = "/usr/share/sip-tester/g711a.pcap"
FRIDAY_EVENING = "2026-11-27T20:00:00+08:00"
THURSDAY_MORNING = "2026-12-03T09:00:00+08:00"  # the day after the last one due
COUNTY, HEFEI = "340121", "340100"
SECRET = "e2e-only-webhook-secret-督办"  # this test's own, for its own receiver
ADMIN, PASSWORD = "hefei", "e2e-only-password-合肥"
START_S = 60.0


class Receiver:
    """The supervising system's webhook on loopback: refuses the first
    delivery it sees twice (503), takes everything else."""

    def __init__(self) -> None:
        self.tries: list[tuple[dict[str, str], bytes, int]] = []
        self.refused: dict[str, int] = {}
        self.app = web.Application()
        self.app.router.add_post("/escalations", self.hook)

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        delivery = request.headers["X-12371-Delivery"]
        first = next(iter(self.refused), delivery)
        status = 204
        if delivery == first and self.refused.get(delivery, 0) < 2:
            self.refused[delivery] = self.refused.get(delivery, 0) + 1
            status = 503
        self.tries.append((dict(request.headers), body, status))
        return web.Response(status=status)

    def delivered(self) -> dict[str, list[int]]:
        """Each delivery's answers, in order."""
        seen: dict[str, list[int]] = {}
        for headers, _, status in self.tries:
            seen.setdefault(headers["X-12371-Delivery"], []).append(status)
        return seen


def signed(headers: dict[str, str], body: bytes) -> bool:
    mac = hmac.new(
        SECRET.encode(), headers["X-12371-Timestamp"].encode() + b"." + body, hashlib.sha256
    )
    return headers["X-12371-Signature"] == f"sha256={mac.hexdigest()}"


async def left_case(platform: Platform, caller: str, *actions: Action) -> str:
    plan = CallPlan(caller=caller, origin=COUNTY, actions=actions, offer_pcma=True, max_call_s=90)
    result, record = await platform.call(plan)
    assert result.answered, result.sipp_log
    assert record is not None
    (number,) = [s["detail"] for s in record["steps"] if s["value"] == "case"]
    return str(number)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hook = Receiver()
    runner = web.AppRunner(hook.app)
    await runner.setup()
    port = processes.free_port(socket.SOCK_STREAM)
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield hook, f"http://127.0.0.1:{port}/escalations"
    finally:
        await runner.cleanup()


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    found = await asyncio.to_thread(
        start_platform, tmp_path, IVR_NOW=FRIDAY_EVENING,
        # A number that could be called back may ask for it (none is dialled after hours).
        IVR_CALLBACK_DIAL="PJSIP/{number}@callers",
    )
    try:
        yield found
    finally:
        await asyncio.to_thread(found.stop)


async def test_two_controllers_escalate_each_late_case_once_and_tell_the_supervisor(
    platform: Platform, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    hook, url = receiver
    database = await fresh_postgres_database(DATABASE)
    await asyncio.to_thread(platform.stop_controller)
    await asyncio.to_thread(platform.start_controller, IVR_DATABASE_URL=database)
    # Friday evening: a message, and a callback request, each a case.
    message = await left_case(
        platform, "055162345678",
        Pause(1500), Key("1"), Pause(1200), Key("0"), Pause(9000),
        Audio(G711A, 2000), Key("#"), Pause(1500), Key("3"), Pause(15000),
    )
    callback = await left_case(
        platform, "055162345679", Pause(1500), Key("1"), Pause(1200), Key("8"), Pause(15000),
    )

    # Thursday morning, two controllers on the same database.
    late = {
        "IVR_NOW": THURSDAY_MORNING, "IVR_DATABASE_URL": database, "IVR_WEBHOOK_URL": url,
        "IVR_WEBHOOK_SECRET": SECRET, "IVR_ESCALATION_SECONDS": "0.5",
        "IVR_WEBHOOK_RETRY_SECONDS": "0.5",
    }
    await asyncio.to_thread(platform.stop_controller)
    await asyncio.to_thread(platform.start_controller, **late)
    second_port = processes.free_port(socket.SOCK_STREAM)
    second_log = tmp_path / "controller-b.log"
    second = processes.start(
        [*IVR, "serve"], second_log, cwd=REPO,
        env={
            **platform.env, **late, "IVR_HTTP_PORT": str(second_port),
            "IVR_ARI_APP": "ivr12371b", "IVR_NODE_NAME": "e2e-b",
        },
    )
    try:
        healthy = await asyncio.to_thread(
            processes.wait_ready, second,
            lambda: True if _healthy(second_port) else None, START_S, "controller b", second_log,
        )
        assert healthy, processes.tail(second_log)
        platform.token = platform.ivr(
            "users", "token", "admin", IVR_DATABASE_URL=database
        ).stdout.strip()

        # Both controllers run the job every half second for a while.
        for _ in range(100):
            if len([s for s in hook.delivered().values() if 204 in s]) == 2:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # a few more runs on each: still nothing written twice

        for number, kind in ((message, "message"), (callback, "callback")):
            status, case = platform.http_get(f"/api/cases/{number}")
            assert status == 200, case
            assert case["kind"] == kind
            escalated = [e for e in case["events"] if e["action"] == "escalated"]
            assert len(escalated) == 1, case["events"]
            assert escalated[0]["note"] == "已超过办结期限，已报中共合肥市委组织部督办"

        # One signed delivery per escalation; the refused one taken on its third try.
        answers = hook.delivered()
        assert sorted(answers.values()) == [[204], [503, 503, 204]]
        assert all(signed(headers, body) for headers, body, _ in hook.tries)
        sent = {json.loads(body)["case"]["number"] for _, body, status in hook.tries}
        assert sent == {message, callback}
        status, deliveries = platform.http_get("/api/webhook/deliveries")
        assert status == 200
        assert sorted((d["status"], d["attempts"]) for d in deliveries) == [
            ("delivered", 1), ("delivered", 3),
        ]

        await inbox_in_chromium(platform, {message, callback})
    finally:
        processes.stop(second.pid)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


async def inbox_in_chromium(platform: Platform, numbers: set[str]) -> None:
    """Hefei's admin signs in: the badge says 2, the inbox lists both, one is marked read."""
    platform.ivr(
        "users", "add", ADMIN, "--name", "合肥市委组织部管理员", "--role", "department_admin",
        "--department", HEFEI, "--sub", "--password-env", "ADMIN_PASSWORD",
        ADMIN_PASSWORD=PASSWORD, IVR_DATABASE_URL=platform.database_url,
    )
    async with chromium() as browser:
        url = f"http://127.0.0.1:{platform.settings.http_port}/admin/"
        page = await signed_in_page(browser, url, ADMIN, PASSWORD, console_errors=False)
        badge = page.get_by_test_id("inbox-badge")
        await expect(badge).to_have_text("2")
        await page.get_by_test_id("nav-inbox").click()
        rows = page.get_by_test_id("inbox-row")
        await expect(rows).to_have_count(2)
        listed = {await row.get_attribute("data-case") for row in await rows.all()}
        assert listed == numbers
        await expect(rows.first).to_contain_text("已超过办结期限")
        await expect(rows.first).to_contain_text("长丰县")
        # Due at midnight: the end of Wednesday, as people say it.
        await expect(rows.first).to_contain_text("2026-12-02 24:00")
        await page.screenshot(path=str(SHOTS / "inbox.png"), full_page=True)
        await page.get_by_test_id("inbox-mark-read").first.click()
        await expect(badge).to_have_text("1")
        await expect(page.get_by_test_id("inbox-mark-read")).to_have_count(1)
        await page.get_by_test_id("inbox-unread").check()
        await expect(rows).to_have_count(1)
        # The case itself, from the inbox: its history holds the escalation.
        await rows.first.get_by_role("link").click()
        detail = page.get_by_test_id("case-detail")
        await expect(detail).to_be_visible()
        await expect(page.get_by_test_id("case-events")).to_contain_text("超期督办")
        assert page.errors == []  # type: ignore[attr-defined]
