"""The webhook sender: every controller runs one; a delivery is claimed by
one sender at a time (`ivr.cases.escalation.Deliveries.claim`).

Each delivery is a POST of its JSON body, signed so the receiver can tell it
came from this platform and was not replayed:

    X-12371-Delivery: 17                      (the same on every retry)
    X-12371-Timestamp: 1764244800             (Unix seconds, of this attempt)
    X-12371-Signature: sha256=<hex>           (HMAC-SHA256 of "<timestamp>.<body>")

A 2xx answer delivers it. Anything else (another status, a refused
connection, no answer within the timeout) is tried again after
`webhook_retry_seconds`, doubling up to an hour, until `webhook_attempts`
attempts have failed; then it is marked failed, with the last error, for an
admin to see (`GET /api/webhook/deliveries`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp

from ivr.cases.escalation import Deliveries, Delivery
from ivr.metrics import Metrics
from ivr.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-12371-Signature"
TIMESTAMP_HEADER = "X-12371-Timestamp"
DELIVERY_HEADER = "X-12371-Delivery"
MAX_BACKOFF = timedelta(hours=1)
# How often a sender looks for deliveries due.
POLL_SECONDS = 1.0


def signature(secret: str, timestamp: int, body: str) -> str:
    """What X-12371-Signature carries for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: the first retry's, doubled each time."""
    seconds = settings.webhook_retry_seconds * 2.0 ** min(attempts - 1, 30)
    return timedelta(seconds=min(seconds, MAX_BACKOFF.total_seconds()))


class WebhookSender:
    def __init__(
        self,
        settings: Settings,
        deliveries: Deliveries,
        clock: Callable[[], datetime],
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self._deliveries = deliveries
        self._clock = clock
        self._outcomes = (metrics if metrics is not None else Metrics()).webhook_deliveries

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._settings.webhook_timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                try:
                    await self.send_due(http)
                except Exception:
                    log.exception("webhook: could not read the deliveries due; trying again")
                await asyncio.sleep(POLL_SECONDS)

    async def send_due(self, http: aiohttp.ClientSession) -> int:
        """Send what is due now; how many were tried."""
        hold = timedelta(seconds=self._settings.webhook_timeout_seconds * 2 + 5)
        claimed = await self._deliveries.claim(hold)
        for delivery in claimed:
            await self._send(http, delivery)
        return len(claimed)

    async def _send(self, http: aiohttp.ClientSession, delivery: Delivery) -> None:
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            DELIVERY_HEADER: str(delivery.id),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(self._settings.webhook_secret, timestamp, delivery.body),
        }
        status: int | None = None
        try:
            async with http.post(delivery.url, data=delivery.body.encode(), headers=headers) as r:
                status = r.status
                if 200 <= status < 300:
                    await self._deliveries.delivered(delivery.id, status)
                    self._outcomes.labels("delivered").inc()
                    log.info("webhook: delivery %d sent (HTTP %d)", delivery.id, status)
                    return
                error = f"HTTP {status}: {(await r.text())[:200]}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        attempts = delivery.attempts + 1
        if attempts >= self._settings.webhook_attempts:
            log.error("webhook: delivery %d failed %d times, given up: %s",
                      delivery.id, attempts, error)
            await self._deliveries.failed(delivery.id, status, error, None)
            self._outcomes.labels("failed").inc()
            return
        retry_at = self._clock() + backoff(self._settings, attempts)
        log.warning("webhook: delivery %d failed (%s); again at %s", delivery.id, error, retry_at)
        await self._deliveries.failed(delivery.id, status, error, retry_at)
        self._outcomes.labels("retry").inc()
