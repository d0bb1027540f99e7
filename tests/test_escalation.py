"""Supervision done (督办), on SQLite and PostgreSQL: escalations written once
per case, deadline and step however many controllers run the job; the
supervising department's inbox; webhook deliveries claimed by one sender,
signed, and retried until the receiver takes them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ivr.cases import escalation
from ivr.cases.escalation import Deliveries, EscalationNotFound, Escalations
from ivr.cases.registry import Cases
from ivr.cases.rules import late_steps
from ivr.metrics import Metrics
from ivr.settings import Settings
from ivr.webhook.sender import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSender,
    backoff,
    signature,
)

from .test_db_cases import CHANGFENG, HEFEI, T0, Clock, message
from .test_db_operators import DIRECTORY, Sessions, add

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Registered Tuesday 24 November: due at the end of Friday 27 (3 working days).
DUE = datetime(2026, 11, 28, 0, 0, tzinfo=SHANGHAI)
SECRET = "test-only-webhook-secret"


def at(day: int, hour: int = 9, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cases(db_sessionmaker: Sessions, clock: Clock) -> Cases:
    return Cases(db_sessionmaker, DIRECTORY, clock)


def job(sessions: Sessions, clock: Clock, webhook: str | None = None) -> Escalations:
    return Escalations(sessions, DIRECTORY, clock, webhook_url=webhook)


async def history(cases: Cases, number: str) -> list[tuple[str, str | None]]:
    case = await cases.get(number)
    return [(e.action, e.note) for e in case.events if e.action == "escalated"]


# -- the steps ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "step"),
    [
        (at(27, 23), None),  # Friday evening: still due
        (at(28, 0), 0),  # midnight: the deadline passed
        (at(30, 23), 0),  # the weekend and Monday itself do not count yet
        (at(1, 0, 12), 1),  # Monday over: one working day late
        (at(2, 10, 12), 2),  # Tuesday over
    ],
)
def test_steps_count_working_days_that_ended_since_the_deadline(
    now: datetime, step: int | None
) -> None:
    assert late_steps(DUE, now, SHANGHAI) == step


def test_an_urgent_deadline_mid_day_counts_from_the_next_day() -> None:
    due = datetime(2026, 11, 24, 20, 0, tzinfo=SHANGHAI)  # Tuesday 20:00
    assert late_steps(due, at(24, 21), SHANGHAI) == 0
    assert late_steps(due, at(25, 23), SHANGHAI) == 0  # Wednesday not yet over
    assert late_steps(due, at(26, 0), SHANGHAI) == 1


# -- the job ------------------------------------------------------------------------------


async def test_a_case_past_due_is_escalated_once_to_its_parent(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    case = await message(cases, department=CHANGFENG)
    escalations = job(db_sessionmaker, clock)
    clock.now = DUE - timedelta(minutes=1)
    assert await escalations.run() == 0
    clock.now = DUE + timedelta(minutes=5)
    assert await escalations.run() == 1
    assert await escalations.run() == 0  # the same step again: nothing
    told = "已超过办结期限，已报中共合肥市委组织部督办"
    assert await history(cases, case.number) == [("escalated", told)]
    inbox = await escalations.inbox([HEFEI])
    assert inbox.unread == 1
    (item,) = inbox.items
    assert (item.case, item.step, item.department, item.supervisor) == (
        case.number, 0, CHANGFENG, HEFEI
    )
    # Another department's inbox does not hold it.
    assert (await escalations.inbox([CHANGFENG])).items == []


async def test_each_further_working_day_late_is_escalated_again(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    case = await message(cases, department=CHANGFENG)
    escalations = job(db_sessionmaker, clock)
    for now in (at(28, 1), at(30, 12), at(1, 1, 12), at(1, 15, 12), at(2, 1, 12)):
        clock.now = now
        await escalations.run()
    notes = [note for _, note in await history(cases, case.number)]
    assert notes == [
        "已超过办结期限，已报中共合肥市委组织部督办",
        "已超过办结期限1个工作日，已报中共合肥市委组织部督办",
        "已超过办结期限2个工作日，已报中共合肥市委组织部督办",
    ]


async def test_a_job_that_was_down_writes_the_step_the_case_is_at_now(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    case = await message(cases, department=CHANGFENG)
    clock.now = at(3, 12, 12)  # Thursday: three working days late
    await job(db_sessionmaker, clock).run()
    assert [n for _, n in await history(cases, case.number)] == [
        "已超过办结期限3个工作日，已报中共合肥市委组织部督办"
    ]


async def test_done_cases_are_not_escalated_and_a_forwarded_one_starts_again(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    done = await message(cases, "msg-done", department=CHANGFENG)
    moved = await message(cases, "msg-moved", department=CHANGFENG)
    await add(db_sessionmaker, "op1001")
    await cases.transition(done.number, "assign", actor="admin", note="", operator="op1001")
    await cases.transition(done.number, "start", actor="admin", note="")
    await cases.transition(done.number, "resolve", actor="admin", note="已答复")
    escalations = job(db_sessionmaker, clock)
    clock.now = DUE + timedelta(hours=1)
    await escalations.run()
    await cases.transition(moved.number, "forward", actor="admin", note="转县委", department=HEFEI)
    await escalations.run()  # its new deadline is days away
    assert await history(cases, done.number) == []
    assert len(await history(cases, moved.number)) == 1


async def test_an_urgent_case_is_escalated_24_hours_after_it_arrived(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    case = await message(cases, department=CHANGFENG, urgent=True)
    escalations = job(db_sessionmaker, clock)
    clock.now = T0 + timedelta(hours=23, minutes=59)
    assert await escalations.run() == 0
    clock.now = T0 + timedelta(hours=24, minutes=1)
    assert await escalations.run() == 1
    assert len(await history(cases, case.number)) == 1


async def test_several_controllers_at_once_write_each_step_once(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    numbers = [(await message(cases, f"msg-{n}", department=CHANGFENG)).number for n in range(8)]
    clock.now = DUE + timedelta(minutes=1)
    runs = [job(db_sessionmaker, clock) for _ in range(4)]
    written = await asyncio.gather(*(r.run() for r in runs))
    assert sum(written) == len(numbers)
    for number in numbers:
        assert len(await history(cases, number)) == 1
    assert (await runs[0].inbox(None)).unread == len(numbers)


async def test_every_late_case_is_reached_however_many_there_are(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(escalation, "BATCH", 3)  # pages of three: the oldest never crowd out
    numbers = [(await message(cases, f"msg-{n}", department=CHANGFENG)).number for n in range(8)]
    clock.now = DUE + timedelta(minutes=1)
    assert await job(db_sessionmaker, clock).run() == len(numbers)
    assert await job(db_sessionmaker, clock).run() == 0  # all written: nothing again


async def test_an_escalation_is_marked_read_once_within_reach(
    db_sessionmaker: Sessions, cases: Cases, clock: Clock
) -> None:
    await message(cases, department=CHANGFENG)
    escalations = job(db_sessionmaker, clock)
    clock.now = DUE + timedelta(minutes=1)
    await escalations.run()
    (item,) = (await escalations.inbox([HEFEI])).items
    with pytest.raises(EscalationNotFound):
        await escalations.mark_read(item.id, "elsewhere", ["320000"])  # not theirs: not found
    read = await escalations.mark_read(item.id, "hefei-admin", [HEFEI])
    assert read.read_by == "hefei-admin" and read.read_at is not None
    again = await escalations.mark_read(item.id, "someone-else", None)
    assert again.read_by == "hefei-admin"  # the first reader stays
    inbox = await escalations.inbox([HEFEI], unread_only=True)
    assert (inbox.unread, inbox.items) == (0, [])


# -- the webhook --------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on loopback: answers 503 to the first `fail` tries."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.tries: list[tuple[dict[str, str], bytes]] = []
        self.app = web.Application()
        self.app.router.add_post("/hook", self.hook)

    async def hook(self, request: web.Request) -> web.Response:
        self.tries.append((dict(request.headers), await request.read()))
        if len(self.tries) <= self.fail:
            return web.Response(status=503, text="busy")
        return web.Response(status=204)


def settings(url: str) -> Settings:
    return Settings(
        webhook_url=url, webhook_secret=SECRET, webhook_retry_seconds=0.05, webhook_attempts=3
    )


def assert_signed(headers: dict[str, str], body: bytes) -> None:
    timestamp = int(headers[TIMESTAMP_HEADER])
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers[SIGNATURE_HEADER] == f"sha256={expected.hexdigest()}"
    assert signature(SECRET, timestamp, body.decode()) == headers[SIGNATURE_HEADER]


def outcomes(metrics: Metrics) -> dict[str, float]:
    """`ivr_webhook_deliveries_total` by outcome."""
    name = "ivr_webhook_deliveries_total"
    return {
        outcome: metrics.registry.get_sample_value(name, {"outcome": outcome}) or 0
        for outcome in ("delivered", "retry", "failed")
    }


async def send_until_quiet(sender: WebhookSender, rounds: int = 40) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(rounds):
            await sender.send_due(http)
            await asyncio.sleep(0.03)


async def escalated_with_webhook(
    db_sessionmaker: Sessions, cases: Cases, url: str
) -> tuple[str, Deliveries]:
    case = await message(cases, department=CHANGFENG)
    real = Clock()
    real.now = DUE + timedelta(minutes=1)
    await job(db_sessionmaker, real, webhook=url).run()
    return case.number, Deliveries(db_sessionmaker, lambda: datetime.now(UTC))


async def delivered_to(
    receiver: Receiver, db_sessionmaker: Sessions, cases: Cases, metrics: Metrics | None = None
) -> str:
    """A case escalated with `receiver` as the webhook, and sent until quiet:
    the case's number."""
    async with TestServer(receiver.app, host="127.0.0.1") as server:
        url = str(server.make_url("/hook"))
        number, deliveries = await escalated_with_webhook(db_sessionmaker, cases, url)
        sender = WebhookSender(settings(url), deliveries, lambda: datetime.now(UTC), metrics)
        await send_until_quiet(sender)
    return number


async def test_a_receiver_gets_one_signed_delivery(db_sessionmaker: Sessions, cases: Cases) -> None:
    receiver = Receiver()
    number = await delivered_to(receiver, db_sessionmaker, cases)
    ((headers, body),) = receiver.tries
    assert_signed(headers, body)
    sent = json.loads(body)
    assert sent["event"] == "case.escalated"
    assert sent["case"]["number"] == number and sent["supervisor"] == HEFEI
    assert "caller" not in sent["case"]  # the caller's number stays in the platform
    (delivery,) = await Escalations(db_sessionmaker, DIRECTORY, Clock()).deliveries()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 1, 204)
    assert headers[DELIVERY_HEADER] == str(delivery.id)


async def test_a_receiver_that_fails_twice_gets_it_on_the_third_try(
    db_sessionmaker: Sessions, cases: Cases
) -> None:
    receiver = Receiver(fail=2)
    metrics = Metrics()
    await delivered_to(receiver, db_sessionmaker, cases, metrics)
    assert len(receiver.tries) == 3
    assert outcomes(metrics) == {"delivered": 1, "retry": 2, "failed": 0}
    bodies = {body for _, body in receiver.tries}
    assert len(bodies) == 1  # the same delivery each time
    for headers, body in receiver.tries:
        assert_signed(headers, body)
    (delivery,) = await Escalations(db_sessionmaker, DIRECTORY, Clock()).deliveries()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)


async def test_a_receiver_that_never_answers_well_is_given_up_with_its_error(
    db_sessionmaker: Sessions, cases: Cases
) -> None:
    receiver = Receiver(fail=99)
    metrics = Metrics()
    await delivered_to(receiver, db_sessionmaker, cases, metrics)
    assert len(receiver.tries) == 3  # webhook_attempts
    assert outcomes(metrics) == {"delivered": 0, "retry": 2, "failed": 1}
    (delivery,) = await Escalations(db_sessionmaker, DIRECTORY, Clock()).deliveries()
    assert (delivery.status, delivery.last_status) == ("failed", 503)
    assert delivery.last_error == "HTTP 503: busy"


async def test_two_senders_never_send_one_delivery_twice(
    db_sessionmaker: Sessions, cases: Cases
) -> None:
    receiver = Receiver()
    async with TestServer(receiver.app, host="127.0.0.1") as server:
        url = str(server.make_url("/hook"))
        _, deliveries = await escalated_with_webhook(db_sessionmaker, cases, url)
        senders = [
            WebhookSender(settings(url), deliveries, lambda: datetime.now(UTC)) for _ in range(3)
        ]
        await asyncio.gather(*(send_until_quiet(s, 10) for s in senders))
    assert len(receiver.tries) == 1


def test_the_wait_doubles_up_to_an_hour() -> None:
    s = Settings(webhook_retry_seconds=30)
    assert [backoff(s, n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(s, 40) == timedelta(hours=1)


def test_a_webhook_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="IVR_WEBHOOK_SECRET"):
        Settings(webhook_url="http://127.0.0.1:9/hook", webhook_secret="")
    with pytest.raises(ValueError, match="http:// or https://"):
        Settings(webhook_url="ftp://127.0.0.1/hook", webhook_secret=SECRET)
