"""How much expensive work one user may start: a token bucket per user name.

A prompt preview runs espeak-ng and an upload two passes of ffmpeg, on the
controller that also serves calls; one signed-in user (or a script with their
token) must not fill its CPU. Each user has a bucket of `burst` tokens that
refills at `per_minute`; a request takes one, and one that finds none is a 429
saying when the next token comes. The buckets live in this process: with
several controllers each one limits what it is asked to do itself. Written
here rather than taken from a package (`limits`, `aiolimiter`): twenty lines
on the app's own clock, which the tests move.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from ivr.errors import IvrError


class RateLimited(IvrError):
    error_id = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int, **details: object) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after

    def http_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: datetime


class RateLimit:
    """`burst` requests at once per key, then `per_minute`."""

    def __init__(self, burst: int, per_minute: float) -> None:
        self.burst = burst
        self.per_second = per_minute / 60
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: datetime, what: str) -> None:
        """Count one request of `key`; RateLimited (saying `what`) if it has none left."""
        bucket = self._buckets.setdefault(key, _Bucket(float(self.burst), now))
        elapsed = max((now - bucket.at).total_seconds(), 0.0)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_second)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = max(1, math.ceil((1 - bucket.tokens) / self.per_second))
        raise RateLimited(
            f"too many {what} for {key} in a short time; try again in {wait} s",
            retry_after=wait,
        )
